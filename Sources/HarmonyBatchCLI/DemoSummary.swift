import Foundation
import Planner

/// What the demo prints at the end.
struct DemoSummary {
  let apps: [App]
  let sent: [String: App]
  let outcomes: OutcomeReader
  let plan: Plan
  let baseline: Plan
  let seconds: Double
  let failures: [String]

  var missing: Int { sent.keys.filter { !outcomes.has($0) }.count }

  var text: String {
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
      let ended = ids.compactMap { outcomes.outcomes[$0] }
      let results = ended.filter { $0.kind == "result" }
      let latencies = results.compactMap(\.latencyMs).sorted()
      let within = results.filter(\.sloMet).count
      totalWithin += within
      totalResults += results.count
      backends.formUnion(results.compactMap(\.backend))
      table.append([
        app.id, String(Int((app.slo * 1000).rounded())), String(format: "%.1f", app.rate),
        String(ids.count), String(results.count), String(ended.filter { $0.kind == "late" }.count),
        String(ended.filter { $0.kind == "dead-letter" }.count),
        latencies.isEmpty ? "-" : String(format: "%.1f", Self.percentile(latencies, 0.5)),
        latencies.isEmpty ? "-" : String(format: "%.1f", Self.percentile(latencies, 0.99)),
        ids.isEmpty ? "-" : String(format: "%.2f %%", Double(within) / Double(ids.count) * 100),
      ])
    }
    var lines = [
      "",
      "demo summary: \(sent.count) requests in \(String(format: "%.1f", seconds)) s; "
        + "\(totalResults) results, \(sent.count - totalResults - missing) late or dead letters, "
        + "\(missing) missing",
      "",
      table.rendered,
      "",
      String(
        format: "SLO attainment: %.2f %% of all requests (backends: %@)",
        sent.isEmpty ? 0 : Double(totalWithin) / Double(sent.count) * 100,
        backends.sorted().joined(separator: ", ")),
      "",
      "the plan in force at the end (version \(plan.version ?? 0)"
        + (plan.reason.map { "; published because \($0)" } ?? "")
        + (plan.predictionError.map {
          String(format: "; model error on recent feedback %.1f %%", $0 * 100)
        } ?? "") + "):",
      PlanReport.table(plan),
      "",
      String(
        format:
          "cost per request: %.4e %@ with this plan vs %.4e with per-app CPU functions (BATCH) "
          + "at the same prices: %.1f %% cheaper",
        plan.objective, plan.currency, baseline.objective,
        (1 - plan.objective / max(baseline.objective, 1e-30)) * 100),
    ]
    if plan.modelEstimated {
      lines.append("(the minilm profile's CPU part is measured here; its GPU part is estimated)")
    }
    for failure in failures { lines.append("service failure: \(failure)") }
    return lines.joined(separator: "\n")
  }

  static func percentile(_ sorted: [Double], _ q: Double) -> Double {
    sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * q).rounded(.up)) - 1))]
  }
}
