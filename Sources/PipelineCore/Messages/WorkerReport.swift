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

  public init(
    worker: String, group: String, kind: FunctionConfig.Kind, backend: String, emulated: Bool,
    slots: Int, cores: Int?, windowStartMs: Double, windowEndMs: Double, busySlots: Double,
    batches: Int, requests: Int, queueWaitMs: Percentiles?, backlog: Int, lag: Int?
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
  }

  enum CodingKeys: String, CodingKey {
    case worker, group, kind, backend, emulated, slots, cores
    case windowStartMs = "window_start_ms"
    case windowEndMs = "window_end_ms"
    case busySlots = "busy_slots"
    case utilisation, batches, requests
    case queueWaitMs = "queue_wait_ms"
    case backlog, lag
  }
}
