import Arguments
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

  @Test func helpWinsAndListsEveryOption() throws {
    let parsed = try spec.parse(["--count", "3", "--help"])
    #expect(parsed.helpRequested)
    for name in ["--count N", "--topic T", "--verbose", "--help"] {
      #expect(spec.help.contains(name))
    }
  }
}
