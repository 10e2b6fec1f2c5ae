import Foundation
import Kafka
import PipelineCore
import Planner
import Synchronization

/// A worker: a member of `hb-workers-<kind>` on `hb.batches.<kind>` — a pool of `concurrency`
/// slots, each running one batch at a time as one instance of a serverless function would. The
/// reading thread takes batch records as they arrive and queues them; each slot takes the oldest
/// when it is free. Every batch publishes one result per request to hb.results and one feedback
/// record to hb.feedback with the times it was flushed, read (received), started and finished,
/// so transport, queueing for a slot and inference are told apart; every `reportInterval` the
/// worker reports its slots, how busy they were and how long batches waited on hb.workers. A
/// batch's offset is committed only after all its records are acknowledged. A batch that cannot
/// be read, or a payload the backend cannot run, goes to the dead letter with a reason, and the
/// worker goes on. On stop the batches running are finished; batches read but not started are
/// left to the group (their offsets are not committed).
public struct WorkerService: PipelineService {
  /// The service is named after its log (`router`, `cpu-worker`, …).
  public var name: String { log.service }

  public struct Settings: Sendable {
    public var kind: FunctionConfig.Kind = .cpu
    public var topics = PipelineTopics()
    public var groupID: String?
    public var instance = ProcessInfo.processInfo.hostName + "-\(getpid())"
    /// Prices each invocation for the feedback record, when set.
    public var costModel: CostModel?
    /// Slots: batches run at once, like concurrent instances of a serverless function. Emulated
    /// functions only hold time, so many can run side by side; real inference shares the cores
    /// (slots × the function's vCPU should not pass them).
    public var concurrency = 1
    /// How often the worker reports on hb.workers (`.zero`: never; `worker --report-interval`).
    /// Default: `defaultReportInterval`.
    public var reportInterval = defaultReportInterval
    /// Where the worker counts what it does for `GET /metrics` (nil: nowhere).
    public var telemetry: MetricsRegistry?
    /// What to do with a request that can no longer meet its SLO when its batch starts.
    public var latePolicy = WorkerLatePolicy.shed
    /// Whether replies may go to topics that do not exist yet (which a broker that creates topics
    /// on first use then creates). Off: a reply to a topic the cluster lacks is not sent
    /// (`ReplyTopics`).
    public var createReplyTopics = false
    /// A cold start, emulated: the worker waits this long before it joins its group, as a
    /// replica pulling its image and loading its model would; it is not ready and does not
    /// report until then (`worker --start-delay`).
    /// Default: `defaultStartDelay`.
    public var startDelay = defaultStartDelay

    /// `reportInterval` when none is given.
    /// Default: 1 s.
    public static let defaultReportInterval: Duration = .seconds(1)
    /// `startDelay` when none is given.
    /// Default: 0 s (joins at once).
    public static let defaultStartDelay: Duration = .zero

    public init() {}

    /// The consumer group: the pool this worker belongs to.
    public var group: String { groupID ?? "hb-workers-\(kind.rawValue)" }
  }

  public let common: KafkaConfiguration
  public let settings: Settings
  public let backend: any InferenceBackend
  public let log: PipelineLog

  public init(
    common: KafkaConfiguration, settings: Settings, backend: any InferenceBackend, log: PipelineLog
  ) {
    self.common = common
    self.settings = settings
    self.backend = backend
    self.log = log
  }

  public func run(_ context: ServiceContext) throws {
    let stop = context.stop
    if settings.startDelay > .zero {
      log.info(
        "cold start: joining \(settings.group) in \(settings.startDelay.seconds) s (--start-delay)")
      let start = ContinuousClock.now
      guard
        Self.waitOut(
          settings.startDelay, stopped: { stop.isSet }, elapsed: { ContinuousClock.now - start },
          sleep: { Thread.sleep(forTimeInterval: $0.seconds) })
      else { return }
    }
    let clock = PipelineClock()
    let io = try StageIO(
      common: common, groupID: settings.group,
      input: settings.topics.batches(for: settings.kind), log: log,
      // Replicas come and go as the pool scales: with cooperative rebalancing a replica joining
      // pauses only the partitions it takes over, not the whole pool.
      assignmentStrategy: "cooperative-sticky")
    if !settings.createReplyTopics { io.replyTopics = try ReplyTopics(common: common, log: log) }
    let slots = max(1, settings.concurrency)
    let queue = SlotQueue()
    let usage = Mutex(SlotUsage(slots: slots, start: clock.now()))
    let requests = Atomic<Int>(0)
    let firstError = Mutex<Error?>(nil)
    let floor = Mutex(InferenceFloor())
    let recent = Mutex(RecentRequests())
    let knownGroups = try KnownGroupsWatch(
      common: common, topic: settings.topics.plans, log: log)
    let running = DispatchGroup()
    for slot in 0..<slots {
      running.enter()
      let thread = Thread {
        defer { running.leave() }
        var token = slot
        while let entry = queue.take() {
          token += slots
          let started = clock.now()
          usage.withLock { $0.started(token, at: started, waited: started - entry.received) }
          settings.telemetry?.observe(.slotWait, max(0, started - entry.received))
          var held = 0
          do {
            let outcome = try process(
              entry.record, io: io, clock: clock, received: entry.received, started: started,
              floor: floor, recent: recent, knownGroups: knownGroups,
              alreadyDone: entry.alreadyDone)
            held = outcome.ran
            requests.add(held, ordering: .relaxed)
            if outcome.shed > 0 { usage.withLock { $0.shed(outcome.shed) } }
          } catch {
            firstError.withLock { $0 = $0 ?? error }
          }
          usage.withLock { $0.finished(token, at: clock.now(), requests: held) }
          queue.finished()
        }
      }
      thread.name = "hb-worker-slot-\(slot)"
      thread.start()
    }
    // Before revoked partitions go: their queued batches are left to the new owner, their
    // running ones finish here (and their offsets are committed with the revocation).
    io.finishInFlight = { partitions in
      let dropped = queue.remove(Set(partitions))
      if dropped > 0 {
        log.info(
          "revoking \(partitions.count) partitions; \(dropped) queued batches go to their new owner"
        )
      }
      if !queue.waitUntilNoneRunning(timeout: 60) {
        log.warning(
          "revoking partitions: batches still running after 60 s; they may be done twice")
      }
    }
    var batches = 0
    var lastReport = clock.now()
    var ledger = RecoveryLedger()
    var topicPartitions = TopicPartitionCount(topic: settings.topics.batches(for: settings.kind))
    try io.run {
      while !stop.isSet {
        if let error = firstError.withLock({ $0 }) { throw error }
        if io.hasJoined { context.ready() }
        context.clusterReachable(!io.clusterUnhealthy)
        let record = try io.nextRecord(
          timeoutMs: 100,
          onRevoke: { partitions in
            // Their work in flight was finished before they went (`io.finishInFlight`).
            ledger.forget(partitions)
          },
          onAssign: { (partitions) throws(KafkaError) in
            ledger.merge(
              try io.recover(
                partitions, common: common,
                outputs: [
                  settings.topics.results, settings.topics.deadLetter, settings.topics.late,
                ],
                sources: Self.recoverySources))
          })
        knownGroups.follow()
        if let record {
          batches += 1
          queue.put(
            SlotQueue.Entry(
              record: record, received: clock.now(),
              alreadyDone: ledger.take(record.coordinates)))
        }
        try io.advanceOffsetsPeriodically()
        let now = clock.now()
        if settings.reportInterval > .zero, now - lastReport >= settings.reportInterval.seconds {
          lastReport = now
          try report(
            usage.withLock { $0.close(at: now) }, queue: queue,
            topicPartitions: topicPartitions.value(io.consumer, now: now), io: io)
        }
      }
    } drain: {
      // Finish the batches running; the ones not started stay uncommitted for the group.
      let left = queue.close()
      running.wait()
      if left > 0 { log.info("\(left) batches read but not started are left to the group") }
      if settings.reportInterval > .zero {
        // The last report says the worker is leaving, so its slots stop counting at once.
        try? report(
          usage.withLock { $0.close(at: clock.now()) }, queue: queue,
          topicPartitions: topicPartitions.known, io: io, leaving: true)
      }
      return firstError.withLock { $0 }
    } stopped: {
      log.info(
        "stopped: \(batches) batches read, \(requests.load(ordering: .relaxed)) requests run on "
          + "\(backend.name) in \(slots) slots")
    }
  }

  /// Waits until `elapsed` reaches `delay`, in sleeps of at most 100 ms so that a stop is seen
  /// at once: whether it was waited out (false: `stopped` said so first).
  static func waitOut(
    _ delay: Duration, stopped: () -> Bool, elapsed: () -> Duration, sleep: (Duration) -> Void
  ) -> Bool {
    while !stopped() {
      let left = delay - elapsed()
      guard left > .zero else { return true }
      sleep(min(left, .milliseconds(100)))
    }
    return false
  }

  /// Publishes the window's report on hb.workers: the slots, how busy they were, and each
  /// partition held with its batches waiting and its records not read.
  private func report(
    _ window: SlotUsage.Window, queue: SlotQueue, topicPartitions: Int?, io: StageIO,
    leaving: Bool = false
  ) throws {
    let waiting = queue.countsByPartition
    let lags = leaving ? [:] : io.consumer.lagByPartition() ?? [:]
    let held = leaving ? [] : io.consumer.assignment()
    let backlog = waiting.values.reduce(0, +)
    let lag: Int? = held.isEmpty ? 0 : lags.isEmpty ? nil : lags.values.reduce(0, +)
    let partitions = held.map {
      WorkerReport.PartitionLoad(partition: $0.partition, backlog: waiting[$0] ?? 0, lag: lags[$0])
    }
    if let lag {
      settings.telemetry?.set(.consumerLag, Double(lag), labels: ["group": settings.group])
    }
    settings.telemetry?.set(
      .slotUtilisation, window.busySlots / Double(max(1, settings.concurrency)),
      labels: ["group": settings.group])
    let report = WorkerReport(
      worker: settings.instance, group: settings.group, kind: settings.kind,
      backend: backend.name, emulated: backend.emulated, slots: max(1, settings.concurrency),
      cores: backend.emulated ? nil : ProcessInfo.processInfo.activeProcessorCount,
      windowStartMs: (window.start * 1000).rounded(), windowEndMs: (window.end * 1000).rounded(),
      busySlots: window.busySlots, batches: window.batches, requests: window.requests,
      queueWaitMs: Percentiles.of(window.queueWaits.map { $0 * 1000 }), backlog: backlog,
      lag: lag, shed: window.shed, partitions: partitions, topicPartitions: topicPartitions,
      leaving: leaving ? true : nil)
    try io.produce(
      KafkaProducerMessage(
        topic: settings.topics.workers, key: Array(settings.instance.utf8),
        value: try report.messageJSON()),
      sources: [])
  }

  /// Results name their batch in `hb-source`, a request's dead letter or late record in
  /// `hb-batch-source`, a batch refused whole in `hb-source`.
  static let recoverySources: RecoveryLedger.Sources = { record in
    if let batch = record.headerText(HeaderName.batchSource) {
      return [(batch, record.headerText(HeaderName.requestID))]
    }
    guard let source = record.headerText(HeaderName.source) else { return [] }
    // A result's key is its request id; a batch refused whole names no request.
    return [(source, record.headerText(HeaderName.error) == nil ? record.keyString : nil)]
  }

  /// Runs one batch record; returns how many requests it ran and how many it shed as late.
  /// `alreadyDone`: what a run before a restart produced from it (request ids; empty: the batch
  /// was refused whole) — not done again.
  private func process(
    _ record: KafkaRecord, io: StageIO, clock: PipelineClock, received: Double, started: Double,
    floor: borrowing Mutex<InferenceFloor>, recent: borrowing Mutex<RecentRequests>,
    knownGroups: KnownGroupsWatch, alreadyDone: Set<String>? = nil
  ) throws -> (ran: Int, shed: Int) {
    let source = [(record.topicPartition, record.offset)]
    if let alreadyDone, alreadyDone.isEmpty {
      try io.produce([], sources: source)
      return (0, 0)
    }
    let batch: BatchMessage
    do {
      batch = try BatchMessage.decode(record.value ?? [])
    } catch {
      let detail =
        error is BatchMessage.InvalidBatch
        ? "the batch is refused: \(error)" : "the batch is not valid JSON: \(error)"
      settings.telemetry?.add(
        .deadLetters, labels: ["stage": "worker", "reason": ReasonCode.badBatch.rawValue])
      // Each request it still names ends alone, with its reply; else the record is one letter.
      var salvaged = BatchMessage.salvage(record.value ?? [])
      if let alreadyDone {
        // After a restart: the letters written before are not written again.
        salvaged.requests.removeAll { alreadyDone.contains($0.id) }
        guard !salvaged.requests.isEmpty else {
          try io.produce([], sources: source)
          return (0, 0)
        }
      }
      log.warning(
        "batch \(record.coordinates) refused whole (\(detail)); "
          + (salvaged.requests.isEmpty
            ? "no request id could be read from it: one dead letter for the record"
            : "one dead letter for each of its \(salvaged.requests.count) request ids"))
      guard !salvaged.requests.isEmpty else {
        try io.produce(
          DeadLetter.message(
            for: record, code: .badBatch, detail: detail, topic: settings.topics.deadLetter),
          sources: source)
        return (0, 0)
      }
      var messages: [KafkaProducerMessage] = []
      var replies: [KafkaProducerMessage] = []
      for request in salvaged.requests {
        end(
          request, group: salvaged.group ?? "", batchSource: record.coordinates,
          on: settings.topics.deadLetter, outcome: .deadLetter,
          saying: DeadLetter.saying(.badBatch, detail), timestampMs: nil, into: &messages,
          replies: &replies)
      }
      try io.produce(messages, replies: replies, sources: source)
      return (0, 0)
    }
    var payloads: [[UInt8]] = []
    var messages: [KafkaProducerMessage] = []
    var replies: [KafkaProducerMessage] = []
    var runnable: [BatchMessage.Request] = []
    if let alreadyDone {
      // Rare (after a restart or a revocation): say exactly what is skipped and what is run.
      let ids = batch.requests.map(\.id)
      log.info(
        "batch \(record.coordinates): \(ids.filter(alreadyDone.contains).count) of \(ids.count) "
          + "requests done before (\(ids.filter(alreadyDone.contains).joined(separator: ","))); "
          + "running \(ids.filter { !alreadyDone.contains($0) }.joined(separator: ","))")
    }
    var pending: [BatchMessage.Request] = []
    // A batch for a group no recent plan has: each of its requests ends as a dead letter.
    let unknownGroup = knownGroups.problem(of: batch)
    if let unknownGroup {
      log.warning(
        "batch \(record.coordinates) refused: \(unknownGroup); each of its "
          + "\(batch.requests.count) requests ends as a dead letter (unknown-group)")
    }
    // A batch record produced twice (a replay, a producer's retry) carries requests that ended
    // here already: each request ends once.
    let fresh = recent.withLock { recent in
      batch.requests.map { recent.claim($0.source + "\u{0}" + $0.id) }
    }
    let replayed = zip(batch.requests, fresh).filter { !$0.1 }.map(\.0.id)
    if !replayed.isEmpty {
      log.warning(
        "batch \(record.coordinates): \(replayed.count) of its \(batch.requests.count) requests "
          + "ended here already (the batch was produced twice?); not run again: "
          + replayed.prefix(5).joined(separator: ",") + (replayed.count > 5 ? ",…" : ""))
    }
    for (request, fresh) in zip(batch.requests, fresh)
    where fresh && !(alreadyDone?.contains(request.id) ?? false) {
      // One request's fault is its own: it ends as a dead letter, the rest of the batch runs.
      if let problem = request.problem {
        log.warning(
          "batch \(record.coordinates): request \(RequestLimits.printable(request.id)) of app "
            + "\(RequestLimits.printable(request.app)) refused alone (\(problem))")
        deadLetter(
          into: &messages, replies: &replies, request, batch: batch, code: problem.code,
          detail: problem.detail, batchSource: record.coordinates)
      } else if let unknownGroup {
        deadLetter(
          into: &messages, replies: &replies, request, batch: batch, code: .unknownGroup,
          detail: unknownGroup, batchSource: record.coordinates)
      } else {
        pending.append(request)
      }
    }
    let verdict = LateShedding.verdict(
      requests: pending.map { (Double($0.arrivalMs) / 1000, $0.sloMs / 1000, $0.late) },
      started: started, floor: floor.withLock { $0.seconds(for: batch.function) },
      policy: settings.latePolicy)
    for (index, lateBy) in verdict.shed {
      shed(
        into: &messages, replies: &replies, pending[index], batch: batch, lateBy: lateBy,
        batchSource: record.coordinates)
    }
    for request in verdict.run.map({ pending[$0] }) {
      guard let payload = Data(base64Encoded: request.payload) else {
        deadLetter(
          into: &messages, replies: &replies,
          request, batch: batch, code: .badPayload, detail: "the payload is not base64",
          batchSource: record.coordinates)
        continue
      }
      payloads.append(Array(payload))
      runnable.append(request)
    }
    if !payloads.isEmpty {
      log.debug("batch \(record.coordinates): running \(payloads.count) requests")
    }
    // The function's own time: from the call to its answer (not the checks before it).
    let runStarted = clock.now()
    let outputs = payloads.isEmpty ? [] : backend.run(payloads, on: batch.function)
    let finished = clock.now()
    let published = clock.now()
    var endToEnd: [Double] = []
    for (request, output) in zip(runnable, outputs) {
      if case .failed(let code, let detail) = output {
        deadLetter(
          into: &messages, replies: &replies,
          request, batch: batch, code: code, detail: detail, batchSource: record.coordinates)
        continue
      }
      // Never negative: an arrival stamped by a clock ahead of this one counts as no wait.
      let latency = max(0, published * 1000 - Double(request.arrivalMs))
      endToEnd.append(latency)
      var vector: [Float]?
      if case .embedding(let values) = output { vector = values }
      let result = ResultMessage(
        requestID: request.id, app: request.app, batchID: batch.batchID, group: batch.group,
        backend: backend.name, emulated: backend.emulated, output: vector, sloMs: request.sloMs,
        arrivalMs: Double(request.arrivalMs), flushedMs: batch.flushedAtMs,
        receivedMs: received * 1000, startedMs: started * 1000, finishedMs: finished * 1000,
        publishedMs: published * 1000,
        latencyMs: latency, sloMet: latency <= request.sloMs, late: request.late)
      guard let value = try? result.messageJSON() else {
        deadLetter(
          into: &messages, replies: &replies,
          request, batch: batch, code: .badOutput,
          detail: "the backend's output cannot be written as JSON (not a finite number)",
          batchSource: record.coordinates)
        continue
      }
      let carried = request.kafkaHeaders
      messages.append(
        KafkaProducerMessage(
          topic: settings.topics.results, key: Array(request.id.utf8), value: value,
          headers: [KafkaHeader(key: HeaderName.source, value: Array(record.coordinates.utf8))]
            + carried))
      if let reply = Reply.message(
        headers: carried, requestID: request.id, outcome: .result, value: value,
        topics: settings.topics)
      {
        replies.append(reply)
      }
      settings.telemetry?.add(
        .requestsServed, labels: ["app": request.app, "slo_met": String(result.sloMet)])
      settings.telemetry?.observe(.requestLatency, latency / 1000, labels: ["app": request.app])
    }
    let seconds = finished - runStarted
    if !payloads.isEmpty {
      settings.telemetry?.observe(.inference, seconds, labels: ["backend": backend.name])
      floor.withLock { $0.observe(batch.function, seconds: seconds) }
    }
    // The batch the function really ran: payloads the backend refused were not part of it.
    let ran = outputs.filter {
      if case .failed = $0 { return false }
      return true
    }.count
    let feedback = FeedbackMessage(
      batchID: batch.batchID, group: batch.group, planVersion: batch.planVersion,
      function: batch.function, backend: backend.name, emulated: backend.emulated,
      batchSize: ran, inferenceSeconds: seconds, predictedMaxMs: batch.latencyMaxMs,
      endToEndMs: endToEnd, worker: settings.instance, workerGroup: settings.group,
      flushedMs: batch.flushedAtMs, receivedMs: received * 1000, startedMs: started * 1000,
      finishedMs: finished * 1000, publishedMs: published * 1000,
      billedCost: billedCost(batch.function, seconds: seconds, batch: ran),
      intakeMs: batch.intakeMs)
    // The controller refuses feedback it cannot trust; so does its author.
    let checks = feedback.checks
    if ran == 0 {
      // Nothing ran (every request shed, refused or done before): no invocation to learn from.
    } else if checks.isValid {
      messages.append(
        KafkaProducerMessage(
          topic: settings.topics.feedback, key: Array(batch.group.utf8),
          value: try feedback.messageJSON()))
    } else {
      log.warning("no feedback for batch \(batch.batchID): \(checks.summary)")
    }
    try io.produce(messages, replies: replies, sources: source)
    return (runnable.count, verdict.shed.count)
  }

  /// A late record for one request of a batch that a slot started too late for its SLO
  /// (`WorkerLatePolicy.shed`): its payload, its carried headers, the reason and how late it
  /// would at least have been, and its reply when it asked for one.
  private func shed(
    into messages: inout [KafkaProducerMessage], replies: inout [KafkaProducerMessage],
    _ request: BatchMessage.Request, batch: BatchMessage, lateBy: Double, batchSource: String
  ) {
    settings.telemetry?.add(.lateRequests, labels: ["app": request.app])
    end(
      request, group: batch.group, batchSource: batchSource, on: settings.topics.late,
      outcome: .late,
      saying: [
        KafkaHeader(key: HeaderName.lateReason, value: Array(LateRecord.queuedPastSLO.utf8)),
        KafkaHeader(key: HeaderName.lateBy, value: Array(LateRecord.milliseconds(lateBy).utf8)),
      ], timestampMs: request.arrivalMs, into: &messages, replies: &replies)
  }

  /// One request of a batch ending without a result, on `topic`: its payload, its carried
  /// headers, what `saying` says and the request's identity, and its reply when it asked for one.
  private func end(
    _ request: BatchMessage.Request, group: String, batchSource: String, on topic: String,
    outcome: Reply.Outcome, saying: [KafkaHeader], timestampMs: Int64?,
    into messages: inout [KafkaProducerMessage], replies: inout [KafkaProducerMessage]
  ) {
    let headers =
      [
        KafkaHeader(key: HeaderName.batchSource, value: Array(batchSource.utf8)),
        KafkaHeader(key: HeaderName.requestID, value: Array(request.id.utf8)),
        KafkaHeader(key: HeaderName.app, value: Array(request.app.utf8)),
      ] + saying + [
        KafkaHeader(key: HeaderName.source, value: Array(request.source.utf8)),
        KafkaHeader(key: HeaderName.group, value: Array(group.utf8)),
      ]
    let message = RecordLimits.fitting(
      KafkaProducerMessage(
        topic: topic, key: Array(request.app.utf8),
        value: Data(base64Encoded: request.payload).map(Array.init) ?? Array(request.payload.utf8),
        headers: request.kafkaHeaders + headers, timestampMs: timestampMs))
    messages.append(message)
    if let reply = Reply.message(
      for: message, outcome: outcome, fallbackID: request.id, topics: settings.topics)
    {
      replies.append(reply)
    }
  }

  private func billedCost(_ function: FunctionConfig, seconds: Double, batch: Int) -> Double? {
    guard let cost = settings.costModel, batch > 0 else { return nil }
    return cost.costPerRequest(of: function, batch: batch, avgLatency: seconds).map {
      $0 * Double(batch)
    }
  }

  /// A dead letter for one request of a batch (its payload, with the request's identity and its
  /// carried headers), and its reply when the request asked for one.
  private func deadLetter(
    into messages: inout [KafkaProducerMessage], replies: inout [KafkaProducerMessage],
    _ request: BatchMessage.Request, batch: BatchMessage, code: ReasonCode, detail: String,
    batchSource: String
  ) {
    settings.telemetry?.add(.deadLetters, labels: ["stage": "worker", "reason": code.rawValue])
    end(
      request, group: batch.group, batchSource: batchSource, on: settings.topics.deadLetter,
      outcome: .deadLetter, saying: DeadLetter.saying(code, detail), timestampMs: nil,
      into: &messages, replies: &replies)
  }
}
