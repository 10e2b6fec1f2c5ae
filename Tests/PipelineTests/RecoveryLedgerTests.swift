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
  /// An output made for the first uncommitted input, followed by records created 30 s before it
  /// but appended after it (a producer back from an outage): the search must still start before
  /// the output. It started after it, and the request was done twice after a worker restart.
  @Test func outputsBehindRecordsAppendedLateAreFound() throws {
    let input = uniqueName("ledger-in")
    let output = uniqueName("ledger-out")
    try sharedBroker.createTopics([
      KafkaTopicSpec(name: input, partitions: 1), KafkaTopicSpec(name: output, partitions: 1),
    ])
    let common = quietCommon(sharedBroker.bootstrapServers)
    let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    defer { _ = producer.close(timeoutMs: 5000) }
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    try producer.enqueue(
      KafkaProducerMessage(topic: input, partition: 0, key: "r1", value: "x", timestampMs: now))
    func out(_ timestamp: Int64, source: String? = nil, id: String = "other") throws {
      var headers = [KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8))]
      if let source {
        headers.append(KafkaHeader(key: HeaderName.source, value: Array(source.utf8)))
      }
      try producer.enqueue(
        KafkaProducerMessage(
          topic: output, partition: 0, key: nil, value: [1], headers: headers,
          timestampMs: timestamp))
    }
    for _ in 0..<10 { try out(now - 100_000) }
    try out(now + 1000, source: "\(input)/0/0", id: "r1")
    for _ in 0..<20 { try out(now - 30_000) }
    for _ in 0..<10 { try out(now + 2000) }
    try producer.flush(timeoutMs: 10_000)

    let group = try KafkaConsumer(
      configuration: KafkaConsumerConfiguration(common: common, groupID: uniqueName("ledger")))
    defer { group.close() }
    var ledger = try RecoveryLedger.read(
      common: common, group: group, inputs: [KafkaTopicPartition(topic: input, partition: 0)],
      outputs: [output], sources: RecoveryLedger.sourceHeader, log: CapturedLog().log("test"))
    #expect(ledger.take("\(input)/0/0") == ["r1"])
  }

  /// The output, then dead letters of requests read from a 5-minute backlog (they keep their
  /// requests' times): the last record is older than anything searched for. A search by time
  /// (or a check of the last record's time) misses the output, and the record is done twice.
  @Test func outputsFollowedByRecordsWithOldTimesAreFound() throws {
    let input = uniqueName("ledger-in")
    let output = uniqueName("ledger-out")
    try sharedBroker.createTopics([
      KafkaTopicSpec(name: input, partitions: 1), KafkaTopicSpec(name: output, partitions: 1),
    ])
    let common = quietCommon(sharedBroker.bootstrapServers)
    let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    defer { _ = producer.close(timeoutMs: 5000) }
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    try producer.enqueue(
      KafkaProducerMessage(topic: input, partition: 0, key: "r1", value: "x", timestampMs: now))
    try producer.enqueue(
      KafkaProducerMessage(
        topic: output, partition: 0, key: nil, value: [1],
        headers: [
          KafkaHeader(key: HeaderName.requestID, value: Array("r1".utf8)),
          KafkaHeader(key: HeaderName.source, value: Array("\(input)/0/0".utf8)),
        ], timestampMs: now + 500))
    for index in 0..<30 {
      try producer.enqueue(
        KafkaProducerMessage(
          topic: output, partition: 0, key: nil, value: [2],
          headers: [KafkaHeader(key: HeaderName.requestID, value: Array("old-\(index)".utf8))],
          timestampMs: now - 300_000 + Int64(index)))
    }
    try producer.flush(timeoutMs: 10_000)

    let group = try KafkaConsumer(
      configuration: KafkaConsumerConfiguration(common: common, groupID: uniqueName("ledger")))
    defer { group.close() }
    var ledger = try RecoveryLedger.read(
      common: common, group: group, inputs: [KafkaTopicPartition(topic: input, partition: 0)],
      outputs: [output], sources: RecoveryLedger.sourceHeader, log: CapturedLog().log("test"))
    #expect(ledger.take("\(input)/0/0") == ["r1"])
  }
}
