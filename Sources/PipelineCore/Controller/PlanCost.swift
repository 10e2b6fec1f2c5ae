import Foundation
import Planner

/// A plan re-costed under new rates and a new model: its groups as they are, the apps it does
/// not cover, and the groups whose SLOs are at risk (constraint (10): an SLO below the batch's
/// maximum latency). A batch that no longer fills in time (constraint (9)) is not a risk — the
/// buffer flushes at the deadline with fewer requests — but it costs more: every group is costed
/// at its expected billed cost (`BilledCost`: its batches filled by the new rates within its
/// timeouts, app by app), as a plan's `billedObjective`, so a candidate and the plan in force
/// compare like with like.
public struct PlanCost: Sendable, Equatable {
  public var objective: Double
  public var uncovered: [String]
  public var atRisk: [String]

  public static func of(_ plan: Plan, apps: [App], provisioner: Provisioner) -> PlanCost {
    let latency = provisioner.latencyModel
    let billed = BilledCost(latency: latency, cost: provisioner.costModel)
    let byID = Dictionary(apps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    var covered = Set<String>()
    var weighted = 0.0
    var total = 0.0
    var atRisk: [String] = []
    for group in plan.groups {
      let members = group.apps.compactMap { byID[$0] }
      covered.formUnion(members.map(\.id))
      let function = group.function
      let b = group.batchSize
      let predicted = latency.latency(of: function, batch: b)
      let rate = members.reduce(0) { $0 + $1.rate }
      // At risk: a member's wait plus the batch's maximum latency no longer fits its SLO (the SLO
      // the controller plans with: the app's, less the pipeline's measured overhead).
      if members.contains(where: { member in
        (group.timeoutsMs[member.id] ?? 0) / 1000 + predicted.max > member.slo + 1e-9
      }) {
        atRisk.append(group.id)
      }
      let waits = members.map { ((group.timeoutsMs[$0.id] ?? 0) / 1000, $0.rate) }
      let perRequest = billed.perRequest(function: function, batch: b, apps: waits) ?? .infinity
      weighted += rate * perRequest
      total += rate
    }
    let uncovered = apps.map(\.id).filter { !covered.contains($0) }.sorted()
    return PlanCost(
      objective: total > 0 ? weighted / total : 0, uncovered: uncovered, atRisk: atRisk)
  }
}
