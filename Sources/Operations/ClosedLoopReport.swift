import Foundation
import Planner
import Simulator

/// What `simulate --closed-loop` prints: the run, its cost against the plan made on the truth,
/// plan versions, scaling recommendations and a 10 s timeline.
public enum ClosedLoopReport {
  public static func text(
    _ result: ClosedLoopResult, scenario: ClosedLoopScenario, planner: Planner,
    simulation: ClosedLoopSimulation
  ) -> String {
    var lines: [String] = []
    let poolText = scenario.pools.sorted { $0.key.rawValue < $1.key.rawValue }.map {
      "\($0.key.rawValue) \($0.value.replicas)×\($0.value.slotsPerReplica)"
    }.joined(separator: ", ")
    lines.append(
      "simulate --closed-loop: \(planner.profile.name), \(scenario.apps.count) apps "
        + String(format: "(%.1f req/s)", scenario.apps.reduce(0) { $0 + $1.rate })
        + ", \(Int(scenario.duration)) s, pools \(poolText), "
        + (scenario.autoscaleDelay.map { String(format: "autoscaler %.0f s", $0) }
          ?? "no autoscaler")
        + ", seed \(scenario.seed)")
    for event in scenario.events { lines.append("  event: \(event)") }
    lines.append("")
    lines.append(
      String(
        format:
          "requests %d: %.2f %% within SLO, %d late, %d shed, %d rejected; %d batches, longest wait for a slot %.2f s",
        result.requests, result.attainment * 100, result.late, result.shed, result.rejected,
        result.batches,
        result.longestQueueWait))
    lines += ClosedLoopEvidence.lines(
      result, scenario: scenario, currency: planner.pricing.currency)
    // The yardstick: the plan made on the true rates and model, with the same transport reserve
    // (rates that follow a shape have no one plan to compare with).
    let reserve = (result.plans.last?.transportReserveMs ?? 0) / 1000
    if scenario.shape == .constant,
      let oracle = try? Planner(profile: scenario.truth, pricing: scenario.pricing).plan(
        scenario.apps.map { App(id: $0.id, slo: max(0.001, $0.slo - reserve), rate: $0.rate) })
    {
      let yardstick = simulation.run(fixedPlan: oracle)
      lines.append(
        String(
          format:
            "billed %.4e %@ per request; the plan made on the true rates, run without a controller: "
            + "%.4e (%+.1f %%), %.2f %% within SLO",
          result.costPerRequest, planner.pricing.currency, yardstick.costPerRequest,
          (result.costPerRequest / max(yardstick.costPerRequest, 1e-30) - 1) * 100,
          yardstick.attainment * 100))
    }
    lines.append("")
    var versions = TextTable([("version", .right), ("at s", .right), ("why", .left)])
    for version in result.versions {
      versions.append([
        "v\(version.version)", String(format: "%.0f", version.at), version.reason,
      ])
    }
    lines.append("plan versions:")
    lines.append(versions.rendered)
    lines.append("")
    var scaling = TextTable([
      ("at s", .right), ("pool", .left), ("status", .left), ("replicas", .right),
      ("desired", .right), ("slots needed", .right),
    ])
    for change in result.scaling {
      scaling.append([
        String(format: "%.0f", change.time), change.group, change.status.rawValue,
        String(change.replicas), String(change.desiredReplicas), String(change.slotsNeeded),
      ])
    }
    lines.append("scaling recommendations (as they changed):")
    lines.append(scaling.rendered)
    lines.append("")
    var timeline = TextTable([
      ("from s", .right), ("requests", .right), ("within SLO", .right), ("billed/request", .right),
    ])
    // Every 10 s, or in about 60 rows for a longer run.
    let step = max(10, (scenario.duration / 600).rounded(.up) * 10)
    var start = 0.0
    while start < scenario.duration {
      let end = min(scenario.duration, start + step)
      let requests = result.seconds[Int(start)..<Int(end)].reduce(0) { $0 + $1.requests }
      timeline.append([
        String(format: "%.0f", start), String(requests),
        String(format: "%.2f %%", result.attainment(from: start, to: end) * 100),
        String(format: "%.4e", result.costPerRequest(from: start, to: end)),
      ])
      start = end
    }
    lines.append(String(format: "every %.0f s, by arrival:", step))
    lines.append(timeline.rendered)
    return lines.joined(separator: "\n")
  }
}
