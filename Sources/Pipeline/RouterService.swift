import Foundation
import Kafka
import PipelineCore
import Planner

/// The router stage: a consumer-group member on hb.requests that validates every request, tags it
/// with its group under the current plan and re-publishes it on hb.grouped keyed by group id, so
/// every request of a group reaches the same batcher. Bad records go to hb.dead-letter. Every
/// `reportInterval` it publishes what it saw on hb.rates for the controller.
public struct RouterService: PipelineService {
  /// The service is named after its log (`router`, `cpu-worker`, …).
  public var name: String { log.service }

  public struct Settings: Sendable {
    public var topics = PipelineTopics()
    public var groupID = "hb-router"
    public var maxPayloadBytes = RequestRouter.defaultMaxPayloadBytes
    /// Reply topics must start with this (`--reply-topic-prefix`; nil: any allowed name).
    public var replyTopicPrefix: String?
    /// Whether replies may go to topics that do not exist yet (which a broker that creates topics
    /// on first use then creates). Off: a reply to a topic the cluster lacks is not sent
    /// (`ReplyTopics`).
    public var createReplyTopics = false
    /// How often the router reports what it saw on hb.rates (`batcher --report-interval-ms`).
    /// Default: `defaultReportInterval`.
    public var reportInterval = defaultReportInterval
    /// A fixed plan (`--plan FILE`); otherwise plans are read from the plan topic.
    public var fixedPlan: Plan?
    /// Provisions apps the plan does not cover (they are served alone until it does).
    public var planner: Planner?
    public var instance = ProcessInfo.processInfo.hostName + "-\(getpid())"
    /// Where the router counts what it does for `GET /metrics` (nil: nowhere).
    public var telemetry: MetricsRegistry?
    /// `reportInterval` when none is given.
    /// Default: 1 s.
    public static let defaultReportInterval: Duration = .seconds(1)

    public init() {}
  }

  public let common: KafkaConfiguration
  public let settings: Settings
  public let log: PipelineLog

  public init(common: KafkaConfiguration, settings: Settings, log: PipelineLog) {
    self.common = common
    self.settings = settings
    self.log = log
  }

  /// Runs until `stop` is set, then finishes what it read, commits and leaves the group. Blocks the
  /// calling thread. Throws when the broker refuses output for good (nothing past it is committed).
  public func run(_ context: ServiceContext) throws {
    let stop = context.stop
    let clock = PipelineClock()
    let io = try StageIO(
      common: common, groupID: settings.groupID, input: settings.topics.requests, log: log,
      pollBatch: 256)
    if !settings.createReplyTopics { io.replyTopics = try ReplyTopics(common: common, log: log) }
    let follower =
      settings.fixedPlan == nil
      ? try PlanFollower(common: common, topic: settings.topics.plans, log: log) : nil
    var plan = settings.fixedPlan ?? follower?.catchUp()
    // Asked once per record: a Bool, not `plan != nil` (which copied the whole plan out and back).
    var hasPlan = plan != nil
    var router = RequestRouter(
      table: RoutingTable(plan: plan, planner: soloPlanner(for: plan)), topics: settings.topics,
      maxPayloadBytes: settings.maxPayloadBytes)
    router.replyTopicPrefix = settings.replyTopicPrefix
    describe(plan)
    var lastReport = clock.now()
    var lastFutureReport = -Double.infinity
    var ledger = RecoveryLedger()
    var routed = 0
    // Counted per request, handed to the metrics once per report interval (not per request).
    var pending = PendingCounts()
    var rejected = 0
    try io.run {
      while !stop.isSet {
        if let follower, let newer = follower.next() {
          plan = newer
          hasPlan = true
          router.table = RoutingTable(plan: newer, planner: soloPlanner(for: newer))
          describe(newer)
        }
        // Ready: in the group, with a plan to route by.
        if io.hasJoined, hasPlan { context.ready() }
        context.clusterReachable(!io.clusterUnhealthy)
        let record = try io.nextRecord(
          timeoutMs: 50, onRevoke: { ledger.forget($0) },
          onAssign: { (partitions) throws(KafkaError) in
            ledger.merge(
              try io.recover(
                partitions, common: common,
                outputs: [settings.topics.grouped, settings.topics.deadLetter],
                sources: RecoveryLedger.sourceHeader))
          })
        if let record {
          // (The ledger is empty but after a restart: no coordinates built per record then.)
          if !ledger.isEmpty, ledger.take(record.coordinates) != nil {
            // Routed before a restart, not committed: done already.
            io.settle(record.topicPartition, offset: record.offset)
            try io.advanceOffsetsPeriodically()
            continue
          }
          switch router.route(record, nowMs: clock.nowMs()) {
          case .grouped(let message, let grouped):
            try io.produce(message, source: record.topicPartition, offset: record.offset)
            routed += 1
            if settings.telemetry != nil { pending.routed[grouped.app, default: 0] += 1 }
          case .deadLetter(let message, let code, let reply):
            try io.produce(
              [message], replies: reply.map { [$0] } ?? [],
              sources: [(record.topicPartition, record.offset)])
            rejected += 1
            if settings.telemetry != nil { pending.rejected[code, default: 0] += 1 }
            log.log(.debug, "dead letter \(code.rawValue) for \(record.coordinates)")
          }
        }
        try io.advanceOffsetsPeriodically()
        let now = clock.now()
        if now - lastFutureReport >= 30, router.futureArrivals.count > 0 {
          let future = router.takeFutureArrivals()
          log.warning(
            "\(future.count) requests had a CreateTime ahead of this router's clock (up to "
              + "\(future.aheadMs) ms); each arrival was taken as the time it was read")
          lastFutureReport = now
        }
        if now - lastReport >= settings.reportInterval.seconds {
          try publishReport(&router, io: io, from: lastReport, to: now)
          pending.flush(to: settings.telemetry)
          lastReport = now
        }
      }
      try publishReport(&router, io: io, from: lastReport, to: clock.now())
      pending.flush(to: settings.telemetry)
    } stopped: {
      log.info("stopped: \(routed) requests routed, \(rejected) dead letters")
    }
  }

  private func publishReport(
    _ router: inout RequestRouter, io: StageIO, from: Double, to: Double
  ) throws {
    if let lag = io.consumer.lag() {
      settings.telemetry?.set(.consumerLag, Double(lag), labels: ["group": settings.groupID])
    }
    let report = router.takeReport()
    guard !report.isEmpty else { return }
    let body = RatesMessage(
      router: settings.instance, planVersion: router.table.version,
      windowStartMs: (from * 1000).rounded(), windowEndMs: (to * 1000).rounded(),
      apps: report.apps, rejected: report.rejected)
    let unplanned = report.apps.filter { !$0.value.planned }.keys.sorted()
    if !unplanned.isEmpty {
      log.info(
        "serving apps the plan does not cover, each alone: "
          + unplanned.prefix(10).joined(separator: ", ")
          + (unplanned.count > 10 ? " and \(unplanned.count - 10) more" : ""))
    }
    try io.produce(
      KafkaProducerMessage(
        topic: settings.topics.rates, key: Array(settings.instance.utf8),
        value: try body.json()),
      sources: [])
  }

  /// What provisions apps the plan does not cover: the planner given, else one on the plan's own
  /// model and pricing when they are built in (so unplanned apps are served alone whether the
  /// router was given a profile or follows the controller's plans).
  private func soloPlanner(for plan: Plan?) -> Planner? {
    if let planner = settings.planner { return planner }
    guard let plan, ModelProfile.builtInNames.contains(plan.model) else { return nil }
    return try? Planner(model: plan.model, pricing: plan.pricing)
  }

  private func describe(_ plan: Plan?) {
    settings.telemetry?.set(.planVersion, Double(plan?.version ?? 0))
    guard let plan else {
      log.info(
        settings.planner == nil
          ? "no plan yet and no profile: requests go to the dead letter (unplanned-app) until a "
            + "plan arrives; they are reported on \(settings.topics.rates) so the controller plans them"
          : "no plan yet: every app is served alone until one arrives")
      return
    }
    log.info(
      "following plan v\(plan.version ?? 0) (\(plan.algorithm), \(plan.groups.count) groups, "
        + "\(plan.groups.reduce(0) { $0 + $1.apps.count }) apps)")
  }
}

/// What the router counted since it last handed counts to the metrics registry.
private struct PendingCounts {
  var routed: [String: Int] = [:]
  var rejected: [ReasonCode: Int] = [:]

  mutating func flush(to telemetry: MetricsRegistry?) {
    guard let telemetry else { return }
    for (app, count) in routed {
      telemetry.add(.requestsRouted, Double(count), labels: ["app": app])
    }
    for (code, count) in rejected {
      telemetry.add(
        .deadLetters, Double(count), labels: ["stage": "router", "reason": code.rawValue])
    }
    routed.removeAll(keepingCapacity: true)
    rejected.removeAll(keepingCapacity: true)
  }
}
