import Foundation
import PipelineCore
import Planner

/// What a closed-loop simulation measured.
public struct ClosedLoopResult: Sendable {
  /// Requests by the second they arrived in: how many, and how many ended within their SLO.
  public struct Second: Sendable, Equatable {
    public var requests = 0
    public var within = 0
    /// What the batches that finished in this second were billed.
    public var billed = 0.0
  }

  /// A pool's recommendation changing status (or its desired replicas).
  public struct ScalingChange: Sendable, Equatable {
    public var time: Double
    public var group: String
    public var status: ScalingRecommendation.Status
    public var desiredReplicas: Int
    public var replicas: Int
    public var slotsNeeded: Int
  }

  /// One second of the run as the controller and the autoscaler saw it.
  public struct Sample: Sendable, Equatable {
    public var time: Double
    /// The requests per second offered (every app's true rate, the shape and bursts included).
    public var rate: Double
    /// Σ the rates the plan in force was made for, and those the pools were sized for.
    public var planned = 0.0
    public var scaled = 0.0
    /// Σ the forecast's mean for the bucket open now (nil: the forecast is off).
    public var forecast: Double?
    /// Replicas serving, and replicas started and not serving yet, per pool.
    public var replicas: [FunctionConfig.Kind: Int] = [:]
    public var starting: [FunctionConfig.Kind: Int] = [:]

    public init(time: Double, rate: Double) {
      self.time = time
      self.rate = rate
    }
  }

  public var requests = 0
  public var within = 0
  /// Requests the batcher diverted as late, and requests no function could serve.
  public var late = 0
  /// Requests a worker shed: their batch started too late for their SLO.
  public var shed = 0
  public var rejected = 0
  /// What the invocations were billed.
  public var billed = 0.0
  public var batches = 0
  /// Plans the controller published (the plan in force at start included), in order.
  public var plans: [Plan] = []
  public var versions: [ControllerCore.Version] = []
  public var scaling: [ScalingChange] = []
  public var seconds: [Second] = []
  /// Waits for a slot (seconds): the largest, and how many batches waited at all.
  public var longestQueueWait = 0.0
  public var queuedBatches = 0
  /// Each pool's replicas at the end.
  public var finalReplicas: [FunctionConfig.Kind: Int] = [:]
  /// Every second of the run, and per pool the replicas serving or starting summed over them
  /// (replica-seconds: a replica's cold start holds its resources too).
  public var timeline: [Sample] = []
  public var replicaSeconds: [FunctionConfig.Kind: Double] = [:]

  public var totalReplicaSeconds: Double { replicaSeconds.values.reduce(0, +) }

  public var attainment: Double { requests > 0 ? Double(within) / Double(requests) : 1 }
  public var costPerRequest: Double { requests > 0 ? billed / Double(requests) : 0 }

  /// The seconds in [from, to), summed.
  func total(from: Double, to: Double) -> Second {
    let lower = max(0, Int(from.rounded(.down)))
    let upper = min(seconds.count, Int(to.rounded(.up)))
    guard lower < upper else { return Second() }
    return seconds[lower..<upper].reduce(into: Second()) { sum, second in
      sum.requests += second.requests
      sum.within += second.within
      sum.billed += second.billed
    }
  }

  /// The bill of [from, to) per request that arrived in it.
  public func costPerRequest(from: Double, to: Double) -> Double {
    let span = total(from: from, to: to)
    return span.requests > 0 ? span.billed / Double(span.requests) : 0
  }

  /// SLO attainment of the requests that arrived in any of these spans.
  public func attainment(in spans: [(from: Double, to: Double)]) -> Double {
    let sums = spans.map { total(from: $0.from, to: $0.to) }
    let requests = sums.reduce(0) { $0 + $1.requests }
    return requests > 0 ? Double(sums.reduce(0) { $0 + $1.within }) / Double(requests) : 1
  }

  /// SLO attainment of the requests that arrived in [from, to).
  public func attainment(from: Double, to: Double) -> Double {
    attainment(in: [(from, to)])
  }

  /// The first time a pool that reports was recommended more replicas than it has.
  public func firstScaleUp(group: String) -> Double? {
    scaling.first { $0.group == group && $0.status == .scaleUp }?.time
  }

  /// Versions published in [from, to].
  public func versions(from: Double, to: Double) -> [ControllerCore.Version] {
    versions.filter { $0.at >= from && $0.at <= to }
  }

  /// The lowest SLO attainment of the 10-second windows of arrivals that lie in [from, to).
  public func worstWindow(from: Double, to: Double, window: Double = 10) -> Double {
    var worst = 1.0
    var start = from
    while start + window <= min(to, Double(seconds.count)) {
      worst = min(worst, attainment(from: start, to: start + window))
      start += 1
    }
    return worst
  }

  /// The largest share of any SLO a published plan took off for transport.
  public func largestReserveShare(apps: [App]) -> Double {
    let tightest = apps.map(\.slo).min() ?? 1
    return plans.compactMap(\.transportReserveMs).map { min($0 / 1000, tightest) / tightest }.max()
      ?? 0
  }
}
