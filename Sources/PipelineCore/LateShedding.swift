import Planner

/// What a worker does with a request that can no longer meet its SLO when a slot starts its batch.
public enum WorkerLatePolicy: String, Sendable, CaseIterable {
  /// Do not run it: it ends on the late topic with the reason (the default). An overloaded queue
  /// drains instead of growing, and no invocation is billed for an answer that comes too late.
  case shed
  /// Run it anyway; its result says `slo_met: false`.
  case run
}

/// The fastest a worker has seen each function run a batch (seconds, any batch size): a lower
/// bound on how long the next batch on it takes, so a request is shed only when even that could
/// not end within its SLO. Pure and bounded (one number per function the plans use).
public struct InferenceFloor: Sendable {
  private var fastest: [FunctionConfig: Double] = [:]
  /// Functions remembered at most (a plan uses a handful; a rogue stream of batches cannot grow
  /// it without bound).
  public static let capacity = 256

  public init() {}

  public mutating func observe(_ function: FunctionConfig, seconds: Double) {
    guard seconds.isFinite, seconds >= 0 else { return }
    if let known = fastest[function] {
      fastest[function] = min(known, seconds)
    } else if fastest.count < Self.capacity {
      fastest[function] = seconds
    }
  }

  /// The lower bound for `function`; 0 before any batch ran on it.
  public func seconds(for function: FunctionConfig) -> Double { fastest[function] ?? 0 }
}

/// Splits a batch a slot is about to start into the requests to run and the ones to shed
/// (`WorkerLatePolicy.shed`): a request is shed when its SLO (arrival + SLO) comes before the
/// start plus the fastest this function has run a batch — it cannot be met whatever the batch
/// takes. Requests the batcher forwarded late on purpose (`--late-policy forward`, marked
/// `late`) run: that operator asked for them.
public enum LateShedding {
  public struct Verdict: Sendable {
    /// Indices of the requests to run, in batch order.
    public var run: [Int]
    /// Indices of the requests to shed and how far past their SLO they would at least end
    /// (seconds).
    public var shed: [(index: Int, lateBy: Double)]
  }

  /// `started` and the requests' arrivals in seconds on the same clock (since the epoch).
  public static func verdict(
    requests: [(arrival: Double, slo: Double, late: Bool)], started: Double,
    floor: Double, policy: WorkerLatePolicy
  ) -> Verdict {
    var verdict = Verdict(run: [], shed: [])
    for (index, request) in requests.enumerated() {
      let lateBy = started + max(0, floor) - (request.arrival + request.slo)
      if policy == .shed, !request.late, lateBy > 0 {
        verdict.shed.append((index, lateBy))
      } else {
        verdict.run.append(index)
      }
    }
    return verdict
  }
}
