import Kafka
import PipelineCore
import Synchronization

/// The Kafka side of one pipeline stage: a consumer-group member reading its input, a producer
/// for its output, and the bookkeeping that commits an input offset only after everything
/// produced from it is acknowledged (DESIGN.md §4). Confined to the stage's thread, except for
/// `produce`, which other threads may call (the producer and the acknowledgements are
/// thread-safe), and the delivery reports, which arrive on the producer's thread.
final class StageIO: @unchecked Sendable {
  let consumer: KafkaConsumer
  let producer: KafkaProducer
  let log: PipelineLog
  private var pending = PendingOffsets()
  private let acknowledgements = Acknowledgements()
  /// Events taken from the consumer in one bulk poll and not yet handled, oldest last.
  private var polled: [KafkaConsumerEvent] = []
  private let pollBatch: Int
  /// Where replies may go: set, only to topics the cluster has (`ReplyTopics`); nil, anywhere.
  var replyTopics: ReplyTopics?

  /// `pollBatch`: events taken from the consumer per poll (1: one at a time). Stages that handle
  /// many small records take them in bulk; the order of records and rebalance events is kept.
  init(
    common: KafkaConfiguration, groupID: String, input: String, log: PipelineLog,
    sessionTimeout: Duration = KafkaConsumerConfiguration.defaultSessionTimeout,
    pollBatch: Int = 1, assignmentStrategy: String? = nil
  ) throws(KafkaError) {
    self.pollBatch = max(1, pollBatch)
    var consumerConfiguration = KafkaConsumerConfiguration(common: common, groupID: groupID)
    consumerConfiguration.assignmentStrategy = assignmentStrategy
    consumerConfiguration.commitPolicy = .automatic(interval: .milliseconds(500))
    consumerConfiguration.sessionTimeout = sessionTimeout
    consumerConfiguration.prefetchMessages = 100_000
    consumer = try KafkaConsumer(configuration: consumerConfiguration)
    var producerConfiguration = KafkaProducerConfiguration(common: common)
    producerConfiguration.linger = .milliseconds(1)
    producer = try KafkaProducer(configuration: producerConfiguration)
    self.log = log
    watch = ClusterWatch(producer: producer, timeout: common.unreachableTimeout, log: log)
    consumer.beforeRevoke { [weak self] partitions in self?.finishBeforeRevoke(partitions) }
    try consumer.subscribe(topics: [input])
  }

  /// What the stage does with the work in flight of partitions being revoked, before they go
  /// (the worker drops their queued batches and waits for the running ones).
  var finishInFlight: (([KafkaTopicPartition]) -> Void)?
  /// A delivery failure met inside a revocation, thrown by the next `advanceOffsets`.
  private var deferredFailure: KafkaError?

  /// Inside a revocation, on the loop's thread (it polls), before the stored offsets are
  /// committed and the partitions go: the stage finishes their work in flight, its outputs are
  /// flushed and its offsets stored — so the new owner starts after it instead of doing it again
  /// (reading outputs back, `RecoveryLedger`, is the net for what a crash leaves).
  private func finishBeforeRevoke(_ partitions: [KafkaTopicPartition]) {
    finishInFlight?(partitions)
    do {
      try producer.flush(timeoutMs: 10_000)
      try advanceOffsets()
    } catch {
      log.warning(
        "revoking \(Self.list(partitions)): \(error.message); some records may be done twice")
      // Outputs not acknowledged in time (the broker out of reach) stay queued and are sent when
      // it answers: not a failure of the stage. A delivery the broker refused is one.
      if error.code != .timeout { deferredFailure = deferredFailure ?? error }
    }
  }

  /// Whether the stage has joined its group (been given its share of partitions, maybe none).
  private(set) var hasJoined = false

  /// Whether the cluster is reachable (`check` throws once it has not been for the timeout).
  let watch: ClusterWatch
  /// Whether the cluster has been out of reach long enough to call the stage unhealthy.
  var clusterUnhealthy: Bool { watch.isUnhealthy }

  /// How long a stage given partitions waits for its own earlier output to be acknowledged
  /// before it reads its outputs back.
  static let recoveryFlushMs = 120_000

  /// What the stage already produced from input it had not committed (`RecoveryLedger`): read
  /// back from `outputs` when partitions are assigned.
  func recover(
    _ partitions: [KafkaTopicPartition], common: KafkaConfiguration, outputs: [String],
    sources: @escaping RecoveryLedger.Sources
  ) throws(KafkaError) -> RecoveryLedger {
    // What this process produced before (from partitions revoked while the broker was out of
    // reach, say) must be in the topics before they are read back, or it is done again.
    if producer.inFlight > 0 {
      do {
        try producer.flush(timeoutMs: Self.recoveryFlushMs)
      } catch {
        log.warning("before recovery: \(error.message); some records may be done twice")
      }
    }
    let ledger = try RecoveryLedger.read(
      common: common, group: consumer, inputs: partitions, outputs: outputs, sources: sources,
      log: log)
    if !ledger.isEmpty {
      log.info(
        "recovered: \(ledger.count) records read before a restart were already done; they are "
          + "not done again")
    }
    return ledger
  }

  /// The next record, waiting up to `timeoutMs`; the other events are handled here: assignments
  /// are logged (after `onAssign` has recovered what the stage produced from their uncommitted
  /// records), errors are logged, and revoked partitions are forgotten (after `onRevoke` has taken
  /// out what the stage still holds from them — their new owner reads them again).
  func nextRecord(
    timeoutMs: Int, onRevoke: ([KafkaTopicPartition]) -> Void = { _ in },
    onAssign: ([KafkaTopicPartition]) throws(KafkaError) -> Void = { _ in }
  ) throws(KafkaError) -> KafkaRecord? {
    guard let event = try nextEvent(timeoutMs: timeoutMs) else { return nil }
    switch event {
    case .record(let record):
      track(record)
      return record
    case .partitionsRevoked(let partitions):
      onRevoke(partitions)
      // What was produced from them must be in the topics before anyone (this stage, at its next
      // assignment, or their new owner) looks for it there: a record found done is not done
      // again (`RecoveryLedger`).
      do {
        try producer.flush(timeoutMs: 10_000)
      } catch {
        log.warning("revoked partitions: \(error.message); some records may be done twice")
      }
      forget(partitions)
      // With cooperative rebalancing a revocation takes only some partitions: say what is left.
      log.info("revoked \(Self.list(partitions)); holding \(Self.list(consumer.assignment()))")
    case .partitionsAssigned(let partitions):
      try onAssign(partitions)
      hasJoined = true
      log.info("assigned \(Self.list(partitions)); holding \(Self.list(consumer.assignment()))")
    case .error(let error):
      log.warning(error.message)
    case .partitionEOF:
      break
    }
    return nil
  }

  static func list(_ partitions: [KafkaTopicPartition]) -> String {
    partitions.isEmpty ? "none" : partitions.map(\.description).joined(separator: ", ")
  }

  private func nextEvent(timeoutMs: Int) throws(KafkaError) -> KafkaConsumerEvent? {
    if pollBatch == 1 { return try consumer.poll(timeoutMs: timeoutMs) }
    if polled.isEmpty {
      polled = try consumer.poll(maxEvents: pollBatch, timeoutMs: timeoutMs)
      // Newest first, so that each is moved out from the end instead of copied (a copy retains
      // the record's topic, key, value and headers, and releases them again).
      polled.reverse()
    }
    return polled.popLast()
  }

  /// Records read and not yet settled.
  var pendingCount: Int { pending.pendingCount }

  /// A record was read; it stays pending until `produce(…sources:)` for it is acknowledged or
  /// `settle(_:)` is called.
  func track(_ record: KafkaRecord) {
    pending.track(record.topicPartition, offset: record.offset)
  }

  /// A record needs no output (nothing to wait for).
  func settle(_ partition: KafkaTopicPartition, offset: Int64) {
    pending.complete(partition, offset: offset)
  }

  /// Produces a message made from the `sources` records; they are settled when the broker
  /// acknowledges it.
  func produce(_ message: KafkaProducerMessage, sources: [(KafkaTopicPartition, Int64)])
    throws(KafkaError)
  {
    try producer.enqueue(message, onDelivery: acknowledgements.handler(for: sources))
  }

  /// Produces a message made from one record, settled when the broker acknowledges it: the
  /// router's path, one per request, with no array of sources to allocate.
  func produce(
    _ message: KafkaProducerMessage, source partition: KafkaTopicPartition, offset: Int64
  )
    throws(KafkaError)
  {
    try producer.enqueue(message, onDelivery: acknowledgements.handler(for: partition, offset))
  }

  /// Produces several messages made from the same `sources`; they are settled when the broker
  /// has acknowledged every one of them.
  func produce(_ messages: [KafkaProducerMessage], sources: [(KafkaTopicPartition, Int64)])
    throws(KafkaError)
  {
    guard messages.count > 1 else {
      if let message = messages.first {
        try produce(message, sources: sources)
      } else {
        for (partition, offset) in sources { settle(partition, offset: offset) }
      }
      return
    }
    let countdown = Countdown(messages.count, then: acknowledgements.handler(for: sources))
    for message in messages {
      try producer.enqueue(message, onDelivery: countdown.handler)
    }
  }

  /// Produces a request's outcome `messages` and its `replies` (`Reply`); the `sources` are
  /// settled when the broker has answered for every one. A reply that cannot be delivered (its
  /// topic does not exist on a cluster that does not create topics, say) is logged but does not
  /// stop the stage: the outcome is on its topic all the same.
  func produce(
    _ messages: [KafkaProducerMessage], replies: [KafkaProducerMessage],
    sources: [(KafkaTopicPartition, Int64)]
  ) throws(KafkaError) {
    let replies = replyTopics?.existing(replies) ?? replies
    guard !replies.isEmpty else { return try produce(messages, sources: sources) }
    guard !messages.isEmpty else { return try produce(replies, sources: sources) }
    let countdown = Countdown(
      messages.count + replies.count, then: acknowledgements.handler(for: sources))
    for message in messages {
      try producer.enqueue(message, onDelivery: countdown.handler)
    }
    let log = self.log
    for reply in replies {
      let topic = reply.topic
      try producer.enqueue(
        reply,
        onDelivery: countdown.tolerantHandler { error in
          log.warning("a reply to \(topic) was not delivered: \(error.message)")
        })
    }
  }

  /// The group took partitions away: their records will be read again by the new owner.
  func forget(_ partitions: [KafkaTopicPartition]) {
    pending.forget(partitions)
  }

  private var lastAdvance = PipelineClock.monotonicNanoseconds()
  private var sinceAdvance = 0
  private static let advanceInterval: UInt64 = 2_000_000  // 2 ms

  /// `advanceOffsets`, but at most every 2 ms or 512 calls: storing offsets per record costs more
  /// than the record.
  func advanceOffsetsPeriodically() throws(KafkaError) {
    sinceAdvance += 1
    let now = PipelineClock.monotonicNanoseconds()
    guard sinceAdvance >= 512 || now &- lastAdvance >= Self.advanceInterval else { return }
    sinceAdvance = 0
    lastAdvance = now
    try advanceOffsets()
    try watch.check()
  }

  /// Applies the acknowledgements that arrived and stores the offsets that became committable.
  /// Throws when a message could not be delivered (librdkafka gave up after its retries): the
  /// stage must stop without committing past it, so a restart replays it.
  func advanceOffsets() throws(KafkaError) {
    if let failure = deferredFailure {
      deferredFailure = nil
      throw failure
    }
    let (done, failure) = acknowledgements.take()
    let unconfirmed = acknowledgements.withoutOffset.exchange(0, ordering: .relaxed)
    if unconfirmed > 0 {
      log.warning(
        "\(unconfirmed) records acknowledged without an offset (the broker said it had them "
          + "already; librdkafka's mock broker may not have: see README, Faults and guarantees)")
    }
    for (partition, offset) in done { pending.complete(partition, offset: offset) }
    if let failure { throw failure }
    let advanced = pending.takeAdvanced()
    if !advanced.isEmpty {
      do {
        try consumer.storeOffsets(advanced)
      } catch {
        // A partition revoked a moment ago cannot be stored to; its new owner replays it.
        log.log(.debug, "cannot store offsets: \(error.message)")
      }
    }
  }

  /// A stage's run from end to end: `work` (its loop, until it stops or fails), then `drain`
  /// (what it still holds; an error it returns counts as the stage's), then `finish()`, then
  /// `stopped` (the last log line). Each step runs even when one before it failed; the first
  /// error is thrown at the end, so nothing past it is committed.
  func run(
    _ work: () throws -> Void, drain: () -> (any Error)? = { nil }, stopped: () -> Void
  ) throws {
    var failure: (any Error)?
    do { try work() } catch { failure = error }
    if let error = drain() { failure = failure ?? error }
    do { try finish() } catch { failure = failure ?? error }
    stopped()
    if let failure { throw failure }
  }

  /// Waits for every produced message, stores and commits the offsets, and leaves the group.
  func finish(timeoutMs: Int = 30_000) throws(KafkaError) {
    watch.stop()
    defer {
      consumer.close()
      _ = producer.close(timeoutMs: 1000)
    }
    // With the cluster out of reach nothing more will be acknowledged: do not wait for it.
    try producer.flush(timeoutMs: watch.isUnhealthy ? 1000 : timeoutMs)
    try advanceOffsets()
    // A commit waits for a coordinator; with none in reach it would hold the exit for half a
    // minute, and the offsets stored are committed by nobody either way.
    guard !watch.isUnhealthy else { return }
    do {
      try consumer.commit()
    } catch  where error.isGroupMovedOn {
      // Others left or joined as this member did: its last offsets go uncommitted, and whoever
      // takes its partitions reads again from the last commit. Not this stage's failure.
      log.warning(
        "left while the group rebalanced, the last offsets were not committed (\(error.message)); "
          + "the partitions' next owner reads again from the last commit")
    }
  }
}

/// Calls `then` once, after `count` deliveries (with the first failure, if any).
final class Countdown: Sendable {
  private let state: Mutex<(left: Int, failure: KafkaError?, report: KafkaDeliveryReport?)>
  private let then: KafkaProducer.DeliveryHandler

  init(_ count: Int, then: @escaping KafkaProducer.DeliveryHandler) {
    state = Mutex((count, nil, nil))
    self.then = then
  }

  var handler: KafkaProducer.DeliveryHandler {
    { result in self.count(result, tolerated: false) }
  }

  /// Counts a delivery whose failure is reported to `onFailure` and does not fail the rest.
  func tolerantHandler(onFailure: @escaping @Sendable (KafkaError) -> Void)
    -> KafkaProducer.DeliveryHandler
  {
    { result in
      if case .failure(let error) = result { onFailure(error) }
      self.count(result, tolerated: true)
    }
  }

  private func count(_ result: Result<KafkaDeliveryReport, KafkaError>, tolerated: Bool) {
    let finished: (left: Int, failure: KafkaError?, last: KafkaDeliveryReport?) = state.withLock {
      state in
      if !tolerated, case .failure(let error) = result, state.failure == nil {
        state.failure = error
      }
      if case .success(let report) = result, !tolerated { state.report = report }
      state.left -= 1
      return (state.left, state.failure, state.report)
    }
    guard finished.left == 0 else { return }
    // At least one delivery is not tolerated (`StageIO.produce(_:replies:sources:)`), so there
    // is a failure or a report.
    if let failure = finished.failure {
      then(.failure(failure))
    } else if let report = finished.last {
      then(.success(report))
    }
  }
}

/// Delivery reports, handed from the producer's thread to the stage's loop.
final class Acknowledgements: Sendable {
  private let state = Mutex<(done: [(KafkaTopicPartition, Int64)], failure: KafkaError?)>(([], nil))
  /// Deliveries reported without an offset: an idempotent producer's retry that the broker
  /// answered "already have it". A real broker has it; librdkafka's mock broker may not.
  let withoutOffset = Atomic<Int>(0)

  func handler(for sources: [(KafkaTopicPartition, Int64)]) -> KafkaProducer.DeliveryHandler {
    { result in self.note(result) { $0.append(contentsOf: sources) } }
  }

  /// `handler(for: [(partition, offset)])` for a single source.
  func handler(for partition: KafkaTopicPartition, _ offset: Int64) -> KafkaProducer.DeliveryHandler
  {
    { result in self.note(result) { $0.append((partition, offset)) } }
  }

  /// A delivery: on success its sources are done (`settle` adds them), a failure is kept.
  private func note(
    _ result: Result<KafkaDeliveryReport, KafkaError>,
    settle: (inout [(KafkaTopicPartition, Int64)]) -> Void
  ) {
    state.withLock { state in
      switch result {
      case .success(let report):
        if report.offset < 0 { withoutOffset.add(1, ordering: .relaxed) }
        settle(&state.done)
      case .failure(let error): if state.failure == nil { state.failure = error }
      }
    }
  }

  func take() -> (done: [(KafkaTopicPartition, Int64)], failure: KafkaError?) {
    state.withLock { state in
      defer { state.done.removeAll(keepingCapacity: true) }
      return (state.done, state.failure)
    }
  }
}
