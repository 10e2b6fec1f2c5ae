import CRdKafka
import Synchronization

/// Reads explicitly chosen partitions through librdkafka's simple consumer
/// (`rd_kafka_consume_start_queue`): no group coordinator, and a lighter per-message path than the
/// group consumer's poll: `drain` takes every waiting message in one call (librdkafka's
/// callback-queue API, marked deprecated upstream but the one path without a per-message queue
/// round trip). Used by `KafkaConsumer` when it has no group.
final class RDKafkaPartitionReader: @unchecked Sendable {  // C pointers are set once in init
  private let client: RDKafkaClient
  private let queue: OpaquePointer
  private let topics: RDKafkaTopicHandles
  private let started = Mutex<[KafkaTopicPartition]>([])

  init(client: RDKafkaClient) {
    self.client = client
    queue = rd_kafka_queue_new(client.handle)
    topics = RDKafkaTopicHandles(client: client)
  }

  deinit {
    stopAll()
    rd_kafka_queue_destroy(queue)
  }

  /// Replaces the partitions being read.
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
      started.withLock { $0.append(tp) }
    }
  }

  var assignment: [KafkaTopicPartition] { started.withLock { $0 }.sorted() }

  /// Hands every message waiting (up to `consume.callback.max.messages`) to `collector`, waiting
  /// up to `timeoutMs` for the first. librdkafka destroys each message after the call.
  @discardableResult
  func drain(timeoutMs: Int, into collector: RDKafkaMessageCollector) -> Int {
    Int(
      rd_kafka_consume_callback_queue(
        queue, Int32(clamping: timeoutMs),
        { message, opaque in
          guard let message, let opaque else { return }
          Unmanaged<RDKafkaMessageCollector>.fromOpaque(opaque).takeUnretainedValue().receive(
            message)
        }, Unmanaged.passUnretained(collector).toOpaque()))
  }

  func stopAll() {
    let running = started.withLock { list in
      defer { list.removeAll() }
      return list
    }
    for tp in running { _ = rd_kafka_consume_stop(topics.handle(for: tp.topic), tp.partition) }
  }
}

/// Receives messages from `RDKafkaPartitionReader.drain` on the calling thread.
final class RDKafkaMessageCollector {
  let receive: (UnsafeMutablePointer<rd_kafka_message_t>) -> Void
  init(_ receive: @escaping (UnsafeMutablePointer<rd_kafka_message_t>) -> Void) {
    self.receive = receive
  }
}
