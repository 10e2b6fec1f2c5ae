import Arguments
import Operations
import Planner
import Simulator

/// `harmonybatch simulate --closed-loop`: the controller's core driving a simulated pipeline with
/// finite worker pools, in virtual time, through scripted events.
enum ClosedLoopCommand {
  static let options: [OptionSpec] = [
    .flag(
      "closed-loop",
      "Drive the controller's own core with a simulated pipeline and worker pools (below)."),
    .time(
      "duration", "Closed loop: seconds of arrivals", default: ClosedLoopSettings.defaultDuration),
    .option(
      "pool", "KIND=N[xS]",
      "Closed loop: a pool of N replicas with S slots each, e.g. cpu=16, gpu=2x4 (default "
        + "cpu=16, gpu=8x4); repeat for each kind.", repeatable: true),
    .option(
      "burst", "AT:FACTOR:SECONDS", "Closed loop: every rate × FACTOR from AT for SECONDS.",
      repeatable: true),
    .option(
      "slowdown", "AT:FACTOR", "Closed loop: every function × FACTOR slower from AT.",
      repeatable: true),
    .option(
      "pool-cut", "AT:KIND:FACTOR", "Closed loop: the KIND pool keeps FACTOR of its replicas.",
      repeatable: true),
    .option(
      "autoscale", "SECONDS",
      "Closed loop: an autoscaler brings pools to the recommended replicas, each up SECONDS "
        + "after it is asked for (default: none)."),
    .option(
      "told", "X",
      "Closed loop: the controller is told X × each app's rate beforehand (default 1)."),
    .option(
      "partitions", "N",
      "Closed loop: the batch topics have N partitions; each replica runs only the partitions "
        + "the group gives it, with its own slots (default: any slot takes any batch)."),
    .option(
      "rebalance-seconds", "S",
      "Closed loop, with --partitions: a partition that moves to another replica when replicas "
        + "come or go is not read for S seconds (default 0; about 2.3 s on the embedded broker "
        + "with a 3 s session timeout, 8-17 s with librdkafka's defaults)."),
    .flag(
      "keyed-batches",
      "Closed loop, with --partitions: batches keyed by group, as they were (each group's "
        + "batches on one partition), to see the skew."),
    .option(
      "day-seconds", "SECONDS",
      "Closed loop: the day of --shape diurnal or bursty, compressed into this long (default "
        + "\(ClosedLoopScenario.defaultDay.number(in: .seconds))); the forecast's period follows "
        + "it, in \(ClosedLoopSettings.forecastBuckets) buckets."),
    .option(
      "replica-start-seconds", "SECONDS",
      "Closed loop: a new replica serves this long after the autoscaler starts it, a cold start "
        + "(default \(ClosedLoopScenario.defaultReplicaStart.number(in: .seconds))); without "
        + "--autoscale, an autoscaler that starts replicas as soon as they are recommended."),
    .option(
      "forecast", "on|off|both",
      "Closed loop: the controller plans on its rate forecast (controller --forecast), or not "
        + "(default off); both: run each on the same arrivals and compare them."),
  ]

  static func run(_ options: ParsedOptions) throws -> Int32 {
    let planner = try ModelOptions.planner(options)
    var settings = ClosedLoopSettings()
    settings.seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
    settings.duration = try options.duration(
      "duration", default: settings.duration, range: .seconds(1) ... .seconds(86_400))
    settings.rateScale = try options.double("rate-scale", default: 1, in: 0.001...1000)
    settings.apps = try options.string("apps").map { try AppsFile.load(path: $0) }
    for text in options.strings("pool") {
      let (kind, pool) = try ClosedLoopScript.pool(text)
      settings.pools[kind] = pool
    }
    settings.told = try options.double("told", default: 1, in: 0...100)
    settings.partitions = try options.int("partitions", in: 1...10_000)
    settings.keyedBatches = options.flag("keyed-batches")
    settings.rebalance = try options.duration("rebalance-seconds", range: .zero ... .seconds(600))
    settings.autoscale = try options.duration("autoscale", range: .zero ... .seconds(3_600))
    settings.shape = try options.choice("shape", default: Workload.Shape.constant)
    settings.day = try options.duration("day-seconds", range: .seconds(60) ... .seconds(864_000))
    settings.replicaStart = try options.duration(
      "replica-start-seconds", range: .zero ... .seconds(3_600))
    let forecast = try options.choice("forecast", default: "off", from: ["on", "off", "both"])
    settings.forecast = forecast == "on"
    settings.events += try options.strings("burst").map(ClosedLoopScript.burst)
    settings.events += try options.strings("slowdown").map(ClosedLoopScript.slowdown)
    settings.events += try options.strings("pool-cut").map(ClosedLoopScript.poolCut)
    let runs = ClosedLoopRuns(
      try settings.scenario(planner: planner), planner: planner,
      bothForecasts: forecast == "both", report: Console.out)
    if let comparison = runs.comparison { Console.out(comparison) }
    if let directory = options.string("out") {
      Console.err("simulate: " + (try runs.write(to: directory)))
    }
    return 0
  }
}
