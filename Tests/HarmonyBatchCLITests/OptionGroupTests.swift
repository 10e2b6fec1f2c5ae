import Arguments
import Foundation
import Kafka
import Operations
import Planner
import Testing

/// The option groups several commands share, read without a process: each option checked with
/// the one-line message a user sees.
@Suite struct OptionGroupTests {
  static let spec = CommandSpec(
    name: "worker", summary: "s", usage: "u",
    options: KafkaOptions.specs + ServiceOptions.specs + [
      TopicOptions.prefix, .option("model", "NAME", "m"), .option("profile", "FILE", "p"),
      .option("pricing", "P", "p"), .option("gpu-max-margin", "X", "g"),
    ])

  static func parse(_ arguments: [String], environment: [String: String] = [:]) throws
    -> ParsedOptions
  {
    try spec.parse(arguments, environment: environment)
  }

  @Test func theMetricsEndpointTakesAnAddressOnlyWithAPort() throws {
    #expect(try ServiceOptions.group(Self.parse([])).metricsPort == nil)
    let group = try ServiceOptions.group(
      Self.parse(["--metrics-port", "9100", "--metrics-address", "::"]))
    #expect(group.metricsPort == 9100 && group.metricsAddress == "::")
    #expect(throws: UsageError("--metrics-address needs --metrics-port")) {
      try ServiceOptions.group(Self.parse(["--metrics-address", "0.0.0.0"]))
    }
    #expect(throws: UsageError("--metrics-address wants an IPv4 or IPv6 address, got 'here'")) {
      try ServiceOptions.group(Self.parse(["--metrics-port", "1", "--metrics-address", "here"]))
    }
  }

  @Test func theTopicLayoutReadsPartitionsPerTopic() throws {
    let layout = try TopicOptions.layout(
      Self.parse([
        "--partitions", "12", "--topic-partitions", "hb.results=3,hb.late=1",
        "--replication-factor", "2",
      ]))
    #expect(layout.partitions == 12 && layout.replicationFactor == 2)
    #expect(layout.partitionsByTopic == ["hb.results": 3, "hb.late": 1])
    #expect(try TopicOptions.layout(Self.parse([])).replicationFactor == nil)
    #expect(
      throws: UsageError("--topic-partitions must be TOPIC=N with N in 1...10000, got '=3'")
    ) { try TopicOptions.layout(Self.parse(["--topic-partitions", "=3"])) }
    #expect(TopicOptions.topics(try Self.parse(["--topic-prefix", "t."])).requests == "t.requests")
  }

  /// A secret never on a command line; from the environment (or a config file) it is taken.
  @Test func aSecretPropertyIsRefusedOnTheCommandLineOnly() throws {
    #expect(
      throws: UsageError(
        "--property sasl.password is a secret: give it in a --config file or in "
          + "HARMONYBATCH_PROPERTY, never on the command line")
    ) {
      try KafkaOptions.configuration(
        Self.parse(["--property", "sasl.password=x"]), bootstrap: "h:1")
    }
    let configuration = try KafkaOptions.configuration(
      Self.parse(
        ["--unreachable-timeout", "30"],
        environment: ["HARMONYBATCH_PROPERTY": "sasl.password=x,linger.ms=5"]),
      bootstrap: "h:1")
    #expect(configuration.properties["sasl.password"] == "x")
    #expect(configuration.properties["linger.ms"] == "5")
    #expect(configuration.unreachableTimeout == .seconds(30))
    #expect(throws: UsageError.self) {
      try KafkaOptions.configuration(Self.parse(["--property", "nokey"]), bootstrap: "h:1")
    }
  }

  @Test func aServiceNeedsItsClusterNamedOnce() throws {
    #expect(
      throws: UsageError(
        "'worker' needs --bootstrap HOST:PORT (the Kafka cluster), or --embedded for a private "
          + "broker in this process")
    ) { try KafkaOptions.cluster(Self.parse([]), topics: .init()) }
    #expect(throws: UsageError("give --bootstrap or --embedded, not both")) {
      try KafkaOptions.cluster(Self.parse(["--bootstrap", "h:1", "--embedded"]), topics: .init())
    }
  }

  @Test func aModelIsNamedByModelOrProfileNotBoth() throws {
    #expect(try ModelOptions.profile(Self.parse([])) == nil)
    #expect(try ModelOptions.planner(Self.parse(["--model", "VGG19"])).profile.name == "VGG19")
    #expect(throws: UsageError("give --model or --profile, not both")) {
      try ModelOptions.profile(Self.parse(["--model", "VGG19", "--profile", "p.json"]))
    }
    #expect(throws: UsageError("'worker' needs --model NAME or --profile FILE")) {
      try ModelOptions.planner(Self.parse([]))
    }
    #expect(
      try ModelOptions.pricing(Self.parse([]), fallback: nil).name == PricingPreset.defaultName)
  }
}
