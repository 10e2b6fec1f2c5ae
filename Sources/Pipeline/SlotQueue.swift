import Foundation
import Kafka
import PipelineCore

/// Batch records a worker has read and its slots have not started yet, first in, first out.
/// The worker's reading thread puts records in as soon as they arrive (so the time a batch waits
/// for a slot is measured, not hidden in the consumer's prefetch); each slot thread takes the
/// oldest when it is free.
final class SlotQueue: @unchecked Sendable {
  struct Entry {
    var record: KafkaRecord
    /// When the worker read it (seconds, the pipeline clock).
    var received: Double
    /// What a run before a restart already produced from it (`RecoveryLedger`).
    var alreadyDone: Set<String>? = nil
  }

  private let condition = NSCondition()
  private var entries: [Entry] = []
  private var head = 0
  private var closed = false
  /// Records taken by a slot and not yet `finished`.
  private var taken = 0

  /// Records waiting.
  var count: Int {
    condition.lock()
    defer { condition.unlock() }
    return entries.count - head
  }

  /// Records waiting, by partition.
  var countsByPartition: [KafkaTopicPartition: Int] {
    condition.lock()
    defer { condition.unlock() }
    var counts: [KafkaTopicPartition: Int] = [:]
    for entry in entries[head...] { counts[entry.record.topicPartition, default: 0] += 1 }
    return counts
  }

  func put(_ entry: Entry) {
    condition.lock()
    entries.append(entry)
    condition.signal()
    condition.unlock()
  }

  /// The oldest record, waiting for one; nil once the queue is closed (what is left stays unread:
  /// its offsets are not committed, so the group reads it again).
  func take() -> Entry? {
    condition.lock()
    defer { condition.unlock() }
    while head == entries.count, !closed { condition.wait() }
    guard !closed else { return nil }
    let entry = entries[head]
    head += 1
    taken += 1
    if head > 256, head * 2 > entries.count {
      entries.removeFirst(head)
      head = 0
    }
    return entry
  }

  /// A slot is done with the record it took (its outputs are handed to the producer).
  func finished() {
    condition.lock()
    taken -= 1
    condition.broadcast()
    condition.unlock()
  }

  /// Waits until every record taken is `finished`, up to `timeout` seconds; returns whether
  /// none is left running. A record counts from the moment a slot takes it, so none slips past
  /// a revocation between being taken and being started.
  func waitUntilNoneRunning(timeout: Double) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    condition.lock()
    defer { condition.unlock() }
    while taken > 0 {
      if !condition.wait(until: deadline) { return taken == 0 }
    }
    return true
  }

  /// Takes out the records of partitions the group took away (their new owner reads them);
  /// returns how many.
  @discardableResult
  func remove(_ partitions: Set<KafkaTopicPartition>) -> Int {
    condition.lock()
    defer { condition.unlock() }
    let before = entries.count - head
    entries = entries[head...].filter { !partitions.contains($0.record.topicPartition) }
    head = 0
    return before - entries.count
  }

  /// Wakes every waiting slot; `take` returns nil from now on. Returns the records left.
  @discardableResult
  func close() -> Int {
    condition.lock()
    defer { condition.unlock() }
    closed = true
    condition.broadcast()
    return entries.count - head
  }
}
