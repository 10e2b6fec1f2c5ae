import Kafka
import PipelineCore

/// Which controller may write plans: the one member of the consumer group `<group>-lease` that
/// holds partition 0 of the plan topic (one partition, compacted). Every controller joins; Kafka's
/// group coordinator gives the partition to exactly one of them, and to another when that one
/// leaves or stops heartbeating (its session timeout) — a lease the broker keeps, with no clock
/// of ours in it. The others stand by: they follow the plan in force and publish nothing.
final class ControllerLease {
  private let consumer: KafkaConsumer
  private let partition: KafkaTopicPartition
  private let log: PipelineLog
  /// Whether this controller holds the lease now.
  private(set) var holds = false

  init(common: KafkaConfiguration, group: String, topic: String, log: PipelineLog)
    throws(KafkaError)
  {
    var configuration = KafkaConsumerConfiguration(common: common, groupID: group)
    configuration.sessionTimeout = ControllerService.leaseSessionTimeout
    configuration.commitPolicy = .manual
    configuration.autoOffsetReset = .latest
    configuration.prefetchMessages = 16
    consumer = try KafkaConsumer(configuration: configuration)
    partition = KafkaTopicPartition(topic: topic, partition: 0)
    self.log = log
    try consumer.subscribe(topics: [topic])
  }

  /// Handles the group's events, waiting up to `timeout` for one; returns whether this
  /// controller holds the lease (the records themselves are the plan follower's business).
  func poll(timeout: Duration) throws(KafkaError) -> Bool {
    var wait = timeout.wholeMilliseconds
    while let event = try consumer.poll(timeoutMs: wait) {
      wait = 0
      switch event {
      case .partitionsAssigned, .partitionsRevoked:
        let now = consumer.assignment().contains(partition)
        if now != holds {
          holds = now
          log.info(
            now
              ? "holding the lease (\(partition) in group \(consumer.groupID ?? "")): this "
                + "controller publishes plans"
              : "lost the lease: standing by, publishing nothing")
        }
      case .error(let error):
        log.warning("lease: \(error.message)")
      default:
        break
      }
    }
    return holds
  }

  /// Leaves the group at once, so that a standby takes over without waiting for the session
  /// timeout.
  func close() {
    consumer.close()
    holds = false
  }
}
