import Foundation
import Kafka
import Testing
import WaitSupport

@Suite(.serialized, .startsServices, .onOwnThread) struct BrokerFailureTests {
  /// A broker set down in the middle of producing and brought back: every message gets exactly
  /// one delivery report, all succeed, and each is readable exactly once (idempotent producer).
  @Test func brokerDownAndUpDuringProductionLosesAndDuplicatesNothing() throws {
    let broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    let topic = "failover"
    try broker.createTopics([KafkaTopicSpec(name: topic, partitions: 2)])
    let producer = try KafkaProducer(configuration: producerConfiguration(broker.bootstrapServers))
    let total = 2000
    let tally = DeliveryTally(count: total)
    for i in 0..<total / 2 {
      try producer.enqueue(KafkaProducerMessage(topic: topic, key: "k\(i)", value: "m\(i)")) {
        tally.record(i, $0)
      }
    }
    try broker.setBrokerDown(1)
    for i in total / 2..<total {
      try producer.enqueue(KafkaProducerMessage(topic: topic, key: "k\(i)", value: "m\(i)")) {
        tally.record(i, $0)
      }
    }
    // While the broker is down, the messages queued after the outage cannot be acknowledged.
    #expect(producer.delivered < total)
    try broker.setBrokerUp(1)
    try producer.flush(timeoutMs: 60_000)
    #expect(tally.counts == Array(repeating: 1, count: total))
    #expect(tally.failures == 0)

    let consumer = try KafkaConsumer(
      configuration: consumerConfiguration(broker.bootstrapServers, group: nil))
    defer { consumer.close() }
    try consumer.assign(
      (0..<2).map { (KafkaTopicPartition(topic: topic, partition: Int32($0)), .beginning) })
    let records = try readRecords(consumer, count: total + 1, timeout: .seconds(5))
    #expect(records.count == total)
    #expect(Set(records.compactMap(\.valueString)) == Set((0..<total).map { "m\($0)" }))
  }

  /// Transient produce errors are retried by the client; the caller sees only successes.
  @Test func transientProduceErrorsAreRetried() async throws {
    let broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    try broker.createTopics([KafkaTopicSpec(name: "flaky", partitions: 1)])
    let producer = try KafkaProducer(configuration: producerConfiguration(broker.bootstrapServers))
    _ = try await producer.send(KafkaProducerMessage(topic: "flaky", key: nil, value: "warm-up"))
    broker.failNextRequests(
      .produce, with: [.notEnoughReplicas, .requestTimedOut, .notLeaderForPartition])
    let report = try await producer.send(
      KafkaProducerMessage(topic: "flaky", key: nil, value: "after errors"))
    #expect(report.offset == 1)
    #expect(producer.failed == 0)
  }

  @Test func brokerRejectsUnknownBrokerIDs() throws {
    let broker = try EmbeddedBroker(brokers: 2, logger: .silent)
    #expect(broker.bootstrapServers.split(separator: ",").count == 2)
    #expect(throws: KafkaError.self) { try broker.setBrokerDown(99) }
    #expect(throws: KafkaError.self) { _ = try EmbeddedBroker(brokers: 0, logger: .silent) }
  }
}
