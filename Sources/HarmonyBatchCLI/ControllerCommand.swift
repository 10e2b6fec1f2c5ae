import Arguments
import Operations
import Pipeline
import PipelineCore
import Planner

/// `harmonybatch controller`: estimate rates, refit the model, re-plan, publish plans.
enum ControllerCommand: Command {
  private static let scalingEvery =
    ControllerCore.Settings.defaultScalingInterval.number(in: .seconds)
  private static let leaseTimeout = ControllerService.leaseSessionTimeout.number(in: .seconds)

  static let spec = CommandSpec(
    name: "controller",
    summary: "Estimate rates, refit the latency model from feedback, and publish new plans.",
    usage: "(--model NAME | --profile FILE) [--apps FILE] [--period SECONDS] ...",
    options: [
      .option("model", "NAME", "The profile to start from (built in)."),
      .option("profile", "FILE", "A profile file instead."),
      .option("apps", "FILE", "Apps known before traffic arrives (ids, SLOs, expected rates)."),
      .option("pricing", "P", "Pricing preset or file (default alibaba-cny)."),
      .option("algorithm", "A", "optimal (default), harmony, batch or mbs."),
      .time("period", "Re-plan at least this often", default: ReplanPolicy.defaultPeriod),
      .time(
        "min-interval", "At most one version published for cost alone per this interval",
        default: ReplanPolicy.defaultMinInterval),
      .time(
        "rate-window", "Window of the steady rate estimate", default: RateEstimator.defaultWindow),
      .option(
        "max-transport-share", "X",
        "The most of an SLO ever reserved for transport (default 0.2)."),
      .option(
        "target-utilisation", "X",
        "Busy share of worker slots the scaling recommendation aims at (default 0.7)."),
      .time(
        "scale-down-window", "Recommend fewer replicas only after the need stayed lower this long",
        default: PoolScaler.defaultScaleDownWindow),
      .option(
        "worker-group", "ID",
        "A worker pool besides hb-workers-cpu and hb-workers-gpu (worker --group) whose reports "
          + "count. Reports from other consumer groups are refused.", repeatable: true),
      .option(
        "max-apps", "N",
        "Apps planned at most (default 1000): a new app past it is not planned, and counted in "
          + "the refusals logged every \(ControllerCore.reportInterval.number(in: .seconds)) s."),
      .option(
        "forecast", "on|off",
        "Plan on a per-app rate forecast (seasonal, one day's period, in minutes): plans for its "
          + "upper quantile over the next period, pools sized for its mean --replica-start-seconds "
          + "ahead, a measurement beyond its band planned on at once (default off: plan on the "
          + "rates measured)."),
      .time(
        "replica-start-seconds",
        "With --forecast on: how long a worker replica takes from being recommended to serving "
          + "(the autoscaler's reaction, image pull, model load); the scaling recommendation is "
          + "made for the need this far ahead",
        default: ControllerCore.Settings.defaultReplicaStart),
      .time(
        "forecast-period",
        "With --forecast on: the season the forecast learns; one day by default, in one-minute "
          + "buckets. A shorter one (a compressed test day, as simulate --closed-loop "
          + "--day-seconds runs) keeps at least 60 buckets, its horizon and error window as many "
          + "buckets as a day's",
        default: RateForecaster.Settings.defaultPeriod),
      TopicOptions.prefix,
    ] + ServiceOptions.specs + KafkaOptions.specs,
    discussion: """
      Reads router reports (hb.rates), worker feedback (hb.feedback) and worker reports
      (hb.workers). Takes only the pipeline's transport (flush → worker, finish → publish; p95
      with headroom, at most --max-transport-share of an SLO) off SLOs before planning; waiting
      for a worker slot is never planned on. Re-plans every period, and sooner when an app
      appears, an app's rate moves by more than 25 % and beyond Poisson noise, the refitted
      latency model moves by more than 10 % beyond the noise of its feedback, or the plan in
      force is at risk on measured batches. Publishes a new version on the compacted hb.plans
      when there is no plan, the plan misses an app, or an SLO is at risk (at once); or when
      the new plan is more than 2 % cheaper (at most once per --min-interval, and only when the
      worker pools have the slots it needs). Each version says why. Every \(scalingEvery) s, and
      whenever a pool's status or desired replicas change, publishes per worker pool the slots
      the plan needs against the slots reported, and the replicas to run, on hb.scaling: never
      more replicas than the batch topic has partitions (status partition-limit, with the slots
      per replica that would do, when those are not enough). Up at once when the load passes
      the target utilisation of the desired replicas by 10 %, or they give fewer slots than the
      plan's slot waits need (Erlang C: a wait past the room the plan leaves at most 1 % of the
      time); down only after the need stayed lower for --scale-down-window; a replica counts
      until it leaves its group or misses three report intervals. One controller publishes at
      a time: the one holding partition 0 of hb.plans in the consumer group
      hb-controller-lease; others stand by and take over, from the plan in force, when it
      leaves (at once) or stops answering (\(leaseTimeout) s session timeout).
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let planning = try ModelOptions.planner(options)
    var settings = ControllerService.Settings(prior: planning.profile, pricing: planning.pricing)
    settings.topics = TopicOptions.topics(options)
    settings.core.algorithm = try options.choice("algorithm", default: Planner.Algorithm.optimal)
    if let path = options.string("apps") { settings.core.apps = try AppsFile.load(path: path) }
    settings.core.policy.period = try options.duration(
      "period", default: ReplanPolicy.defaultPeriod, range: .seconds(1) ... .seconds(86_400))
    settings.core.policy.minInterval = try options.duration(
      "min-interval", default: ReplanPolicy.defaultMinInterval, range: .zero ... .seconds(86_400))
    settings.core.rateWindow = try options.duration(
      "rate-window", default: RateEstimator.defaultWindow,
      range: .seconds(5) ... .seconds(86_400))
    settings.core.transport.maxShare = try options.double(
      "max-transport-share", default: 0.2, in: 0...0.9)
    settings.core.scaler.targetUtilisation = try options.double(
      "target-utilisation", default: 0.7, in: 0.05...1)
    settings.core.scaler.scaleDownWindow = try options.duration(
      "scale-down-window", default: PoolScaler.defaultScaleDownWindow,
      range: .zero ... .seconds(86_400))
    settings.core.forecast =
      try options.choice("forecast", default: "off", from: ["on", "off"]) == "on"
    settings.core.replicaStart = try options.duration(
      "replica-start-seconds", default: ControllerCore.Settings.defaultReplicaStart,
      range: .zero ... .seconds(3_600))
    settings.core.forecaster = RateForecaster.Settings(
      period: try options.duration(
        "forecast-period", default: RateForecaster.Settings.defaultPeriod,
        range: .seconds(240) ... .seconds(31 * 86_400)))
    let group = try ServiceOptions.group(options)
    settings.telemetry = group.telemetry
    settings.core.workerGroups = Set(options.strings("worker-group"))
    settings.core.maxApps = try options.int("max-apps", default: 1_000, in: 1...10_000)
    if settings.core.apps.count > settings.core.maxApps {
      throw UsageError(
        "--apps names \(settings.core.apps.count) apps, more than --max-apps \(settings.core.maxApps)"
      )
    }
    let cluster = try KafkaOptions.cluster(options, topics: settings.topics)
    for kind in [FunctionConfig.Kind.cpu, .gpu] {
      settings.core.batchPartitions[kind] = cluster.partitions[settings.topics.batches(for: kind)]
    }
    let log = PipelineLog(service: "controller")
    let service = ControllerService(common: cluster.common, settings: settings, log: log)
    return await ServiceGroup([service], settings: group, log: log)
      .run(keepingAlive: cluster.embedded)
  }
}
