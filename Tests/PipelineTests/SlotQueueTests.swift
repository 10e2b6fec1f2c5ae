import Foundation
import Kafka
import Testing

@testable import Pipeline
@testable import PipelineCore

/// The queue between a worker's reading thread and its slots.
@Suite struct SlotQueueTests {
  static func entry(partition: Int32, offset: Int64) -> SlotQueue.Entry {
    SlotQueue.Entry(
      record: KafkaRecord(
        topic: "hb.batches.cpu", partition: partition, offset: offset, key: nil, value: [],
        headers: [], timestampMs: nil),
      received: 0)
  }

  /// A batch a slot has taken counts as running until the slot says it is finished — also in
  /// the moment between taking it and starting it, when a revocation used to let it slip
  /// through: it then ran after its partition had gone, and the new owner ran it again.
  @Test func aTakenBatchRunsUntilItsSlotFinishesIt() throws {
    let queue = SlotQueue()
    queue.put(Self.entry(partition: 0, offset: 1))
    queue.put(Self.entry(partition: 1, offset: 2))
    let taken = try #require(queue.take())
    #expect(taken.record.offset == 1)
    #expect(!queue.waitUntilNoneRunning(timeout: 0.05))
    // Revoking partition 1 takes out what is queued for it, not what runs.
    #expect(queue.remove([KafkaTopicPartition(topic: "hb.batches.cpu", partition: 1)]) == 1)
    #expect(queue.count == 0)
    DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { queue.finished() }
    #expect(queue.waitUntilNoneRunning(timeout: 10))
    queue.close()
    #expect(queue.take() == nil)
  }
}
