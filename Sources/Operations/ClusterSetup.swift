import Kafka
import Pipeline
import PipelineCore

/// The cluster a service works on: one named by its bootstrap servers, whose missing pipeline
/// topics are created at start (`connect`), or a broker started in this process (`embedded`).
/// The command line asks for one or the other and never starts a broker by default, so that a
/// forgotten flag cannot leave a service talking to a private broker.
public struct ClusterSetup {
  public let bootstrap: String
  public let common: KafkaConfiguration
  /// Kept alive while the command runs.
  public let embedded: EmbeddedBroker?
  /// Partition counts of the topics found or created at start (empty when none could be read).
  public var partitions: [String: Int] = [:]

  /// The cluster `common` names, its client settings tuned to it (`tune`). The topics of
  /// `layout` that are missing are created, except on an embedded broker, which creates topics
  /// on first use; when the cluster cannot be read, a warning says the topics are left to its
  /// auto-creation.
  public static func connect(
    _ common: KafkaConfiguration, layout: TopicLayout, topics: PipelineTopics, log: PipelineLog
  ) -> ClusterSetup {
    var common = common
    var partitions: [String: Int] = [:]
    do {
      let admin = try KafkaAdmin(configuration: common)
      let cluster = try admin.describeCluster()
      tune(&common, for: cluster)
      partitions = cluster.topics
      if cluster.isEmbeddedBroker {
        // No CreateTopics there: it creates topics on first use, with 4 partitions.
        log.log(.debug, "an embedded broker: its topics are created on first use")
      } else {
        let missing = layout.specs(topics, brokers: cluster.brokers).filter {
          cluster.topics[$0.name] == nil
        }
        if !missing.isEmpty {
          try admin.createTopics(missing, timeoutMs: 10_000)
          for spec in missing { partitions[spec.name] = spec.partitions }
          log.info(
            "created topics "
              + missing.map { "\($0.name) (\($0.partitions)×\($0.replicationFactor))" }
              .joined(separator: ", "))
        }
      }
    } catch {
      log.warning(
        "topics not checked or created (\(error.message)); relying on the cluster's "
          + "auto-creation (harmonybatch topics creates them)")
    }
    return ClusterSetup(
      bootstrap: common.bootstrapServers.joined(separator: ","), common: common, embedded: nil,
      partitions: partitions)
  }

  /// A private embedded broker in this process, with the pipeline's topics of `partitions`
  /// partitions each; `configuration` makes the clients' settings for its address.
  public static func embedded(
    topics: PipelineTopics, partitions: Int, logLevel: KafkaLogLevel, log: PipelineLog,
    configuration: (String) throws -> KafkaConfiguration
  ) throws -> ClusterSetup {
    let broker = try EmbeddedBroker(brokers: 1, logger: .standardError(minimumLevel: logLevel))
    let specs = topics.specs(partitions: partitions)
    try broker.createTopics(specs)
    log.info(
      "private embedded broker at \(broker.bootstrapServers) (it ends with this process; other "
        + "processes reach it only with this address)")
    return ClusterSetup(
      bootstrap: broker.bootstrapServers,
      common: try configuration(broker.bootstrapServers), embedded: broker,
      partitions: Dictionary(
        specs.map { ($0.name, $0.partitions) }, uniquingKeysWith: { first, _ in first }))
  }

  /// Client settings for the cluster found. Our consumers ask fetches to wait at most 10 ms,
  /// because the embedded broker holds an empty fetch for the whole wait even when records
  /// arrive; a real broker answers as soon as there is data, so there the wait goes back to
  /// librdkafka's 500 ms (fewer idle fetches), unless a property sets it.
  public static func tune(_ common: inout KafkaConfiguration, for cluster: KafkaClusterInfo) {
    guard !cluster.isEmbeddedBroker else { return }
    let keys = ["fetch.wait.max.ms", "consumer.fetch.wait.max.ms"]
    if !keys.contains(where: { common.properties[$0] != nil }) {
      common.properties["consumer.fetch.wait.max.ms"] = "500"
    }
  }
}
