import Arguments
import Kafka
import Operations

/// `harmonybatch broker`: hosts the embedded Kafka-protocol broker until SIGINT/SIGTERM.
enum BrokerCommand: Command {
  static let spec = CommandSpec(
    name: "broker",
    summary: "Host the embedded Kafka-protocol broker (librdkafka's mock cluster) on loopback.",
    usage: "[--brokers N] [--partitions N] [--topics a,b,... | --topic-prefix P]",
    options: [
      .option("brokers", "N", "Number of brokers in the cluster (default 1)."),
      .option("partitions", "N", "Partitions of each topic created at start (default 4)."),
      .option(
        "topics", "LIST",
        "Topics to create at start, comma-separated (default: the pipeline's hb.* topics).",
        repeatable: true),
      TopicOptions.prefix,
      .option(
        "kafka-log-level", "LEVEL",
        "The broker's (librdkafka's) log level: error|warning|notice|info|debug (default warning)."
      ),
    ],
    discussion: """
      Prints the bootstrap address (host:port,...) as the first line of standard output, then
      serves any Kafka client (kcat, librdkafka, Java) until SIGINT or SIGTERM. Records live in
      memory only. Without --topics it creates the pipeline's topics (hb.requests, hb.grouped,
      hb.batches.cpu, hb.batches.gpu, hb.results, hb.feedback, hb.rates, hb.workers,
      hb.scaling, hb.dead-letter, hb.late, and hb.plans with one partition); other topics are
      auto-created with 4 partitions on first use.
      Example: harmonybatch broker --partitions 8
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let brokers = try options.int("brokers", default: 1, in: 1...16)
    let partitions = try options.int("partitions", default: 4, in: 1...1024)
    let named = options.list("topics")
    let topics =
      named.isEmpty
      ? TopicOptions.topics(options).specs(partitions: partitions)
      : named.map { KafkaTopicSpec(name: $0, partitions: partitions) }
    return try await BrokerHost.run(
      brokers: brokers, topics: topics, logLevel: try KafkaOptions.logLevel(options))
  }
}
