import Kafka
import PipelineCore

extension PipelineTopics {
  /// Every topic, with `partitions` partitions; `plans` has one and is compacted (one key, the
  /// latest plan wins).
  public func specs(partitions: Int = 4) -> [KafkaTopicSpec] {
    [
      requests, grouped, batchesCPU, batchesGPU, deadLetter, late, results, feedback, rates,
      workers, scaling,
    ].map {
      KafkaTopicSpec(name: $0, partitions: partitions)
    } + [KafkaTopicSpec(name: plans, partitions: 1, configs: ["cleanup.policy": "compact"])]
  }
}
