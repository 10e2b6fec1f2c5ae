import CRdKafka
import Foundation
import Synchronization

/// Produces records through librdkafka.
///
/// Two ways to send: `send(_:)` awaits the broker's delivery report for one message; `enqueue`
/// hands a message to librdkafka and returns at once, reporting delivery to an optional callback
/// (and to the `delivered`/`failed` counters). A dedicated thread serves delivery reports; it never
/// runs on Swift's cooperative pool. When librdkafka's queue is full, `send` and `enqueue` wait
/// for room: that is the producer's back-pressure.
public final class KafkaProducer: Sendable {
  public typealias DeliveryHandler = @Sendable (Result<KafkaDeliveryReport, KafkaError>) -> Void

  private let client: RDKafkaClient
  private let counters: DeliveryCounters
  private let poller: BackgroundPoller
  private let topics: RDKafkaTopicHandles

  public init(configuration: KafkaProducerConfiguration) throws(KafkaError) {
    let counters = DeliveryCounters()
    let callbacks = RDKafkaCallbacks(
      logger: configuration.common.logger,
      onDelivery: { message in counters.complete(message) })
    client = try RDKafkaClient(
      kind: .producer, properties: configuration.resolvedProperties, callbacks: callbacks)
    self.counters = counters
    topics = RDKafkaTopicHandles(client: client)
    let client = client
    poller = BackgroundPoller(name: "producer-poll") { _ = rd_kafka_poll(client.handle, 50) }
  }

  deinit {
    poller.stop()
    abandonOutstanding()
  }

  /// Messages acknowledged by the broker since the producer started.
  public var delivered: Int { counters.delivered.load(ordering: .relaxed) }
  /// Messages whose delivery report carried an error.
  public var failed: Int { counters.failed.load(ordering: .relaxed) }
  /// Messages handed to librdkafka and not yet reported on.
  public var inFlight: Int { Int(rd_kafka_outq_len(client.handle)) }

  /// Sends one message and waits for the broker to acknowledge it.
  public func send(_ message: KafkaProducerMessage) async throws(KafkaError) -> KafkaDeliveryReport
  {
    let result = await withCheckedContinuation {
      (continuation: CheckedContinuation<Result<KafkaDeliveryReport, KafkaError>, Never>) in
      let box = Unmanaged.passRetained(DeliveryBox { continuation.resume(returning: $0) })
      let err = enqueueWaitingForRoom(message, opaque: box.toOpaque())
      if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        box.release()
        continuation.resume(
          returning: .failure(
            KafkaError(.produce, "cannot produce to '\(message.topic)'", rdError: err)))
      }
    }
    return try result.get()
  }

  /// Hands a message to librdkafka; `onDelivery`, if given, is called once with the broker's
  /// answer, on the producer's polling thread. Blocks while librdkafka's queue is full.
  public func enqueue(_ message: KafkaProducerMessage, onDelivery: DeliveryHandler? = nil)
    throws(KafkaError)
  {
    let box = onDelivery.map { Unmanaged.passRetained(DeliveryBox($0)) }
    let err = enqueueWaitingForRoom(message, opaque: box?.toOpaque())
    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
      box?.release()
      throw KafkaError(.produce, "cannot produce to '\(message.topic)'", rdError: err)
    }
  }

  /// Waits until every enqueued message has a delivery report, or the timeout passes.
  public func flush(timeoutMs: Int = 30_000) throws(KafkaError) {
    let err = rd_kafka_flush(client.handle, Int32(clamping: timeoutMs))
    if err == RD_KAFKA_RESP_ERR__TIMED_OUT {
      throw KafkaError(
        .timeout, "\(inFlight) messages still unacknowledged after \(timeoutMs) ms",
        librdkafkaCode: err.rawValue)
    }
  }

  /// Whether a broker of the cluster answers a metadata request within `timeoutMs` (brokers only,
  /// no topics: cheap). Blocks the calling thread.
  public func clusterReachable(timeoutMs: Int) -> Bool {
    var metadata: UnsafePointer<rd_kafka_metadata>? = nil
    let err = rd_kafka_metadata(client.handle, 0, nil, &metadata, Int32(clamping: timeoutMs))
    if let metadata { rd_kafka_metadata_destroy(metadata) }
    return err == RD_KAFKA_RESP_ERR_NO_ERROR
  }

  /// Waits up to `timeoutMs` for outstanding messages, then fails the rest: each of their
  /// delivery handlers is called with an error, so no caller waits forever on a closed producer.
  /// Returns how many messages were abandoned.
  @discardableResult
  public func close(timeoutMs: Int = 30_000) -> Int {
    _ = rd_kafka_flush(client.handle, Int32(clamping: timeoutMs))
    return abandonOutstanding()
  }

  @discardableResult
  private func abandonOutstanding() -> Int {
    let before = failed
    _ = rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
    // Serve the purged messages' delivery reports (they carry the purge error).
    _ = rd_kafka_flush(client.handle, 1000)
    return failed - before
  }

  private func enqueueWaitingForRoom(
    _ message: KafkaProducerMessage, opaque: UnsafeMutableRawPointer?
  )
    -> rd_kafka_resp_err_t
  {
    while true {
      let err = produce(message, opaque: opaque)
      guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else { return err }
      // The polling thread drains delivery reports; give it a moment to make room.
      _ = rd_kafka_poll(client.handle, 1)
    }
  }

  private func produce(_ message: KafkaProducerMessage, opaque: UnsafeMutableRawPointer?)
    -> rd_kafka_resp_err_t
  {
    var headers: OpaquePointer? = nil
    if !message.headers.isEmpty {
      headers = rd_kafka_headers_new(message.headers.count)
      for header in message.headers {
        if let value = header.value {
          value.withUnsafeBytes {
            _ = rd_kafka_header_add(headers, header.key, -1, $0.baseAddress, $0.count)
          }
        } else {
          _ = rd_kafka_header_add(headers, header.key, -1, nil, 0)
        }
      }
    }
    let handle = client.handle
    let topic = topics.handle(for: message.topic)
    let err = withOptionalBytes(message.key) { keyPointer, keyCount in
      withOptionalBytes(message.value) { valuePointer, valueCount in
        withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 8) { vus in
          var count = 0
          func add(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
            var vu = rd_kafka_vu_t()
            vu.vtype = type
            fill(&vu)
            vus[count] = vu
            count += 1
          }
          add(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = topic }
          add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
          if let partition = message.partition {
            add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition }
          }
          if let keyPointer {
            add(RD_KAFKA_VTYPE_KEY) {
              $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyPointer)
              $0.u.mem.size = keyCount
            }
          }
          if let valuePointer {
            add(RD_KAFKA_VTYPE_VALUE) {
              $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: valuePointer)
              $0.u.mem.size = valueCount
            }
          }
          if let headers { add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = headers } }
          if let timestamp = message.timestampMs {
            add(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = timestamp }
          }
          if let opaque { add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque } }
          guard let error = rd_kafka_produceva(handle, vus.baseAddress, count) else {
            return RD_KAFKA_RESP_ERR_NO_ERROR
          }
          defer { rd_kafka_error_destroy(error) }
          return rd_kafka_error_code(error)
        }
      }
    }
    if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
    return err
  }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
  guard let bytes else { return body(nil, 0) }
  return bytes.withUnsafeBytes { buffer in
    // An empty value is still a value (not null): point at a valid address with length 0.
    body(buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), buffer.count)
  }
}

/// The per-message completion handed to librdkafka as the message's opaque pointer.
private final class DeliveryBox {
  let handler: KafkaProducer.DeliveryHandler
  init(_ handler: @escaping KafkaProducer.DeliveryHandler) { self.handler = handler }
}

/// Counts delivery reports and completes per-message handlers; runs on librdkafka's callback
/// thread (our polling thread).
private final class DeliveryCounters: Sendable {
  let delivered = Atomic<Int>(0)
  let failed = Atomic<Int>(0)
  /// Topic names by librdkafka topic handle (a handle lives as long as the client): a delivery
  /// report names its topic without building a string per message.
  private let topicNames = Mutex<[UInt: String]>([:])

  private func topicName(_ handle: OpaquePointer) -> String {
    let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
    if let name = topicNames.withLock({ $0[key] }) { return name }
    let name = String(cString: rd_kafka_topic_name(handle))
    topicNames.withLock { $0[key] = name }
    return name
  }

  func complete(_ message: UnsafePointer<rd_kafka_message_t>) {
    let m = message.pointee
    let succeeded = m.err == RD_KAFKA_RESP_ERR_NO_ERROR
    if succeeded {
      delivered.add(1, ordering: .relaxed)
    } else {
      failed.add(1, ordering: .relaxed)
    }
    guard let opaque = m._private else { return }
    let topic = m.rkt.map(topicName) ?? ""
    let result: Result<KafkaDeliveryReport, KafkaError> =
      succeeded
      ? .success(KafkaDeliveryReport(topic: topic, partition: m.partition, offset: m.offset))
      : .failure(KafkaError(.delivery, "message to '\(topic)' not delivered", rdError: m.err))
    Unmanaged<DeliveryBox>.fromOpaque(opaque).takeRetainedValue().handler(result)
  }
}
