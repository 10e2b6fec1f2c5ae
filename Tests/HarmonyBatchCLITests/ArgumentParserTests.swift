import Arguments
import Foundation
import HarmonyBatchCLI
import Operations
import Testing

@Suite struct ArgumentParserTests {
  let spec = CommandSpec(
    name: "demo", summary: "s", usage: "u",
    options: [
      .option("count", "N", "how many"), .option("topic", "T", "topics", repeatable: true),
      .flag("verbose", "chatty"),
    ], positionals: 0...1)

  @Test func acceptsSpaceAndEqualsForms() throws {
    let parsed = try spec.parse([
      "--count", "3", "--topic=a,b", "--topic", "c", "--verbose", "kafka",
    ])
    #expect(try parsed.int("count", default: 0, in: 0...10) == 3)
    #expect(parsed.list("topic") == ["a", "b", "c"])
    #expect(parsed.flag("verbose"))
    #expect(parsed.positionals == ["kafka"])
    #expect(try parsed.int("missing", default: 7, in: 0...10) == 7)
  }

  /// An option with no default is nil when not given, and checked like the others when it is.
  @Test func anOptionWithoutADefaultIsNilWhenNotGiven() throws {
    let parsed = try spec.parse(["--count", "3", "--topic", "2.5"])
    #expect(try parsed.int("count", in: 0...10) == 3)
    #expect(try parsed.int("missing", in: 0...10) == nil)
    #expect(try parsed.double("topic", in: 0...10) == 2.5)
    #expect(try parsed.double("missing", in: 0...10) == nil)
    #expect(
      try parsed.duration("topic", in: .milliseconds, range: .zero ... .seconds(1))
        == .microseconds(2500))
    #expect(try parsed.duration("missing", range: .zero ... .seconds(1)) == nil)
    #expect(throws: UsageError("--count must be an integer in 5...10, got '3'")) {
      try parsed.int("count", in: 5...10)
    }
    #expect(throws: UsageError("--topic must be a number in 0...2, got '2.5'")) {
      try parsed.duration("topic", range: .zero ... .seconds(2))
    }
  }

  @Test func rejectsMistakesWithOneLineMessages() {
    #expect(
      throws: UsageError("unknown option '--cuont' for 'demo' (see 'harmonybatch demo --help')")
    ) {
      try spec.parse(["--cuont", "3"])
    }
    #expect(throws: UsageError("option '--count' needs a value (N)")) {
      try spec.parse(["--count"])
    }
    #expect(throws: UsageError("option '--count' given more than once")) {
      try spec.parse(["--count", "1", "--count", "2"])
    }
    #expect(throws: UsageError("option '--verbose' takes no value")) {
      try spec.parse(["--verbose=yes"])
    }
    #expect(throws: UsageError.self) { try spec.parse(["a", "b"]) }
    #expect(throws: UsageError("--count must be an integer in 0...10, got '11'")) {
      try spec.parse(["--count", "11"]).int("count", default: 0, in: 0...10)
    }
    #expect(throws: UsageError.self) {
      try spec.parse(["--count", "x"]).int("count", default: 0, in: 0...10)
    }
  }

  /// Times are `Duration`s; the command line counts them in the unit the option names, and help
  /// writes a default in that unit.
  @Test func timesAreReadInTheOptionsUnitAndWrittenBackInIt() throws {
    let parsed = try spec.parse(["--count", "2.5", "--topic", "250"])
    #expect(
      try parsed.duration("count", default: .zero, range: .zero ... .seconds(10))
        == .milliseconds(2_500))
    #expect(
      try parsed.duration(
        "topic", in: .milliseconds, default: .zero, range: .zero ... .seconds(1))
        == .milliseconds(250))
    #expect(
      try parsed.duration("missing", default: .seconds(60), range: .zero ... .seconds(90))
        == .seconds(60))
    #expect(throws: UsageError("--count must be a number in 0...1.5, got '2.5'")) {
      try parsed.duration("count", default: .zero, range: .zero ... .milliseconds(1_500))
    }
    #expect(throws: UsageError("--topic must be a number in 10...1000, got 'soon'")) {
      try spec.parse(["--topic", "soon"]).duration(
        "topic", in: .milliseconds, default: .zero,
        range: .milliseconds(10) ... .seconds(1))
    }
    #expect(throws: UsageError.self) {
      try spec.parse(["--count", "inf"]).duration(
        "count", default: .zero, range: .zero ... .seconds(1))
    }
    #expect(Duration.seconds(60).number(in: .seconds) == "60")
    #expect(Duration.milliseconds(250).number(in: .seconds) == "0.25")
    #expect(Duration.seconds(1).number(in: .milliseconds) == "1000")
    #expect(Duration.milliseconds(5).number(in: .milliseconds) == "5")
  }

  @Test func helpWinsAndListsEveryOption() throws {
    let parsed = try spec.parse(["--count", "3", "--help"])
    #expect(parsed.helpRequested)
    for name in ["--count N", "--topic T", "--verbose", "--help"] {
      #expect(spec.help.contains(name))
    }
  }

  /// Flag > environment > file > default, for values, repeatable values and flags.
  @Test func theEnvironmentAndAConfigFileFillWhatTheCommandLineLeaves() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-config-\(UUID().uuidString).json").path
    try Data(#"{"count": 4, "topic": ["f1", "f2"], "verbose": true}"#.utf8)
      .write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fromFile = try spec.parse(["--config", path])
    #expect(try fromFile.int("count", default: 0, in: 0...10) == 4)
    #expect(fromFile.list("topic") == ["f1", "f2"])
    #expect(fromFile.flag("verbose"))
    let environment = [
      "HARMONYBATCH_COUNT": "5", "HARMONYBATCH_TOPIC": "e1,e2", "HARMONYBATCH_CONFIG": path,
    ]
    let fromEnvironment = try spec.parse([], environment: environment)
    #expect(try fromEnvironment.int("count", default: 0, in: 0...10) == 5)
    #expect(fromEnvironment.list("topic") == ["e1", "e2"])
    #expect(fromEnvironment.flag("verbose"))
    let fromFlags = try spec.parse(["--count", "6"], environment: environment)
    #expect(try fromFlags.int("count", default: 0, in: 0...10) == 6)
    #expect(
      try spec.parse([], environment: ["HARMONYBATCH_VERBOSE": "false"]).flag("verbose") == false)
    #expect(try spec.parse([]).string("count") == nil)
  }

  /// librdkafka properties in a config file as an object: each pair one KEY=VALUE, in key order;
  /// only a KEY=VALUE option takes an object.
  @Test func propertiesMayBeAnObjectInTheConfigFile() throws {
    let spec = CommandSpec(
      name: "worker", summary: "s", usage: "u",
      options: [
        .option("property", "KEY=VALUE", "p", repeatable: true),
        .option("topic", "T", "t", repeatable: true),
      ])
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-config-\(UUID().uuidString).json").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data(
      #"{"property": {"sasl.mechanism": "PLAIN", "consumer.fetch.wait.max.ms": 100}}"#.utf8
    ).write(to: URL(fileURLWithPath: path))
    #expect(
      try spec.parse(["--config", path]).strings("property") == [
        "consumer.fetch.wait.max.ms=100", "sasl.mechanism=PLAIN",
      ])
    try Data(#"{"topic": {"a": "b"}}"#.utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: UsageError("the config file '\(path)': 'topic' cannot be an object")) {
      try spec.parse(["--config", path])
    }
  }

  @Test func aBadEnvironmentVariableOrConfigFileIsAUsageError() throws {
    #expect(throws: UsageError("HARMONYBATCH_VERBOSE must be true or false, got 'maybe'")) {
      try spec.parse([], environment: ["HARMONYBATCH_VERBOSE": "maybe"])
    }
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-config-\(UUID().uuidString).json").path
    try Data(#"{"cuont": 4}"#.utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(
      throws: UsageError("the config file '\(path)' sets 'cuont', not an option of 'demo'")
    ) { try spec.parse(["--config", path]) }
    #expect(throws: UsageError("cannot read the config file '/nonexistent.json'")) {
      try spec.parse(["--config", "/nonexistent.json"])
    }
  }
}
