import Foundation
import Planner

/// Works out the scaling recommendation of each pool from the plan's demand and the pools'
/// reports (pure):
/// - needed slots = the larger of the plan's offered load and the busy slots measured (averaged
///   over `busyWindow`), each over the target utilisation; a saturated pool (its slots 90 % busy
///   over that window, and a slot wait past `saturationWaitMs` at the 95th percentile or more
///   batches waiting than it has slots) needs at least one replica more than it has, whatever
///   the model says;
/// - scaling up is recommended at once; scaling down only when the need stayed below the pool for
///   a whole `scaleDownWindow` (the largest need in the window decides; never in the first
///   window a pool is seen), so a lull does not flap the pool.
public struct PoolScaler: Sendable {
  public var targetUtilisation: Double
  public var scaleDownWindow: Double
  public var saturationWaitMs: Double
  /// The slot wait the lag threshold allows (seconds).
  public var acceptedQueueDelay: Double
  /// Seconds of worker reports the measured busy slots are averaged over (one window of a
  /// second is noisy; a rise past saturation still shows at once through the slot waits).
  public var busyWindow: Double
  /// How far past the target utilisation the load must be before more slots are asked for.
  public var hysteresis: Double
  /// The share of its slots a pool keeps busy (averaged over `busyWindow`) before waiting
  /// batches count as saturation.
  static let fullShare = 0.9
  private var needs: [String: [(time: Double, slots: Int)]] = [:]
  private var busy: [String: [(time: Double, slots: Double)]] = [:]
  private var firstSeen: [String: Double] = [:]

  public init(
    targetUtilisation: Double = 0.7, scaleDownWindow: Double = 60, saturationWaitMs: Double = 100,
    acceptedQueueDelay: Double = 0.25, busyWindow: Double = 10, hysteresis: Double = 0.1
  ) {
    self.targetUtilisation = targetUtilisation
    self.scaleDownWindow = scaleDownWindow
    self.saturationWaitMs = saturationWaitMs
    self.acceptedQueueDelay = acceptedQueueDelay
    self.busyWindow = busyWindow
    self.hysteresis = hysteresis
  }

  /// One recommendation per pool: every pool that reports, and the default group of a kind the
  /// plan uses when none of that kind reports.
  public mutating func recommend(
    demand: [FunctionConfig.Kind: PoolDemand], pools: [String: WorkerPools.Pool],
    planVersion: Int, topics: PipelineTopics, now: Double
  ) -> [ScalingRecommendation] {
    var targets = pools.values.map { ($0.group, $0.kind, Optional($0)) }
    for kind in [FunctionConfig.Kind.cpu, .gpu]
    where (demand[kind]?.offeredSlots ?? 0) > 0
      && !pools.values.contains(where: { $0.kind == kind })
    {
      targets.append(("hb-workers-\(kind.rawValue)", kind, nil))
    }
    return targets.sorted { $0.0 < $1.0 }.map { group, kind, pool in
      recommend(
        group: group, kind: kind,
        demand: demand[kind] ?? PoolDemand(kind: kind, batchesPerSecond: 0, offeredSlots: 0),
        pool: pool, planVersion: planVersion, topic: topics.batches(for: kind), now: now)
    }
  }

  private mutating func recommend(
    group: String, kind: FunctionConfig.Kind, demand: PoolDemand, pool: WorkerPools.Pool?,
    planVersion: Int, topic: String, now: Double
  ) -> ScalingRecommendation {
    let perReplica = pool?.slotsPerReplica ?? 1
    let available = pool?.slots ?? 0
    let replicas = pool?.replicas ?? 0
    let rho = max(0.05, min(1, targetUtilisation))
    let modelNeed = demand.slotsNeeded(target: rho)
    var measuredNeed = 0
    var measuredBusy: Double?
    var saturated = false
    var reasons: [String] = []
    if let pool {
      var recent = busy[group, default: []]
      recent.append((now, pool.busySlots))
      recent.removeAll { $0.time <= now - busyWindow }
      busy[group] = recent
      let busySlots = recent.map(\.slots).reduce(0, +) / Double(recent.count)
      measuredBusy = busySlots
      measuredNeed = busySlots > 0 ? Int((busySlots / rho - 1e-9).rounded(.up)) : 0
      let waiting = (pool.queueWaitP95Ms ?? 0) > saturationWaitMs
      // Batches wait with slots busy over the window: a pool at its limit. With slots to spare
      // they are a backlog being drained (after a restart or an outage), which more replicas
      // would not have prevented and which passes by itself.
      let full = busySlots >= Self.fullShare * Double(pool.slots)
      if full, waiting || pool.backlog > pool.slots {
        saturated = true
        measuredNeed = max(measuredNeed, pool.slots + perReplica)
        reasons.append(
          String(
            format: "saturated: slot wait p95 %.0f ms, %d batches waiting",
            pool.queueWaitP95Ms ?? 0, pool.backlog))
      }
    }
    let need = max(modelNeed, measuredNeed)
    var history = needs[group, default: []]
    history.append((now, need))
    history.removeAll { $0.time < now - scaleDownWindow }
    needs[group] = history
    let active = demand.offeredSlots > 0 || (pool?.busySlots ?? 0) > 0 || (pool?.backlog ?? 0) > 0
    let since = firstSeen[group] ?? now
    firstSeen[group] = since
    // Up at once when the load passes the target utilisation of the slots there are by more than
    // `hysteresis` (or the pool is saturated); down only to the largest need of a whole window
    // (never in the first window a pool is seen); otherwise hold — so a need on the edge of a
    // whole slot does not flap.
    let load = max(demand.offeredSlots, measuredBusy ?? 0)
    var desiredSlots = available
    if saturated || available == 0 || load > Double(available) * rho * (1 + hysteresis) {
      desiredSlots = max(need, available)
    } else if need < available, now - since >= scaleDownWindow {
      desiredSlots = min(available, history.map(\.slots).max() ?? need)
    }
    var desired = active ? max(1, Int((Double(desiredSlots) / Double(perReplica)).rounded(.up))) : 0
    if saturated { desired = max(desired, replicas + 1) }
    let status: ScalingRecommendation.Status
    if !active {
      status = .idle
      desired = 0
    } else if pool == nil {
      status = .noWorkers
    } else if desired > replicas {
      status = .scaleUp
    } else if desired < replicas {
      status = .scaleDown
    } else {
      status = .ok
    }
    reasons.insert(
      String(
        format:
          "the plan sends %.1f batches/s of %.0f ms: %.2f busy slots, %d at %.0f %% utilisation",
        demand.batchesPerSecond, demand.meanService * 1000, demand.offeredSlots, modelNeed,
        rho * 100), at: 0)
    if let measuredBusy {
      reasons.insert(
        String(format: "measured %.2f busy slots (mean of %.0f s)", measuredBusy, busyWindow),
        at: 1)
    }
    let perReplicaRate =
      demand.meanService > 0 ? Double(perReplica) / demand.meanService : 0
    return ScalingRecommendation(
      createdAtMs: (now * 1000).rounded(), planVersion: planVersion, group: group, kind: kind,
      topic: topic, status: status, batchesPerSecond: demand.batchesPerSecond,
      meanServiceMs: demand.meanService * 1000, offeredSlots: demand.offeredSlots,
      busySlots: measuredBusy, targetUtilisation: rho, slotsNeeded: need,
      slotsAvailable: available, replicas: replicas, slotsPerReplica: perReplica,
      desiredReplicas: desired, replicasToAdd: desired - replicas,
      queueWaitP95Ms: pool?.queueWaitP95Ms, backlog: pool?.backlog ?? 0, lag: pool?.lag,
      lagThreshold: perReplicaRate > 0
        ? max(1, Int((perReplicaRate * acceptedQueueDelay).rounded())) : nil,
      reason: reasons.joined(separator: "; "))
  }
}
