import Arguments
import Operations
import PipelineCore
import Planner
import Simulator

/// `harmonybatch simulate --closed-loop`: the controller's core driving a simulated pipeline with
/// finite worker pools, in virtual time, through scripted events.
enum ClosedLoopCommand {
  /// The arrivals' span when `--duration` is not given (virtual time).
  /// Default: 300 s.
  static let defaultDuration: Duration = .seconds(300)

  static let options: [OptionSpec] = [
    .flag(
      "closed-loop",
      "Drive the controller's own core with a simulated pipeline and worker pools (below)."),
    .option(
      "duration", "SECONDS",
      "Closed loop: seconds of arrivals (default \(defaultDuration.number(in: .seconds)))."),
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
        + "it, in \(forecastBuckets) buckets."),
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

  /// Buckets per day of the forecast when the day is compressed (`--day-seconds`).
  static let forecastBuckets = 60

  static func run(_ options: ParsedOptions) throws -> Int32 {
    let planner = try ModelOptions.planner(options)
    let seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
    // The simulator's clock counts seconds as a Double.
    let duration = try options.duration(
      "duration", default: defaultDuration, range: .seconds(1) ... .seconds(86_400)
    ).seconds
    let scale = try options.double("rate-scale", default: 1, in: 0.001...1000)
    var apps: [App]
    if let path = options.string("apps") {
      apps = try AppsFile.load(path: path)
    } else {
      // The demo's mix of SLOs and rates, twice over.
      apps = [1.0, 8, 2, 12, 0.5, 6, 3, 10].enumerated().map { index, rate in
        App(id: "app-\(index + 1)", slo: 0.3 + 0.1 * Double(index), rate: rate * 2)
      }
    }
    apps = apps.map { App(id: $0.id, slo: $0.slo, rate: $0.rate * scale) }
    var pools: [FunctionConfig.Kind: ClosedLoopScenario.Pool] = [
      .cpu: .init(replicas: 16, slotsPerReplica: 1), .gpu: .init(replicas: 8, slotsPerReplica: 4),
    ]
    for text in options.strings("pool") {
      let (kind, pool) = try ClosedLoopScript.pool(text)
      pools[kind] = pool
    }
    var scenario = ClosedLoopScenario(
      apps: apps, duration: duration, truth: planner.profile, pricing: planner.pricing,
      pools: pools)
    scenario.seed = seed
    let told = try options.double("told", default: 1, in: 0...100)
    scenario.knownApps = apps.map { App(id: $0.id, slo: $0.slo, rate: $0.rate * told) }
    scenario.partitions = try options.int("partitions", in: 1...10_000)
    scenario.keyedBatches = options.flag("keyed-batches")
    if scenario.keyedBatches, scenario.partitions == nil {
      throw UsageError("--keyed-batches needs --partitions")
    }
    if let rebalance = try options.duration("rebalance-seconds", range: .zero ... .seconds(600)) {
      guard scenario.partitions != nil else {
        throw UsageError("--rebalance-seconds needs --partitions")
      }
      scenario.rebalanceSeconds = rebalance.seconds
    }
    scenario.autoscaleDelay = try options.duration("autoscale", range: .zero ... .seconds(3_600))?
      .seconds
    scenario.shape = Workload.Shape(
      rawValue: try options.choice(
        "shape", default: "constant", from: Workload.Shape.allCases.map(\.rawValue)))!
    if let day = try options.duration("day-seconds", range: .seconds(60) ... .seconds(864_000)) {
      scenario.day = day
      scenario.forecaster = RateForecaster.Settings(period: day, buckets: forecastBuckets)
    }
    if let start = try options.duration("replica-start-seconds", range: .zero ... .seconds(3_600)) {
      scenario.replicaStart = start
      scenario.autoscaleDelay = scenario.autoscaleDelay ?? 0
    }
    let forecast = try options.choice("forecast", default: "off", from: ["on", "off", "both"])
    scenario.forecast = forecast == "on"
    scenario.events += try options.strings("burst").map(ClosedLoopScript.burst)
    scenario.events += try options.strings("slowdown").map(ClosedLoopScript.slowdown)
    scenario.events += try options.strings("pool-cut").map(ClosedLoopScript.poolCut)
    let runs = ClosedLoopRuns(
      scenario, planner: planner, bothForecasts: forecast == "both", report: Console.out)
    if let comparison = runs.comparison { Console.out(comparison) }
    if let directory = options.string("out") {
      Console.err("simulate: " + (try runs.write(to: directory)))
    }
    return 0
  }
}
