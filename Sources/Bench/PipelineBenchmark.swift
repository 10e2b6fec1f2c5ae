import Foundation
import Kafka
import Operations
import Pipeline
import PipelineCore
import Planner
import Synchronization

/// `harmonybatch bench pipeline`: the router and batcher in one process against a raw
/// consume → produce pass-through through the same Kafka layer, on the same broker, in the same
/// run; and how punctually the batcher flushes at deadlines under a steady 10,000 req/s.
public struct PipelineBenchmark: Sendable {
  public struct Settings: Sendable {
    /// The embedded broker keeps at most 5 MiB per partition: 100,000 requests fit in four.
    public var messages = 100_000
    public var rounds = 3
    public var punctualityRate = 10_000.0
    public var punctualitySeconds = 5.0

    public init() {}
  }

  public struct Round: Sendable {
    public var passThrough: Double  // requests per second
    /// Two raw pass-throughs chained (hb.requests → hop → copy), each on a thread of its own:
    /// what two consume + produce hops cost on this machine, with no stage work at all.
    public var twoHops: Double
    public var pipeline: Double
  }

  public struct Report: Sendable {
    public let settings: Settings
    public let rounds: [Round]
    /// Lateness of the deadline flushes of the punctuality run, from the batcher's
    /// `harmonybatch_flush_lateness_seconds` histogram (what `/metrics` shows).
    public let lateness: Lateness
    public let punctualityBatches: Int
    public let punctualityRequests: Int
    /// The CPU it ran on (nil where `/proc/cpuinfo` is not there).
    public let cpu: CPUDescription?

    public var ratios: [Double] { rounds.map { $0.pipeline / $0.passThrough } }
    /// The two raw hops over the pass-through: the ceiling of `ratios` on this machine.
    public var twoHopRatios: [Double] { rounds.map { $0.twoHops / $0.passThrough } }
    /// Router + batcher over the two raw hops.
    public var ratiosToTwoHops: [Double] { rounds.map { $0.pipeline / $0.twoHops } }

    public var table: String {
      func median(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : Quantile.median(values.sorted())
      }
      var text = "bench pipeline: \(settings.messages) requests of 100 B, 4 partitions, "
      text += "embedded broker in its own process, \(settings.rounds) round(s); the stages batch "
      text += "\(throughputApps) apps in \(throughputApps / throughputPerGroup) groups into full "
      text += "batches of \(throughputBatch)\n"
      text += "CPU: \(cpu?.summary ?? "unknown (no /proc/cpuinfo)")\n"
      text += "| path | req/s (median) | ratio to pass-through (median of rounds) | ratio range |\n"
      text += "|---|---:|---:|---:|\n"
      text +=
        "| raw consume → produce pass-through | \(Int(median(rounds.map(\.passThrough)))) | 1.00 | |\n"
      func row(_ name: String, _ rates: [Double], _ ratios: [Double]) -> String {
        "| \(name) | \(Int(median(rates))) | "
          + String(
            format: "%.2f | %.2f–%.2f |\n", median(ratios), ratios.min() ?? 0, ratios.max() ?? 0)
      }
      text += row(
        "two raw hops chained, one thread each (the ceiling)", rounds.map(\.twoHops),
        twoHopRatios)
      text += row("router + batcher, one process", rounds.map(\.pipeline), ratios)
      text += String(
        format: "router + batcher over the two raw hops: %.2f (median of rounds; %.2f–%.2f)\n",
        median(ratiosToTwoHops), ratiosToTwoHops.min() ?? 0, ratiosToTwoHops.max() ?? 0)
      text += String(
        format:
          "\nflush punctuality at %.0f req/s for %.0f s (%d deadline flushes, %d requests): "
          + "lateness behind the computed deadline p50 %.2f ms, p99 %.2f ms (interpolated in the "
          + "histogram's buckets), %.2f %% within 2 ms, %d beyond %.0f ms\n",
        settings.punctualityRate, settings.punctualitySeconds, lateness.flushes,
        punctualityRequests, (lateness.p50 ?? 0) * 1000, (lateness.p99 ?? 0) * 1000,
        lateness.withinTwoMs * 100, lateness.beyondLastBound,
        (MetricsRegistry.Family.flushLateness.buckets.last ?? 0) * 1000)
      return text
    }
  }

  /// Flush lateness as the batcher's histogram has it.
  public struct Lateness: Sendable {
    public var flushes = 0
    public var p50: Double?
    public var p99: Double?
    /// The share of flushes at most 2 ms late (a bucket bound: exact).
    public var withinTwoMs = 0.0
    /// Flushes later than the histogram's last bound.
    public var beyondLastBound = 0
  }

  public let settings: Settings

  public init(settings: Settings) { self.settings = settings }

  public func run() throws -> Report {
    let broker = try BrokerProcess(topics: [], partitions: 4)
    defer { broker.stop() }
    var common = KafkaConfiguration(bootstrapServers: broker.bootstrapServers)
    common.logger = .standardError(minimumLevel: .error)
    var rounds: [Round] = []
    for round in 0..<settings.rounds {
      let prefix = "bench\(round)-\(UInt32.random(in: 0...UInt32.max))."
      let topics = PipelineTopics(prefix: prefix)
      try fill(common, topic: topics.requests, count: settings.messages, apps: Self.throughputApps)
      // Alternate which side reads first.
      var passThrough = 0.0
      var twoHops = 0.0
      var pipeline = 0.0
      // Rotate which path reads the prepared topic first.
      let order = [0, 1, 2]
      for side in order[(round % 3)...] + order[..<(round % 3)] {
        switch side {
        case 0:
          passThrough = try measurePassThrough(common, from: topics.requests, to: prefix + "copy")
        case 1:
          twoHops = try measureTwoHops(common, from: topics.requests, via: prefix + "hop")
        default:
          pipeline = try measurePipeline(common, topics: topics, plan: throughputPlan())
        }
      }
      rounds.append(Round(passThrough: passThrough, twoHops: twoHops, pipeline: pipeline))
      Console.err(
        String(
          format:
            "bench pipeline: round %d: pass-through %.0f req/s, two raw hops %.0f req/s, "
            + "router + batcher %.0f req/s",
          round + 1, passThrough, twoHops, pipeline))
    }
    let (lateness, batches, requests) = try measurePunctuality(common)
    return Report(
      settings: settings, rounds: rounds, lateness: lateness, punctualityBatches: batches,
      punctualityRequests: requests, cpu: CPUDescription.current())
  }

  static let throughputApps = 16
  static let throughputPerGroup = 4
  static let throughputBatch = 32

  /// 16 apps in 4 GPU groups of batch 32, SLOs and waits far away: nothing is late, batches
  /// fill. The wait must outlast the backlog's age: a request's wait runs from its CreateTime,
  /// set when the topic was filled, seconds before the stages read it (with a 1 s wait, as
  /// before, every request was past its wait when read and left alone, in a batch of one).
  private func throughputPlan() -> Plan {
    plan(
      apps: Self.throughputApps, perGroup: Self.throughputPerGroup, batch: Self.throughputBatch,
      timeoutMs: 600_000)
  }

  /// How many of `messages` requests (app `i % apps`) fill whole batches of the throughput
  /// plan; the rest wait in part-filled buffers until the batcher stops.
  static func requestsInFullBatches(messages: Int) -> Int {
    let apps = throughputApps
    var perGroup = [Int](repeating: 0, count: (apps + throughputPerGroup - 1) / throughputPerGroup)
    for app in 0..<apps {
      perGroup[app / throughputPerGroup] += messages / apps + (app < messages % apps ? 1 : 0)
    }
    return perGroup.reduce(0) { $0 + $1 - $1 % throughputBatch }
  }

  private func plan(apps: Int, perGroup: Int, batch: Int, timeoutMs: Double) -> Plan {
    let groups = stride(from: 0, to: apps, by: perGroup).map { start in
      let ids = (start..<min(apps, start + perGroup)).map { "app-\($0)" }
      return PlanGroup(
        id: "g\(start / perGroup + 1)", apps: ids,
        appRates: Dictionary(uniqueKeysWithValues: ids.map { ($0, 1.0) }),
        function: .gpu(memoryGB: 4, vcpu: 4.0 / 3), batchSize: batch,
        timeoutsMs: Dictionary(uniqueKeysWithValues: ids.map { ($0, timeoutMs) }),
        slosMs: Dictionary(uniqueKeysWithValues: ids.map { ($0, 600_000) }), latencyAvgMs: 20,
        latencyMaxMs: 50, costPerRequest: 0, rate: Double(ids.count), share: 0)
    }
    return Plan(
      version: 1, createdAt: nil, algorithm: "optimal", model: "bench", modelEstimated: false,
      pricing: "none", currency: "", objective: 0, planningMs: 0, rate: Double(apps),
      groups: groups, infeasible: [])
  }

  private func fill(_ common: KafkaConfiguration, topic: String, count: Int, apps: Int) throws {
    let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    defer { _ = producer.close() }
    let value = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
    for index in 0..<count {
      try producer.enqueue(
        KafkaProducerMessage(
          topic: topic, key: Array("app-\(index % apps)".utf8), value: value,
          headers: [KafkaHeader(key: HeaderName.slo, value: Array("600000".utf8))]))
    }
    try producer.flush(timeoutMs: 120_000)
  }

  /// Reads every record of `source` in a consumer group and produces it unchanged to `target`;
  /// requests per second from the first record read to the last acknowledgement.
  private func measurePassThrough(
    _ common: KafkaConfiguration, from source: String, to target: String
  )
    throws -> Double
  {
    let (started, read) = try passThrough(common, from: source, to: target)
    return Double(read) / (.now - (started ?? .now)).seconds
  }

  /// Copies `settings.messages` records of `source` to `target` (or what came in 300 s); returns
  /// when the first was read and how many were, once the last copy is acknowledged.
  private func passThrough(_ common: KafkaConfiguration, from source: String, to target: String)
    throws -> (started: ContinuousClock.Instant?, read: Int)
  {
    var configuration = KafkaConsumerConfiguration(
      common: common, groupID: "bench-pass-\(UInt32.random(in: 0...UInt32.max))")
    configuration.prefetchMessages = 100_000
    let consumer = try KafkaConsumer(configuration: configuration)
    defer { consumer.close() }
    var producerConfiguration = KafkaProducerConfiguration(common: common)
    producerConfiguration.linger = .milliseconds(1)
    let producer = try KafkaProducer(configuration: producerConfiguration)
    defer { _ = producer.close() }
    try consumer.subscribe(topics: [source])
    var read = 0
    var started: ContinuousClock.Instant?
    let deadline = ContinuousClock.now + .seconds(300)
    while read < settings.messages, ContinuousClock.now < deadline {
      guard case .record(let record) = try consumer.poll(timeoutMs: 100) else { continue }
      if started == nil { started = .now }
      read += 1
      try producer.enqueue(
        KafkaProducerMessage(
          topic: target, key: record.key, value: record.value, headers: record.headers,
          timestampMs: record.timestampMs))
      try consumer.storeOffset(for: record)
    }
    try producer.flush(timeoutMs: 120_000)
    return (started, read)
  }

  /// Two pass-throughs at once, `source` → `via` and `via` → a copy, each a thread with its own
  /// consumer group and producer; requests per second from the first record the first hop read
  /// to the last acknowledgement of the second.
  private func measureTwoHops(_ common: KafkaConfiguration, from source: String, via: String)
    throws -> Double
  {
    let first = Mutex<Result<(ContinuousClock.Instant?, Int), any Error>>(.success((nil, 0)))
    let firstDone = DispatchSemaphore(value: 0)
    let hop = Thread {
      let result = Result { try self.passThrough(common, from: source, to: via) }
        .map { ($0.started, $0.read) }
      first.withLock { $0 = result }
      firstDone.signal()
    }
    hop.start()
    let (_, read) = try passThrough(common, from: via, to: via + ".copy")
    // The first hop may still be waiting for its last acknowledgements: its start is known
    // only once it has returned.
    firstDone.wait()
    let (started, _) = try first.withLock { try $0.get() }
    return Double(read) / (.now - (started ?? .now)).seconds
  }

  /// Runs the router and batcher on `topics` until every request that fills a whole batch has
  /// left the batcher (the few left in part-filled buffers go when it stops, untimed).
  private func measurePipeline(_ common: KafkaConfiguration, topics: PipelineTopics, plan: Plan)
    throws -> Double
  {
    let metrics = MetricsRegistry()
    let rate = Mutex(0.0)
    let messages = Double(Self.requestsInFullBatches(messages: settings.messages))
    let filled = Mutex((batches: 0.0, requests: 0.0))
    let measure = ClosureService("measure") { context in
      var started: ContinuousClock.Instant?
      let deadline = ContinuousClock.now + .seconds(300)
      while Self.settled(metrics) < messages, ContinuousClock.now < deadline, !context.isStopping {
        // The router hands its counts over once per report interval: the first may have been
        // routed up to one interval before they show (counted from then: the slower reading).
        if started == nil, metrics.total(.requestsRouted) > 0 {
          started = .now - Self.routerReportInterval
        }
        Thread.sleep(forTimeInterval: 0.001)
      }
      let seconds = (ContinuousClock.now - (started ?? .now)).seconds
      rate.withLock { $0 = Self.settled(metrics) / seconds }
      filled.withLock {
        $0 = (metrics.total(.batchesDispatched), metrics.total(.requestsDispatched))
      }
    }
    try runStages(common, topics: topics, plan: plan, metrics: metrics, with: measure)
    let (batches, requests) = filled.withLock { $0 }
    // Batches of one would measure another path (a request per batch message): say so loudly.
    if batches > 0, requests / batches < Double(Self.throughputBatch) * 0.9 {
      Console.err(
        "bench pipeline: warning: \(Int(requests)) requests left in \(Int(batches)) batches, not in full "
          + "batches of \(Self.throughputBatch)")
    }
    return rate.withLock { $0 }
  }

  /// Requests that left the batcher, in a batch or as a late record.
  private static func settled(_ metrics: MetricsRegistry) -> Double {
    metrics.total(.requestsDispatched) + metrics.total(.lateRequests)
  }

  /// How often the router hands its counts to the metrics (and reports rates) in the bench.
  static let routerReportInterval: Duration = .milliseconds(10)

  /// Runs the router and batcher on `topics` beside `measurement`, until it returns. Both count
  /// what they do in `metrics`, as they do for `/metrics` when deployed: the bench pays for it.
  private func runStages(
    _ common: KafkaConfiguration, topics: PipelineTopics, plan: Plan, metrics: MetricsRegistry,
    with measurement: ClosureService
  ) throws {
    var routing = RouterService.Settings()
    routing.topics = topics
    routing.groupID = "bench-router-\(topics.prefix)"
    routing.fixedPlan = plan
    routing.telemetry = metrics
    routing.reportInterval = Self.routerReportInterval
    var batching = BatcherService.Settings()
    batching.topics = topics
    batching.groupID = "bench-batcher-\(topics.prefix)"
    batching.telemetry = metrics
    let log = PipelineLog.silent("bench")
    var settings = ServiceGroup.Settings()
    settings.handlesSignals = false
    let outcome = ServiceGroup(
      [
        BatcherService(common: common, settings: batching, log: log.named("batcher")),
        RouterService(common: common, settings: routing, log: log.named("router")),
        measurement,
      ], settings: settings, log: PipelineLog(service: "bench pipeline", minimumLevel: .warning)
    ).runBlocking()
    if outcome.exitCode != 0 {
      throw RunFailure("a stage failed: \(outcome.failures.joined(separator: "; "))")
    }
  }

  /// 200 apps alone in groups of batch 32 with 100 ms waits, at a steady total rate: nearly
  /// every batch is flushed by a wake-up at its deadline. Returns the lateness of those flushes.
  private func measurePunctuality(_ common: KafkaConfiguration) throws -> (Lateness, Int, Int) {
    let topics = PipelineTopics(prefix: "punctual-\(UInt32.random(in: 0...UInt32.max)).")
    let apps = 200
    let metrics = MetricsRegistry()
    let lateness = Mutex(Lateness())
    let (rate, seconds) = (settings.punctualityRate, settings.punctualitySeconds)
    let measure = ClosureService("measure") { context in
      let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
      defer { _ = producer.close() }
      // Warm the path up (metadata of every topic) and let both groups settle.
      try producer.enqueue(
        KafkaProducerMessage(topic: topics.requests, key: Array("app-0".utf8), value: [1]))
      let ready = ContinuousClock.now + .seconds(60)
      while Self.settled(metrics) == 0, ContinuousClock.now < ready {
        Thread.sleep(forTimeInterval: 0.01)
      }
      let before = metrics.histogram(.flushLateness)
      let value = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
      let start = ContinuousClock.now
      var sent = 0
      let total = Int(rate * seconds)
      while sent < total, !context.isStopping {
        let due = min(total, Int((.now - start).seconds * rate))
        while sent < due {
          try producer.enqueue(
            KafkaProducerMessage(
              topic: topics.requests, key: Array("app-\(sent % apps)".utf8), value: value))
          sent += 1
        }
        Thread.sleep(forTimeInterval: 0.0005)
      }
      try producer.flush()
      let drained = ContinuousClock.now + .seconds(30)
      while Self.settled(metrics) < Double(total + 1), ContinuousClock.now < drained {
        Thread.sleep(forTimeInterval: 0.01)
      }
      let after = metrics.histogram(.flushLateness)
      let counts = zip(after.counts, before.counts).map { $0 - $1 }
      let count = after.count - before.count
      let bounds = MetricsRegistry.Family.flushLateness.buckets
      let withinTwoMs = zip(bounds, counts).filter { $0.0 <= 0.002 }.reduce(0) { $0 + $1.1 }
      lateness.withLock {
        $0 = Lateness(
          flushes: count,
          p50: MetricsRegistry.quantile(0.5, bounds: bounds, counts: counts, count: count),
          p99: MetricsRegistry.quantile(0.99, bounds: bounds, counts: counts, count: count),
          withinTwoMs: count > 0 ? Double(withinTwoMs) / Double(count) : 0,
          beyondLastBound: count - counts.reduce(0, +))
      }
    }
    try runStages(
      common, topics: topics, plan: plan(apps: apps, perGroup: 1, batch: 32, timeoutMs: 100),
      metrics: metrics, with: measure)
    return (
      lateness.withLock { $0 }, Int(metrics.total(.batchesDispatched)), Int(Self.settled(metrics))
    )
  }
}
