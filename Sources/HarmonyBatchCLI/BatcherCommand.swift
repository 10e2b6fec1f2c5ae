import Arguments
import Operations
import Pipeline
import PipelineCore
import Planner

/// `harmonybatch batcher`: the router and batcher stages in one process.
enum BatcherCommand: Command {
  static let spec = CommandSpec(
    name: "batcher",
    summary: "Route requests to groups and batch them for the workers (router + batcher).",
    usage: "[--plan FILE] [--model NAME | --profile FILE] [--late-policy divert|forward] ...",
    options: [
      .option("plan", "FILE", "Follow this plan (what 'plan --format json' prints), not hb.plans."),
      .option(
        "model", "NAME",
        "Profile for apps the plan does not cover (default: the plan's model, if built in)."),
      .option("profile", "FILE", "A profile file for those apps instead."),
      .option("pricing", "P", "Pricing preset or file for those apps (default alibaba-cny)."),
      .option(
        "late-policy", "P",
        "divert (default): requests that can no longer meet their SLO go to hb.late; forward: "
          + "dispatch them anyway, marked late."),
      .time(
        "flush-margin-ms", "Flush this long before the plan's deadline, against wake-up jitter",
        default: BatcherService.Settings.defaultFlushMargin, in: .milliseconds),
      .option("stage", "S", "both (default), router or batcher: which stages this process runs."),
      TopicOptions.prefix,
      .option(
        "max-payload-bytes", "N",
        "Requests with a larger payload go to the dead letter (default: the largest whose batch "
          + "of one fits a record, about 740 KB)."),
      .option(
        "reply-topic-prefix", "P",
        "Requests may name only reply topics that start with P (default: any legal topic name "
          + "that is not the pipeline's own or a broker's internal one)."),
      ServiceOptions.createReplyTopics,
      .time(
        "report-interval-ms", "How often the router reports rates",
        default: RouterService.Settings.defaultReportInterval, in: .milliseconds),
    ] + ServiceOptions.specs + KafkaOptions.specs,
    discussion: """
      The router (consumer group hb-router on hb.requests) validates each request, looks its
      app up in the plan and re-publishes it on hb.grouped keyed by group; bad records go to
      hb.dead-letter with a reason code (missing-app, bad-slo, missing-slo, payload-too-large,
      impossible-slo, unplanned-app). The batcher (group hb-batcher on hb.grouped) keeps one
      buffer per group, flushes it when full or at the earliest personal deadline, and
      publishes the batch on hb.batches.cpu or hb.batches.gpu. Offsets are committed only
      after the broker has acknowledged everything made from them. Run more processes to
      share the partitions. SIGINT/SIGTERM: stop reading, flush every buffer, wait for the
      broker, commit, leave the groups.
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let topics = TopicOptions.topics(options)
    let stages = try options.choice("stage", default: BatcherStages.both)
    let latePolicy = try options.choice("late-policy", default: LatePolicy.divert)
    let plan = try options.string("plan").map { try Plan.load(path: $0) }
    let planner = try soloPlanner(options, plan: plan)
    let group = try ServiceOptions.group(options)
    let cluster = try KafkaOptions.cluster(options, topics: topics)
    let log = PipelineLog(service: "batcher")

    var routerSettings = RouterService.Settings()
    routerSettings.topics = topics
    routerSettings.fixedPlan = plan
    routerSettings.planner = planner
    routerSettings.maxPayloadBytes = try options.int(
      "max-payload-bytes", default: RequestRouter.defaultMaxPayloadBytes, in: 1...100_000_000)
    if let prefix = options.string("reply-topic-prefix") {
      guard ReplyTopic.problem(prefix + "x", topics: topics) == nil else {
        throw UsageError("--reply-topic-prefix '\(prefix)' cannot begin a reply topic's name")
      }
      routerSettings.replyTopicPrefix = prefix
    }
    routerSettings.reportInterval = try options.duration(
      "report-interval-ms", in: .milliseconds,
      default: RouterService.Settings.defaultReportInterval,
      range: .milliseconds(10) ... .seconds(3_600))
    routerSettings.telemetry = group.telemetry
    routerSettings.createReplyTopics = options.flag("create-reply-topics")
    var batcherSettings = BatcherService.Settings()
    batcherSettings.telemetry = group.telemetry
    batcherSettings.topics = topics
    batcherSettings.latePolicy = latePolicy
    batcherSettings.createReplyTopics = options.flag("create-reply-topics")
    batcherSettings.flushMargin = try options.duration(
      "flush-margin-ms", in: .milliseconds, default: BatcherService.Settings.defaultFlushMargin,
      range: .zero ... .seconds(10))

    let services = stages.services(
      common: cluster.common, router: routerSettings, batcher: batcherSettings, log: log)
    log.info(
      "starting \(stages) on \(cluster.bootstrap)"
        + (plan.map { " with plan file v\($0.version ?? 0)" } ?? " following \(topics.plans)"))
    return await ServiceGroup(services, settings: group, log: log)
      .run(keepingAlive: cluster.embedded)
  }

  /// The planner that provisions apps the plan does not cover: `--model/--profile`, else the
  /// plan's model when it is built in, else none.
  static func soloPlanner(_ options: ParsedOptions, plan: Plan?) throws -> Planner? {
    let pricing = try ModelOptions.pricing(options, fallback: plan?.pricing)
    if let profile = try ModelOptions.profile(options) {
      return Planner(profile: profile, pricing: pricing)
    }
    guard let model = plan?.model, ModelProfile.builtInNames.contains(model) else { return nil }
    return Planner(profile: try ModelProfile.builtIn(named: model), pricing: pricing)
  }
}
