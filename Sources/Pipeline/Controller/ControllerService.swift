import Foundation
import Kafka
import Planner

/// The controller: reads the routers' reports (hb.rates) and the workers' feedback (hb.feedback),
/// estimates each app's rate, refits the latency model, re-plans when the `ReplanPolicy` says so,
/// and publishes a new plan version on hb.plans when it is worth it.
public struct ControllerService: Sendable {
  public struct Settings: Sendable {
    public var topics = PipelineTopics()
    public var groupID = "hb-controller"
    public var prior: ModelProfile
    public var pricing: PricingPreset
    public var algorithm = Planner.Algorithm.optimal
    /// Apps known before any traffic (ids, SLOs, expected rates).
    public var apps: [App] = []
    public var policy = ReplanPolicy()
    public var rateWindow = 60.0
    /// How often the controller looks at its estimates.
    public var tickSeconds = 1.0
    /// The pipeline's own overhead after a flush (to the worker, and the result back), taken off
    /// every SLO before planning; replaced by the 99th percentile of what feedback measures once
    /// there are 20 batches of it.
    public var overheadMs = 25.0

    public init(prior: ModelProfile, pricing: PricingPreset) {
      self.prior = prior
      self.pricing = pricing
    }
  }

  public let common: KafkaConfiguration
  public let settings: Settings
  public let log: PipelineLog

  public init(common: KafkaConfiguration, settings: Settings, log: PipelineLog) {
    self.common = common
    self.settings = settings
    self.log = log
  }

  public func run(stop: StopFlag) throws {
    let clock = PipelineClock()
    var configuration = KafkaConsumerConfiguration(common: common, groupID: settings.groupID)
    configuration.autoOffsetReset = .latest
    let consumer = try KafkaConsumer(configuration: configuration)
    defer { consumer.close() }
    try consumer.subscribe(topics: [settings.topics.rates, settings.topics.feedback])
    let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    defer { _ = producer.close() }
    let follower = try PlanFollower(common: common, topic: settings.topics.plans, log: log)
    var current = follower.catchUp()
    var version = current?.version ?? 0
    var rates = RateEstimator(window: settings.rateWindow)
    var refit = LatencyRefit(prior: settings.prior)
    var policy = settings.policy
    var ratesAtAdoption: [String: Double] = [:]
    var overheads: [Double] = []
    var groupOverheads: [String: [Double]] = [:]
    var known = Dictionary(
      settings.apps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    var lastTick = clock.now()
    let decoder = JSONDecoder()
    log.info(
      "controller: \(settings.prior.name) profile, \(settings.pricing.name) pricing, "
        + "\(settings.algorithm.rawValue) planner; current plan v\(version)")
    while !stop.isSet {
      if let event = try consumer.poll(timeoutMs: 100), case .record(let record) = event {
        let value = Data(record.value ?? [])
        if record.topic == settings.topics.rates,
          let report = try? decoder.decode(RatesMessage.self, from: value)
        {
          for (app, count) in report.apps {
            rates.record(
              app: app, count: count.requests, from: report.windowStartMs / 1000,
              to: report.windowEndMs / 1000)
            if known[app] == nil {
              known[app] = App(id: app, slo: count.sloMs / 1000, rate: 0)
              log.info("new app \(app) (SLO \(Int(count.sloMs)) ms)")
            }
          }
        } else if record.topic == settings.topics.feedback,
          let feedback = try? decoder.decode(FeedbackMessage.self, from: value),
          feedback.batchSize > 0
        {
          refit.observe(
            .init(
              function: feedback.function, batch: feedback.batchSize,
              seconds: feedback.inferenceSeconds))
          let measured = max(
            0, feedback.finishedMs - feedback.flushedMs - feedback.inferenceSeconds * 1000)
          overheads.append(measured)
          if overheads.count > 500 { overheads.removeFirst(overheads.count - 500) }
          let key = "\(feedback.planVersion)/\(feedback.group)"
          groupOverheads[key, default: []].append(measured)
          if groupOverheads[key]!.count > 200 { groupOverheads[key]!.removeFirst() }
        }
      }
      let now = clock.now()
      guard now - lastTick >= settings.tickSeconds else { continue }
      lastTick = now
      rates.prune(now: now)
      let observed = rates.rates(now: now)
      // Plan against what is left of each SLO once the pipeline has taken its share: per app, the
      // overhead measured on the group that serves it now, else the pipeline's as a whole.
      let overhead = Self.overhead(overheads, default: settings.overheadMs)
      func overheadMs(of app: String) -> Double {
        guard let group = current?.group(of: app)?.id,
          let samples = groupOverheads["\(current?.version ?? 0)/\(group)"]
        else {
          return overhead
        }
        return Self.overhead(samples, default: overhead)
      }
      let apps = known.values.map { app in
        App(
          id: app.id, slo: max(0.001, app.slo - overheadMs(of: app.id) / 1000),
          rate: observed[app.id] ?? app.rate)
      }.sorted { $0.id < $1.id }
      guard !apps.isEmpty else { continue }
      let profile = refit.profile()
      let error = refit.predictionError(of: profile)
      guard let trigger = policy.trigger(now: now, rates: observed, predictionError: error) else {
        continue
      }
      policy.evaluated(now: now, rates: observed)
      let planner = Planner(profile: profile, pricing: settings.pricing)
      var candidate: Plan
      do {
        candidate = try planner.plan(apps, algorithm: settings.algorithm)
      } catch {
        log.warning("cannot plan: \(error)")
        continue
      }
      let provisioner = planner.provisioner
      // Both plans re-costed under the new rates, and under the rates the current plan was
      // adopted for (the policy's guard against flapping).
      let before = apps.map { App(id: $0.id, slo: $0.slo, rate: ratesAtAdoption[$0.id] ?? $0.rate) }
      guard
        let reason = policy.adopt(
          candidate: candidate, current: current, trigger: trigger,
          currentCost: current.map { PlanCost.of($0, apps: apps, provisioner: provisioner) },
          candidateCost: PlanCost.of(candidate, apps: apps, provisioner: provisioner),
          currentCostBefore: current.map {
            PlanCost.of($0, apps: before, provisioner: provisioner)
          },
          candidateCostBefore: PlanCost.of(candidate, apps: before, provisioner: provisioner))
      else {
        log.log(.debug, "re-planned (\(trigger.rawValue)); keeping plan v\(version)")
        continue
      }
      version += 1
      candidate.version = version
      candidate.createdAt = ISO8601DateFormatter().string(from: Date())
      candidate.feedbackBatches = refit.observations
      candidate.predictionError = error
      candidate.reason =
        "\(trigger.rawValue): \(reason); SLOs less the pipeline's overhead (\(Int(overhead.rounded())) ms overall)"
      try producer.enqueue(
        KafkaProducerMessage(
          topic: settings.topics.plans, key: Array("plan".utf8),
          value: Array(candidate.jsonData(pretty: false))))
      try producer.flush(timeoutMs: 10_000)
      current = candidate
      ratesAtAdoption = Dictionary(uniqueKeysWithValues: apps.map { ($0.id, $0.rate) })
      log.info(
        "published plan v\(version) (\(candidate.groups.count) groups, "
          + String(format: "%.4e %@/request", candidate.objective, candidate.currency)
          + "): \(candidate.reason ?? "")")
    }
    log.info("stopped at plan v\(version)")
  }

  /// The 99th percentile of the measured overheads (ms), or the default before 20 batches.
  static func overhead(_ samples: [Double], default fallback: Double) -> Double {
    guard samples.count >= 20 else { return fallback }
    let sorted = samples.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
  }
}
