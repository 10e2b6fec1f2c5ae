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

  static func connect(_ options: ParsedOptions, topics: PipelineTopics, partitions: Int = 4)
    throws -> ClusterSetup
  {
    let logLevel = try KafkaOptions.logLevel(options)
    if let bootstrap = options.string("bootstrap") {
      if options.flag("embedded") { throw UsageError("give --bootstrap or --embedded, not both") }
      let common = try KafkaOptions.configuration(options, bootstrap: bootstrap)
      do {
        let admin = try KafkaAdmin(configuration: common)
        let existing = try admin.topics()
        let missing = topics.specs(partitions: partitions).filter { existing[$0.name] == nil }
        try admin.createTopics(missing, timeoutMs: 5000)
      } catch {
        // The embedded broker of another process has no CreateTopics; it creates topics on
        // first use (4 partitions), which serves too.
        PipelineLog(service: options.command).info(
          "topics not created (\(error.message)); relying on the cluster's auto-creation")
      }
      return ClusterSetup(bootstrap: bootstrap, common: common, embedded: nil)
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
      embedded: broker)
  }
}
