import Arguments
import Foundation
import Kafka
import Operations
import Pipeline
import PipelineCore

/// The cluster a service command works on: the one `--bootstrap` names (its pipeline topics are
/// created if missing), or, with `--embedded`, a broker started for this process — never one by
/// default, so that a forgotten flag cannot leave a service talking to a private broker.
struct ClusterSetup {
  let bootstrap: String
  let common: KafkaConfiguration
  /// Kept alive while the command runs.
  let embedded: EmbeddedBroker?
  /// Partition counts of the topics found or created at start (empty when none could be read).
  var partitions: [String: Int] = [:]

  static func connect(_ options: ParsedOptions, topics: PipelineTopics, partitions: Int = 4)
    throws -> ClusterSetup
  {
    let logLevel = try KafkaOptions.logLevel(options)
    if let bootstrap = options.string("bootstrap") {
      if options.flag("embedded") { throw UsageError("give --bootstrap or --embedded, not both") }
      var common = try KafkaOptions.configuration(options, bootstrap: bootstrap)
      let layout = try TopicOptions.layout(options)
      let log = PipelineLog(service: options.command)
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
        bootstrap: bootstrap, common: common, embedded: nil, partitions: partitions)
    }
    guard options.flag("embedded") else {
      throw UsageError(
        "'\(options.command)' needs --bootstrap HOST:PORT (the Kafka cluster), or --embedded for a "
          + "private broker in this process")
    }
    let broker = try EmbeddedBroker(brokers: 1, logger: .standardError(minimumLevel: logLevel))
    try broker.createTopics(topics.specs(partitions: partitions))
    PipelineLog(service: options.command).info(
      "private embedded broker at \(broker.bootstrapServers) (it ends with this process; other "
        + "processes reach it only with this address)")
    return ClusterSetup(
      bootstrap: broker.bootstrapServers,
      common: try KafkaOptions.configuration(options, bootstrap: broker.bootstrapServers),
      embedded: broker,
      partitions: Dictionary(
        topics.specs(partitions: partitions).map { ($0.name, $0.partitions) },
        uniquingKeysWith: { first, _ in first }))
  }

  /// Client settings for the cluster found. Our consumers ask fetches to wait at most 10 ms,
  /// because the embedded broker holds an empty fetch for the whole wait even when records
  /// arrive; a real broker answers as soon as there is data, so there the wait goes back to
  /// librdkafka's 500 ms (fewer idle fetches), unless a property sets it.
  static func tune(_ common: inout KafkaConfiguration, for cluster: KafkaClusterInfo) {
    guard !cluster.isEmbeddedBroker else { return }
    let keys = ["fetch.wait.max.ms", "consumer.fetch.wait.max.ms"]
    if !keys.contains(where: { common.properties[$0] != nil }) {
      common.properties["consumer.fetch.wait.max.ms"] = "500"
    }
  }
}
