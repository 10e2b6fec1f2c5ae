import Foundation

/// The pipeline's transport delay — flush → the worker read the batch, plus the worker's finish →
/// its results handed to the producer — and how much of an SLO the planner reserves for it
/// (pure; seconds). The estimate is a high quantile of the most recent batches (robust to a few
/// stragglers); until enough batches have reported, a prior stands. What is reserved out of an
/// SLO is the estimate with headroom (so that noise in it does not re-plan), never more than
/// `maxShare` of the SLO: a "transport" of hundreds of milliseconds means something else is being
/// measured (a backlog being replayed, a broker in trouble), and planning on it would squeeze
/// every SLO.
///
/// Queueing for a worker slot is not transport and never enters here (`BatchDelays`).
public struct TransportEstimate: Sendable {
  /// Before `minimum` batches (seconds).
  public var prior: Double
  public var quantile: Double
  /// Batches remembered.
  public var memory: Int
  public var minimum: Int
  /// The most of an SLO ever reserved for transport.
  public var maxShare: Double
  /// The reserve is the estimate times (1 + headroom), at least the estimate plus `floor`.
  public var headroom: Double
  public var floor: Double

  private var samples: [Double] = []
  private var next = 0

  public init(
    prior: Double = 0.025, quantile: Double = 0.95, memory: Int = 256, minimum: Int = 20,
    maxShare: Double = 0.2, headroom: Double = 0.25, floor: Double = 0.005
  ) {
    self.prior = prior
    self.quantile = quantile
    self.memory = memory
    self.minimum = minimum
    self.maxShare = maxShare
    self.headroom = headroom
    self.floor = floor
  }

  /// Batches measured so far (up to `memory`).
  public var count: Int { samples.count }

  public mutating func observe(_ seconds: Double) {
    guard seconds.isFinite else { return }
    let value = min(max(0, seconds), 60)
    if samples.count < memory {
      samples.append(value)
    } else {
      samples[next] = value
      next = (next + 1) % memory
    }
  }

  /// The current estimate: the `quantile` of the recent batches, or the prior.
  public var value: Double {
    guard samples.count >= minimum else { return prior }
    return Percentiles.nearestRank(samples.sorted(), quantile)
  }

  /// What the planner would reserve now, before the per-SLO cap.
  public var reserve: Double { max(value * (1 + headroom), value + floor) }

  /// `reserve` capped at `maxShare` of `slo`; `capped` says whether the cap bit.
  public func reserve(_ reserve: Double, for slo: Double) -> (seconds: Double, capped: Bool) {
    let cap = maxShare * slo
    return reserve > cap ? (cap, true) : (reserve, false)
  }
}
