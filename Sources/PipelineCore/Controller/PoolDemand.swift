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

  /// Slots that keep the mean utilisation at or below `target` (at least one while the plan
  /// sends the pool anything).
  public func slotsNeeded(target: Double) -> Int {
    guard offeredSlots > 0 else { return 0 }
    return max(1, Int((offeredSlots / max(0.05, target) - 1e-9).rounded(.up)))
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
