import Testing

@testable import Kafka

/// Times are `Duration`s in the configuration and librdkafka's milliseconds in its properties,
/// converted where the properties are written.
@Suite struct DurationPropertyTests {
  @Test func defaultsReachLibrdkafkaAsMilliseconds() {
    let consumer = Dictionary(
      KafkaConsumerConfiguration(bootstrapServers: "127.0.0.1:1", groupID: "g")
        .resolvedProperties, uniquingKeysWith: { $1 })
    #expect(consumer["session.timeout.ms"] == "10000")
    #expect(consumer["heartbeat.interval.ms"] == "2000")
    #expect(consumer["max.poll.interval.ms"] == "300000")
    #expect(consumer["fetch.wait.max.ms"] == "10")
    #expect(consumer["auto.commit.interval.ms"] == "1000")
    let producer = Dictionary(
      KafkaProducerConfiguration(bootstrapServers: "127.0.0.1:1").resolvedProperties,
      uniquingKeysWith: { $1 })
    #expect(producer["linger.ms"] == "5")
    #expect(producer["message.timeout.ms"] == "300000")
  }

  /// `linger.ms` takes fractions; the integer properties round up (a wait of a fraction of a
  /// millisecond still waits).
  @Test func fractionsAreKeptOrRoundedUp() {
    var producer = KafkaProducerConfiguration(bootstrapServers: "127.0.0.1:1")
    producer.linger = .microseconds(500)
    #expect(producer.resolvedProperties.contains { $0 == ("linger.ms", "0.5") })
    var consumer = KafkaConsumerConfiguration(bootstrapServers: "127.0.0.1:1", groupID: "g")
    consumer.fetchWaitMax = .microseconds(1_500)
    #expect(consumer.resolvedProperties.contains { $0 == ("fetch.wait.max.ms", "2") })
    #expect(Duration.seconds(-1).wholeMilliseconds == 0)
  }
}
