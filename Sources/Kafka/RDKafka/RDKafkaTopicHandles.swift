import CRdKafka
import Synchronization

/// librdkafka topic handles by name, made once per topic: looking a topic up by name on every
/// message costs more than the rest of `produce`.
final class RDKafkaTopicHandles: Sendable {
  private let client: RDKafkaClient
  private let handles = Mutex<[String: OpaquePointerBox]>([:])

  init(client: RDKafkaClient) { self.client = client }

  func handle(for topic: String) -> OpaquePointer {
    handles.withLock { handles in
      if let known = handles[topic] { return known.pointer }
      let made = rd_kafka_topic_new(client.handle, topic, nil)!
      handles[topic] = OpaquePointerBox(made)
      return made
    }
  }

  deinit {
    handles.withLock { handles in
      for box in handles.values { rd_kafka_topic_destroy(box.pointer) }
    }
  }
}

private struct OpaquePointerBox: @unchecked Sendable {
  let pointer: OpaquePointer
  init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
