import Arguments
import Kafka
import Operations
import Pipeline
import PipelineCore

/// `harmonybatch topics`: creates the pipeline's topics on a cluster and shows them.
enum TopicsCommand {
  static let spec = CommandSpec(
    name: "topics",
    summary: "Create the pipeline's topics on a Kafka cluster (partitions, replication, configs).",
    usage: "--bootstrap HOST:PORT [--partitions N] [--replication-factor N] [--dry-run]",
    options: [
      .option("bootstrap", "HOST:PORT[,...]", "The Kafka cluster."),
      .option("topic-prefix", "P", "Prefix of the pipeline's topics (default hb.)."),
      .flag("dry-run", "Show what would be created; create nothing."),
    ] + TopicOptions.specs + KafkaOptions.clientSpecs,
    discussion: """
      Creates the hb.* topics that are missing, through the CreateTopics API: the data topics
      (requests, grouped, batches.cpu, batches.gpu, results, dead-letter, late) with
      --partitions each (a consumer group uses at most one member per partition, so this caps
      the batcher and worker replicas that share the load), the controller's topics (feedback,
      rates, workers, scaling) with one partition and a day's retention, and hb.plans with one
      partition, compacted (the latest plan per key is kept). Topics that exist are left as they
      are and shown. Exits 0 when every topic exists afterwards. Services create missing topics
      the same way at start; this command is for a deployment's set-up step (a compose one-shot
      service, a Kubernetes Job). On the embedded broker, which creates topics on first use,
      it only shows them.
      Example: harmonybatch topics --bootstrap kafka:9092 --partitions 12 --replication-factor 3
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let bootstrap = try options.required("bootstrap")
    let topics = PipelineTopics(prefix: options.string("topic-prefix") ?? "hb.")
    let layout = try TopicOptions.layout(options)
    let common = try KafkaOptions.configuration(options, bootstrap: bootstrap)
    let admin = try KafkaAdmin(configuration: common)
    let cluster = try admin.describeCluster()
    let specs = layout.specs(topics, brokers: cluster.brokers)
    let missing = specs.filter { cluster.topics[$0.name] == nil }
    let creating = !options.flag("dry-run") && !cluster.isEmbeddedBroker
    if creating, !missing.isEmpty { try admin.createTopics(missing) }
    let after = creating && !missing.isEmpty ? try admin.describeCluster().topics : cluster.topics
    var rows = [["topic", "partitions", "replication (new)", "configs (new)", "state"]]
    for spec in specs {
      let state: String
      if let existing = cluster.topics[spec.name] {
        state =
          existing == spec.partitions
          ? "exists" : "exists (\(existing) partitions, not \(spec.partitions): left as is)"
      } else if cluster.isEmbeddedBroker {
        state = "created on first use (embedded broker, 4 partitions)"
      } else if !creating {
        state = "would be created"
      } else {
        state = after[spec.name] != nil ? "created" : "MISSING"
      }
      rows.append([
        spec.name, String(after[spec.name] ?? spec.partitions), String(spec.replicationFactor),
        spec.configs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
          .joined(separator: ","),
        state,
      ])
    }
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
      Console.out(
        zip(row, widths).map { $0.0.padding(toLength: $0.1 + 2, withPad: " ", startingAt: 0) }
          .joined().trimmingCharacters(in: .whitespaces))
    }
    Console.out(
      "cluster \(cluster.id ?? "(no id)"): \(cluster.brokers) broker(s)"
        + (cluster.isEmbeddedBroker ? ", an embedded broker" : ""))
    let absent = specs.filter { after[$0.name] == nil }
    return creating && !absent.isEmpty ? 1 : 0
  }
}
