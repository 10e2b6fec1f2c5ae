import CRdKafka
import Synchronization

/// Reads explicitly chosen partitions through librdkafka's simple consumer
/// (`rd_kafka_consume_start_queue`): no group coordinator, and a lighter path than the group
/// consumer's poll. Every waiting message is taken in one call (librdkafka's callback-queue API,
/// marked deprecated upstream but the one path without a queue round trip per message), converted,
/// and handed out one per `next`. Used by `KafkaConsumer` when it has no group.
final class RDKafkaPartitionReader: @unchecked Sendable {  // C pointers are set once in init
  private struct State {
    var started: [KafkaTopicPartition] = []
    /// Converted records taken from librdkafka and not yet handed out.
    var readAhead: [KafkaConsumerEvent] = []
    var readAheadIndex = 0
  }

  /// Messages taken from librdkafka per call (`consume.callback.max.messages`).
  static let messagesPerCall = 1024

  private let client: RDKafkaClient
  private let queue: OpaquePointer
  private let topics: RDKafkaTopicHandles
  private let state = Mutex(State())

  init(client: RDKafkaClient) {
    self.client = client
    queue = rd_kafka_queue_new(client.handle)
    topics = RDKafkaTopicHandles(client: client)
  }

  deinit {
    stopAll()
    rd_kafka_queue_destroy(queue)
  }

  /// Replaces the partitions being read; records read ahead from the old ones are dropped.
  func assign(_ partitions: [(KafkaTopicPartition, KafkaOffset)]) throws(KafkaError) {
    stopAll()
    // Learn the partitions' leaders first: a partition started before its leader is known is
    // backed off for `fetch.error.backoff.ms` (500 ms) before its first fetch.
    for topic in Set(partitions.map(\.0.topic)) {
      var metadata: UnsafePointer<rd_kafka_metadata>? = nil
      if rd_kafka_metadata(client.handle, 0, topics.handle(for: topic), &metadata, 5000)
        == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata
      {
        rd_kafka_metadata_destroy(metadata)
      }
    }
    for (tp, offset) in partitions {
      let topic = topics.handle(for: tp.topic)
      if rd_kafka_consume_start_queue(
        topic, tp.partition, RDKafkaTopicPartitionList.cOffset(offset), queue) == -1
      {
        let err = rd_kafka_last_error()
        stopAll()
        throw KafkaError(.assign, "cannot start reading \(tp)", rdError: err)
      }
      state.withLock { $0.started.append(tp) }
    }
  }

  var assignment: [KafkaTopicPartition] { state.withLock { $0.started }.sorted() }

  /// The next record (or error event), waiting up to `timeoutMs` when none is read ahead.
  /// `convert` turns a librdkafka message into an event; it runs on the calling thread.
  func next(
    timeoutMs: Int,
    convert: (UnsafeMutablePointer<rd_kafka_message_t>) throws(KafkaError) -> KafkaConsumerEvent
  ) throws(KafkaError) -> KafkaConsumerEvent? {
    try state.withLock { (state) throws(KafkaError) -> KafkaConsumerEvent? in
      if state.readAheadIndex == state.readAhead.count {
        try refill(&state, timeoutMs: timeoutMs, convert: convert)
        guard !state.readAhead.isEmpty else { return nil }
      }
      state.readAheadIndex += 1
      return state.readAhead[state.readAheadIndex - 1]
    }
  }

  /// Up to `maxEvents` records (or error events): those read ahead, or, when none are, those
  /// waiting in librdkafka (taken up to `consume.callback.max.messages` at a time), waiting up to
  /// `timeoutMs` for the first. What is taken beyond `maxEvents` stays read ahead.
  func nextBatch(
    maxEvents: Int,
    timeoutMs: Int,
    convert: (UnsafeMutablePointer<rd_kafka_message_t>) throws(KafkaError) -> KafkaConsumerEvent
  ) throws(KafkaError) -> [KafkaConsumerEvent] {
    try state.withLock { (state) throws(KafkaError) -> [KafkaConsumerEvent] in
      if state.readAheadIndex == state.readAhead.count {
        try refill(&state, timeoutMs: timeoutMs, convert: convert)
      }
      let available = state.readAhead.count - state.readAheadIndex
      if state.readAheadIndex == 0 && available <= maxEvents {
        // The common case: hand over the whole array rather than copy it.
        defer { state.readAhead = [] }
        return state.readAhead
      }
      let end = state.readAheadIndex + min(max(1, maxEvents), available)
      defer { state.readAheadIndex = end }
      return Array(state.readAhead[state.readAheadIndex..<end])
    }
  }

  private func refill(
    _ state: inout State, timeoutMs: Int,
    convert: (UnsafeMutablePointer<rd_kafka_message_t>) throws(KafkaError) -> KafkaConsumerEvent
  ) throws(KafkaError) {
    // The simple consumer's errors and logs wait on the main queue: serve it with every refill.
    rd_kafka_poll(client.handle, 0)
    state.readAhead.removeAll(keepingCapacity: true)
    state.readAheadIndex = 0
    var events: [KafkaConsumerEvent] = []
    swap(&events, &state.readAhead)
    events.reserveCapacity(Self.messagesPerCall)
    var failure: KafkaError? = nil
    let receive = { (message: UnsafeMutablePointer<rd_kafka_message_t>) in
      do throws(KafkaError) { events.append(try convert(message)) } catch { failure = error }
    }
    withoutActuallyEscaping(receive) { receive in
      let collector = MessageCollector(receive)
      // Up to `consume.callback.max.messages`; librdkafka destroys each message afterwards.
      _ = rd_kafka_consume_callback_queue(
        queue, Int32(clamping: timeoutMs),
        { message, opaque in
          guard let message, let opaque else { return }
          Unmanaged<MessageCollector>.fromOpaque(opaque).takeUnretainedValue().receive(message)
        }, Unmanaged.passUnretained(collector).toOpaque())
    }
    swap(&events, &state.readAhead)
    if let failure { throw failure }
  }

  /// Stops every partition and drops what was read ahead.
  func stopAll() {
    let running = state.withLock { state in
      defer {
        state.started.removeAll()
        state.readAhead.removeAll()
        state.readAheadIndex = 0
      }
      return state.started
    }
    for tp in running { _ = rd_kafka_consume_stop(topics.handle(for: tp.topic), tp.partition) }
  }
}

/// Carries the receiving closure through librdkafka's callback `opaque` pointer.
private final class MessageCollector {
  let receive: (UnsafeMutablePointer<rd_kafka_message_t>) -> Void
  init(_ receive: @escaping (UnsafeMutablePointer<rd_kafka_message_t>) -> Void) {
    self.receive = receive
  }
}
