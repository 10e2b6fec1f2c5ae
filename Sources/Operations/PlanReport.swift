import Foundation
import Planner

/// The plan as a table for people, or as its JSON object (`Schemas/plan.schema.json`).
public enum PlanReport {
  /// The plan's JSON; a plan that cannot be written is a run failure that says why.
  public static func json(_ plan: Plan) throws -> String {
    do {
      return String(decoding: try plan.jsonData(), as: UTF8.self)
    } catch {
      throw RunFailure("the plan cannot be written as JSON: \(error.summary)")
    }
  }

  public static func table(_ plan: Plan) -> String {
    var table = TextTable([
      ("group", .left), ("apps", .left), ("function", .left), ("batch", .right),
      ("timeouts ms", .left), ("avg ms", .right), ("max ms", .right),
      ("cost/request", .right), ("billed/request", .right), ("req/s", .right),
      ("share", .right),
    ])
    for group in plan.groups {
      let timeouts = group.apps.map { app in
        "\(app)=" + String(format: "%.0f", group.timeoutsMs[app] ?? 0)
      }
      table.append([
        group.id, group.apps.joined(separator: ","), group.function.description,
        String(group.batchSize), timeouts.joined(separator: " "),
        String(format: "%.1f", group.latencyAvgMs), String(format: "%.1f", group.latencyMaxMs),
        String(format: "%.4e", group.costPerRequest),
        group.billedCostPerRequest.map { String(format: "%.4e", $0) } ?? "-",
        String(format: "%.2f", group.rate),
        String(format: "%.1f %%", group.share * 100),
      ])
    }
    var lines = [
      "plan: \(plan.algorithm) · model \(plan.model)"
        + (plan.modelEstimated ? " (partly estimated)" : "")
        + " · pricing \(plan.pricing) · \(plan.groups.count) groups · "
        + String(format: "planned in %.3f ms", plan.planningMs),
      "",
      table.rendered,
      "",
      String(
        format: "objective: %.4e %@ per request (the paper's: every batch full)%@ "
          + "(%.2f req/s served)",
        plan.objective, plan.currency,
        plan.billedObjective.map {
          String(format: "; expected billed: %.4e", $0)
        } ?? "", plan.rate),
    ]
    for app in plan.infeasible {
      lines.append("infeasible: \(app.app) — \(app.reason)")
    }
    return lines.joined(separator: "\n")
  }
}
