import Arguments
import Foundation
import Inference
import Operations
import Pipeline
import PipelineCore
import Planner

/// `harmonybatch worker`: run batches from hb.batches.cpu or hb.batches.gpu.
enum WorkerCommand: Command {
  static let spec = CommandSpec(
    name: "worker",
    summary: "Run batches on a real or emulated function and publish results and feedback.",
    usage: "--kind cpu|gpu [--backend minilm|emulated-cpu|emulated-gpu] [--model NAME] ...",
    options: [
      .option("kind", "K", "cpu or gpu: which batch topic and consumer group (hb-workers-K)."),
      .option(
        "backend", "B",
        "minilm (real MiniLM inference on oneDNN; default for cpu), emulated-cpu, or "
          + "emulated-gpu (default for gpu: this machine has no GPU)."),
      .option(
        "model", "NAME",
        "Profile the emulated backends follow and invocations are priced by (default VGG19; "
          + "minilm when it exists)."),
      .option("profile", "FILE", "A profile file instead of --model."),
      .option("pricing", "P", "Pricing preset or file for the billed cost (default alibaba-cny)."),
      .option("model-dir", "DIR", "The MiniLM model directory (default: the set-up cache)."),
      .option("group", "ID", "Consumer group (default hb-workers-<kind>)."),
      TopicOptions.prefix,
      .option("seed", "N", "Seed of the emulated latencies (default: from the clock)."),
      .option(
        "concurrency", "N",
        "Slots: batches run at once, like concurrent function instances (default 16 for "
          + "emulated backends, 1 for minilm; for minilm keep slots × the plan's vCPU within "
          + "the cores)."),
      ServiceOptions.createReplyTopics,
      .option(
        "late-policy", "P",
        "shed (default): a request whose batch starts too late for its SLO is not run and ends "
          + "on hb.late (reason queued-past-slo); run: run it anyway (its result says "
          + "slo_met false)."),
      .option(
        "report-interval", "SECONDS",
        "How often the worker reports its slots on hb.workers (default "
          + "\(WorkerService.Settings.defaultReportInterval.number(in: .seconds)); 0: never)."),
      .time(
        "start-delay",
        "Wait this long before joining the group, as a replica's cold start (image pull, model "
          + "load) would: not ready and not reporting until then",
        default: WorkerService.Settings.defaultStartDelay),
    ] + ServiceOptions.specs + KafkaOptions.specs,
    discussion: """
      A worker is a pool of --concurrency slots; each runs one batch at a time (for minilm with
      as many threads as the function's vCPU, rounded, at least one). Batches are read
      as they arrive and wait for a free slot; every feedback record carries when the batch was
      flushed, read, started, finished and published, so transport, waiting for a slot and
      inference are told apart. Every --report-interval the worker reports its slots, how busy
      they were and how long batches waited on hb.workers. Every result and feedback record
      names the backend and says whether it was emulated. Results go to hb.results keyed by
      request id, one feedback record per batch to hb.feedback; a batch's offset is committed
      after the broker acknowledges them. Run more workers with the same --kind to share the
      batches (the controller's recommendation on hb.scaling says how many). SIGINT/SIGTERM:
      finish the batches running, leave the ones not started to the group, commit, leave.

      Late policy: when a slot starts a batch, a request whose SLO (arrival + SLO) comes before
      the start plus the fastest this worker has run a batch on that function cannot be met
      whatever the batch takes. With --late-policy shed (the default) it is not run: it ends on
      hb.late with hb-late-reason queued-past-slo (and its reply, when it asked for one), the
      rest of the batch runs, and an overloaded queue drains instead of growing while every late
      invocation is billed. Requests the batcher forwarded late on purpose run either way.
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let kindName = try options.choice("kind", default: "", from: ["cpu", "gpu"])
    guard let kind = FunctionConfig.Kind(rawValue: kindName) else {
      throw UsageError("'worker' needs --kind cpu or --kind gpu")
    }
    let backendName = try options.choice("backend", default: BackendName.defaultName(for: kind))
    let profile = try ModelOptions.profile(options) ?? ModelProfile.builtIn(named: "VGG19")
    let pricing = try ModelOptions.pricing(options)
    let seed = UInt64(
      try options.int("seed", default: Int(Date().timeIntervalSince1970 * 1000), in: 0...Int.max))
    let backend = try backendName.make(
      profile: profile, seed: seed, modelDirectory: options.string("model-dir"))
    var settings = WorkerService.Settings()
    settings.kind = kind
    settings.topics = TopicOptions.topics(options)
    settings.groupID = options.string("group")
    settings.costModel = CostModel(profile: profile, pricing: pricing)
    settings.concurrency = try options.int(
      "concurrency", default: backend.emulated ? 16 : 1, in: 1...1024)
    settings.latePolicy = try options.choice("late-policy", default: WorkerLatePolicy.shed)
    settings.createReplyTopics = options.flag("create-reply-topics")
    settings.reportInterval = try options.duration(
      "report-interval", default: WorkerService.Settings.defaultReportInterval,
      range: .zero ... .seconds(3_600))
    settings.startDelay = try options.duration(
      "start-delay", default: WorkerService.Settings.defaultStartDelay,
      range: .zero ... .seconds(3_600))
    let group = try ServiceOptions.group(options)
    settings.telemetry = group.telemetry
    let cluster = try KafkaOptions.cluster(options, topics: settings.topics)
    let log = PipelineLog(service: "worker")
    log.info(
      "\(kind.rawValue) worker on \(backend.name)\(backend.emulated ? " (emulated from the \(profile.name) profile)" : "") at \(cluster.bootstrap)"
    )
    let service = WorkerService(
      common: cluster.common, settings: settings, backend: backend, log: log)
    return await ServiceGroup([service], settings: group, log: log)
      .run(keepingAlive: cluster.embedded)
  }
}
