import Kafka
import PipelineCore
import Testing

@testable import Pipeline

/// The topics a real cluster gets: data topics with the partitions asked for, the controller's
/// with one and a day's retention, hb.plans compacted; replication 3 or the broker count.
@Suite struct TopicLayoutTests {
  @Test func defaultsSuitAClusterAndFlagsOverrideThem() {
    let topics = PipelineTopics()
    let specs = Dictionary(
      uniqueKeysWithValues: TopicLayout().specs(topics, brokers: 5).map { ($0.name, $0) })
    #expect(Set(specs.keys) == topics.all)
    for name in [topics.requests, topics.grouped, topics.batchesCPU, topics.results] {
      #expect(specs[name]?.partitions == 8)
      #expect(specs[name]?.replicationFactor == 3)
      #expect(specs[name]?.configs.isEmpty == true)
    }
    #expect(specs[topics.rates]?.partitions == 1)
    #expect(specs[topics.rates]?.configs["retention.ms"] == "86400000")
    #expect(specs[topics.plans]?.partitions == 1)
    #expect(specs[topics.plans]?.configs == ["cleanup.policy": "compact"])
    // One broker: one replica, whatever the default.
    #expect(TopicLayout().specs(topics, brokers: 1).allSatisfy { $0.replicationFactor == 1 })

    var layout = TopicLayout()
    layout.partitions = 12
    layout.partitionsByTopic = [topics.batchesGPU: 2]
    layout.replicationFactor = 2
    let custom = Dictionary(
      uniqueKeysWithValues: layout.specs(topics, brokers: 5).map { ($0.name, $0) })
    #expect(custom[topics.batchesCPU]?.partitions == 12)
    #expect(custom[topics.batchesGPU]?.partitions == 2)
    #expect(custom.values.allSatisfy { $0.replicationFactor == 2 })
  }

  @Test func theEmbeddedBrokerIsToldApartByItsClusterID() {
    #expect(
      KafkaClusterInfo(id: "mockCluster1fcd2ea06480", brokers: 1, topics: [:]).isEmbeddedBroker)
    #expect(
      !KafkaClusterInfo(id: "MkU3OEVBNTcwNTJENDM2Qg", brokers: 3, topics: [:]).isEmbeddedBroker)
    #expect(!KafkaClusterInfo(id: nil, brokers: 1, topics: [:]).isEmbeddedBroker)
  }
}
