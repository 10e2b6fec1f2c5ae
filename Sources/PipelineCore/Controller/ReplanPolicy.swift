import Foundation
import Planner

/// When the controller re-plans, and when it publishes the result (pure). The hysteresis rules:
/// - It re-plans (evaluates a candidate) every `period`; at once when an app appears, when an
///   app's rate moved by more than `rateChange` *and* by more than `rateSigmas` standard
///   deviations of Poisson noise over the span it was counted in, when the plan in force is at
///   risk, when the plan in force was made on priors and the first measurements replaced them, or
///   when the refitted latency model moved from the one the plan was made on by more than
///   `modelChange` (on the functions and batch sizes of recent feedback: noise in single batches
///   averages out, so a prediction error that stays high on a noisy machine does not re-plan).
/// - It publishes the candidate only when there is no plan; when the plan in force misses an app
///   the candidate serves; when an SLO is at risk under the measured latencies (the refitted
///   model's maximum past what the plan left for it, by more than `riskTolerance`, or transport
///   past what the plan reserved) — these at once; or when the candidate is cheaper than the plan
///   in force, both re-costed under the same rates and model, by more than `improvement` — this at
///   most once per `minInterval` (except once, to replace a plan made on priors with one made on
///   measurements), and, when only the period triggered, only if the candidate is
///   no dearer under the rates the plan in force was made for (a plan tuned to the noise of a
///   steady rate wins in one world and loses in the other, so it is not adopted).
/// - Queueing for worker slots never enters: it is the pool's problem (scaling), not the plan's.
public struct ReplanPolicy: Sendable {
  /// A new plan at least this often (`controller --period`).
  /// Default: `defaultPeriod`.
  public var period: Duration
  /// At most one version published for cost alone per this interval
  /// (`controller --min-interval`).
  /// Default: `defaultMinInterval`.
  public var minInterval: Duration
  /// `period` when none is given.
  /// Default: 60 s.
  public static let defaultPeriod: Duration = .seconds(60)
  /// `minInterval` when none is given.
  /// Default: 30 s.
  public static let defaultMinInterval: Duration = .seconds(30)
  public var rateChange: Double
  public var rateSigmas: Double
  public var modelChange: Double
  public var improvement: Double
  public var riskTolerance: Double

  private var lastEvaluation: Double?
  private var lastPublished: Double?
  /// When a cheaper plan held back by `minInterval` is looked at again.
  public private(set) var retryAt: Double?

  public enum Trigger: String, Sendable {
    case first, period
    case newApp = "new-app"
    case rateChange = "rate-change"
    case modelChange = "model-change"
    case sloAtRisk = "slo-at-risk"
    /// The plan in force was made on priors (transport, latency) and measurements replaced them.
    case measurements
    /// A cheaper plan waited for the worker pools to have the slots it needs, and now they do.
    case poolReady = "pool-ready"
    /// A cheaper plan had to wait for `minInterval` after the last version, and it has passed.
    case deferred
    /// The plan in force, published again as this controller's (`ControllerCore.reassert`).
    case reasserted
  }

  public init(
    period: Duration = defaultPeriod, minInterval: Duration = defaultMinInterval,
    rateChange: Double = 0.25,
    rateSigmas: Double = 4, modelChange: Double = 0.10, improvement: Double = 0.02,
    riskTolerance: Double = 0.10
  ) {
    self.period = period
    self.minInterval = minInterval
    self.rateChange = rateChange
    self.rateSigmas = rateSigmas
    self.modelChange = modelChange
    self.improvement = improvement
    self.riskTolerance = riskTolerance
  }

  /// Whether to re-plan now, and why: `newApp`, an app the plan was not made for reports;
  /// `rateMoved`, an app's rate moved beyond noise (`moved(from:to:)`); `atRisk`, the plan in
  /// force is at risk now; `measured`, the plan in force was made on priors and enough has been
  /// measured to replace them; `modelDrift`, how far the refitted model moved from the one the
  /// plan in force was made on.
  public func trigger(
    now: Double, newApp: Bool = false, rateMoved: Bool = false, modelDrift: Double? = nil,
    atRisk: Bool = false, measured: Bool = false
  ) -> Trigger? {
    guard let last = lastEvaluation else { return .first }
    if newApp { return .newApp }
    if atRisk { return .sloAtRisk }
    if rateMoved { return .rateChange }
    if measured { return .measurements }
    if let retryAt, now >= retryAt { return .deferred }
    if let modelDrift, modelDrift > modelChange { return .modelChange }
    return now - last >= period.seconds ? .period : nil
  }

  /// Whether a rate moved beyond noise: by `rateChange` of the old rate and by `rateSigmas`
  /// standard deviations of a Poisson count over `span`.
  public func moved(from before: Double, to estimate: (rate: Double, span: Double)) -> Bool {
    let change = abs(estimate.rate - before)
    guard change > rateChange * max(before, 0.1) else { return false }
    guard estimate.span.isFinite, estimate.span > 0 else { return true }
    let variance = max(before, 1 / estimate.span) / estimate.span
    return change > rateSigmas * variance.squareRoot()
  }

  public mutating func evaluated(now: Double) {
    lastEvaluation = now
    if let retryAt, now >= retryAt { self.retryAt = nil }
  }

  public mutating func published(now: Double) {
    lastPublished = now
    retryAt = nil
  }

  /// Why a candidate replaces the plan in force.
  public enum Adoption: Sendable, Equatable, CustomStringConvertible {
    case first
    case uncovered([String])
    case atRisk([String])
    /// Cheaper by this fraction; the only reason that may wait (for the period, for capacity).
    case cheaper(Double)

    public var description: String {
      switch self {
      case .first: "first plan"
      case .uncovered(let apps): "apps not in the current plan: \(apps.joined(separator: ", "))"
      case .atRisk(let groups): "SLO at risk in groups \(groups.joined(separator: ", "))"
      case .cheaper(let saving): String(format: "%.1f %% cheaper", saving * 100)
      }
    }
  }

  /// Whether `candidate` should replace `current` at `now`, and why. A cheaper candidate held
  /// back by `minInterval` is looked at again when the interval has passed (`.deferred`).
  /// `provisional`: the plan in force was made on rates counted over a short span, so the guard
  /// against noise (no dearer under those rates) does not hold it.
  ///
  /// `currentCost` and `candidateCost` re-cost both plans under the new rates and model;
  /// `currentCostBefore` and `candidateCostBefore` under the rates the current plan was adopted
  /// for.
  public mutating func adopt(
    candidate: Plan, current: Plan?, trigger: Trigger, currentCost: PlanCost?,
    candidateCost: PlanCost? = nil, currentCostBefore: PlanCost? = nil,
    candidateCostBefore: PlanCost? = nil, now: Double = .infinity, provisional: Bool = false
  ) -> Adoption? {
    guard current != nil, let currentCost else { return .first }
    // Apps no function can serve are not the current plan's fault: the candidate has them too.
    let unservable = Set(candidate.infeasible.map(\.app))
    let missing = currentCost.uncovered.filter { !unservable.contains($0) }
    if !missing.isEmpty { return .uncovered(missing) }
    if !currentCost.atRisk.isEmpty { return .atRisk(currentCost.atRisk) }
    let newCost = candidateCost?.objective ?? candidate.billedObjective ?? candidate.objective
    guard newCost < currentCost.objective * (1 - improvement) else { return nil }
    if trigger != .measurements, let lastPublished, now - lastPublished < minInterval.seconds {
      retryAt = lastPublished + minInterval.seconds
      return nil
    }
    if trigger == .period, !provisional, let before = currentCostBefore,
      let candidateBefore = candidateCostBefore,
      candidateBefore.objective > before.objective
    {
      return nil
    }
    return .cheaper(1 - newCost / currentCost.objective)
  }
}
