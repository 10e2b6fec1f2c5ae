import Kafka

/// The options every Kafka-speaking command shares.
enum KafkaOptions {
  static let specs: [OptionSpec] = [
    .option(
      "bootstrap", "HOST:PORT[,...]", "Kafka cluster to use (default: start the embedded broker)."),
    .option(
      "property", "KEY=VALUE", "librdkafka property for every client, e.g. socket.timeout.ms=5000.",
      repeatable: true),
    .option(
      "log-level", "LEVEL",
      "Kafka client log level: error|warning|notice|info|debug (default warning)."),
  ]

  /// Builds the shared client configuration; unknown properties fail when a client is created.
  static func configuration(_ options: ParsedOptions, bootstrap: String) throws(UsageError)
    -> KafkaConfiguration
  {
    var configuration = KafkaConfiguration(bootstrapServers: bootstrap)
    configuration.logger = .standardError(minimumLevel: try logLevel(options))
    for text in options.strings("property") {
      do {
        let (key, value) = try KafkaConfiguration.parseProperty(text)
        configuration.properties[key] = value
      } catch {
        throw UsageError("--property: \(error.message)")
      }
    }
    return configuration
  }

  static func logLevel(_ options: ParsedOptions) throws(UsageError) -> KafkaLogLevel {
    let levels: [String: KafkaLogLevel] = [
      "error": .error, "warning": .warning, "notice": .notice, "info": .info, "debug": .debug,
    ]
    let name = try options.choice(
      "log-level", default: "warning", from: ["error", "warning", "notice", "info", "debug"])
    return levels[name]!
  }
}
