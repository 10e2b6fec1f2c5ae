import Foundation
import Planner

/// A worker's periodic report on hb.workers (`Schemas/workers.schema.json`), keyed by worker
/// instance: its pool of slots and how busy they were over the window, so the controller can
/// compare the capacity the plan needs with the capacity there is.
public struct WorkerReport: Codable, Sendable, Equatable {
  public var worker: String
  /// The consumer group: the pool this worker belongs to.
  public var group: String
  public var kind: FunctionConfig.Kind
  public var backend: String
  public var emulated: Bool
  /// Batches this worker runs at once (`--concurrency`).
  public var slots: Int
  /// The machine's cores, for a backend that computes on them (nil for emulated functions).
  public var cores: Int?
  public var windowStartMs: Double
  public var windowEndMs: Double
  /// Slot-seconds spent running batches per second of the window (0…slots).
  public var busySlots: Double
  /// `busySlots / slots`.
  public var utilisation: Double
  /// Batches finished in the window and the requests they held.
  public var batches: Int
  public var requests: Int
  /// Waits for a free slot of the batches started in the window (ms); nil when none started.
  public var queueWaitMs: Percentiles?
  /// Batches read and waiting for a slot at the end of the window.
  public var backlog: Int
  /// Batch records in this worker's partitions not yet read (the consumer group's lag), when
  /// librdkafka knows the partitions' ends.
  public var lag: Int?
  /// Requests shed in the window: their batch started too late for their SLO
  /// (`WorkerLatePolicy.shed`); nil from workers that do not say.
  public var shed: Int?
  /// The batch topic's partitions this worker holds, each with its batches waiting for a slot
  /// and its records not read yet; nil from workers that do not say.
  public var partitions: [PartitionLoad]?
  /// How many partitions the batch topic has, as the brokers told this worker.
  public var topicPartitions: Int?
  /// True on the last report of a worker that is leaving its group (it stops counting at once).
  public var leaving: Bool?

  /// One partition a worker holds.
  public struct PartitionLoad: Codable, Sendable, Equatable {
    public var partition: Int32
    /// Batches of this partition read and waiting for a slot.
    public var backlog: Int
    /// Records of this partition not read yet (nil until librdkafka knows its position and end).
    public var lag: Int?

    public init(partition: Int32, backlog: Int, lag: Int?) {
      self.partition = partition
      self.backlog = backlog
      self.lag = lag
    }
  }

  public init(
    worker: String, group: String, kind: FunctionConfig.Kind, backend: String, emulated: Bool,
    slots: Int, cores: Int?, windowStartMs: Double, windowEndMs: Double, busySlots: Double,
    batches: Int, requests: Int, queueWaitMs: Percentiles?, backlog: Int, lag: Int?,
    shed: Int? = nil, partitions: [PartitionLoad]? = nil, topicPartitions: Int? = nil,
    leaving: Bool? = nil
  ) {
    self.worker = worker
    self.group = group
    self.kind = kind
    self.backend = backend
    self.emulated = emulated
    self.slots = slots
    self.cores = cores
    self.windowStartMs = windowStartMs
    self.windowEndMs = windowEndMs
    self.busySlots = busySlots
    utilisation = slots > 0 ? busySlots / Double(slots) : 0
    self.batches = batches
    self.requests = requests
    self.queueWaitMs = queueWaitMs
    self.backlog = backlog
    self.lag = lag
    self.shed = shed
    self.partitions = partitions
    self.topicPartitions = topicPartitions
    self.leaving = leaving
  }

  enum CodingKeys: String, CodingKey {
    case worker, group, kind, backend, emulated, slots, cores
    case windowStartMs = "window_start_ms"
    case windowEndMs = "window_end_ms"
    case busySlots = "busy_slots"
    case utilisation, batches, requests
    case queueWaitMs = "queue_wait_ms"
    case backlog, lag, shed, partitions
    case topicPartitions = "topic_partitions"
    case leaving
  }
}

extension WorkerReport {
  /// The most slots a worker runs (`worker --concurrency`'s upper bound).
  public static let maxSlots = 1024
  /// The most partitions a batch topic is counted with (Kafka's own practical limit per topic is
  /// far below).
  public static let maxPartitions = 10_000

  /// The slots this worker can really run at once: all of them for an emulated function (it only
  /// holds time), at most one per core for a backend that computes on the cores.
  public var usableSlots: Int {
    guard !emulated, let cores else { return slots }
    return max(1, min(slots, cores))
  }
}
