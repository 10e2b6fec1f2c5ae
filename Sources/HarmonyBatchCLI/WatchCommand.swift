import Arguments
import Operations

/// `harmonybatch watch`: a live terminal view of a running cluster.
enum WatchCommand: Command {
  /// How often the view is redrawn when `--interval` is not given.
  /// Default: 1 s.
  static let defaultInterval: Duration = .seconds(1)

  static let spec = CommandSpec(
    name: "watch",
    summary: "Show the current plan, per-app rate, latency and SLO attainment, and costs, live.",
    usage: "--bootstrap HOST:PORT [--once] [--interval SECONDS]",
    options: [
      .time("interval", "Redraw this often", default: defaultInterval),
      .flag("once", "Read what is there now, print one snapshot and exit (for scripts)."),
      TopicOptions.prefix,
    ] + [KafkaOptions.specs[0]] + KafkaOptions.clientSpecs,
    discussion: """
      Reads hb.plans, hb.results, hb.feedback, hb.late, hb.dead-letter, hb.workers and
      hb.scaling from the beginning, without joining any consumer group (it disturbs nothing),
      and shows: the plan in force (groups, functions, batch sizes, timeouts); per app, requests
      per second over the last 10 s, p50 and p99 latency, and SLO attainment; per group,
      batches, measured transport, slot wait and inference against the plan's predicted
      maximum, and billed cost per request; per worker pool, the slots the plan needs against
      the slots reported, how busy they are, and the controller's recommendation; with the
      controller's --forecast on, per app the rate measured, planned on and sized for, and the
      forecast's error so far.
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    guard let bootstrap = options.string("bootstrap") else {
      throw UsageError("'watch' needs --bootstrap HOST:PORT (the cluster to watch)")
    }
    let interval = try options.duration(
      "interval", default: defaultInterval, range: .milliseconds(100) ... .seconds(3_600))
    let once = options.flag("once")
    let topics = TopicOptions.topics(options)
    let common = try KafkaOptions.configuration(options, bootstrap: bootstrap)
    return await LiveView.run(common: common, topics: topics, interval: interval, once: once)
  }
}
