import Arguments
import Operations

/// `harmonybatch topics`: creates the pipeline's topics on a cluster and shows them.
enum TopicsCommand: Command {
  static let spec = CommandSpec(
    name: "topics",
    summary: "Create the pipeline's topics on a Kafka cluster (partitions, replication, configs).",
    usage: "--bootstrap HOST:PORT [--partitions N] [--replication-factor N] [--dry-run]",
    options: [
      .option("bootstrap", "HOST:PORT[,...]", "The Kafka cluster."),
      TopicOptions.prefix,
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
    let layout = try TopicOptions.layout(options)
    let outcome = try TopicSetup.run(
      common: try KafkaOptions.configuration(options, bootstrap: bootstrap), layout: layout,
      topics: TopicOptions.topics(options), dryRun: options.flag("dry-run"))
    for line in outcome.lines { Console.out(line) }
    return outcome.complete ? 0 : 1
  }
}
