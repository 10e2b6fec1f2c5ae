import CRdKafka
import Foundation
import Synchronization

/// Reads records through librdkafka, as a member of a consumer group (`subscribe`) or, without a
/// group, from explicitly assigned partitions (`assign`, through librdkafka's simple consumer).
///
/// Pull-based: `poll(timeoutMs:)` blocks the calling thread (call it from a thread of your own),
/// and `events()` is an async sequence whose every `next()` polls on the consumer's own dispatch
/// queue — nothing is fetched ahead of the caller except librdkafka's bounded prefetch, so a slow
/// caller slows the fetch (back-pressure). A record's offset reaches the group only after the
/// caller marks it done with `storeOffset`; stored offsets are committed by the commit policy, on
/// every revocation (before the partitions go to another member) and on `close`.
public final class KafkaConsumer: Sendable {
  private let client: RDKafkaClient
  private let pending: PendingEvents
  private let pollGate: Mutex<PollState>  // held while librdkafka polls
  private let pollQueue = DispatchQueue(label: "kafka-consumer-poll")
  /// Without a group: the partitions read by `assign`.
  private let reader: RDKafkaPartitionReader?
  public let groupID: String?

  /// Runs inside a revocation before the stored offsets are committed and the partitions go.
  private let revokeHook = RevokeHook()

  public init(configuration: KafkaConsumerConfiguration) throws(KafkaError) {
    let pending = PendingEvents()
    let commitsOnRevoke = configuration.groupID != nil
    let logger = configuration.common.logger
    let hook = revokeHook
    let properties = configuration.resolvedProperties
    // The strategy configured (the last setting wins, as in librdkafka): what a rebalance follows
    // when librdkafka cannot name the group's protocol.
    let configuredCooperative =
      properties.last(where: { $0.0 == "partition.assignment.strategy" })?.1
      .contains("cooperative") ?? false
    let callbacks = RDKafkaCallbacks(
      logger: logger,
      onRebalance: { rk, err, list in
        KafkaConsumer.rebalance(
          rk, err, list, commitStored: commitsOnRevoke,
          configuredCooperative: configuredCooperative,
          logger: logger, pending: pending, beforeRevoke: hook)
      })
    client = try RDKafkaClient(kind: .consumer, properties: properties, callbacks: callbacks)
    self.pending = pending
    self.groupID = configuration.groupID
    pollGate = Mutex(PollState(names: RecordNames(readsHeaders: configuration.readsHeaders)))
    if configuration.groupID == nil {
      reader = RDKafkaPartitionReader(client: client)
    } else {
      reader = nil
      rd_kafka_poll_set_consumer(client.handle)
    }
  }

  /// Sets what runs when partitions are revoked, on the polling thread inside `poll`, before the
  /// stored offsets are committed and the partitions go to another member: the place to finish
  /// their work in flight and store its offsets, so that the new owner does not do it again.
  public func beforeRevoke(_ hook: @escaping @Sendable ([KafkaTopicPartition]) -> Void) {
    revokeHook.set(hook)
  }

  /// Joins the group and follows these topics; partitions arrive as `.partitionsAssigned`.
  public func subscribe(topics: [String]) throws(KafkaError) {
    guard groupID != nil else {
      throw KafkaError(.subscribe, "subscribing needs a consumer group id (or use assign)")
    }
    let handle = client.handle
    try RDKafkaTopicPartitionList.with(
      topics.map { (KafkaTopicPartition(topic: $0, partition: -1), 0) }
    ) {
      (list) throws(KafkaError) in
      let err = rd_kafka_subscribe(handle, list)
      if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(
          .subscribe, "cannot subscribe to \(topics.joined(separator: ","))", rdError: err)
      }
    }
  }

  /// Reads exactly these partitions from these offsets, outside any group rebalancing.
  public func assign(_ partitions: [(KafkaTopicPartition, KafkaOffset)]) throws(KafkaError) {
    if let reader { return try reader.assign(partitions) }
    let handle = client.handle
    try RDKafkaTopicPartitionList.with(
      partitions.map { ($0.0, RDKafkaTopicPartitionList.cOffset($0.1)) }
    ) {
      (list) throws(KafkaError) in
      let err = rd_kafka_assign(handle, list)
      if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(.assign, "cannot assign \(partitions.map(\.0))", rdError: err)
      }
    }
  }

  /// The partitions this consumer reads now.
  public func assignment() -> [KafkaTopicPartition] {
    if let reader { return reader.assignment }
    var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>? = nil
    guard rd_kafka_assignment(client.handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
      return []
    }
    defer { rd_kafka_topic_partition_list_destroy(list) }
    return RDKafkaTopicPartitionList.partitions(list).sorted()
  }

  /// Waits up to `timeoutMs` for the next event. `nil` means nothing arrived in time.
  public func poll(timeoutMs: Int) throws(KafkaError) -> KafkaConsumerEvent? {
    if !pending.isEmpty, let event = pending.pop() { return event }
    let handle = client.handle
    let event: KafkaConsumerEvent? = try pollGate.withLock { (state) throws(KafkaError) in
      if state.closed { throw KafkaError(.closed, "the consumer is closed") }
      if let reader {
        return try reader.next(timeoutMs: timeoutMs) { (message) throws(KafkaError) in
          try KafkaConsumer.event(from: message, client: client, names: &state.names)
        }
      }
      guard let message = rd_kafka_consumer_poll(handle, Int32(clamping: timeoutMs)) else {
        return nil
      }
      defer { rd_kafka_message_destroy(message) }
      return try KafkaConsumer.event(from: message, client: client, names: &state.names)
    }
    // A rebalance served inside that poll queued its events; they come before the record.
    guard !pending.isEmpty else { return event }
    if let event { pending.push(event) }
    return pending.pop()
  }

  /// Waits up to `timeoutMs` for events and returns those waiting, in order: at most
  /// `maxEvents` records and errors, each preceded by the rebalance events that came before it.
  /// Empty means nothing arrived in time. Cheaper per record than `poll(timeoutMs:)` when
  /// records come in bulk.
  public func poll(maxEvents: Int, timeoutMs: Int) throws(KafkaError) -> [KafkaConsumerEvent] {
    var events: [KafkaConsumerEvent] = []
    while let event = pending.pop() { events.append(event) }
    if !events.isEmpty { return events }
    let handle = client.handle
    return try pollGate.withLock { (state) throws(KafkaError) -> [KafkaConsumerEvent] in
      if state.closed { throw KafkaError(.closed, "the consumer is closed") }
      if let reader {
        return try reader.nextBatch(maxEvents: maxEvents, timeoutMs: timeoutMs) {
          (message) throws(KafkaError) in
          try KafkaConsumer.event(from: message, client: client, names: &state.names)
        }
      }
      events.reserveCapacity(min(maxEvents, 1024))
      var taken = 0
      var wait = Int32(clamping: timeoutMs)
      while taken < maxEvents {
        let message = rd_kafka_consumer_poll(handle, wait)
        wait = 0
        // A rebalance served inside that poll comes after the records before it and before
        // the one it returned.
        while let event = pending.pop() { events.append(event) }
        guard let message else { break }
        defer { rd_kafka_message_destroy(message) }
        events.append(
          try KafkaConsumer.event(from: message, client: client, names: &state.names))
        taken += 1
      }
      return events
    }
  }

  /// Events as an async sequence; it ends when the consumer is closed or the task cancelled.
  public func events() -> Events { Events(consumer: self) }

  /// Marks a record done: its offset + 1 becomes the partition's stored offset.
  public func storeOffset(for record: KafkaRecord) throws(KafkaError) {
    try storeOffsets([(record.topicPartition, record.offset + 1)])
  }

  /// Stores next-offsets to read (one past the last done record) for several partitions.
  /// Without a group there is nowhere to commit to, and storing does nothing.
  public func storeOffsets(_ offsets: [(KafkaTopicPartition, Int64)]) throws(KafkaError) {
    guard groupID != nil else { return }
    let handle = client.handle
    try RDKafkaTopicPartitionList.with(offsets) { (list) throws(KafkaError) in
      let err = rd_kafka_offsets_store(handle, list)
      if let (tp, partitionErr) = RDKafkaTopicPartitionList.firstError(list) {
        throw KafkaError(.commit, "cannot store the offset of \(tp)", rdError: partitionErr)
      }
      if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(.commit, "cannot store offsets", rdError: err)
      }
    }
  }

  /// Commits the stored offsets now and waits for the coordinator. Blocks the calling thread.
  public func commit() throws(KafkaError) {
    guard groupID != nil else { return }
    let err = rd_kafka_commit(client.handle, nil, 0)
    if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
      throw KafkaError(.commit, "commit failed", rdError: err)
    }
  }

  /// The group's committed next-offsets for these partitions (asks the coordinator).
  public func committed(_ partitions: [KafkaTopicPartition], timeoutMs: Int = 10_000)
    throws(KafkaError)
    -> [KafkaTopicPartition: Int64]
  {
    let handle = client.handle
    return try RDKafkaTopicPartitionList.with(partitions.map { ($0, 0) }) {
      (list) throws(KafkaError) in
      let err = rd_kafka_committed(handle, list, Int32(clamping: timeoutMs))
      if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(.commit, "cannot read committed offsets", rdError: err)
      }
      var result: [KafkaTopicPartition: Int64] = [:]
      for i in 0..<Int(list.pointee.cnt) {
        let e = list.pointee.elems[i]
        result[KafkaTopicPartition(topic: String(cString: e.topic), partition: e.partition)] =
          e.offset
      }
      return result
    }
  }

  /// Records in the assigned partitions that this consumer has not returned yet (the high
  /// watermark less the position), from what librdkafka last learnt in its fetches: never asks
  /// the broker, so it is cheap and may lag a fetch behind. Nil when no assigned partition has a
  /// known position and end yet (nothing fetched so far). Group members only.
  public func lag() -> Int? {
    guard let byPartition = lagByPartition() else { return nil }
    if byPartition.isEmpty, !assignment().isEmpty { return nil }
    return byPartition.values.reduce(0, +)
  }

  /// `lag()` for each assigned partition whose position and end are known (a partition not read
  /// from yet is left out). Nil for a consumer that is not a group member.
  public func lagByPartition() -> [KafkaTopicPartition: Int]? {
    guard reader == nil else { return nil }
    let partitions = assignment()
    guard !partitions.isEmpty else { return [:] }
    let handle = client.handle
    return try? RDKafkaTopicPartitionList.with(partitions.map { ($0, 0) }) {
      (list) throws(KafkaError) -> [KafkaTopicPartition: Int]? in
      guard rd_kafka_position(handle, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
      var lags: [KafkaTopicPartition: Int] = [:]
      for i in 0..<Int(list.pointee.cnt) {
        let element = list.pointee.elems[i]
        var low: Int64 = -1
        var high: Int64 = -1
        guard
          rd_kafka_get_watermark_offsets(handle, element.topic, element.partition, &low, &high)
            == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0
        else { continue }
        // Without a position yet the consumer starts from its committed offset, which is not
        // known here; such a partition counts once it has been read from.
        guard element.offset >= 0 else { continue }
        let partition = KafkaTopicPartition(
          topic: String(cString: element.topic), partition: element.partition)
        lags[partition] = Int(max(0, high - element.offset))
      }
      return lags
    } ?? nil
  }

  /// How many partitions `topic` has, as the brokers say (asks them; nil when they do not
  /// answer within `timeoutMs` or do not know the topic).
  public func partitionCount(of topic: String, timeoutMs: Int = 2_000) -> Int? {
    var metadata: UnsafePointer<rd_kafka_metadata>? = nil
    // Locally known topics only: the subscribed ones, without listing the whole cluster.
    let err = rd_kafka_metadata(client.handle, 0, nil, &metadata, Int32(clamping: timeoutMs))
    guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { return nil }
    defer { rd_kafka_metadata_destroy(metadata) }
    for i in 0..<Int(metadata.pointee.topic_cnt) {
      let entry = metadata.pointee.topics[i]
      if entry.err == RD_KAFKA_RESP_ERR_NO_ERROR, String(cString: entry.topic) == topic {
        return Int(entry.partition_cnt)
      }
    }
    return nil
  }

  /// For each partition, the first offset whose record's timestamp is at or after `timestampMs`,
  /// or the partition's end when none is (asks the brokers).
  public func offsets(
    for partitions: [KafkaTopicPartition], atOrAfter timestampMs: Int64, timeoutMs: Int = 10_000
  ) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
    guard !partitions.isEmpty else { return [:] }
    let handle = client.handle
    var found = try RDKafkaTopicPartitionList.with(partitions.map { ($0, timestampMs) }) {
      (list) throws(KafkaError) -> [KafkaTopicPartition: Int64] in
      let err = rd_kafka_offsets_for_times(handle, list, Int32(clamping: timeoutMs))
      if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(.consume, "cannot look up offsets by time", rdError: err)
      }
      var result: [KafkaTopicPartition: Int64] = [:]
      for i in 0..<Int(list.pointee.cnt) {
        let e = list.pointee.elems[i]
        result[KafkaTopicPartition(topic: String(cString: e.topic), partition: e.partition)] =
          e.offset
      }
      return result
    }
    for (partition, offset) in found where offset < 0 {
      found[partition] = try watermarks(partition, timeoutMs: timeoutMs).high
    }
    return found
  }

  /// A partition's first and next offsets (asks its leader).
  public func watermarks(_ partition: KafkaTopicPartition, timeoutMs: Int = 10_000)
    throws(KafkaError) -> (low: Int64, high: Int64)
  {
    var low: Int64 = -1
    var high: Int64 = -1
    let err = rd_kafka_query_watermark_offsets(
      client.handle, partition.topic, partition.partition, &low, &high, Int32(clamping: timeoutMs))
    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
      throw KafkaError(.consume, "cannot read the offsets of \(partition)", rdError: err)
    }
    return (low, high)
  }

  /// Stops fetching these partitions (the group keeps them); `resume` starts again where the
  /// caller left off.
  public func pause(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
    try changeFlow(partitions, verb: "pause") { rd_kafka_pause_partitions($0, $1) }
  }

  public func resume(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
    try changeFlow(partitions, verb: "resume") { rd_kafka_resume_partitions($0, $1) }
  }

  private func changeFlow(
    _ partitions: [KafkaTopicPartition], verb: String,
    _ call: (OpaquePointer, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) ->
      rd_kafka_resp_err_t
  ) throws(KafkaError) {
    let handle = client.handle
    try RDKafkaTopicPartitionList.with(partitions.map { ($0, 0) }) { (list) throws(KafkaError) in
      let err = call(handle, list)
      if let (tp, partitionErr) = RDKafkaTopicPartitionList.firstError(list) {
        throw KafkaError(.assign, "cannot \(verb) \(tp)", rdError: partitionErr)
      }
      if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(.assign, "cannot \(verb)", rdError: err)
      }
    }
  }

  /// Leaves the group cleanly: revokes the assignment (committing stored offsets) and closes.
  /// Waits for a poll in progress to return. Idempotent.
  public func close() {
    let handle = client.handle
    pollGate.withLock { state in
      guard !state.closed else { return }
      state.closed = true
      if let reader {
        reader.stopAll()
      } else {
        _ = rd_kafka_consumer_close(handle)
      }
    }
  }

  deinit {
    close()
  }

  // MARK: - Async sequence

  public struct Events: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerEvent
    let consumer: KafkaConsumer

    public func makeAsyncIterator() -> Iterator { Iterator(consumer: consumer) }

    public struct Iterator: AsyncIteratorProtocol {
      let consumer: KafkaConsumer

      public mutating func next() async throws(KafkaError) -> KafkaConsumerEvent? {
        try await consumer.nextEvent()
      }
    }
  }

  private func nextEvent() async throws(KafkaError) -> KafkaConsumerEvent? {
    let cancelled = Atomic<Bool>(false)
    let result = await withTaskCancellationHandler {
      await withCheckedContinuation {
        (continuation: CheckedContinuation<Result<KafkaConsumerEvent?, KafkaError>, Never>) in
        pollQueue.async { [self] in
          while !cancelled.load(ordering: .relaxed) {
            do throws(KafkaError) {
              if let event = try poll(timeoutMs: 100) {
                continuation.resume(returning: .success(event))
                return
              }
            } catch {
              continuation.resume(
                returning: error.code == .closed ? .success(nil) : .failure(error))
              return
            }
          }
          continuation.resume(returning: .success(nil))
        }
      }
    } onCancel: {
      cancelled.store(true, ordering: .relaxed)
    }
    return try result.get()
  }

  // MARK: - librdkafka → Swift

  private static func event(
    from message: UnsafeMutablePointer<rd_kafka_message_t>, client: RDKafkaClient,
    names: inout RecordNames
  ) throws(KafkaError) -> KafkaConsumerEvent {
    let m = message.pointee
    let topic = m.rkt.map { names.topic($0) } ?? ""
    guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
      if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
        return .partitionEOF(
          KafkaTopicPartition(topic: topic, partition: m.partition), offset: m.offset)
      }
      if let fatal = client.fatalError() { throw fatal }
      let detail = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
      let context = topic.isEmpty ? "consumer error" : "consumer error on \(topic)/\(m.partition)"
      return .error(
        KafkaError(
          .consume, "\(context): \(detail) (\(String(cString: rd_kafka_err2name(m.err))))",
          librdkafkaCode: m.err.rawValue))
    }
    var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
    let timestamp = rd_kafka_message_timestamp(message, &type)
    return .record(
      KafkaRecord(
        topic: topic, partition: m.partition, offset: m.offset,
        key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
        value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) },
        headers: names.readsHeaders ? headers(of: message, names: &names) : [],
        timestampMs: type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp))
  }

  private static func headers(
    of message: UnsafeMutablePointer<rd_kafka_message_t>, names: inout RecordNames
  ) -> [KafkaHeader] {
    var list: OpaquePointer? = nil
    guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
      return []
    }
    var headers: [KafkaHeader] = []
    // Room for all at once (appends one by one grew the array four times for five headers).
    headers.reserveCapacity(rd_kafka_header_cnt(list))
    var index = 0
    var name: UnsafePointer<CChar>? = nil
    var value: UnsafeRawPointer? = nil
    var size = 0
    while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
      headers.append(
        KafkaHeader(
          key: name.map { names.header($0) } ?? "",
          value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
      index += 1
    }
    return headers
  }

  /// Runs inside `rd_kafka_consumer_poll` on the polling thread.
  private static func rebalance(
    _ rk: OpaquePointer, _ err: rd_kafka_resp_err_t,
    _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
    commitStored: Bool, configuredCooperative: Bool, logger: KafkaLogger, pending: PendingEvents,
    beforeRevoke: RevokeHook
  ) {
    let partitions = RDKafkaTopicPartitionList.partitions(list).sorted()
    let cooperative = isCooperative(
      protocolName: rd_kafka_rebalance_protocol(rk), configured: configuredCooperative)
    switch err {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
      if cooperative {
        if let error = rd_kafka_incremental_assign(rk, list) { rd_kafka_error_destroy(error) }
      } else {
        _ = rd_kafka_assign(rk, list)
      }
      logger.log(.info, "REBALANCE", "assigned \(partitions)")
      pending.push(.partitionsAssigned(partitions))
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
      beforeRevoke.run(partitions)
      if commitStored && rd_kafka_assignment_lost(rk) == 0 {
        let commitErr = rd_kafka_commit(rk, nil, 0)
        if commitErr != RD_KAFKA_RESP_ERR_NO_ERROR && commitErr != RD_KAFKA_RESP_ERR__NO_OFFSET {
          logger.log(
            .warning, "REBALANCE",
            "commit before revocation failed: \(KafkaError.describe(commitErr))")
        }
      }
      if cooperative {
        if let error = rd_kafka_incremental_unassign(rk, list) { rd_kafka_error_destroy(error) }
      } else {
        _ = rd_kafka_assign(rk, nil)
      }
      logger.log(.info, "REBALANCE", "revoked \(partitions)")
      pending.push(.partitionsRevoked(partitions))
    default:
      _ = rd_kafka_assign(rk, nil)
      pending.push(.error(KafkaError(.assign, "rebalance failed", rdError: err)))
    }
  }

  /// Whether a rebalance is cooperative (incremental assign and unassign) or eager. librdkafka
  /// names the group's protocol, or gives NULL when it cannot: a revocation while the consumer
  /// closes comes after the group is left, and making a String of that NULL ended the process.
  /// Then the configured strategy decides.
  static func isCooperative(protocolName: UnsafePointer<CChar>?, configured: Bool) -> Bool {
    guard let protocolName else { return configured }
    switch String(cString: protocolName) {
    case "COOPERATIVE": return true
    case "EAGER": return false
    default: return configured  // "NONE": no assignor chosen yet
    }
  }
}

/// The consumer's `beforeRevoke` hook (none until set).
private final class RevokeHook: Sendable {
  private let hook = Mutex<(@Sendable ([KafkaTopicPartition]) -> Void)?>(nil)

  func set(_ hook: @escaping @Sendable ([KafkaTopicPartition]) -> Void) {
    self.hook.withLock { $0 = hook }
  }

  func run(_ partitions: [KafkaTopicPartition]) {
    hook.withLock { $0 }?(partitions)
  }
}

/// What the poll lock guards: whether the consumer is closed, and what turning messages into
/// records needs.
private struct PollState: @unchecked Sendable {
  var closed = false
  var names: RecordNames
}

/// Topic names by librdkafka topic handle (a handle lives as long as the client, so a record's
/// topic costs no allocation; consecutive records of one topic not even a lookup), and whether
/// headers are read.
private struct RecordNames {
  let readsHeaders: Bool
  private var byHandle: [OpaquePointer: String] = [:]
  private var last: (handle: OpaquePointer, name: String)? = nil

  init(readsHeaders: Bool) {
    self.readsHeaders = readsHeaders
  }

  /// Header names seen before, as their bytes and the string made of them once: the same few
  /// names come on every record, and comparing bytes is cheaper than making and checking a string
  /// each time. At most `maxHeaderNames` are kept (any other name is made every time).
  private var headerNames: [(bytes: [UInt8], name: String)] = []
  private static let maxHeaderNames = 32

  mutating func header(_ cName: UnsafePointer<CChar>) -> String {
    let length = strlen(cName)
    if length == 0 { return "" }
    let bytes = UnsafeRawBufferPointer(start: cName, count: length)
    for known in headerNames where known.bytes.count == length {
      if known.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, cName, length) == 0 }) {
        return known.name
      }
    }
    let name = String(decoding: bytes, as: UTF8.self)
    if headerNames.count < Self.maxHeaderNames { headerNames.append((Array(bytes), name)) }
    return name
  }

  mutating func topic(_ handle: OpaquePointer) -> String {
    if let last, last.handle == handle { return last.name }
    let name: String
    if let known = byHandle[handle] {
      name = known
    } else {
      name = String(cString: rd_kafka_topic_name(handle))
      byHandle[handle] = name
    }
    last = (handle, name)
    return name
  }
}

/// Events produced inside a poll (rebalances) waiting to be handed to the caller, in order.
private final class PendingEvents: Sendable {
  private let queue = Mutex<[KafkaConsumerEvent]>([])
  private let count = Atomic<Int>(0)

  /// Lock-free check for the common case: no rebalance happened.
  var isEmpty: Bool { count.load(ordering: .acquiring) == 0 }

  func push(_ event: KafkaConsumerEvent) {
    queue.withLock {
      $0.append(event)
      count.store($0.count, ordering: .releasing)
    }
  }

  func pop() -> KafkaConsumerEvent? {
    queue.withLock { events in
      guard !events.isEmpty else { return nil }
      let first = events.removeFirst()
      count.store(events.count, ordering: .releasing)
      return first
    }
  }
}
