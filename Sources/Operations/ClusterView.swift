import Foundation
import Kafka
import Pipeline
import PipelineCore
import Planner

/// What `watch` has read so far.
public final class ClusterView: @unchecked Sendable {
  public struct AppStats {
    public var latencies: [Double] = []
    public var published: [Double] = []
    public var results = 0
    public var met = 0
    public var late = 0
    public var dead = 0

    public mutating func add(_ result: ResultMessage) {
      results += 1
      if result.sloMet { met += 1 }
      latencies.append(result.latencyMs)
      published.append(result.publishedMs)
      if latencies.count > 5000 { latencies.removeFirst(1000) }
      if published.count > 5000 { published.removeFirst(1000) }
    }
  }

  public struct GroupStats {
    public var batches = 0
    public var inference: [Double] = []
    public var transport: [Double] = []
    public var queueing: [Double] = []
    public var predictedMaxMs = 0.0
    public var cost = 0.0
    public var requests = 0
    public var backend = ""

    public mutating func add(_ feedback: FeedbackMessage) {
      batches += 1
      inference.append(feedback.inferenceSeconds * 1000)
      if inference.count > 2000 { inference.removeFirst(500) }
      let delays = feedback.delays
      transport.append(delays.transport * 1000)
      if transport.count > 2000 { transport.removeFirst(500) }
      queueing.append(delays.queueing * 1000)
      if queueing.count > 2000 { queueing.removeFirst(500) }
      predictedMaxMs = feedback.predictedMaxMs
      cost += feedback.billedCost ?? 0
      requests += feedback.batchSize
      backend = feedback.backend + (feedback.emulated ? " (emulated)" : "")
    }
  }

  private let consumer: KafkaConsumer
  private let topics: PipelineTopics
  private(set) var plan: Plan?
  /// Every plan version seen, oldest first.
  private(set) var versions: [Plan] = []
  /// The latest report of every worker (by pool and instance), and the controller's latest
  /// recommendation per pool.
  private(set) var workers: [String: WorkerReport] = [:]
  /// The latest recommendation of each pool seen on hb.scaling.
  public private(set) var scaling: [String: ScalingRecommendation] = [:]
  private(set) var billed = (cost: 0.0, requests: 0)
  private var apps: [String: AppStats] = [:]
  private var groups: [String: GroupStats] = [:]
  private var partitions: Set<KafkaTopicPartition> = []

  public init(common: KafkaConfiguration, topics: PipelineTopics) throws {
    self.topics = topics
    var configuration = KafkaConsumerConfiguration(common: common, groupID: nil)
    configuration.reportPartitionEOF = true
    configuration.fetchWaitMax = .milliseconds(50)
    consumer = try KafkaConsumer(configuration: configuration)
    let known = try KafkaAdmin(configuration: common).topics()
    var assignment: [(KafkaTopicPartition, KafkaOffset)] = []
    for topic in [
      topics.plans, topics.results, topics.feedback, topics.late, topics.deadLetter,
      topics.workers, topics.scaling,
    ] {
      for partition in 0..<Int32(known[topic] ?? 0) {
        let tp = KafkaTopicPartition(topic: topic, partition: partition)
        partitions.insert(tp)
        assignment.append((tp, .beginning))
      }
    }
    try consumer.assign(assignment)
  }

  deinit { consumer.close() }

  /// Partitions read to their end (and nothing newer seen since).
  private var atEnd = Set<KafkaTopicPartition>()

  /// Reads until every partition reached its end (at most 10 s).
  public func catchUp() {
    let deadline = ContinuousClock.now + .seconds(10)
    while atEnd != partitions, ContinuousClock.now < deadline {
      guard let event = try? consumer.poll(timeoutMs: 100) else { continue }
      handle(event)
    }
  }

  /// Reads what arrives for `duration`.
  public func read(for duration: Duration) {
    let deadline = ContinuousClock.now + duration
    while ContinuousClock.now < deadline {
      guard let event = try? consumer.poll(timeoutMs: 10) else { continue }
      handle(event)
    }
  }

  private func handle(_ event: KafkaConsumerEvent) {
    switch event {
    case .partitionEOF(let partition, _): atEnd.insert(partition)
    case .record(let record):
      atEnd.remove(record.topicPartition)
      take(record)
    default: break
    }
  }

  private func take(_ record: KafkaRecord) {
    let value = Data(record.value ?? [])
    let decoder = JSONDecoder()
    switch record.topic {
    case topics.plans:
      guard let candidate = try? Plan.decode(value) else { return }
      if !versions.contains(where: { $0.version == candidate.version }) {
        versions.append(candidate)
      }
      if (candidate.version ?? 0) >= (plan?.version ?? -1) { plan = candidate }
    case topics.results:
      guard let result = try? decoder.decode(ResultMessage.self, from: value) else { return }
      // In place (a copy out of the dictionary would copy the latency window per result).
      apps[result.app, default: AppStats()].add(result)
    case topics.feedback:
      guard let feedback = try? decoder.decode(FeedbackMessage.self, from: value) else { return }
      groups[feedback.group, default: GroupStats()].add(feedback)
      billed.cost += feedback.billedCost ?? 0
      billed.requests += feedback.batchSize
    case topics.workers:
      guard let report = try? decoder.decode(WorkerReport.self, from: value) else { return }
      workers["\(report.group)/\(report.worker)"] = report
    case topics.scaling:
      guard let recommendation = try? decoder.decode(ScalingRecommendation.self, from: value)
      else { return }
      scaling[recommendation.group] = recommendation
    case topics.late:
      apps[record.keyString ?? "?", default: AppStats()].late += 1
    default:
      let app =
        record.headers.last(where: { $0.key == HeaderName.app })?.value
        .map { String(decoding: $0, as: UTF8.self) } ?? record.keyString ?? "?"
      apps[app, default: AppStats()].dead += 1
    }
  }

  public func render() -> String {
    var lines: [String] = []
    if let plan {
      lines.append(
        "plan v\(plan.version ?? 0) · \(plan.algorithm) · \(plan.model) · \(plan.groups.count) groups · "
          + String(
            format: "%.4e %@/request expected billed", plan.billedObjective ?? plan.objective,
            plan.currency)
          + (plan.reason.map { " · \($0)" } ?? ""))
      for group in plan.groups {
        lines.append(
          "  \(group.id): \(group.apps.joined(separator: ",")) on \(group.function), batch \(group.batchSize)"
        )
      }
    } else {
      lines.append("no plan on \(topics.plans) yet")
    }
    lines.append("")
    var table = TextTable([
      ("app", .left), ("req/s (10 s)", .right), ("results", .right), ("p50 ms", .right),
      ("p99 ms", .right), ("within SLO", .right), ("late", .right), ("dead", .right),
    ])
    let newest = apps.values.compactMap { $0.published.last }.max() ?? 0
    for (app, stats) in apps.sorted(by: { $0.key < $1.key }) {
      let sorted = stats.latencies.sorted()
      let recent = stats.published.filter { $0 > newest - 10_000 }.count
      table.append([
        app, String(format: "%.1f", Double(recent) / 10), String(stats.results),
        sorted.isEmpty ? "-" : String(format: "%.1f", Quantile.nearestRank(sorted, 0.5)),
        sorted.isEmpty ? "-" : String(format: "%.1f", Quantile.nearestRank(sorted, 0.99)),
        stats.results == 0
          ? "-" : String(format: "%.2f %%", Double(stats.met) / Double(stats.results) * 100),
        String(stats.late), String(stats.dead),
      ])
    }
    lines.append(table.rendered)
    lines.append("")
    var groupTable = TextTable([
      ("group", .left), ("backend", .left), ("batches", .right), ("transport p95 ms", .right),
      ("slot wait p95 ms", .right), ("inference p50 ms", .right), ("p99 ms", .right),
      ("predicted max ms", .right), ("billed/request", .right),
    ])
    for (group, stats) in groups.sorted(by: { $0.key < $1.key }) {
      let sorted = stats.inference.sorted()
      groupTable.append([
        group, stats.backend, String(stats.batches),
        String(format: "%.1f", Quantile.nearestRank(stats.transport.sorted(), 0.95)),
        String(format: "%.1f", Quantile.nearestRank(stats.queueing.sorted(), 0.95)),
        String(format: "%.1f", Quantile.nearestRank(sorted, 0.5)),
        String(format: "%.1f", Quantile.nearestRank(sorted, 0.99)),
        String(format: "%.1f", stats.predictedMaxMs),
        stats.requests == 0 ? "-" : String(format: "%.4e", stats.cost / Double(stats.requests)),
      ])
    }
    lines.append(groupTable.rendered)
    lines.append("")
    lines.append(renderPools())
    if let forecast = renderForecast() {
      lines.append("")
      lines.append(forecast)
    }
    return lines.joined(separator: "\n")
  }

  /// Per app, with the controller's rate forecast on: the rate measured, planned on and sized
  /// for, and the forecast's error so far (from the pools' recommendations; nil with it off).
  public func renderForecast() -> String? {
    var byApp: [String: AppRateForecast] = [:]
    for recommendation in scaling.values.sorted(by: { $0.createdAtMs < $1.createdAtMs }) {
      for forecast in recommendation.forecast ?? [] { byApp[forecast.app] = forecast }
    }
    guard !byApp.isEmpty else { return nil }
    var table = TextTable([
      ("app", .left), ("measured req/s", .right), ("planned req/s", .right),
      ("sized for req/s", .right), ("forecast", .left), ("error", .right),
      ("vs reacting", .right), ("in band", .right),
    ])
    func percent(_ value: Double?) -> String {
      value.map { String(format: "%.1f %%", $0 * 100) } ?? "-"
    }
    for (app, forecast) in byApp.sorted(by: { $0.key < $1.key }) {
      table.append([
        app, String(format: "%.2f", forecast.measuredRate),
        String(format: "%.2f", forecast.plannedRate), String(format: "%.2f", forecast.scaledRate),
        forecast.measurementWins
          ? "\(forecast.method.rawValue), measured won" : forecast.method.rawValue,
        percent(forecast.errorRatio),
        forecast.relativeToCurrent.map { String(format: "%.2f", $0) } ?? "-",
        percent(forecast.coverage),
      ])
    }
    return "rate forecast (error: Σ|error|/Σcount at the pools' horizon; vs reacting: its error "
      + "over the estimate held flat's)\n" + table.rendered
  }

  /// Per worker pool: what the workers report and what the controller recommends.
  public func renderPools() -> String {
    var table = TextTable([
      ("pool", .left), ("replicas", .right), ("slots", .right), ("busy slots", .right),
      ("needed", .right), ("slot wait p95 ms", .right), ("backlog", .right),
      ("recommendation", .left),
    ])
    let reported = Dictionary(grouping: workers.values, by: \.group)
    for pool in Set(reported.keys).union(scaling.keys).sorted() {
      let reports = reported[pool] ?? []
      let recommendation = scaling[pool]
      let waits = reports.compactMap(\.queueWaitMs?.p95)
      table.append([
        pool, String(recommendation?.replicas ?? reports.count),
        String(recommendation?.slotsAvailable ?? reports.reduce(0) { $0 + $1.slots }),
        String(format: "%.2f", reports.reduce(0) { $0 + $1.busySlots }),
        recommendation.map { String($0.slotsNeeded) } ?? "-",
        waits.isEmpty ? "-" : String(format: "%.1f", waits.max()!),
        String(reports.reduce(0) { $0 + $1.backlog }),
        recommendation.map(Self.describe) ?? "-",
      ])
    }
    return table.rendered
  }

  public static func describe(_ recommendation: ScalingRecommendation) -> String {
    switch recommendation.status {
    case .ok: "ok"
    case .idle: "idle"
    case .noWorkers: "no workers: start \(recommendation.desiredReplicas)"
    case .scaleUp: "add \(recommendation.replicasToAdd) replica(s)"
    case .scaleDown: "\(-recommendation.replicasToAdd) replica(s) may go"
    case .partitionLimit:
      "at \(recommendation.partitions ?? recommendation.desiredReplicas) partitions: "
        + "\(recommendation.slotsPerReplicaNeeded ?? recommendation.slotsPerReplica) slots/replica"
    }
  }
}
