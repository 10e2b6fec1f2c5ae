import Foundation

/// The pipeline's transport delay — flush → the worker read the batch, plus the worker's finish →
/// its results handed to the producer — and how much of an SLO the planner reserves for it
/// (pure; measured and estimated times are seconds, the settings `Duration`s). The estimate is a high quantile of the most recent batches (robust to a few
/// stragglers); until enough batches have reported, a prior stands. What is reserved out of an
/// SLO is the estimate with headroom (so that noise in it does not re-plan), never more than
/// `maxShare` of the SLO: a "transport" of hundreds of milliseconds means something else is being
/// measured (a backlog being replayed, a broker in trouble), and planning on it would squeeze
/// every SLO.
///
/// Queueing for a worker slot is not transport and never enters here (`BatchDelays`). Nor does a
/// backlog: a batch that took over `backlogFloor` and `backlogFactor` times the estimate between
/// flush and worker waited out an outage or a restart (in its producer, or unread on the topic),
/// and is counted apart (`backlogBatches`) — unless such batches are most of the recent ones,
/// when that slowness is the pipeline's now and is planned on.
public struct TransportEstimate: Sendable {
  /// The estimate before `minimum` batches.
  /// Default: `defaultPrior`.
  public var prior: Duration
  public var quantile: Double
  /// Batches remembered.
  public var memory: Int
  public var minimum: Int
  /// The most of an SLO ever reserved for transport.
  public var maxShare: Double
  /// The reserve is the estimate times (1 + headroom), at least the estimate plus `floor`.
  public var headroom: Double
  /// Default: `defaultFloor`.
  public var floor: Duration

  /// A batch is a backlog beyond max(`backlogFloor`, `backlogFactor` × the estimate).
  /// Default: `defaultBacklogFloor`.
  public var backlogFloor = defaultBacklogFloor
  public var backlogFactor: Double = 10
  /// `prior` when none is given.
  /// Default: 25 ms.
  public static let defaultPrior: Duration = .milliseconds(25)
  /// `floor` when none is given.
  /// Default: 5 ms.
  public static let defaultFloor: Duration = .milliseconds(5)
  /// `backlogFloor` when none is given.
  /// Default: 1 s.
  public static let defaultBacklogFloor: Duration = .seconds(1)
  /// Batches counted apart as backlog so far, and the longest of them (seconds).
  public private(set) var backlogBatches = 0
  public private(set) var longestBacklog = 0.0

  private var samples: [Double] = []
  private var next = 0
  /// Whether each of the last `memory` batches was a backlog.
  private var recent: [Bool] = []
  private var recentNext = 0

  public init(
    prior: Duration = defaultPrior, quantile: Double = 0.95, memory: Int = 256,
    minimum: Int = 20, maxShare: Double = 0.2, headroom: Double = 0.25,
    floor: Duration = defaultFloor
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
    let backlog =
      samples.count >= minimum && value > max(backlogFloor.seconds, backlogFactor * self.value)
    if recent.count < memory {
      recent.append(backlog)
    } else {
      recent[recentNext] = backlog
      recentNext = (recentNext + 1) % memory
    }
    if backlog, recent.filter({ $0 }).count * 2 <= recent.count {
      backlogBatches += 1
      longestBacklog = max(longestBacklog, value)
      return
    }
    if samples.count < memory {
      samples.append(value)
    } else {
      samples[next] = value
      next = (next + 1) % memory
    }
  }

  /// The current estimate (seconds): the `quantile` of the recent batches, or the prior.
  public var value: Double {
    guard samples.count >= minimum else { return prior.seconds }
    return Quantile.nearestRank(samples.sorted(), quantile)
  }

  /// What the planner would reserve now (seconds), before the per-SLO cap.
  public var reserve: Double { max(value * (1 + headroom), value + floor.seconds) }

  /// `reserve` capped at `maxShare` of `slo`; `capped` says whether the cap bit.
  public func reserve(_ reserve: Double, for slo: Double) -> (seconds: Double, capped: Bool) {
    let cap = maxShare * slo
    return reserve > cap ? (cap, true) : (reserve, false)
  }
}
