import Foundation
import Kafka
import PipelineCore
import Planner

/// The batcher stage: a consumer-group member on hb.grouped that keeps one buffer per group (and
/// plan version), flushes each when it is full or at its earliest personal deadline, and publishes
/// the batch on the topic of its function's kind. A source offset is committed only after every
/// batch (or late record) holding records up to it is acknowledged.
public struct BatcherService: PipelineService {
  /// The service is named after its log (`router`, `cpu-worker`, …).
  public var name: String { log.service }

  public struct Settings: Sendable {
    public var topics = PipelineTopics()
    public var groupID = "hb-batcher"
    public var latePolicy = LatePolicy.divert
    /// Buffers flush this long before the plan's deadline, so that the wake-up jitter of a busy
    /// machine does not push a batch past its SLO (the plan leaves no slack: t_w = s_w − L_max;
    /// `batcher --flush-margin-ms`).
    /// Default: `defaultFlushMargin`.
    public var flushMargin = defaultFlushMargin
    /// Where the batcher counts what it does for `GET /metrics` (nil: nowhere).
    public var telemetry: MetricsRegistry?
    public var instance = ProcessInfo.processInfo.hostName + "-\(getpid())"
    /// Whether replies may go to topics that do not exist yet (which a broker that creates topics
    /// on first use then creates). Off: a reply to a topic the cluster lacks is not sent
    /// (`ReplyTopics`).
    public var createReplyTopics = false
    /// `flushMargin` when none is given.
    /// Default: 5 ms.
    public static let defaultFlushMargin: Duration = .milliseconds(5)

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

  /// Runs until `stop` is set; then flushes every buffer, waits for the broker, commits and leaves
  /// the group. Blocks the calling thread.
  public func run(_ context: ServiceContext) throws {
    let stop = context.stop
    let clock = PipelineClock()
    let io = try StageIO(
      common: common, groupID: settings.groupID, input: settings.topics.grouped, log: log,
      pollBatch: 256)
    if !settings.createReplyTopics { io.replyTopics = try ReplyTopics(common: common, log: log) }
    var buffers = GroupBuffers<BatchItem>(
      latePolicy: settings.latePolicy,
      maxBatchBytes: RecordLimits.maxRecordBytes - RecordLimits.batchOverheadBytes)
    var counters = Counters()
    var routes = RouteParser()
    var ledger = RecoveryLedger()
    var lastLag = clock.now()
    try io.run {
      while !stop.isSet {
        if io.hasJoined { context.ready() }
        context.clusterReachable(!io.clusterUnhealthy)
        if let telemetry = settings.telemetry, clock.now() - lastLag >= 1 {
          lastLag = clock.now()
          if let lag = io.consumer.lag() {
            telemetry.set(.consumerLag, Double(lag), labels: ["group": settings.groupID])
          }
        }
        var waitMs = 50
        if let deadline = buffers.nextDeadline {
          waitMs = max(0, min(waitMs, Int(((deadline - clock.now()) * 1000).rounded(.up))))
        }
        let record = try io.nextRecord(
          timeoutMs: waitMs,
          onRevoke: { partitions in
            ledger.forget(partitions)
            let revoked = Set(partitions)
            let removed = buffers.removeAll(where: { revoked.contains($0.source) })
            if !removed.isEmpty {
              log.info(
                "revoked \(partitions.count) partitions; \(removed.count) buffered requests go to "
                  + "their new owner")
            }
          },
          onAssign: { (partitions) throws(KafkaError) in
            let topics = settings.topics
            ledger.merge(
              try io.recover(
                partitions, common: common,
                outputs: [topics.batchesCPU, topics.batchesGPU, topics.late, topics.deadLetter],
                sources: Self.recoverySources(
                  topics, log: log, telemetry: settings.telemetry)))
          })
        // One clock read for the record and the deadlines after it (a read per use was 3 % of
        // the batcher's time).
        let now = clock.now()
        if let record {
          // (The ledger is empty but after a restart: no coordinates built per record then.)
          if !ledger.isEmpty, ledger.take(record.coordinates) != nil {
            // Batched (or diverted) before a restart, not committed: done already.
            io.settle(record.topicPartition, offset: record.offset)
            counters.recovered += 1
          } else {
            try receive(
              record, into: &buffers, routes: &routes, io: io, now: now, counters: &counters)
          }
        }
        if let deadline = buffers.nextDeadline, deadline <= now {
          try execute(buffers.advance(to: now), io: io, counters: &counters, timerDriven: true)
        }
        try io.advanceOffsetsPeriodically()
      }
      try execute(buffers.drain(now: clock.now()), io: io, counters: &counters)
    } stopped: {
      log.info(
        "stopped: \(counters.batches) batches of \(counters.dispatched) requests, "
          + "\(counters.late) late, \(counters.deadLetters) dead letters"
          + (counters.recovered > 0 ? ", \(counters.recovered) found done before a restart" : ""))
    }
  }

  struct Counters {
    var batches = 0
    var dispatched = 0
    var late = 0
    var deadLetters = 0
    var sequence = 0
    /// Records found done already after a restart.
    var recovered = 0
  }

  /// A batch names each request's source in its JSON; late records and dead letters in
  /// `hb-source`. A batch is read as workers read it (`BatchMessage.decode`); one that does not
  /// read is logged and counted (`harmonybatch_message_errors_total`), and what can still be read
  /// of it (`BatchMessage.salvage`: the requests a worker sends to the dead letter one by one) is
  /// done, so that those requests are not batched a second time.
  static func recoverySources(
    _ topics: PipelineTopics, log: PipelineLog, telemetry: MetricsRegistry?
  ) -> RecoveryLedger.Sources {
    { record in
      guard record.topic == topics.batchesCPU || record.topic == topics.batchesGPU else {
        return RecoveryLedger.sourceHeader(record)
      }
      do {
        return try BatchMessage.decode(record.value ?? []).requests.map { ($0.source, $0.id) }
      } catch {
        let salvaged = BatchMessage.salvage(record.value ?? []).requests
        let reason = (error as? DecodingError)?.summary ?? "\(error)"
        log.warning(
          "recovery: batch \(record.coordinates) does not read (\(reason)); \(salvaged.count) "
            + "of its requests still name their source and are taken as done")
        telemetry?.add(
          .messageErrors,
          labels: ["stage": "batcher", "message": "batch", "direction": "decode"])
        return salvaged.map { ($0.source, $0.id) }
      }
    }
  }

  private func receive(
    _ record: KafkaRecord, into buffers: inout GroupBuffers<BatchItem>,
    routes: inout RouteParser, io: StageIO, now: Double, counters: inout Counters
  ) throws {
    switch GroupedRecord.parse(record.headers, routes: &routes) {
    case .failure(let error):
      try deadLetter(record, .badGroupedRecord, error.message, io: io, counters: &counters)
    case .success(let grouped):
      let request = BufferedRequest(
        id: grouped.requestID, app: grouped.app, arrival: Double(grouped.arrivalMs) / 1000,
        slo: grouped.sloMs / 1000,
        timeout: max(0, grouped.timeoutMs / 1000 - settings.flushMargin.seconds),
        item: BatchItem(
          source: record.topicPartition, offset: record.offset, value: record.value,
          headers: record.headers, received: now),
        bytes: RecordLimits.batchBytes(
          payload: record.value?.count ?? 0, id: grouped.requestID.utf8.count,
          app: grouped.app.utf8.count, source: record.topic.utf8.count + 24,
          headers: RecordLimits.carriedHeaderBytes(record.headers)))
      guard request.bytes <= buffers.maxBatchBytes else {
        // Written by something other than our router (it refuses such requests): a batch of one
        // would not fit a record.
        try deadLetter(
          record, .payloadTooLarge,
          "alone in a batch it would not fit a record of \(RecordLimits.maxRecordBytes) bytes",
          io: io, counters: &counters)
        return
      }
      let directives = buffers.receive(request, in: grouped.spec, now: now)
      if directives.isEmpty {
        // Held: read and not yet flushed (`--log-level debug`; the process tests kill a batcher
        // once it holds requests).
        log.debug(
          "request \(grouped.requestID) buffered: group \(grouped.spec.key.group) holds "
            + "\(buffers.waiting(in: grouped.spec.key)) of \(grouped.spec.capacity)")
      }
      try execute(directives, io: io, counters: &counters)
    }
  }

  /// A record of hb.grouped that cannot be batched: a dead letter, and a reply when asked for.
  private func deadLetter(
    _ record: KafkaRecord, _ code: ReasonCode, _ detail: String, io: StageIO,
    counters: inout Counters
  ) throws {
    counters.deadLetters += 1
    settings.telemetry?.add(.deadLetters, labels: ["stage": "batcher", "reason": code.rawValue])
    let message = DeadLetter.message(
      for: record, code: code, detail: detail, topic: settings.topics.deadLetter)
    let reply = Reply.message(
      for: message, outcome: .deadLetter, fallbackID: record.coordinates, topics: settings.topics)
    try io.produce(
      [message], replies: reply.map { [$0] } ?? [],
      sources: [(record.topicPartition, record.offset)])
  }

  /// `timerDriven`: the directives come from a wake-up at a deadline (not from a request that
  /// arrived when its deadline had already passed); their lateness measures punctuality.
  private func execute(
    _ directives: [BatchingDirective<BatchItem>], io: StageIO, counters: inout Counters,
    timerDriven: Bool = false
  ) throws {
    for directive in directives {
      switch directive {
      case .dispatch(let batch):
        counters.sequence += 1
        counters.batches += 1
        counters.dispatched += batch.requests.count
        if let telemetry = settings.telemetry {
          let group = batch.spec.key.group
          telemetry.add(
            .batchesDispatched,
            labels: [
              "group": group, "kind": batch.spec.function.kind.rawValue,
              "reason": batch.reason.rawValue,
            ])
          telemetry.add(
            .requestsDispatched, Double(batch.requests.count), labels: ["group": group])
          telemetry.observe(
            .batchFill, Double(batch.requests.count) / Double(batch.spec.capacity))
          if timerDriven, batch.reason == .deadline {
            telemetry.observe(.flushLateness, max(0, batch.flushedAt - batch.dueAt))
          }
        }
        let message = try batch.message(
          id: "\(settings.instance)-\(counters.sequence)", batcher: settings.instance,
          topics: settings.topics)
        try io.produce(message, sources: batch.requests.map { ($0.item.source, $0.item.offset) })
      case .divert(let request, _, let lateBy):
        counters.late += 1
        settings.telemetry?.add(.lateRequests, labels: ["app": request.app])
        let message = LateRecord.message(
          for: request, lateBy: lateBy, topic: settings.topics.late)
        let reply = Reply.message(
          for: message, outcome: .late, fallbackID: request.id, topics: settings.topics)
        try io.produce(
          [message], replies: reply.map { [$0] } ?? [],
          sources: [(request.item.source, request.item.offset)])
      }
    }
  }
}
