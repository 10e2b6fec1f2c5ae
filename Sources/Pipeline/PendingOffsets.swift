import Kafka
import PipelineCore

/// Which source offsets may be committed: a record's offset is pending from when it is read until
/// everything produced from it is acknowledged by the broker. The committable offset of a
/// partition is its lowest pending offset (or one past the last record read), so a crash replays
/// every record whose output might be missing, and nothing else.
public struct PendingOffsets: Sendable {
  private struct Partition: Sendable {
    /// Offsets read, in order, with whether they are done; done ones at the front are dropped.
    var offsets: [Int64] = []
    var done: [Bool] = []
    var head = 0
    var nextAfterLast: Int64 = -1
    var lastCommittable: Int64 = -1

    var committable: Int64? {
      if head < offsets.count { return offsets[head] }
      return nextAfterLast >= 0 ? nextAfterLast : nil
    }

    mutating func track(_ offset: Int64) {
      offsets.append(offset)
      done.append(false)
      nextAfterLast = offset + 1
    }

    /// Marks `offset` done; false when it is not pending here.
    mutating func complete(_ offset: Int64) -> Bool {
      var low = head
      var high = offsets.count
      while low < high {
        let mid = (low + high) / 2
        if offsets[mid] < offset { low = mid + 1 } else { high = mid }
      }
      guard low < offsets.count, offsets[low] == offset, !done[low] else { return false }
      done[low] = true
      while head < offsets.count, done[head] { head += 1 }
      compact()
      return true
    }

    mutating func compact() {
      guard head > 1024, head * 2 > offsets.count else { return }
      offsets.removeFirst(head)
      done.removeFirst(head)
      head = 0
    }
  }

  private var partitions: [KafkaTopicPartition: Partition] = [:]
  /// The partition used last and where it is in `partitions`: records come in runs from one
  /// partition, and comparing names is cheaper than hashing them for every record. Cleared
  /// whenever a partition is added or removed (which moves the indices).
  private var last:
    (partition: KafkaTopicPartition, index: Dictionary<KafkaTopicPartition, Partition>.Index)?
  /// Records still waiting for an acknowledgement, across partitions.
  public private(set) var pendingCount = 0

  public init() {}

  private mutating func index(of partition: KafkaTopicPartition, adding: Bool)
    -> Dictionary<KafkaTopicPartition, Partition>.Index?
  {
    if let last, last.partition == partition { return last.index }
    var index = partitions.index(forKey: partition)
    if index == nil, adding {
      partitions[partition] = Partition()
      index = partitions.index(forKey: partition)
    }
    last = index.map { (partition, $0) }
    return index
  }

  /// A record was read.
  /// (Partitions are changed in place: a copy taken out of the dictionary and written back would
  /// copy a partition's offsets on every record.)
  public mutating func track(_ partition: KafkaTopicPartition, offset: Int64) {
    guard let index = index(of: partition, adding: true) else { return }
    partitions.values[index].track(offset)
    pendingCount += 1
  }

  /// Everything produced from the record is acknowledged (or it produced nothing).
  public mutating func complete(_ partition: KafkaTopicPartition, offset: Int64) {
    guard let index = index(of: partition, adding: false),
      partitions.values[index].complete(offset)
    else { return }
    pendingCount -= 1
  }

  /// The offset to commit for a partition (the next one to read after a restart).
  public func committable(_ partition: KafkaTopicPartition) -> Int64? {
    partitions[partition]?.committable
  }

  /// Partitions whose committable offset moved since the last call, with that offset.
  public mutating func takeAdvanced() -> [(KafkaTopicPartition, Int64)] {
    var moved: [(KafkaTopicPartition, Int64)] = []
    // In place, through indices: the partitions stay where they are (and `last` stays valid).
    for index in partitions.indices {
      let state = partitions.values[index]
      guard let offset = state.committable, offset != state.lastCommittable else { continue }
      partitions.values[index].lastCommittable = offset
      moved.append((partitions.keys[index], offset))
    }
    return moved
  }

  /// Stops tracking partitions that were revoked.
  public mutating func forget(_ revoked: [KafkaTopicPartition]) {
    last = nil
    for partition in revoked {
      guard let state = partitions.removeValue(forKey: partition) else { continue }
      pendingCount -= state.done[state.head...].filter { !$0 }.count
    }
  }
}
