import Arguments
import Kafka
import Operations

/// `harmonybatch consume`: print records of topics, one JSON object per line — a small kcat -C
/// that speaks our conventions (headers, group commits only for printed records).
enum ConsumeCommand: Command {
  static let spec = CommandSpec(
    name: "consume",
    summary: "Print records of Kafka topics as JSON lines (for inspection and scripts).",
    usage: "--bootstrap HOST:PORT --topic T [--group G] [--count N] [options]",
    options: [
      .option(
        "topic", "T", "Topic to read; repeat or comma-separate for several.", repeatable: true),
      .option("group", "G", "Consumer group to join (default: no group, read every partition)."),
      .option("from", "WHERE", "Without a committed offset: beginning|end (default beginning)."),
      .option("count", "N", "Exit after printing N records."),
      .option("idle-exit-ms", "MS", "Exit when no record has arrived for MS milliseconds."),
      .option(
        "commit", "POLICY",
        "each: a printed record is done and its offset is committed (default); none: never commit."),
      .time(
        "session-timeout-ms", "Group session timeout",
        default: KafkaConsumerConfiguration.defaultSessionTimeout, in: .milliseconds),
    ] + [KafkaOptions.specs[0]] + KafkaOptions.clientSpecs,
    discussion: """
      Each line: {"topic","partition","offset","timestamp_ms","key","headers":{..},"value"}; keys,
      header values and values that are not UTF-8 are printed as {"base64": "..."}.
      Example: harmonybatch consume --bootstrap 127.0.0.1:9092 --topic hb.results --group inspect
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let bootstrap = try options.required("bootstrap")
    let topics = options.list("topic")
    guard !topics.isEmpty else {
      throw UsageError("'consume' needs --topic (see 'harmonybatch consume --help')")
    }
    let from = try options.choice("from", default: "beginning", from: ["beginning", "end"])
    let count = try options.int("count", default: Int.max, in: 1...Int.max)
    let idleExit = try options.duration(
      "idle-exit-ms", in: .milliseconds, default: .zero, range: .zero ... .seconds(86_400))
    let commitEach =
      try options.choice("commit", default: "each", from: ["each", "none"]) == "each"
    var configuration = KafkaConsumerConfiguration(
      common: try KafkaOptions.configuration(options, bootstrap: bootstrap),
      groupID: options.string("group"))
    configuration.autoOffsetReset = from == "beginning" ? .earliest : .latest
    configuration.sessionTimeout = try options.duration(
      "session-timeout-ms", in: .milliseconds,
      default: KafkaConsumerConfiguration.defaultSessionTimeout,
      range: .seconds(1) ... .seconds(3_600))
    let consumer = try RecordPrinter.consumer(
      configuration, topics: topics, fromBeginning: from == "beginning")
    let (code, printed) = await RecordPrinter.run(
      consumer, count: count, idleExit: idleExit, commitEach: commitEach)
    Console.err("consume: \(printed) record(s)")
    return code
  }
}
