import Foundation
import Planner

/// The controller's recommendation for one worker pool, on hb.scaling keyed by consumer group
/// (`Schemas/scaling.schema.json`): the slots the plan in force needs, the slots the pool has,
/// and the replicas to run — the signal an autoscaler (KEDA, an HPA, a script, a person) acts on.
public struct ScalingRecommendation: Codable, Sendable, Equatable {
  public enum Status: String, Codable, Sendable {
    /// The pool has the slots the plan needs, within one replica.
    case ok
    /// Too few slots: add `replicasToAdd` replicas.
    case scaleUp = "scale-up"
    /// More replicas than the plan needs for a whole stabilisation window.
    case scaleDown = "scale-down"
    /// The plan sends batches to this pool and no worker reports in it.
    case noWorkers = "no-workers"
    /// The plan sends nothing to this pool.
    case idle
    /// One replica per partition of the batch topic cannot give the slots the plan needs:
    /// `desiredReplicas` is the partitions; more slots per replica (`slotsPerReplicaNeeded`) or
    /// more partitions are what would help.
    case partitionLimit = "partition-limit"
  }

  public var createdAtMs: Double
  public var planVersion: Int
  public var group: String
  public var kind: FunctionConfig.Kind
  public var topic: String
  public var status: Status
  /// What the plan sends the pool: batches per second and the mean time each holds a slot.
  public var batchesPerSecond: Double
  public var meanServiceMs: Double
  /// Busy slots the plan's load makes (batches/s × mean service), and the busy slots measured
  /// (averaged over the scaler's window).
  public var offeredSlots: Double
  public var busySlots: Double?
  public var targetUtilisation: Double
  public var slotsNeeded: Int
  public var slotsAvailable: Int
  public var replicas: Int
  public var slotsPerReplica: Int
  public var desiredReplicas: Int
  /// desired − current (negative: replicas that may go).
  public var replicasToAdd: Int
  public var queueWaitP95Ms: Double?
  public var backlog: Int
  public var lag: Int?
  /// For KEDA's Kafka scaler: the lag (batch records) one replica may carry — the batches it
  /// finishes per second times the queueing delay accepted. Nil while nothing is sent.
  public var lagThreshold: Int?
  public var reason: String
  /// The batch topic's partitions (nil while no worker or the controller has said): replicas
  /// beyond them idle, so `desiredReplicas` never exceeds them.
  public var partitions: Int?
  /// The slots the replicas give with the partitions as they hold them (`PoolCapacity`).
  public var usableSlots: Double?
  /// At `partition-limit`: the slots each replica would need.
  public var slotsPerReplicaNeeded: Int?
  /// Partitions whose batches wait on a full replica while others have idle slots.
  public var skewedPartitions: [Int32]?
  /// Requests the pool shed as late in its last report windows.
  public var shed: Int?
  /// With the rate forecast on: the apps the pool serves, their rates measured, planned on and
  /// sized for, and the forecast's error so far (nil with it off).
  public var forecast: [AppRateForecast]?

  public init(
    createdAtMs: Double, planVersion: Int, group: String, kind: FunctionConfig.Kind,
    topic: String, status: Status, batchesPerSecond: Double, meanServiceMs: Double,
    offeredSlots: Double, busySlots: Double?, targetUtilisation: Double, slotsNeeded: Int,
    slotsAvailable: Int, replicas: Int, slotsPerReplica: Int, desiredReplicas: Int,
    replicasToAdd: Int, queueWaitP95Ms: Double?, backlog: Int, lag: Int?, lagThreshold: Int?,
    reason: String, partitions: Int? = nil, usableSlots: Double? = nil,
    slotsPerReplicaNeeded: Int? = nil, skewedPartitions: [Int32]? = nil, shed: Int? = nil
  ) {
    self.createdAtMs = createdAtMs
    self.planVersion = planVersion
    self.group = group
    self.kind = kind
    self.topic = topic
    self.status = status
    self.batchesPerSecond = batchesPerSecond
    self.meanServiceMs = meanServiceMs
    self.offeredSlots = offeredSlots
    self.busySlots = busySlots
    self.targetUtilisation = targetUtilisation
    self.slotsNeeded = slotsNeeded
    self.slotsAvailable = slotsAvailable
    self.replicas = replicas
    self.slotsPerReplica = slotsPerReplica
    self.desiredReplicas = desiredReplicas
    self.replicasToAdd = replicasToAdd
    self.queueWaitP95Ms = queueWaitP95Ms
    self.backlog = backlog
    self.lag = lag
    self.lagThreshold = lagThreshold
    self.reason = reason
    self.partitions = partitions
    self.usableSlots = usableSlots
    self.slotsPerReplicaNeeded = slotsPerReplicaNeeded
    self.skewedPartitions = skewedPartitions
    self.shed = shed
  }

  enum CodingKeys: String, CodingKey {
    case createdAtMs = "created_at_ms"
    case planVersion = "plan_version"
    case group, kind, topic, status
    case batchesPerSecond = "batches_per_s"
    case meanServiceMs = "mean_service_ms"
    case offeredSlots = "offered_slots"
    case busySlots = "busy_slots"
    case targetUtilisation = "target_utilisation"
    case slotsNeeded = "slots_needed"
    case slotsAvailable = "slots_available"
    case replicas
    case slotsPerReplica = "slots_per_replica"
    case desiredReplicas = "desired_replicas"
    case replicasToAdd = "replicas_to_add"
    case queueWaitP95Ms = "queue_wait_p95_ms"
    case backlog, lag
    case lagThreshold = "lag_threshold"
    case reason, partitions
    case usableSlots = "usable_slots"
    case slotsPerReplicaNeeded = "slots_per_replica_needed"
    case skewedPartitions = "skewed_partitions"
    case shed, forecast
  }

  /// One line for logs and the live view.
  public var summary: String {
    let head =
      "\(group): \(slotsAvailable) slots in \(replicas) replicas, the plan needs \(slotsNeeded)"
    switch status {
    case .ok: return head + " (ok)"
    case .idle: return "\(group): idle (the plan sends it nothing)"
    case .noWorkers: return head + ": no worker reports; start \(desiredReplicas)"
    case .scaleUp: return head + ": add \(replicasToAdd) replica\(replicasToAdd == 1 ? "" : "s")"
    case .scaleDown:
      return head + ": \(-replicasToAdd) replica\(replicasToAdd == -1 ? "" : "s") may go"
    case .partitionLimit:
      return head
        + ": at the limit of \(partitions ?? desiredReplicas) partitions (run \(desiredReplicas) "
        + "replicas of \(slotsPerReplicaNeeded ?? slotsPerReplica) slots, or add partitions)"
    }
  }
}
