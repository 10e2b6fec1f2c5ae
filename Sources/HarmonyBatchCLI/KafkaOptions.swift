import Arguments
import Kafka
import Operations

/// The options every Kafka-speaking command shares.
enum KafkaOptions {
  /// The options of commands that talk to a cluster: `--bootstrap` or, to try things out,
  /// `--embedded`.
  static let specs: [OptionSpec] =
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
  static let clientSpecs: [OptionSpec] = [
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
  static func configuration(_ options: ParsedOptions, bootstrap: String) throws(UsageError)
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

  static func logLevel(_ options: ParsedOptions) throws(UsageError) -> KafkaLogLevel {
    let levels: [String: KafkaLogLevel] = [
      "error": .error, "warning": .warning, "notice": .notice, "info": .info, "debug": .debug,
    ]
    let name = try options.choice(
      "kafka-log-level", default: "warning",
      from: ["error", "warning", "notice", "info", "debug"])
    return levels[name]!
  }
}
