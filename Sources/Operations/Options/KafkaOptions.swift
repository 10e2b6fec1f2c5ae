import Arguments
import Kafka
import Pipeline
import PipelineCore

/// The options every Kafka-speaking command shares.
public enum KafkaOptions {
  /// The options of commands that talk to a cluster: `--bootstrap` or, to try things out,
  /// `--embedded`.
  public static let specs: [OptionSpec] =
    [
      .option("bootstrap", "HOST:PORT[,...]", "The Kafka cluster (required unless --embedded)."),
      .flag(
        "embedded",
        "Start a private embedded broker in this process instead (its address is printed; "
          + "nothing else reaches it unless you pass that on)."),
      .option(
        "unreachable-timeout", "SECONDS",
        "Exit 1 when no broker has answered for this long (default "
          + "\(KafkaConfiguration.defaultUnreachableTimeout.number(in: .seconds)); unhealthy, "
          + "and said so, after a tenth of it)."),
    ] + TopicOptions.specs + clientSpecs

  /// The client options every Kafka-speaking command shares.
  public static let clientSpecs: [OptionSpec] = [
    .option(
      "property", "KEY=VALUE",
      "librdkafka property for every client, e.g. socket.timeout.ms=5000; prefixed consumer., "
        + "producer. or admin., for that kind of client only.",
      repeatable: true),
    .option(
      "kafka-log-level", "LEVEL",
      "librdkafka's log level: error|warning|notice|info|debug (default warning)."),
  ]

  /// Builds the shared client configuration; unknown properties fail when a client is created.
  public static func configuration(_ options: ParsedOptions, bootstrap: String) throws(UsageError)
    -> KafkaConfiguration
  {
    var configuration = KafkaConfiguration(bootstrapServers: bootstrap)
    configuration.logger = .standardError(minimumLevel: try logLevel(options))
    configuration.unreachableTimeout = try options.duration(
      "unreachable-timeout", default: KafkaConfiguration.defaultUnreachableTimeout,
      range: .seconds(1) ... .seconds(86_400))
    for text in options.strings("property") {
      let parsed: (key: String, value: String)
      do {
        parsed = try KafkaConfiguration.parseProperty(text)
      } catch {
        throw UsageError("--property: \(error.message)")
      }
      if options.onCommandLine.contains("property"), KafkaConfiguration.isSecret(parsed.key) {
        // A command line is visible to every user of the machine (ps, /proc) and kept in shell
        // history; the secret itself is not repeated here.
        throw UsageError(
          "--property \(parsed.key) is a secret: give it in a --config file or in "
            + "HARMONYBATCH_PROPERTY, never on the command line")
      }
      configuration.properties[parsed.key] = parsed.value
    }
    return configuration
  }

  /// The cluster a service command works on (`ClusterSetup`): the one `--bootstrap` names, or
  /// with `--embedded` a broker of its own with the pipeline's topics of `partitions`.
  public static func cluster(_ options: ParsedOptions, topics: PipelineTopics, partitions: Int = 4)
    throws -> ClusterSetup
  {
    let log = PipelineLog(service: options.command)
    if let bootstrap = options.string("bootstrap") {
      if options.flag("embedded") { throw UsageError("give --bootstrap or --embedded, not both") }
      return ClusterSetup.connect(
        try configuration(options, bootstrap: bootstrap), layout: try TopicOptions.layout(options),
        topics: topics, log: log)
    }
    guard options.flag("embedded") else {
      throw UsageError(
        "'\(options.command)' needs --bootstrap HOST:PORT (the Kafka cluster), or --embedded for a "
          + "private broker in this process")
    }
    return try ClusterSetup.embedded(
      topics: topics, partitions: partitions, logLevel: try logLevel(options), log: log
    ) { try configuration(options, bootstrap: $0) }
  }

  /// librdkafka's log level, `--kafka-log-level`.
  public static func logLevel(_ options: ParsedOptions) throws(UsageError) -> KafkaLogLevel {
    let levels: [String: KafkaLogLevel] = [
      "error": .error, "warning": .warning, "notice": .notice, "info": .info, "debug": .debug,
    ]
    let name = try options.choice(
      "kafka-log-level", default: "warning",
      from: ["error", "warning", "notice", "info", "debug"])
    return levels[name]!
  }
}
