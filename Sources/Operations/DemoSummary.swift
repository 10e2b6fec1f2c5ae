import Foundation
import Pipeline
import PipelineCore
import Planner

/// What the demo prints at the end.
public struct DemoSummary: Sendable {
  public let apps: [App]
  public let sent: [String: App]
  /// Request id → where it ended (what the outcome reader saw).
  public let outcomes: [String: OutcomeReader.Outcome]
  public let plan: Plan
  public let baseline: Plan
  public let seconds: Double
  public var failures: [String]
  /// Every plan version seen on hb.plans, oldest first.
  public let versions: [Plan]
  /// When the workload started (seconds since the epoch).
  public let workloadStart: Double
  /// The worker pools as the live view shows them.
  public let pools: String
  /// What the workers billed, over the requests they ran.
  public let billed: (cost: Double, requests: Int)
  /// How the services ran, when as separate processes (`demo --processes`): lines for the end.
  public var deployment: [String] = []
  /// The SLO attainment over the workload's shape (`demo --shape`): lines for the end.
  public var shaped: [String] = []
  /// Request ids that ended more than once.
  public var endedTwice = 0
  /// A few of the ids that ended twice, with how each ended.
  public var endedTwiceExamples = ""

  /// Versions published after the first `warmUp` seconds of the workload.
  public func versionsAfter(_ warmUp: Double) -> Int {
    versions.filter { (Self.time(of: $0) ?? 0) - workloadStart > warmUp }.count
  }

  public static func time(of plan: Plan) -> Double? {
    guard let text = plan.createdAt else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)?.timeIntervalSince1970
  }

  public var missing: Int { sent.keys.filter { outcomes[$0] == nil }.count }

  public var text: String {
    var table = TextTable([
      ("app", .left), ("SLO ms", .right), ("req/s", .right), ("requests", .right),
      ("results", .right), ("late", .right), ("dead", .right), ("p50 ms", .right),
      ("p99 ms", .right), ("within SLO", .right),
    ])
    var totalWithin = 0
    var totalResults = 0
    var backends = Set<String>()
    for app in apps {
      let ids = sent.filter { $0.value.id == app.id }.map(\.key)
      let ended = ids.compactMap { outcomes[$0] }
      let results = ended.filter { $0.kind == .result }
      let latencies = results.compactMap(\.latencyMs).sorted()
      let within = results.filter(\.sloMet).count
      totalWithin += within
      totalResults += results.count
      backends.formUnion(results.compactMap(\.backend))
      table.append([
        app.id, String(Int((app.slo * 1000).rounded())), String(format: "%.1f", app.rate),
        String(ids.count), String(results.count), String(ended.filter { $0.kind == .late }.count),
        String(ended.filter { $0.kind == .deadLetter }.count),
        latencies.isEmpty ? "-" : String(format: "%.1f", Quantile.nearestRank(latencies, 0.5)),
        latencies.isEmpty ? "-" : String(format: "%.1f", Quantile.nearestRank(latencies, 0.99)),
        ids.isEmpty ? "-" : String(format: "%.2f %%", Double(within) / Double(ids.count) * 100),
      ])
    }
    var lines = [
      "",
      "demo summary: \(sent.count) requests in \(String(format: "%.1f", seconds)) s; "
        + "\(totalResults) results, \(sent.count - totalResults - missing) late or dead letters, "
        + "\(missing) missing, \(endedTwice) ended twice"
        + (endedTwice > 0 ? " (e.g. \(endedTwiceExamples))" : ""),
      "",
      table.rendered,
      "",
      String(
        format: "SLO attainment: %.2f %% of all requests (backends: %@)",
        sent.isEmpty ? 0 : Double(totalWithin) / Double(sent.count) * 100,
        backends.sorted().joined(separator: ", ")),
      "",
      "plan versions: \(versions.count), \(versionsAfter(10)) after the first 10 s of the workload",
    ]
    for version in versions {
      let at = Self.time(of: version).map { String(format: "%+.1f s", $0 - workloadStart) } ?? "?"
      lines.append("  v\(version.version ?? 0) at \(at): \(version.reason ?? "-")")
    }
    let baselineCost = plan.baselineObjective ?? baseline.billedObjective ?? baseline.objective
    let planCost = plan.billedObjective ?? plan.objective
    lines += [
      "",
      "worker pools at the end:",
      pools,
      "",
      "the plan in force at the end (version \(plan.version ?? 0)"
        + (plan.predictionError.map {
          String(format: "; model error on recent feedback %.1f %%", $0 * 100)
        } ?? "") + "):",
      PlanReport.table(plan),
      "",
      String(
        format:
          "expected billed cost per request: %.4e %@ with this plan vs %.4e with per-app CPU "
          + "functions (BATCH) on the same model, rates and SLOs: %.1f %% cheaper",
        planCost, plan.currency, baselineCost, (1 - planCost / max(baselineCost, 1e-30)) * 100),
    ]
    if billed.requests > 0 {
      lines.append(
        String(
          format: "billed by the workers: %.4e %@ per request over %d requests",
          billed.cost / Double(billed.requests), plan.currency, billed.requests))
    }
    if plan.modelEstimated {
      lines.append("(the minilm profile's CPU part is measured here; its GPU part is estimated)")
    }
    if !deployment.isEmpty { lines += [""] + deployment }
    if !shaped.isEmpty { lines += [""] + shaped }
    for failure in failures { lines.append("service failure: \(failure)") }
    return lines.joined(separator: "\n")
  }
}
