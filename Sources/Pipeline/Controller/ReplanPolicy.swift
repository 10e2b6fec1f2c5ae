import Foundation
import Planner

/// When the controller re-plans, and when it publishes the result (pure):
/// - it re-plans every `period`, or sooner when an app appears, an app's rate moved by more than
///   `rateChange` since the last evaluation, or the model's prediction error passed `modelError`;
/// - it publishes the new plan only when there is no plan yet, the current plan no longer covers
///   every app, the current plan puts an SLO at risk under the new rates and model, or the new
///   plan is cheaper than the current one (re-costed under the same rates and model) by more than
///   `improvement`. Small wobbles of a steady rate therefore never flap the plan.
public struct ReplanPolicy: Sendable {
  public var period: Double
  public var rateChange: Double
  public var modelError: Double
  public var improvement: Double

  private var lastEvaluation: Double?
  private var ratesAtEvaluation: [String: Double] = [:]

  public enum Trigger: String, Sendable {
    case first, period
    case newApp = "new-app"
    case rateChange = "rate-change"
    case modelError = "model-error"
  }

  public init(
    period: Double = 60, rateChange: Double = 0.25, modelError: Double = 0.10,
    improvement: Double = 0.02
  ) {
    self.period = period
    self.rateChange = rateChange
    self.modelError = modelError
    self.improvement = improvement
  }

  /// Whether to re-plan now, and why.
  public func trigger(now: Double, rates: [String: Double], predictionError: Double?) -> Trigger? {
    guard let last = lastEvaluation else { return .first }
    if rates.keys.contains(where: { ratesAtEvaluation[$0] == nil }) { return .newApp }
    for (app, rate) in rates {
      let before = ratesAtEvaluation[app] ?? 0
      if abs(rate - before) > rateChange * max(before, 0.1) { return .rateChange }
    }
    if let predictionError, predictionError > modelError { return .modelError }
    return now - last >= period ? .period : nil
  }

  public mutating func evaluated(now: Double, rates: [String: Double]) {
    lastEvaluation = now
    ratesAtEvaluation = rates
  }

  /// Whether `candidate` should replace `current`, with the reason.
  ///
  /// `currentCost` and `candidateCost` re-cost both plans under the new rates and model. When
  /// nothing significant changed (`trigger` is `.period`), the candidate must also be no dearer
  /// than the current plan under the rates the current plan was adopted for
  /// (`currentCostBefore`, `candidateCostBefore`): a plan tuned to the noise of a steady rate
  /// wins in one world and loses in the other, so it is not adopted — the plan does not flap.
  public func adopt(
    candidate: Plan, current: Plan?, trigger: Trigger, currentCost: PlanCost?,
    candidateCost: PlanCost? = nil, currentCostBefore: PlanCost? = nil,
    candidateCostBefore: PlanCost? = nil
  ) -> String? {
    guard current != nil, let currentCost else { return "first plan" }
    if !currentCost.uncovered.isEmpty {
      return "apps not in the current plan: \(currentCost.uncovered.joined(separator: ", "))"
    }
    if !currentCost.atRisk.isEmpty {
      return "SLO at risk in groups \(currentCost.atRisk.joined(separator: ", "))"
    }
    let newCost = candidateCost?.objective ?? candidate.objective
    guard newCost < currentCost.objective * (1 - improvement) else { return nil }
    if trigger == .period, let before = currentCostBefore,
      let candidateBefore = candidateCostBefore,
      candidateBefore.objective > before.objective
    {
      return nil
    }
    return String(format: "%.1f %% cheaper", (1 - newCost / currentCost.objective) * 100)
  }
}

/// A plan re-costed under new rates and a new model: its groups as they are, the apps it does
/// not cover, and the groups whose SLOs are at risk (constraint (10): an SLO below the batch's
/// maximum latency). A batch that no longer fills in time (constraint (9)) is not a risk — the
/// buffer flushes at the deadline with fewer requests — but it costs more: requests are costed at
/// the batch the group can now fill, `min(b, ⌊R·T⌋ + 1)`.
public struct PlanCost: Sendable, Equatable {
  public var objective: Double
  public var uncovered: [String]
  public var atRisk: [String]

  public static func of(_ plan: Plan, apps: [App], provisioner: Provisioner) -> PlanCost {
    let latency = provisioner.latencyModel
    let cost = provisioner.costModel
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
      let predicted =
        function.kind == .cpu
        ? latency.cpu(vcpu: function.vcpu, batch: min(b, latency.profile.cpu.maxBatch))
        : latency.gpu(memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: b)
      var load = GroupLoad()
      for member in members.sorted(by: { $0.slo < $1.slo }) {
        load.add(App(id: member.id, slo: member.slo, rate: member.rate))
      }
      // At risk: a member's wait plus the batch's maximum latency no longer fits its SLO (the SLO
      // the controller plans with: the app's, less the pipeline's measured overhead).
      if members.contains(where: { member in
        (group.timeoutsMs[member.id] ?? 0) / 1000 + predicted.max > member.slo + 1e-9
      }) {
        atRisk.append(group.id)
      }
      let window = load.slos.timeout - predicted.max
      let filled = max(
        1, min(b, EquivalentTimeout.reachableBatch(rate: load.rate, timeout: window)))
      let perCall =
        (function.kind == .cpu
        ? cost.cpuCostPerRequest(vcpu: function.vcpu, batch: b, avgLatency: predicted.avg)
        : cost.gpuCostPerRequest(
          memoryGB: function.gpuMemoryGB, batch: b, avgLatency: predicted.avg)).map {
          $0 * Double(b)
        } ?? .infinity
      let perRequest = perCall / Double(filled)
      weighted += load.rate * perRequest
      total += load.rate
    }
    let uncovered = apps.map(\.id).filter { !covered.contains($0) }.sorted()
    return PlanCost(
      objective: total > 0 ? weighted / total : 0, uncovered: uncovered, atRisk: atRisk)
  }
}
