import Foundation
import Planner

/// The load a plan puts on the worker pool of each function kind (control-loop reference,
/// Little's law): per group, batches per second (the group's rate over the mean batch fill under
/// Poisson arrivals) times the mean time such a batch takes; summed per kind, that is the
/// slot-seconds per second the pool must serve. Pure.
public struct PoolDemand: Sendable, Equatable {
  public var kind: FunctionConfig.Kind
  /// Batches sent to the pool per second.
  public var batchesPerSecond: Double
  /// Slot-seconds of work per second (the mean number of busy slots).
  public var offeredSlots: Double
  /// The mean time a batch holds a slot (seconds).
  public var meanService: Double {
    batchesPerSecond > 0 ? offeredSlots / batchesPerSecond : 0
  }

  /// The longest a batch may wait for a slot and still end within its SLO: plans leave no room
  /// for slot waits (timeout + the maximum latency = the SLO), so the only room is between a
  /// batch's maximum latency and the time it really takes, the smallest of the pool's groups
  /// (seconds; nil when the plan sends the pool nothing).
  public var waitAllowance: Double?

  public init(
    kind: FunctionConfig.Kind, batchesPerSecond: Double, offeredSlots: Double,
    waitAllowance: Double? = nil
  ) {
    self.kind = kind
    self.batchesPerSecond = batchesPerSecond
    self.offeredSlots = offeredSlots
    self.waitAllowance = waitAllowance
  }

  /// Slots that keep the mean utilisation at or below `target` (at least one while the plan
  /// sends the pool anything).
  public func slotsNeeded(target: Double) -> Int {
    guard offeredSlots > 0 else { return 0 }
    return max(1, Int((offeredSlots / max(0.05, target) - 1e-9).rounded(.up)))
  }

  /// The fewest slots with which a batch waits past `waitAllowance` with probability at most
  /// `tail`, batches arriving as a Poisson stream and taking exponential times of the mean
  /// (M/M/c, Erlang C: P(wait > t) = C(c, a)·e^−(cμ − λ)t) — pessimistic for batches of nearly
  /// constant time, which is the side to err on where a wait costs an SLO. Utilisation alone
  /// misjudges a pool of few slots: one slot 62 % busy makes a batch wait past 30 ms a third of
  /// the time. 0 when the plan sends the pool nothing; at most `limit`.
  public func slotsForWaits(tail: Double = 0.01, limit: Int = 1_024) -> Int {
    guard offeredSlots > 0, batchesPerSecond > 0, let allowance = waitAllowance else { return 0 }
    let mu = 1 / max(1e-6, meanService)
    let load = offeredSlots
    var slots = max(1, Int(load.rounded(.down)) + 1)
    while slots < limit {
      let waitTail =
        Self.erlangC(servers: slots, load: load)
        * exp(-(Double(slots) * mu - batchesPerSecond) * max(0, allowance))
      if waitTail <= tail { break }
      slots += 1
    }
    return slots
  }

  /// The probability that an arrival waits at all in an M/M/c queue of `servers` and offered
  /// `load` (Erlang C; 1 when the load reaches the servers).
  static func erlangC(servers: Int, load: Double) -> Double {
    guard load < Double(servers) else { return 1 }
    var term = 1.0
    var sum = 1.0
    for k in 1..<max(1, servers) {
      term *= load / Double(k)
      sum += term
    }
    let last = term * load / Double(servers)
    let waiting = last * Double(servers) / (Double(servers) - load)
    return waiting / (sum + waiting)
  }

  /// The demand of `plan` on each kind, with the apps' rates `rates` (the plan's own where an app
  /// is missing) and latencies from `latency`.
  public static func of(
    _ plan: Plan, rates: [String: Double], latency: LatencyModel
  ) -> [FunctionConfig.Kind: PoolDemand] {
    var demand: [FunctionConfig.Kind: PoolDemand] = [
      .cpu: PoolDemand(kind: .cpu, batchesPerSecond: 0, offeredSlots: 0),
      .gpu: PoolDemand(kind: .gpu, batchesPerSecond: 0, offeredSlots: 0),
    ]
    for group in plan.groups {
      let members = group.apps.map { app in
        (
          timeout: (group.timeoutsMs[app] ?? 0) / 1000,
          rate: rates[app].map { $0 * Self.share(of: app, in: group, plan: plan) }
            ?? group.appRates[app] ?? 0
        )
      }
      let rate = members.reduce(0) { $0 + $1.rate }
      guard rate > 0 else { continue }
      let fill = BatchFill(
        rate: rate, window: EquivalentTimeout.of(members), capacity: group.batchSize)
      let function = group.function
      let service = fill.mean { k in
        switch function.kind {
        case .cpu:
          latency.cpu(vcpu: function.vcpu, batch: min(k, latency.profile.cpu.maxBatch)).avg
        case .gpu:
          latency.profile.gpu == nil
            ? 0 : latency.gpu(memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: k).avg
        }
      }
      let batches = rate / fill.expected
      demand[function.kind]!.batchesPerSecond += batches
      demand[function.kind]!.offeredSlots += batches * service
      let room = max(0.001, group.latencyMaxMs / 1000 - service)
      demand[function.kind]!.waitAllowance = min(
        demand[function.kind]!.waitAllowance ?? .infinity, room)
    }
    return demand
  }

  /// The share of `app`'s traffic that `group` gets (1 unless the plan splits the app).
  static func share(of app: String, in group: PlanGroup, plan: Plan) -> Double {
    let all = plan.groups.compactMap { $0.appRates[app] }
    let total = all.reduce(0, +)
    guard all.count > 1, total > 0 else { return 1 }
    return (group.appRates[app] ?? 0) / total
  }
}
