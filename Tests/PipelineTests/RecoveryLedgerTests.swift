import Foundation
import Kafka
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// What a restarted stage finds it already produced. The embedded broker cannot look offsets up
/// by time, so the ledger searches by CreateTime itself; CreateTimes do not rise with offsets
/// when a producer sends what it held through an outage.
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
}
