import Foundation
import Inference
import Pipeline
import PipelineCore
import Planner

/// Sizes the demo to the machine it runs on: the CPU worker's slots from the cores and the
/// threads the plan's CPU functions run with (slots × threads ≤ cores), and the default workload
/// to what those slots serve at the target utilisation (control-loop reference, "Sizing the demo
/// to the machine it runs on").
public struct DemoSizing {
  public let planner: Planner
  public let appCount: Int
  /// Per-app rates before scaling, cycled over the apps.
  public let rates: [Double]
  public var targetUtilisation = 0.7
  public let cores = ProcessInfo.processInfo.activeProcessorCount

  /// The CPU worker's slots for a workload, and what the plan needs of them.
  public struct Slots {
    public var count: Int
    public var threadsPerSlot: Int
    /// Busy slots the plan's CPU batches make (mean), and the slots that keeps at the target.
    public var offered: Double
    public var needed: Int
  }

  /// The demo's apps: SLOs spread over 0.3…1.0 s, rates from the mix times `scale`.
  public func apps(scale: Double) -> [App] {
    (0..<appCount).map { index in
      App(
        id: "app-\(index + 1)",
        slo: appCount == 1 ? 0.5 : 0.3 + 0.7 * Double(index) / Double(appCount - 1),
        rate: rates[index % rates.count] * scale)
    }
  }

  public func cpuSlots(for apps: [App]) -> Slots {
    let plan = try? planner.plan(apps)
    let cpuGroups = plan?.groups.filter { $0.function.kind == .cpu } ?? []
    let vcpu = cpuGroups.map(\.function.vcpu).max() ?? 1
    let threads = MiniLMBackend.threads(for: .cpu(vcpu: vcpu))
    let demand = plan.map {
      PoolDemand.of($0, rates: [:], latency: planner.provisioner.latencyModel)[.cpu]
    }
    return Slots(
      count: max(1, cores / threads), threadsPerSlot: threads, offered: demand??.offeredSlots ?? 0,
      needed: demand??.slotsNeeded(target: targetUtilisation) ?? 0)
  }

  /// The largest rate scale up to `limit` whose plan this machine's CPU slots serve at the target
  /// utilisation (at least 0.02).
  public func largestScale(upTo limit: Double) -> Double {
    func fits(_ scale: Double) -> Bool {
      let slots = cpuSlots(for: apps(scale: scale))
      return slots.needed <= slots.count
    }
    guard !fits(limit) else { return limit }
    var low = 0.02
    var high = limit
    for _ in 0..<20 {
      let middle = (low + high) / 2
      if fits(middle) { low = middle } else { high = middle }
    }
    return (low * 100).rounded(.down) / 100
  }

  public func describe(apps: [App], scale: Double, chosen: Bool) -> String {
    let slots = cpuSlots(for: apps)
    var line = String(
      format:
        "demo: the CPU worker gets %d slot%@ of %d thread%@ (%d cores); the plan's CPU batches "
        + "keep %.2f slots busy on average, %d at %.0f %% utilisation",
      slots.count, slots.count == 1 ? "" : "s", slots.threadsPerSlot,
      slots.threadsPerSlot == 1 ? "" : "s", cores, slots.offered, slots.needed,
      targetUtilisation * 100)
    if chosen, scale < 1 {
      line += String(
        format:
          "; the default workload needs more than this machine has, so rates are scaled by %.2f "
          + "(--rate-scale overrides)", scale)
    } else if slots.needed > slots.count {
      line +=
        "; more than this machine has: expect batches to wait for a slot, and the controller to "
        + "recommend more CPU workers on hb.scaling"
    }
    return line
  }
}
