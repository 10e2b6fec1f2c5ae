import Foundation
import Planner

/// Works out the scaling recommendation of each pool from the plan's demand and the pools'
/// reports (pure). One rule, with hysteresis on both sides, turns them into a status and a
/// desired replica count that an autoscaler can follow:
/// - load = the larger of the plan's offered load and the busy slots measured (averaged over
///   `busyWindow`); the slots wanted = load × (1 + `hysteresis`) / `targetUtilisation`, or the
///   slots the plan's waits need when more (`PoolDemand.slotsForWaits`), and the replicas wanted the fewest that give them with the partitions as they are
///   (`PoolCapacity`: a replica holding k of P partitions gets k/P of the batches), never more
///   than the partitions;
/// - up, at once, when the load passes the target utilisation of what the desired replicas give
///   by more than `hysteresis`, or they give fewer slots than the plan's waits need
///   (`PoolDemand.slotsForWaits`), or when the pool is saturated (its slots 90 % busy, or a replica
///   full while the others idle, and a slot wait past `saturationWait` at the 95th percentile
///   or more batches waiting than it has slots: at least one replica more than it has);
/// - down only when the replicas wanted stayed below the desired count for a whole
///   `scaleDownWindow` (to the most wanted in it; never in the first window a pool is seen);
/// - otherwise the desired count holds, whatever the replicas reporting do: a replica joining or
///   leaving changes the status (scale-up → ok), never the target;
/// - when one replica per partition cannot give the slots wanted, the status is
///   `partition-limit`: desired = the partitions, and the recommendation says how many slots per
///   replica (or partitions) would do.
public struct PoolScaler: Sendable {
  public var targetUtilisation: Double
  /// How long the replicas wanted must stay below the desired count before fewer are asked for
  /// (`controller --scale-down-window`).
  /// Default: `defaultScaleDownWindow`.
  public var scaleDownWindow: Duration
  /// A slot wait past this at the 95th percentile, with the slots full, is saturation.
  /// Default: `defaultSaturationWait`.
  public var saturationWait: Duration
  /// The slot wait the lag threshold allows.
  /// Default: `defaultAcceptedQueueDelay`.
  public var acceptedQueueDelay: Duration
  /// How much of the worker reports the measured busy slots are averaged over (one window of a
  /// second is noisy; a rise past saturation still shows at once through the slot waits).
  /// Default: `defaultBusyWindow`.
  public var busyWindow: Duration
  /// `scaleDownWindow` when none is given.
  /// Default: 60 s.
  public static let defaultScaleDownWindow: Duration = .seconds(60)
  /// `saturationWait` when none is given.
  /// Default: 100 ms.
  public static let defaultSaturationWait: Duration = .milliseconds(100)
  /// `acceptedQueueDelay` when none is given.
  /// Default: 250 ms.
  public static let defaultAcceptedQueueDelay: Duration = .milliseconds(250)
  /// `busyWindow` when none is given.
  /// Default: 10 s.
  public static let defaultBusyWindow: Duration = .seconds(10)
  /// How far past the target utilisation the load must be before more slots are asked for, and
  /// the margin the slots asked for keep.
  public var hysteresis: Double
  /// The share of its slots a pool keeps busy (averaged over `busyWindow`) before waiting
  /// batches count as saturation.
  static let fullShare = 0.9

  struct PoolState: Sendable {
    var firstSeen: Double
    var desired: Int?
    var limited = false
    var wanted: [(time: Double, replicas: Int)] = []
    var busy: [(time: Double, slots: Double)] = []
  }
  private var states: [String: PoolState] = [:]

  public init(
    targetUtilisation: Double = 0.7, scaleDownWindow: Duration = defaultScaleDownWindow,
    saturationWait: Duration = defaultSaturationWait,
    acceptedQueueDelay: Duration = defaultAcceptedQueueDelay,
    busyWindow: Duration = defaultBusyWindow, hysteresis: Double = 0.1
  ) {
    self.targetUtilisation = targetUtilisation
    self.scaleDownWindow = scaleDownWindow
    self.saturationWait = saturationWait
    self.acceptedQueueDelay = acceptedQueueDelay
    self.busyWindow = busyWindow
    self.hysteresis = hysteresis
  }

  /// One recommendation per pool: every pool that reports, and the default group of a kind the
  /// plan uses when none of that kind reports.
  /// `partitions`: each batch topic's partition count as the controller knows it, for a pool
  /// whose workers have not said.
  public mutating func recommend(
    demand: [FunctionConfig.Kind: PoolDemand], pools: [String: WorkerPools.Pool],
    planVersion: Int, topics: PipelineTopics, now: Double,
    partitions: [FunctionConfig.Kind: Int] = [:]
  ) -> [ScalingRecommendation] {
    var targets = pools.values.map { ($0.group, $0.kind, Optional($0)) }
    for kind in [FunctionConfig.Kind.cpu, .gpu]
    where (demand[kind]?.offeredSlots ?? 0) > 0
      && !pools.values.contains(where: { $0.kind == kind })
    {
      targets.append((WorkerPools.defaultGroup(kind), kind, nil))
    }
    return targets.sorted { $0.0 < $1.0 }.map { group, kind, pool in
      recommend(
        group: group, kind: kind,
        demand: demand[kind] ?? PoolDemand(kind: kind, batchesPerSecond: 0, offeredSlots: 0),
        pool: pool, planVersion: planVersion, topic: topics.batches(for: kind), now: now,
        partitions: pool?.partitions ?? partitions[kind])
    }
  }

  private mutating func recommend(
    group: String, kind: FunctionConfig.Kind, demand: PoolDemand, pool: WorkerPools.Pool?,
    planVersion: Int, topic: String, now: Double, partitions: Int?
  ) -> ScalingRecommendation {
    var state = states[group] ?? PoolState(firstSeen: now)
    defer { states[group] = state }
    let perReplica = pool?.slotsPerReplica ?? 1
    let smallest = min(pool?.smallestReplica ?? perReplica, perReplica)
    let replicas = pool?.replicas ?? 0
    var capacity = pool?.capacity ?? PoolCapacity(replicaSlots: [], partitions: nil)
    capacity.partitions = capacity.partitions ?? partitions
    let rho = max(0.05, min(1, targetUtilisation))
    let margin = max(0, hysteresis)
    var measuredBusy: Double?
    var saturated = false
    var reasons: [String] = []
    if let pool {
      state.busy.append((now, pool.busySlots))
      state.busy.removeAll { $0.time <= now - busyWindow.seconds }
      measuredBusy = state.busy.map(\.slots).reduce(0, +) / Double(state.busy.count)
      let waiting =
        (pool.queueWaitP95Ms ?? 0) > saturationWait.seconds * 1000 || pool.backlog > pool.slots
      // Batches wait with slots busy over the window: a pool at its limit. With slots to spare
      // they are a backlog being drained (after a restart or an outage), which more replicas
      // would not have prevented and which passes by itself — unless one replica is full while
      // the others idle (skew), which more replicas (up to the partitions) spread.
      // Full against the slots the replicas can use with the partitions they hold (a replica
      // beyond the partitions never gets busy).
      let usable = min(Double(pool.slots), max(1, capacity.slots))
      let full = (measuredBusy ?? 0) >= Self.fullShare * usable
      if waiting, full || !pool.skewedPartitions.isEmpty {
        saturated = true
        reasons.append(
          String(
            format: "saturated: slot wait p95 %.0f ms, %d batches waiting",
            pool.queueWaitP95Ms ?? 0, pool.backlog))
      }
      if !pool.skewedPartitions.isEmpty {
        reasons.append(
          "skew: batches of partition\(pool.skewedPartitions.count == 1 ? "" : "s") "
            + pool.skewedPartitions.map(String.init).joined(separator: ",")
            + " wait on a full replica while others have idle slots")
      }
      if pool.shed > 0 { reasons.append("\(pool.shed) requests shed as late") }
    }
    let load = max(demand.offeredSlots, measuredBusy ?? 0)
    // Enough slots for the target utilisation, and for the slot waits the plan has room for.
    let forWaits = demand.slotsForWaits()
    let wantedSlots = max(load * (1 + margin) / rho, Double(forWaits))
    let (wanted, limited) = PoolCapacity.replicas(
      for: wantedSlots, slotsPerReplica: perReplica, smallest: smallest,
      partitions: capacity.partitions)
    state.wanted.append((now, wanted))
    state.wanted.removeAll { $0.time < now - scaleDownWindow.seconds }
    let active = demand.offeredSlots > 0 || (pool?.busySlots ?? 0) > 0 || (pool?.backlog ?? 0) > 0
    var desired: Int
    if !active {
      desired = 0
    } else if pool == nil || replicas == 0 {
      desired = max(1, wanted)
    } else {
      desired = state.desired ?? replicas
      let slotsThere =
        desired == replicas
        ? capacity.slots
        : PoolCapacity.slots(
          replicas: desired, smallest: smallest, partitions: capacity.partitions)
      if saturated {
        desired = max(desired, wanted, replicas + 1)
      } else if load > slotsThere * rho * (1 + margin) || Double(forWaits) > slotsThere {
        // Past the target utilisation, or fewer slots than the plan's waits need.
        desired = max(desired, wanted)
      } else if wanted < desired, now - state.firstSeen >= scaleDownWindow.seconds,
        let most = state.wanted.map(\.replicas).max(), most < desired
      {
        desired = max(1, most)
      }
    }
    if let limit = capacity.partitions { desired = min(desired, limit) }
    // The target is held only for a pool with replicas: the first replicas to report start from
    // what they are (never a scale-down in their first window).
    state.desired = active && replicas > 0 ? desired : nil
    // At the partitions' limit: entered when one replica per partition lacks the slots wanted,
    // left only when it has them with the margin to spare.
    if let limit = capacity.partitions, active {
      let most = PoolCapacity.slots(replicas: limit, smallest: smallest, partitions: limit)
      if limited {
        state.limited = true
      } else if most >= wantedSlots * (1 + margin) {
        state.limited = false
      }
    } else {
      state.limited = false
    }
    var slotsPerReplicaNeeded: Int?
    if state.limited, let limit = capacity.partitions {
      // Enough to leave the limit again (the margin included), and always more than now.
      let asked = wantedSlots * (1 + margin)
      let each = max(perReplica + 1, Int((asked / Double(limit) - 1e-9).rounded(.up)))
      slotsPerReplicaNeeded = each
      reasons.append(
        String(
          format:
            "the batch topic has %d partitions, so at most %d replicas share the work; %.1f "
            + "slots wanted, %d × %d there at most: give each replica %d slots (--concurrency) "
            + "or add partitions (harmonybatch topics --topic-partitions %@=%d)",
          limit, limit, wantedSlots, limit, smallest, each, topic,
          max(limit + 1, Int((asked / Double(max(1, perReplica)) - 1e-9).rounded(.up)))))
    }
    let status: ScalingRecommendation.Status
    if !active {
      status = .idle
    } else if pool == nil {
      status = .noWorkers
    } else if state.limited {
      status = .partitionLimit
    } else if desired > replicas {
      status = .scaleUp
    } else if desired < replicas {
      status = .scaleDown
    } else {
      status = .ok
    }
    let modelNeed = demand.slotsNeeded(target: rho)
    reasons.insert(
      String(
        format:
          "the plan sends %.1f batches/s of %.0f ms: %.2f busy slots, %d at %.0f %% utilisation",
        demand.batchesPerSecond, demand.meanService * 1000, demand.offeredSlots, modelNeed,
        rho * 100)
        + (forWaits > modelNeed
          ? String(
            format: ", %d for slot waits under %.0f ms (99 %%)", forWaits,
            (demand.waitAllowance ?? 0) * 1000) : ""),
      at: 0)
    if let measuredBusy {
      reasons.insert(
        String(
          format: "measured %.2f busy slots (mean of %.0f s)", measuredBusy, busyWindow.seconds),
        at: 1)
    }
    let perReplicaRate =
      demand.meanService > 0 ? Double(perReplica) / demand.meanService : 0
    return ScalingRecommendation(
      createdAtMs: (now * 1000).rounded(), planVersion: planVersion, group: group, kind: kind,
      topic: topic, status: status, batchesPerSecond: demand.batchesPerSecond,
      meanServiceMs: demand.meanService * 1000, offeredSlots: demand.offeredSlots,
      busySlots: measuredBusy, targetUtilisation: rho,
      slotsNeeded: active ? max(1, Int((load / rho - 1e-9).rounded(.up)), forWaits) : 0,
      slotsAvailable: pool?.slots ?? 0, replicas: replicas, slotsPerReplica: perReplica,
      desiredReplicas: desired, replicasToAdd: desired - replicas,
      queueWaitP95Ms: pool?.queueWaitP95Ms, backlog: pool?.backlog ?? 0, lag: pool?.lag,
      lagThreshold: perReplicaRate > 0
        ? max(1, Int((perReplicaRate * acceptedQueueDelay.seconds).rounded())) : nil,
      reason: reasons.joined(separator: "; "), partitions: capacity.partitions,
      usableSlots: pool == nil ? nil : capacity.slots,
      slotsPerReplicaNeeded: slotsPerReplicaNeeded,
      skewedPartitions: pool?.skewedPartitions.isEmpty ?? true ? nil : pool?.skewedPartitions,
      shed: pool?.shed)
  }
}
