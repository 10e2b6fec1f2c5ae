import Foundation
import Planner

/// Whether the plan in force still keeps its SLOs, judged on what its groups' batches measured
/// (pure). A group is at risk, with at least `minimumBatches` recent batches, when
/// - its batches are slower on average than the plan assumed by more than `tolerance`, and by more
///   than `sigmas` standard errors (a noisy machine's single batches vary by tens of percent), or
/// - more of them took longer than the plan's maximum for their size than its 99th-percentile
///   definition allows — so many that chance explains it with probability below `tailAlpha`
///   (a binomial test; 7 of 100, 4 of 20): the tail grew even if the mean did not.
/// Queueing for a worker slot is not counted: it is a capacity problem (scaling), not the plan's.
/// A mean risk calls for a slower model (`Risk.lag`); a tail risk for a wider maximum
/// (`Risk.tail`: the model's average is right, its spread is not, on this machine).
public struct PlanRisk: Sendable {
  /// A group at risk: why, and how much slower than the plan assumed its most recent batches ran
  /// (the median ratio to the planned average; at least 1, and at least 1 + half the tolerance
  /// when only the tail grew) — the refit follows a change over dozens of batches, and a re-plan
  /// on it alone would be at risk again at once.
  public struct Risk: Sendable, Equatable {
    public var group: String
    public var kind: FunctionConfig.Kind
    public var why: String
    /// Mean risks: how much slower than planned the newest batches ran (≥ 1).
    public var lag: Double
    /// Tail risks: how far past the planned maximum the 99th percentile of the recent batches
    /// went (≥ 1 + half the tolerance), to widen the maximum by.
    public var tail: Double
  }

  public var tolerance: Double
  /// The share of batches the plan's maximum may be exceeded by (it is a 99th percentile).
  public var tailShare: Double
  public var tailAlpha: Double
  public var minimumBatches: Int
  public var memory: Int
  public var sigmas: Double
  private var version: Int?
  private var samples: [String: [(batch: Int, seconds: Double)]] = [:]

  public init(
    tolerance: Double = 0.10, tailShare: Double = 0.01, tailAlpha: Double = 1e-4,
    minimumBatches: Int = 20, memory: Int = 100, sigmas: Double = 4
  ) {
    self.tolerance = tolerance
    self.tailShare = tailShare
    self.tailAlpha = tailAlpha
    self.minimumBatches = minimumBatches
    self.memory = memory
    self.sigmas = sigmas
  }

  /// A new plan is in force: what was measured under the old one no longer says anything.
  public mutating func reset(version: Int?) {
    self.version = version
    samples = [:]
  }

  /// A batch of the plan in force finished (other versions' batches are ignored).
  public mutating func observe(_ feedback: FeedbackMessage) {
    guard feedback.planVersion == (version ?? 0), feedback.batchSize > 0,
      feedback.inferenceSeconds.isFinite, feedback.inferenceSeconds >= 0
    else { return }
    samples[feedback.group, default: []].append((feedback.batchSize, feedback.inferenceSeconds))
    if samples[feedback.group]!.count > memory { samples[feedback.group]!.removeFirst() }
  }

  /// The groups of `plan` at risk. `planned` is the model the plan was made on (its margins
  /// included).
  public func groupsAtRisk(_ plan: Plan, planned: LatencyModel) -> [Risk] {
    var risks: [Risk] = []
    for group in plan.groups {
      let function = group.function
      func latency(_ model: LatencyModel, batch: Int) -> Latency? {
        switch function.kind {
        case .cpu:
          return model.cpu(vcpu: function.vcpu, batch: min(batch, model.profile.cpu.maxBatch))
        case .gpu:
          guard model.profile.gpu != nil else { return nil }
          return model.gpu(memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: batch)
        }
      }
      let recent = samples[group.id] ?? []
      guard recent.count >= minimumBatches else { continue }
      var ratios: [Double] = []
      var overMax: [Double] = []
      var over = 0
      for sample in recent {
        guard let assumed = latency(planned, batch: sample.batch), assumed.avg > 0 else { continue }
        ratios.append(sample.seconds / assumed.avg)
        overMax.append(sample.seconds / max(assumed.max, 1e-12))
        if sample.seconds > assumed.max { over += 1 }
      }
      guard ratios.count >= minimumBatches else { continue }
      let mean = ratios.reduce(0, +) / Double(ratios.count)
      let variance =
        ratios.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(ratios.count - 1)
      let standardError = (variance / Double(ratios.count)).squareRoot()
      // The newest ten: fewer would be noise, more would mix in batches from before a change.
      let newest = ratios.suffix(10).sorted()
      let lag = max(1, Quantile.median(newest))
      if mean > 1 + tolerance, mean - 1 > sigmas * standardError {
        risks.append(
          Risk(
            group: group.id, kind: function.kind,
            why: String(format: "%.0f %% slower on average than planned", (mean - 1) * 100),
            lag: lag, tail: 1))
      } else if Self.binomialTail(over, of: ratios.count, p: tailShare) < tailAlpha {
        // The newest batches slower on average: the mean moved (a slowdown shows first in the
        // tail). Otherwise the spread is wider than the model's: widen the maximum.
        let shifted = lag >= 1 + tolerance / 2
        let p99 = Quantile.nearestRank(overMax.sorted(), 1 - tailShare)
        risks.append(
          Risk(
            group: group.id, kind: function.kind,
            why: "\(over) of its last \(ratios.count) batches over the planned maximum",
            lag: shifted ? lag : 1, tail: shifted ? 1 : min(2, max(p99, 1 + tolerance / 2))))
      }
    }
    return risks
  }

  /// P(X ≥ k) for X ~ Binomial(n, p).
  static func binomialTail(_ k: Int, of n: Int, p: Double) -> Double {
    guard k > 0 else { return 1 }
    guard k <= n else { return 0 }
    var term = pow(1 - p, Double(n))  // P(X = 0)
    var below = 0.0
    for i in 0..<k {
      below += term
      term *= Double(n - i) / Double(i + 1) * p / (1 - p)
    }
    return max(0, 1 - below)
  }
}
