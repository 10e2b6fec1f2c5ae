import Kafka
import Pipeline
import Testing

@testable import PipelineCore

@Suite struct PendingOffsetsTests {
  let p0 = KafkaTopicPartition(topic: "hb.requests", partition: 0)
  let p1 = KafkaTopicPartition(topic: "hb.requests", partition: 1)

  @Test func committableStopsAtTheLowestOffsetStillPending() {
    var pending = PendingOffsets()
    for offset in Int64(10)..<Int64(15) { pending.track(p0, offset: offset) }
    pending.track(p1, offset: 3)
    #expect(pending.pendingCount == 6)
    #expect(pending.committable(p0) == 10)
    pending.complete(p0, offset: 12)
    pending.complete(p0, offset: 11)
    #expect(pending.committable(p0) == 10, "10 is still pending")
    pending.complete(p0, offset: 10)
    #expect(pending.committable(p0) == 13)
    // Completing twice, an offset never read, or an unknown partition changes nothing.
    pending.complete(p0, offset: 12)
    pending.complete(p0, offset: 99)
    pending.complete(KafkaTopicPartition(topic: "other", partition: 0), offset: 13)
    #expect(pending.pendingCount == 3)
    pending.complete(p0, offset: 13)
    pending.complete(p0, offset: 14)
    #expect(pending.committable(p0) == 15, "one past the last record read")
    #expect(pending.takeAdvanced().sorted { $0.0 < $1.0 }.map(\.1) == [15, 3])
    #expect(pending.takeAdvanced().isEmpty, "nothing moved since")
  }

  /// Thousands of records per partition: the done prefix is compacted away and the answer holds.
  @Test func longRunsStayCorrectAcrossCompaction() {
    var pending = PendingOffsets()
    for offset in Int64(0)..<Int64(5000) { pending.track(p0, offset: offset) }
    for offset in stride(from: Int64(4999), through: 1, by: -1) {
      pending.complete(p0, offset: offset)
    }
    #expect(pending.committable(p0) == 0)
    pending.complete(p0, offset: 0)
    #expect(pending.committable(p0) == 5000)
    #expect(pending.pendingCount == 0)
    for offset in Int64(5000)..<Int64(7000) {
      pending.track(p0, offset: offset)
      pending.complete(p0, offset: offset)
    }
    #expect(pending.committable(p0) == 7000)
  }
}
