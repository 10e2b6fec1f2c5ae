import Foundation
import Kafka
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// What a restarted stage finds it already produced. The embedded broker cannot look offsets up
/// by time, and CreateTimes do not rise with offsets (a producer sends what it held through an
/// outage; dead letters and late records keep their request's time), so there the ledger reads
/// the outputs from their first record.
@Suite struct RecoveryLedgerTests {
  /// One input record `r1` (not committed) and an output topic, both of one partition.
  struct Fixture {
    let input = uniqueName("ledger-in")
    let output = uniqueName("ledger-out")
    let common = quietCommon(sharedBroker.bootstrapServers)
    let producer: KafkaProducer
    let now = Int64(Date().timeIntervalSince1970 * 1000)

    init() throws {
      try sharedBroker.createTopics([
        KafkaTopicSpec(name: input, partitions: 1), KafkaTopicSpec(name: output, partitions: 1),
      ])
      producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
      try producer.enqueue(
        KafkaProducerMessage(topic: input, partition: 0, key: "r1", value: "x", timestampMs: now))
    }

    /// An output record created at `timestamp`; made from the input `r1` when `fromInput`.
    func output(at timestamp: Int64, fromInput: Bool = false, id: String = "other") throws {
      var headers = [KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8))]
      if fromInput {
        headers.append(KafkaHeader(key: HeaderName.source, value: Array("\(input)/0/0".utf8)))
      }
      try producer.enqueue(
        KafkaProducerMessage(
          topic: output, partition: 0, key: nil, value: [1], headers: headers,
          timestampMs: timestamp))
    }

    /// What a stage of a new group finds done for `r1`.
    func doneForInput() throws -> Set<String>? {
      try producer.flush(timeoutMs: 10_000)
      _ = producer.close(timeoutMs: 5000)
      let group = try KafkaConsumer(
        configuration: KafkaConsumerConfiguration(common: common, groupID: uniqueName("ledger")))
      defer { group.close() }
      var ledger = try RecoveryLedger.read(
        common: common, group: group, inputs: [KafkaTopicPartition(topic: input, partition: 0)],
        outputs: [output], sources: RecoveryLedger.sourceHeader, log: CapturedLog().log("test"))
      return ledger.take("\(input)/0/0")
    }
  }

  /// An output made for the first uncommitted input, followed by records created 30 s before it
  /// but appended after it (a producer back from an outage): the search must still start before
  /// the output. It started after it, and the request was done twice after a worker restart.
  @Test func outputsBehindRecordsAppendedLateAreFound() throws {
    let fixture = try Fixture()
    for _ in 0..<10 { try fixture.output(at: fixture.now - 100_000) }
    try fixture.output(at: fixture.now + 1000, fromInput: true, id: "r1")
    for _ in 0..<20 { try fixture.output(at: fixture.now - 30_000) }
    for _ in 0..<10 { try fixture.output(at: fixture.now + 2000) }
    #expect(try fixture.doneForInput() == ["r1"])
  }

  /// The output, then dead letters of requests read from a 5-minute backlog (they keep their
  /// requests' times): the last record is older than anything searched for. A search by time
  /// (or a check of the last record's time) misses the output, and the record is done twice.
  @Test func outputsFollowedByRecordsWithOldTimesAreFound() throws {
    let fixture = try Fixture()
    try fixture.output(at: fixture.now + 500, fromInput: true, id: "r1")
    for index in 0..<30 {
      try fixture.output(at: fixture.now - 300_000 + Int64(index), id: "old-\(index)")
    }
    #expect(try fixture.doneForInput() == ["r1"])
  }

  /// The scan of the outputs is done only when every output partition is read to its end:
  /// records and ends of the input partitions the same reader read first do not count. They
  /// did, the scan stopped early, and a batch whose results were there was run again.
  @Test func onlyOutputPartitionsCountTowardsTheEndOfTheScan() {
    let results = (0..<Int32(2)).map { KafkaTopicPartition(topic: "hb.results", partition: $0) }
    let input = KafkaTopicPartition(topic: "hb.batches.gpu", partition: 3)
    var progress = ScanProgress(ends: [results[0]: 10, results[1]: 5])
    let foreign = progress.read(input, offset: 1022)
    #expect(!foreign)
    progress.reachedEnd(input)
    #expect(!progress.isComplete)
    let first = progress.read(results[0], offset: 9)
    #expect(first && !progress.isComplete)
    let second = progress.read(results[1], offset: 3)
    #expect(second)
    #expect(!progress.isComplete && progress.unfinished == 1)
    progress.reachedEnd(results[1])
    #expect(progress.isComplete)
  }
}
