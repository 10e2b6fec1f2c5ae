import Kafka
import PipelineCore

/// How the pipeline's topics are laid out on a real cluster (`harmonybatch topics`, and the
/// services when they find topics missing): partitions per topic, the replication factor, and
/// the configs that matter (hb.plans compacted; reports kept a day).
///
/// Defaults: `partitions` (8) for the topics requests flow through — the most members a consumer
/// group can use, so the most batcher or worker replicas that share the load; one partition for
/// the controller's inputs and outputs (reports are small, one reader); a replication factor of
/// 3, or the broker count when there are fewer brokers.
public struct TopicLayout: Sendable, Equatable {
  /// Partitions of the data topics (requests, grouped, batches, results, dead letters, late).
  public var partitions = 8
  /// Per-topic partitions by full topic name, winning over `partitions`.
  public var partitionsByTopic: [String: Int] = [:]
  /// Nil: 3, or fewer when the cluster has fewer brokers.
  public var replicationFactor: Int?

  public init() {}

  public static let defaultReplicationFactor = 3

  /// The specs of every pipeline topic on a cluster of `brokers` brokers.
  public func specs(_ topics: PipelineTopics, brokers: Int) -> [KafkaTopicSpec] {
    let replication = replicationFactor ?? max(1, min(Self.defaultReplicationFactor, brokers))
    let data = [
      topics.requests, topics.grouped, topics.batchesCPU, topics.batchesGPU, topics.results,
      topics.deadLetter, topics.late,
    ]
    let control = [topics.feedback, topics.rates, topics.workers, topics.scaling]
    let dayMs = String(24 * 3_600_000)
    return data.map {
      KafkaTopicSpec(
        name: $0, partitions: partitionsByTopic[$0] ?? partitions,
        replicationFactor: replication)
    }
      + control.map {
        KafkaTopicSpec(
          name: $0, partitions: partitionsByTopic[$0] ?? 1, replicationFactor: replication,
          configs: ["retention.ms": dayMs])
      }
      + [
        KafkaTopicSpec(
          name: topics.plans, partitions: 1, replicationFactor: replication,
          configs: ["cleanup.policy": "compact"])
      ]
  }
}
