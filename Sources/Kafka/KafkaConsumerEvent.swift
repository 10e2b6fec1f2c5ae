/// What a consumer's poll yields.
public enum KafkaConsumerEvent: Sendable {
  case record(KafkaRecord)
  /// The group gave this member these partitions (already applied).
  case partitionsAssigned([KafkaTopicPartition])
  /// The group took these partitions away; stored offsets were committed first.
  case partitionsRevoked([KafkaTopicPartition])
  /// The consumer caught up with the end of a partition (only with `reportPartitionEOF`).
  case partitionEOF(KafkaTopicPartition, offset: Int64)
  /// A non-fatal error: the client keeps retrying on its own.
  case error(KafkaError)
}
