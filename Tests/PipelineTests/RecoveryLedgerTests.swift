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
@Suite(.onOwnThread) struct RecoveryLedgerTests {
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

/// What a restarted batcher takes as done from each of its output records: a batch is read as
/// workers read it (`BatchMessage.decode`); one that does not read is logged with the reason and
/// counted on `/metrics`, and the requests it still names are done (a worker sends each of them
/// to the dead letter: batching them again would give them two outcomes).
@Suite struct BatcherRecoverySourcesTests {
  static let topics = PipelineTopics()

  static func record(_ topic: String, offset: Int64, value: [UInt8], headers: [KafkaHeader] = [])
    -> KafkaRecord
  {
    KafkaRecord(
      topic: topic, partition: 0, offset: offset, key: nil, value: value, headers: headers,
      timestampMs: nil)
  }

  static func batch(_ change: (inout BatchMessage) -> Void = { _ in }) throws -> [UInt8] {
    let requests = (0..<2).map { index in
      BufferedRequest(
        id: "r\(index)", app: "a", arrival: 1_795_000_000, slo: 0.5, timeout: 0.1,
        item: BatchItem(
          source: KafkaTopicPartition(topic: topics.grouped, partition: 3),
          offset: Int64(10 + index), value: [1], headers: []))
    }
    let ready = ReadyBatch(
      spec: GroupSpec(
        key: GroupKey(planVersion: 1, group: "g1"), function: .cpu(vcpu: 1), capacity: 4,
        latencyMax: 0.3),
      requests: requests, reason: .full, flushedAt: 1_795_000_000.1, dueAt: 1_795_000_000.1,
      lateIDs: [])
    var batch = try BatchMessage.decode(
      try ready.message(id: "b", batcher: "t", topics: topics).value ?? [])
    change(&batch)
    return try batch.messageJSON()
  }

  @Test func unreadableBatchesAreLoggedCountedAndSalvaged() throws {
    let log = CapturedLog()
    let telemetry = MetricsRegistry()
    let sources = BatcherService.recoverySources(
      Self.topics, log: log.log("batcher"), telemetry: telemetry)
    func found(_ record: KafkaRecord) -> [String] {
      sources(record).map { "\($0.source) \($0.id ?? "-")" }
    }
    func counted() -> String? {
      telemetry.render().split(separator: "\n").first {
        $0.hasPrefix("harmonybatch_message_errors_total{")
      }.map(String.init)
    }

    // A batch as the batcher writes it: every request, nothing logged or counted.
    let good = try Self.batch()
    #expect(
      found(Self.record(Self.topics.batchesCPU, offset: 0, value: good))
        == ["hb.grouped/3/10 r0", "hb.grouped/3/11 r1"])
    #expect(log.all.isEmpty)
    #expect(counted() == nil)

    // Not JSON: nothing can be taken as done; logged with the reason, counted.
    #expect(found(Self.record(Self.topics.batchesGPU, offset: 1, value: Array("{oops".utf8))) == [])
    #expect(log.contains("batch hb.batches.gpu/0/1 does not read (not valid JSON)"))
    #expect(
      counted()
        == "harmonybatch_message_errors_total{direction=\"decode\",message=\"batch\","
        + "stage=\"batcher\"} 1")

    // JSON that `BatchMessage.decode` refuses (a raw decoder took it): the requests it names are
    // done, as the worker dead-letters each.
    let refused = try Self.batch { $0.batchSize = -3 }
    #expect(
      found(Self.record(Self.topics.batchesCPU, offset: 2, value: refused))
        == ["hb.grouped/3/10 r0", "hb.grouped/3/11 r1"])
    #expect(log.contains("batch hb.batches.cpu/0/2 does not read (its numbers cannot be run"))
    #expect(log.contains("2 of its requests still name their source"))
    // A field missing: named.
    var object = try #require(
      try JSONSerialization.jsonObject(with: Data(good)) as? [String: Any])
    object["requests"] = nil
    _ = found(
      Self.record(
        Self.topics.batchesCPU, offset: 3,
        value: Array(try JSONSerialization.data(withJSONObject: object))))
    #expect(log.contains("missing field 'requests'"))
    #expect(counted()?.hasSuffix("} 3") == true, "\(counted() ?? "none")")

    // Late records and dead letters name their source in a header, as before.
    let late = Self.record(
      Self.topics.late, offset: 0, value: [],
      headers: [
        KafkaHeader(key: HeaderName.source, value: Array("hb.grouped/1/5".utf8)),
        KafkaHeader(key: HeaderName.requestID, value: Array("r9".utf8)),
      ])
    #expect(found(late) == ["hb.grouped/1/5 r9"])
    #expect(log.all.count == 3)
  }
}
