import Foundation
import Kafka
import PipelineCore
import Planner

/// The controller service: the Kafka shell around `ControllerCore`. It reads the routers'
/// reports (hb.rates), the workers' feedback (hb.feedback) and reports (hb.workers), hands them
/// to the core with the time, ticks it every `tick`, and executes what it decides:
/// plans on the compacted hb.plans (one key), scaling recommendations on hb.scaling (keyed by
/// pool), log lines.
public struct ControllerService: PipelineService {
  /// The service is named after its log (`router`, `cpu-worker`, …).
  public var name: String { log.service }

  public struct Settings: Sendable {
    public var topics = PipelineTopics()
    public var groupID = "hb-controller"
    /// What the core decides with (the topics are set from `topics`).
    public var core: ControllerCore.Settings
    /// How often the controller looks at its estimates.
    /// Default: `defaultTick`.
    public var tick = defaultTick
    /// Where the controller counts the plans it publishes for `GET /metrics` (nil: nowhere).
    public var telemetry: MetricsRegistry?

    /// `tick` when none is given.
    /// Default: 1 s.
    public static let defaultTick: Duration = .seconds(1)

    public init(prior: ModelProfile, pricing: PricingPreset) {
      core = ControllerCore.Settings(prior: prior, pricing: pricing)
    }
  }

  /// How long a controller that stopped answering keeps the lease (the lease group's session
  /// timeout): a standby takes over within about this long, plus a rebalance.
  /// Default: 6 s.
  public static let leaseSessionTimeout: Duration = .seconds(6)

  public let common: KafkaConfiguration
  public let settings: Settings
  public let log: PipelineLog
  /// How often the rate forecast's error is set on `/metrics` (with the forecast on).
  static let forecastMetricsInterval = Duration.seconds(10)

  public init(common: KafkaConfiguration, settings: Settings, log: PipelineLog) {
    self.common = common
    self.settings = settings
    self.log = log
  }

  public func run(_ context: ServiceContext) throws {
    let stop = context.stop
    let clock = PipelineClock()
    let topics = settings.topics
    let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    defer { _ = producer.close(timeoutMs: 5000) }
    let watch = ClusterWatch(producer: producer, timeout: common.unreachableTimeout, log: log)
    defer { watch.stop() }
    var coreSettings = settings.core
    coreSettings.topics = topics
    // Who this is on the plan topic: new for every process, so that a plan in force that another
    // wrote (an earlier controller, a late one, any other producer) is told from its own.
    let writer =
      "controller@\(ProcessInfo.processInfo.hostName)/\(getpid())/"
      + String(UInt32.random(in: .min ... .max), radix: 16)
    coreSettings.writer = writer
    let own = OwnPlans()
    let follower = try PlanFollower(common: common, topic: topics.plans, log: log)
    follower.catchUp()
    // One controller writes plans at a time: the holder of the lease. The others stand by.
    let lease = try ControllerLease(
      common: common, group: settings.groupID + "-lease", topic: topics.plans, log: log)
    defer { lease.close() }
    log.info(
      "controller \(writer): \(coreSettings.prior.name) profile, \(coreSettings.pricing.name) "
        + "pricing, \(coreSettings.algorithm.rawValue) planner; plan in force "
        + "v\(follower.latest?.version ?? 0); waiting for the lease (group "
        + "\(settings.groupID)-lease on \(topics.plans))")
    // Ready once it has read the plan in force: active or standing by, it serves its role.
    context.ready()
    var active: (core: ControllerCore, consumer: KafkaConsumer, lastTick: Double)?
    var lastForecastMetrics = -Double.infinity
    defer { active?.consumer.close() }
    let decoder = JSONDecoder()
    while !stop.isSet {
      let holds = try lease.poll(timeout: active == nil ? .milliseconds(100) : .zero)
      if holds, active == nil {
        // Taking over (or starting): from the plan in force, which it publishes again as its own
        // at once, so that the routers follow a plan of the controller in charge.
        follower.next()
        var core = ControllerCore(settings: coreSettings)
        if let found = follower.latest {
          core.resume(from: found)
          if !own.wrote(found) {
            try execute(
              core.reassert(
                "taking over from \(found.writer ?? "a writer that gave no name") "
                  + "(plan v\(found.version ?? 0))", now: clock.now()),
              producer: producer, own: own)
          }
        }
        var configuration = KafkaConsumerConfiguration(common: common, groupID: settings.groupID)
        configuration.autoOffsetReset = .latest
        let consumer = try KafkaConsumer(configuration: configuration)
        try consumer.subscribe(
          topics: [topics.rates, topics.feedback, topics.workers, topics.late])
        active = (core, consumer, clock.now())
        log.info("active from plan v\(core.version)")
      } else if !holds, let current = active {
        current.consumer.close()
        active = nil
      }
      guard var current = active else {
        // Standing by: follow the plan in force, publish nothing.
        follower.next()
        try watch.check()
        continue
      }
      for event in try current.consumer.poll(maxEvents: 256, timeoutMs: 100) {
        guard case .record(let record) = event else { continue }
        let value = Data(record.value ?? [])
        do {
          switch record.topic {
          case topics.rates:
            try execute(
              current.core.receive(rates: decoder.decode(RatesMessage.self, from: value)),
              producer: producer, own: own)
          case topics.feedback:
            current.core.receive(feedback: try decoder.decode(FeedbackMessage.self, from: value))
          case topics.late:
            if let app = record.headerText(HeaderName.app) ?? record.keyString,
              let reason = record.headerText(HeaderName.lateReason)
            {
              current.core.receive(
                late: app, reason: reason,
                lateBy: record.headerText(HeaderName.lateBy).flatMap(Double.init).flatMap {
                  Duration(wireMilliseconds: $0)
                },
                at: clock.now())
            }
          case topics.workers:
            current.core.receive(
              workers: try decoder.decode(WorkerReport.self, from: value), at: clock.now())
          default: break
          }
        } catch let error as DecodingError {
          current.core.refuse(
            String(record.topic.dropFirst(topics.prefix.count)),
            detail:
              "\(record.coordinates) is not valid JSON of its schema (\(error.localizedDescription))"
          )
        }
      }
      let now = clock.now()
      if now - current.lastTick >= settings.tick.seconds {
        current.lastTick = now
        try watch.check()
        // A plan in force that this controller did not write (one that held the lease before
        // and published late, any producer with write access to the plan topic): the routers
        // follow it until this controller's own plan is on the topic again, so it is, at once.
        if let found = follower.next(), !own.wrote(found), try lease.poll(timeout: .zero) {
          log.warning(
            "plan v\(found.version ?? 0) on \(topics.plans) was written by "
              + "\(found.writer ?? "a writer that gave no name"), not by this controller; "
              + "publishing this controller's plan again")
          try execute(
            current.core.reassert(
              "plan v\(found.version ?? 0) by \(found.writer ?? "an unnamed writer") was in force",
              now: now), producer: producer, own: own)
        }
        // The lease is looked at once more right before anything is published.
        if try lease.poll(timeout: .zero) {
          try execute(current.core.tick(now: now), producer: producer, own: own)
        }
        if let telemetry = settings.telemetry, current.core.settings.forecast,
          now - lastForecastMetrics >= Self.forecastMetricsInterval.seconds
        {
          lastForecastMetrics = now
          for (app, error) in current.core.forecastErrorsAhead {
            guard let wape = error.weightedPercentage else { continue }
            telemetry.set(.rateForecastError, wape, labels: ["app": app])
          }
        }
      }
      active = current
    }
    log.info("stopped at plan v\(active?.core.version ?? follower.latest?.version ?? 0)")
  }

  private func execute(
    _ directives: [ControllerCore.Directive], producer: KafkaProducer, own: OwnPlans
  ) throws {
    for directive in directives {
      switch directive {
      case .publishPlan(let plan):
        // The core adopts only a plan it could write (a reasserted one differs in its version and
        // strings only), so this does not fail; if it did, nothing empty would be published.
        let value: Data
        do {
          value = try plan.jsonData(pretty: false)
        } catch {
          log.error(
            "plan v\(plan.version ?? 0) cannot be written as JSON "
              + "(\(error.summary)); not published")
          settings.telemetry?.add(
            .messageErrors,
            labels: ["stage": "controller", "message": "plan", "direction": "encode"])
          continue
        }
        if let telemetry = settings.telemetry {
          let trigger = plan.reason.map { String($0.prefix { $0 != ":" }) } ?? "unknown"
          telemetry.add(.plansPublished, labels: ["trigger": trigger])
          telemetry.set(.planVersion, Double(plan.version ?? 0))
          telemetry.set(.planCost, plan.billedObjective ?? plan.objective)
        }
        own.published(plan)
        // Partition 0: the one every reader takes the plan in force from (`PlanLog`).
        try producer.enqueue(
          KafkaProducerMessage(
            topic: settings.topics.plans, partition: 0, key: Array("plan".utf8),
            value: Array(value)))
        // A broker out of reach for a while is not fatal (the cluster watch decides when it has
        // been too long): the plan stays queued, in order, until the broker takes it.
        do {
          try producer.flush(timeoutMs: 10_000)
        } catch {
          log.warning(
            "plan v\(plan.version ?? 0) not acknowledged yet (\(error.message)); it is sent when "
              + "the broker answers")
        }
      case .publishScaling(let recommendations):
        for recommendation in recommendations {
          try producer.enqueue(
            KafkaProducerMessage(
              topic: settings.topics.scaling, key: Array(recommendation.group.utf8),
              value: try recommendation.messageJSON()))
        }
      case .log(let level, let message):
        log.log(level, message)
      }
    }
  }
}

/// The plans this controller published lately: a plan in force is its own only when it is one of
/// them, record for record — a writer name alone can be copied.
private final class OwnPlans {
  private var recent: [Plan] = []

  func published(_ plan: Plan) {
    recent.append(plan)
    if recent.count > 64 { recent.removeFirst(recent.count - 64) }
  }

  func wrote(_ plan: Plan) -> Bool { recent.contains(plan) }
}
