import Foundation
import Inference
import Kafka
import Pipeline
import PipelineCore
import Planner
import Simulator
import Synchronization

/// One run of the demo: broker, pipeline, workers, workload, accounting.
public final class DemoRun: Sendable {
  public struct Settings: Sendable {
    /// How long requests are generated (`demo --duration`).
    /// Default: `defaultDuration`.
    public var duration = defaultDuration
    public var appCount = 8
    /// Nil: the default workload, scaled down when this machine cannot serve it.
    public var rateScale: Double?
    public var seed: UInt64 = 1
    public var modelDirectory = ""
    public var logLevel = KafkaLogLevel.warning
    public var properties: [String: String] = [:]
    /// Serve `/metrics`, `/healthz` and `/readyz` for every part of the demo on this port.
    public var metricsPort: Int?
    /// Run each service as its own process, as a deployment does (`--processes`).
    public var processes = false
    /// With `processes`: workers of one slot, one replica per pool at first, then as many as
    /// hb.scaling asks for (`--autoscale`).
    public var autoscale = false
    /// With `autoscale`: how long the workload is sent first, while the pools grow, counted apart
    /// (`demo --warm-up`).
    /// Default: `defaultWarmUp`.
    public var warmUp = defaultWarmUp
    /// Every worker emulates this model from its profile instead of running MiniLM (`demo
    /// --emulate`, with `processes`): a model whose batches take long enough that the pools
    /// need many replicas, for scaling experiments on a small machine.
    public var emulate: String?
    /// Partitions of every topic: 4, or 8 when emulating (one-slot replicas beyond a batch
    /// topic's partitions add nothing).
    public var partitions: Int { emulate == nil ? 4 : 8 }
    /// The shape the workload's rates follow second by second over `day` (`demo --shape`).
    public var shape = Workload.Shape.constant
    public var day: Duration = defaultDuration
    /// The controller plans on its rate forecast, learning a period of `day` (`--forecast on`).
    public var forecast = false
    /// With `autoscale`: a worker added serves only this long after it is started, and the
    /// controller is told so (`--replica-start-seconds`).
    public var replicaStart: Duration = .zero
    /// The shape, when the workload has one.
    public var rateShape: RateShape? {
      shape == .constant ? nil : RateShape(shape, day: day, seed: seed)
    }
    /// `duration` when none is given.
    /// Default: 20 s.
    public static let defaultDuration: Duration = .seconds(20)
    /// `warmUp` when none is given.
    /// Default: 20 s.
    public static let defaultWarmUp: Duration = .seconds(20)

    public init() {}
  }

  public struct Summary {
    public let text: String
    public let missing: Int
  }

  public let settings: Settings

  public init(settings: Settings) { self.settings = settings }

  /// The planner the demo plans with: MiniLM measured on this machine against the built-in
  /// profile (with the encoder measured), or the profile of the model every worker emulates
  /// (`emulate`).
  private func measuredPlanner() throws -> (Planner, MiniLMEncoder?) {
    if let model = settings.emulate {
      let planner = try Planner(model: model)
      Console.err(
        "demo: every worker emulates \(model) from its profile (no inference runs here; every "
          + "result and feedback record says so)")
      return (planner, nil)
    }
    let encoder = try MiniLMEncoder(directory: settings.modelDirectory)
    let builtIn = try Planner(model: "minilm")
    let calibration = ProfileCalibration.measure(encoder, against: builtIn.profile)
    Console.err(
      "demo: MiniLM here on one core: "
        + calibration.measured.enumerated().map {
          String(format: "%.1f ms at batch %d", $1 * 1000, $0 + 1)
        }.joined(separator: ", ")
        + String(format: "; the built-in profile scaled by %.2f to match", calibration.factor))
    return (
      Planner(profile: calibration.apply(to: builtIn.profile), pricing: builtIn.pricing), encoder
    )
  }

  /// Rates cycle through a mix of slow and busy apps (req/s, before `rateScale`).
  public static let rateMix = [1.0, 8, 2, 12, 0.5, 6, 3, 10]

  public func run() async throws -> Summary {
    let broker = try EmbeddedBroker(
      brokers: 1, logger: .standardError(minimumLevel: settings.logLevel))
    let topics = PipelineTopics()
    try broker.createTopics(topics.specs(partitions: settings.partitions))
    var configuration = KafkaConfiguration(bootstrapServers: broker.bootstrapServers)
    configuration.logger = .standardError(minimumLevel: settings.logLevel)
    configuration.properties = settings.properties
    let common = configuration
    Console.err("demo: embedded broker at \(broker.bootstrapServers)")

    let (planner, measured) = try measuredPlanner()

    // The workload, sized to what this machine's cores can serve (emulated, the rates given).
    let sizing = DemoSizing(planner: planner, appCount: settings.appCount, rates: Self.rateMix)
    // Autoscaled, up to three times the workload (as much as the cores serve), so that the CPU
    // pool needs more than one one-slot replica where this machine allows.
    // With a diurnal shape, its peak (1.7×) is what the cores serve.
    let peak = settings.shape == .diurnal ? 1.7 : 1
    let rateScale =
      settings.rateScale
      ?? (settings.emulate != nil
        ? 1 : sizing.largestScale(upTo: settings.autoscale ? 3 : 1) / peak)
    let apps = sizing.apps(scale: rateScale)
    let slots = sizing.cpuSlots(for: apps)
    if settings.emulate == nil {
      Console.err(
        sizing.describe(apps: apps, scale: rateScale, chosen: settings.rateScale == nil))
    }
    let baseline = try planner.plan(apps, algorithm: .batch)

    if settings.processes {
      return try await runAsProcesses(
        broker: broker, common: common, topics: topics, planner: planner, apps: apps,
        cpuSlots: slots.count, baseline: baseline)
    }

    // The services, each on a thread of its own, all in this process.
    guard let encoder = measured else { throw RunFailure("--emulate needs --processes") }
    let log = ServiceLog()
    var groupSettings = ServiceGroup.Settings()
    groupSettings.metricsPort = settings.metricsPort
    let telemetry = groupSettings.telemetry
    var control = ControllerService.Settings(prior: planner.profile, pricing: planner.pricing)
    control.core.apps = apps
    control.core.policy.period = .seconds(10)
    control.core.policy.minInterval = .seconds(20)
    control.core.rateWindow = .seconds(20)
    control.core.forecast = settings.forecast
    control.core.forecaster = RateForecaster.Settings(period: settings.day)
    control.telemetry = telemetry
    var routing = RouterService.Settings()
    routing.planner = planner
    routing.telemetry = telemetry
    var batching = BatcherService.Settings()
    batching.topics = topics
    batching.telemetry = telemetry
    var cpu = WorkerService.Settings()
    cpu.kind = .cpu
    cpu.costModel = planner.provisioner.costModel
    cpu.concurrency = slots.count
    cpu.instance = "demo-cpu-worker"
    cpu.telemetry = telemetry
    var gpu = cpu
    gpu.kind = .gpu
    gpu.concurrency = 16
    gpu.instance = "demo-gpu-worker"
    let summary = Mutex<DemoSummary?>(nil)
    let workload = ClosureService("workload") { [self] context in
      let result = try runWorkload(
        context, common: common, topics: topics, apps: apps, baseline: baseline)
      summary.withLock { $0 = result }
    }
    // Downstream first: on shutdown the workload ends first, then the pipeline from its top.
    let group = ServiceGroup(
      [
        ControllerService(common: common, settings: control, log: log.pipeline("controller")),
        WorkerService(
          common: common, settings: gpu,
          backend: try EmulatedBackend(kind: .gpu, profile: planner.profile, seed: 7),
          log: log.pipeline("gpu-worker")),
        WorkerService(
          common: common, settings: cpu, backend: MiniLMBackend(encoder: encoder),
          log: log.pipeline("cpu-worker")),
        BatcherService(common: common, settings: batching, log: log.pipeline("batcher")),
        RouterService(common: common, settings: routing, log: log.pipeline("router")),
        workload,
      ], settings: groupSettings, log: PipelineLog(service: "demo"))
    return try await Self.run(group, keepingAlive: broker, summary: summary)
  }

  /// The demo with its services as processes on `broker`: the controller, the batcher and the
  /// workers are `harmonybatch` processes given the profile and apps this demo planned with;
  /// the workload and the accounting run here.
  private func runAsProcesses(
    broker: EmbeddedBroker, common: KafkaConfiguration, topics: PipelineTopics, planner: Planner,
    apps: [App], cpuSlots: Int, baseline: Plan
  ) async throws -> Summary {
    var deploy = DemoDeployment.Settings()
    deploy.bootstrap = broker.bootstrapServers
    deploy.modelDirectory = settings.modelDirectory
    deploy.cpuSlots = cpuSlots
    deploy.autoscale = settings.autoscale
    deploy.maxReplicas =
      settings.emulate == nil
      ? [.cpu: cpuSlots, .gpu: 4] : [.cpu: settings.partitions, .gpu: settings.partitions]
    deploy.emulated = settings.emulate != nil
    deploy.properties = settings.properties
    deploy.forecastPeriod = settings.forecast ? settings.day : nil
    deploy.replicaStart = settings.replicaStart
    let processes = try DemoDeployment(settings: deploy, profile: planner.profile, apps: apps)
    Console.err(
      "demo: controller, batcher and workers as processes (logs in \(processes.directory))"
        + (settings.autoscale
          ? "; workers of one slot, one per pool at first, then as hb.scaling asks (at most "
            + (settings.emulate == nil
              ? "\(cpuSlots) CPU replicas: this machine's cores, 4 GPU: the partitions)"
              : "\(settings.partitions) per pool: the partitions)") : ""))
    let summary = Mutex<DemoSummary?>(nil)
    let workload = ClosureService("workload") { [self] context in
      try processes.start()
      defer { processes.stop() }
      let result = try runWorkload(
        context, common: common, topics: topics, apps: apps, baseline: baseline,
        deployment: processes)
      summary.withLock { $0 = result }
    }
    let group = ServiceGroup([workload], settings: .init(), log: PipelineLog(service: "demo"))
    return try await Self.run(group, keepingAlive: broker, summary: summary)
  }

  /// Waits until every process of `deployment` is ready and, when it autoscales, until its pools
  /// have the replicas hb.scaling asks for and have held them 5 s (at most 90 s in all).
  private func settle(
    _ deployment: DemoDeployment, view: ClusterView, context: ServiceContext
  ) throws {
    let deadline = ContinuousClock.now + .seconds(90)
    var quietSince = ContinuousClock.now
    while ContinuousClock.now < deadline, !context.isStopping {
      view.read(for: .milliseconds(100))
      let failures = deployment.failures
      guard failures.isEmpty else {
        throw RunFailure(failures.joined(separator: "; "))
      }
      if try deployment.follow(view.scaling, now: Date().timeIntervalSince1970) {
        quietSince = .now
      }
      let asked = !deployment.settings.autoscale || view.scaling.count >= 1
      if deployment.isReady, asked, ContinuousClock.now - quietSince >= .seconds(5) { return }
    }
    if context.isStopping { throw RunFailure("stopped before the pipeline was ready") }
    guard deployment.isReady else {
      throw RunFailure("the services were not ready within 90 s (logs in \(deployment.directory))")
    }
  }

  /// Runs the services of `group` until the workload has put its summary in `summary`.
  private static func run(
    _ group: ServiceGroup, keepingAlive broker: EmbeddedBroker,
    summary: borrowing Mutex<DemoSummary?>
  ) async throws -> Summary {
    let code = await group.run(keepingAlive: broker)
    guard var result = summary.withLock({ $0 }) else {
      throw RunFailure(
        "the demo did not finish (exit \(code)): " + group.failures.joined(separator: "; "))
    }
    result.failures = group.failures
    return Summary(text: result.text, missing: result.missing)
  }

  /// Sends the workload once every service is ready, waits for every outcome, and sums up.
  private func runWorkload(
    _ context: ServiceContext, common: KafkaConfiguration, topics: PipelineTopics, apps: [App],
    baseline: Plan, deployment: DemoDeployment? = nil
  ) throws -> DemoSummary {
    guard context.waitUntilOthersReady(timeout: .seconds(60)) else {
      if context.isStopping { throw RunFailure("stopped before the pipeline was ready") }
      throw RunFailure(
        "not ready within 60 s: \(context.othersNotReady.joined(separator: ", "))")
    }
    let view = try ClusterView(common: common, topics: topics)
    if let deployment { try settle(deployment, view: view, context: context) }
    Console.err(
      "demo: the controller published plan v1 on hb.plans; router, batcher and workers are up"
        + (deployment.map { " (replicas: \($0.replicas(.cpu)) CPU, \($0.replicas(.gpu)) GPU)" }
          ?? ""))
    let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    defer { _ = producer.close() }

    // Read every outcome as it comes.
    let outcomes = try OutcomeReader(common: common, topics: topics)
    // Warm the path up (metadata of every topic) before the measured workload.
    let warmID = "demo-warm-up"
    let warmApp = apps[apps.count - 1]
    try producer.enqueue(
      RequestRecord(
        app: warmApp.id, id: warmID, sloMs: RequestGenerator.sloMs(of: warmApp),
        payload: Array("warm up".utf8)
      ).message(topic: topics.requests))
    let warmDeadline = ContinuousClock.now + .seconds(30)
    while outcomes.poll().isEmpty || !outcomes.has(warmID), ContinuousClock.now < warmDeadline {}

    let appsByID = Dictionary(apps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    /// Sends `generator`'s requests for `duration`, showing the live view every 5 s and, on a
    /// deployment that autoscales, following hb.scaling.
    func drive(
      _ generator: inout RequestGenerator, for duration: Duration, phase: String,
      sent: inout [String: App], sentAt: inout [String: Double]
    ) throws {
      let seconds = duration.seconds
      let started = ContinuousClock.now
      var lastView = ContinuousClock.now
      while !context.isStopping {
        let elapsed = (ContinuousClock.now - started).seconds
        guard elapsed < seconds else { break }
        for request in generator.due(by: elapsed) {
          try producer.enqueue(request.message(topic: topics.requests))
          sent[request.id] = appsByID[request.app]
          sentAt[request.id] = Date().timeIntervalSince1970
        }
        _ = outcomes.poll()
        view.read(for: .milliseconds(1))
        if let deployment {
          try deployment.follow(view.scaling, now: Date().timeIntervalSince1970)
        }
        if ContinuousClock.now - lastView >= .seconds(5) {
          lastView = .now
          // The live view, as 'harmonybatch watch' shows it.
          let clear = isatty(STDOUT_FILENO) == 1 ? "\u{1B}[H\u{1B}[2J" : "\n"
          Console.out(
            clear
              + String(
                format: "demo: %@%.0f of %.0f s, %d requests sent\n", phase, elapsed, seconds,
                generator.count)
              + (deployment.map {
                "replicas: \($0.replicas(.cpu)) CPU, \($0.replicas(.gpu)) GPU\n"
              } ?? "")
              + view.render())
        }
      }
    }

    // With an autoscaled deployment: the same workload first, while the pools grow to what
    // hb.scaling asks (counted apart), until their replicas have joined.
    var warmSent: [String: App] = [:]
    var warmSentAt: [String: Double] = [:]
    if let deployment, deployment.settings.autoscale, settings.warmUp > .zero {
      Console.err(
        String(
          format:
            "demo: warm-up: the workload for %.0f s while the autoscaler brings the pools to "
            + "what hb.scaling asks (counted apart)", settings.warmUp.seconds))
      var warmGenerator = RequestGenerator(
        apps: apps, seed: settings.seed &+ 1000, idPrefix: "warm")
      try drive(
        &warmGenerator, for: settings.warmUp, phase: "warm-up ", sent: &warmSent,
        sentAt: &warmSentAt)
      let joined = ContinuousClock.now + .seconds(30)
      while !deployment.isReady, ContinuousClock.now < joined, !context.isStopping {
        view.read(for: .milliseconds(100))
        _ = outcomes.poll()
      }
    }

    // The workload: Poisson arrivals per app.
    let workloadStart = Date().timeIntervalSince1970
    Console.err(
      String(
        format: "demo: sending requests of %d apps (%.1f req/s in all) for %.0f s", apps.count,
        apps.reduce(0) { $0 + $1.rate }, settings.duration.seconds))
    var generator = RequestGenerator(
      apps: apps, shape: settings.rateShape, seed: settings.seed, idPrefix: "demo")
    var sent: [String: App] = [:]
    var sentAt: [String: Double] = [:]
    let started = ContinuousClock.now
    try drive(
      &generator, for: settings.duration, phase: "", sent: &sent, sentAt: &sentAt)
    try producer.flush()
    let drainDeadline = ContinuousClock.now + .seconds(30)
    let everything = Set(sent.keys).union(warmSent.keys)
    while !everything.isSubset(of: outcomes.ids), ContinuousClock.now < drainDeadline {
      _ = outcomes.poll()
    }
    // The plan in force at the end (the controller re-plans as it learns rates and latencies),
    // and the feedback of every batch that produced a result (it is published with the results).
    view.catchUp()
    let results = outcomes.outcomes.values.filter { $0.kind == .result }.count
    let feedbackDeadline = ContinuousClock.now + .seconds(10)
    while view.billed.requests < results, ContinuousClock.now < feedbackDeadline {
      view.read(for: .milliseconds(50))
    }
    guard let plan = view.plan else {
      throw RunFailure("no plan appeared on hb.plans: the controller did not publish one")
    }
    var summary = DemoSummary(
      apps: apps, sent: sent, outcomes: outcomes.outcomes, plan: plan, baseline: baseline,
      seconds: (ContinuousClock.now - started).seconds, failures: [],
      versions: view.versions, workloadStart: workloadStart, pools: view.renderPools(),
      billed: view.billed)
    summary.endedTwice = outcomes.endedTwice.count
    summary.endedTwiceExamples = outcomes.endedTwiceExamples()
    if let deployment {
      summary.deployment = Self.deploymentLines(
        deployment, workloadStart: workloadStart, sent: sent, sentAt: sentAt,
        warmUp: warmSent, warmSentAt: warmSentAt, outcomes: outcomes.outcomes)
    }
    if let shape = settings.rateShape {
      summary.shaped = Self.shapeLines(
        shape, duration: settings.duration.seconds, forecast: settings.forecast,
        replicaStart: settings.replicaStart,
        arrivals: sent.keys.compactMap { id in
          sentAt[id].map { ($0 - workloadStart, outcomes.outcomes[id]?.sloMet == true) }
        })
    }
    return summary
  }

  /// The summary's lines on a shaped workload: the SLO attainment over the run, in its ramps,
  /// and from the second day on (all of it and its ramps) when the run is longer than a day —
  /// the figures `simulate --closed-loop --shape` gives, on the real pipeline.
  static func shapeLines(
    _ shape: RateShape, duration: Double, forecast: Bool, replicaStart: Duration,
    arrivals: [(at: Double, met: Bool)]
  ) -> [String] {
    let ramps = shape.ramps(over: duration)
    let day = shape.day.seconds
    func inRamps(_ at: Double) -> Bool { ramps.contains { at >= $0.from && at < $0.to } }
    func figure(_ name: String, _ include: (Double) -> Bool) -> String {
      let chosen = arrivals.filter { include($0.at) }
      let met = chosen.filter(\.met).count
      return String(
        format: "%@ %.2f %% (%d of %d)", name,
        chosen.isEmpty ? 100 : Double(met) / Double(chosen.count) * 100, met, chosen.count)
    }
    var figures = [figure("over the run", { _ in true }), figure("in the ramps", inRamps)]
    if duration > day {
      figures.append(figure("from the second day", { $0 >= day }))
      figures.append(figure("in its ramps", { $0 >= day && inRamps($0) }))
    }
    return [
      String(
        format: "workload shape %@ (a day of %.0f s), forecast %@, replicas serving %.0f s "
          + "after they are started",
        shape.shape.rawValue, day, forecast ? "on" : "off", replicaStart.seconds),
      "within SLO: " + figures.joined(separator: "; "),
    ]
  }

  /// The summary's lines on a deployment of processes: the replicas over time and, after the
  /// last change, how many requests met their SLO.
  static func deploymentLines(
    _ deployment: DemoDeployment, workloadStart: Double, sent: [String: App],
    sentAt: [String: Double], warmUp: [String: App], warmSentAt: [String: Double],
    outcomes: [String: OutcomeReader.Outcome]
  ) -> [String] {
    var lines = [
      "services as processes (logs in \(deployment.directory))"
        + (deployment.settings.autoscale
          ? "; one-slot workers autoscaled from hb.scaling" : ""),
      "replicas over time (s from the workload's start): "
        + deployment.history(since: workloadStart),
    ]
    guard deployment.settings.autoscale else { return lines }
    if !warmUp.isEmpty {
      let within = warmUp.keys.filter { outcomes[$0]?.sloMet == true }.count
      let ended = warmUp.keys.filter { outcomes[$0] != nil }.count
      lines.append(
        String(
          format:
            "warm-up (before the workload, while the pools scaled): %d requests, %d ended, "
            + "%.2f %% within SLO", warmUp.count, ended,
          Double(within) / Double(warmUp.count) * 100))
    }
    let lastChange = deployment.changes.map(\.time).max() ?? workloadStart
    let last = lastChange - workloadStart
    let after = sent.keys.filter { (sentAt[$0] ?? 0) >= lastChange }
    let within = after.filter { outcomes[$0]?.sloMet == true }.count
    var perApp: [String: (Int, Int)] = [:]
    for id in after {
      guard let app = sent[id]?.id else { continue }
      perApp[app, default: (0, 0)].0 += outcomes[id]?.sloMet == true ? 1 : 0
      perApp[app, default: (0, 0)].1 += 1
    }
    let worst = perApp.map { ($0.key, Double($0.value.0) / Double(max(1, $0.value.1))) }
      .min { $0.1 < $1.1 }
    lines.append(
      String(
        format:
          "after the last replica change (%+.1f s): %d of %d requests within SLO (%.2f %%); "
          + "the lowest app %@ at %.2f %%",
        last, within, after.count,
        after.isEmpty ? 100 : Double(within) / Double(after.count) * 100, worst?.0 ?? "-",
        (worst?.1 ?? 1) * 100))
    // From when on every app kept 99.5 % within SLO (warm-up and workload together).
    var arrivals: [(app: String, at: Double, met: Bool)] = []
    for (ids, times) in [(sent, sentAt), (warmUp, warmSentAt)] {
      for (id, app) in ids {
        guard let at = times[id] else { continue }
        arrivals.append((app.id, at, outcomes[id]?.sloMet == true))
      }
    }
    if let back = Self.backWithinSLO(arrivals, from: lastChange) {
      lines.append(
        String(
          format:
            "every app within SLO (99.5 %% of its requests from then on) %.0f s after the last "
            + "replica change", back))
    } else {
      lines.append("not every app was back to 99.5 % within SLO by the end of the run")
    }
    return lines
  }

  /// The fewest whole seconds after `from` from which on every app had at least `target` of its
  /// requests (by arrival) within SLO; nil when no such second came before the last arrival.
  static func backWithinSLO(
    _ arrivals: [(app: String, at: Double, met: Bool)], from: Double, target: Double = 0.995
  ) -> Double? {
    let later = arrivals.filter { $0.at >= from }
    guard let end = later.map(\.at).max() else { return 0 }
    let seconds = Int((end - from).rounded(.down)) + 1
    // Per app and second: requests and those within SLO; then suffix sums.
    var counts: [String: [(all: Int, met: Int)]] = [:]
    for arrival in later {
      let second = min(seconds - 1, Int(arrival.at - from))
      counts[arrival.app, default: Array(repeating: (0, 0), count: seconds)][second].all += 1
      if arrival.met {
        counts[arrival.app, default: Array(repeating: (0, 0), count: seconds)][second].met += 1
      }
    }
    var suffix = counts.mapValues { _ in (all: 0, met: 0) }
    var earliest: Int?
    for second in stride(from: seconds - 1, through: 0, by: -1) {
      for (app, perSecond) in counts {
        suffix[app]!.all += perSecond[second].all
        suffix[app]!.met += perSecond[second].met
      }
      let holds = suffix.values.allSatisfy {
        $0.all == 0 || Double($0.met) >= target * Double($0.all)
      }
      if holds { earliest = second }
    }
    return earliest.map(Double.init)
  }
}

/// The services' log lines: shown when they warn (the demo prints its own story).
public struct ServiceLog {
  public func pipeline(_ service: String) -> PipelineLog {
    PipelineLog(service: service, minimumLevel: .warning) { Console.err($0) }
  }
}
