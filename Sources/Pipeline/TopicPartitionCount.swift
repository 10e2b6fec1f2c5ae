import Kafka

/// The partition count of a topic a consumer reads, asked of the brokers at most every
/// `refreshEvery` seconds (partitions can be added while the pipeline runs; asking on every report
/// would cost a round trip each).
struct TopicPartitionCount {
  let topic: String
  var refreshEvery = 30.0
  private(set) var known: Int?
  private var askedAt = -Double.infinity

  init(topic: String) {
    self.topic = topic
  }

  mutating func value(_ consumer: KafkaConsumer, now: Double) -> Int? {
    if now - askedAt >= refreshEvery || known == nil && now - askedAt >= 1 {
      askedAt = now
      known = consumer.partitionCount(of: topic, timeoutMs: 1_000) ?? known
    }
    return known
  }
}
