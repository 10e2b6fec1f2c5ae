import CRdKafka

/// Administrative requests to a real Kafka cluster: create topics, read metadata. Calls block the
/// calling thread until the cluster answers or the timeout passes. (The embedded broker has no
/// CreateTopics; use `EmbeddedBroker.createTopics` there.)
public final class KafkaAdmin: Sendable {
  private let client: RDKafkaClient

  public init(configuration: KafkaConfiguration) throws(KafkaError) {
    client = try RDKafkaClient(
      kind: .producer,
      properties: configuration.baseProperties
        + configuration.properties(for: .admin),
      callbacks: RDKafkaCallbacks(logger: configuration.logger))
  }

  /// Creates topics; with `ifNotExists`, a topic that already exists is not an error.
  public func createTopics(
    _ topics: [KafkaTopicSpec], ifNotExists: Bool = true, timeoutMs: Int = 30_000
  ) throws(KafkaError) {
    guard !topics.isEmpty else { return }
    let handle = client.handle
    var errstr = [CChar](repeating: 0, count: 512)
    var newTopics: [OpaquePointer?] = []
    defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
    for topic in topics {
      guard
        let newTopic = rd_kafka_NewTopic_new(
          topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errstr, errstr.count
        )
      else { throw KafkaError(.admin, "invalid topic '\(topic.name)': \(textOf(errstr))") }
      newTopics.append(newTopic)
      for (key, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
        let err = rd_kafka_NewTopic_set_config(newTopic, key, value)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
          throw KafkaError(
            .admin, "invalid config '\(key)' for topic '\(topic.name)'", rdError: err)
        }
      }
    }
    let queue = rd_kafka_queue_new(handle)
    defer { rd_kafka_queue_destroy(queue) }
    let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
    defer { rd_kafka_AdminOptions_destroy(options) }
    _ = rd_kafka_AdminOptions_set_operation_timeout(
      options, Int32(clamping: timeoutMs), &errstr, errstr.count)
    _ = rd_kafka_AdminOptions_set_request_timeout(
      options, Int32(clamping: timeoutMs), &errstr, errstr.count)
    newTopics.withUnsafeMutableBufferPointer {
      rd_kafka_CreateTopics(handle, $0.baseAddress, $0.count, options, queue)
    }
    guard let event = rd_kafka_queue_poll(queue, Int32(clamping: timeoutMs + 1000)) else {
      throw KafkaError(.timeout, "the cluster did not answer CreateTopics within \(timeoutMs) ms")
    }
    defer { rd_kafka_event_destroy(event) }
    let eventErr = rd_kafka_event_error(event)
    if eventErr != RD_KAFKA_RESP_ERR_NO_ERROR {
      let text = String(cString: rd_kafka_event_error_string(event))
      throw KafkaError(.admin, "CreateTopics failed: \(text)", librdkafkaCode: eventErr.rawValue)
    }
    var count = 0
    guard let result = rd_kafka_event_CreateTopics_result(event),
      let results = rd_kafka_CreateTopics_result_topics(result, &count)
    else { throw KafkaError(.admin, "CreateTopics returned no result") }
    for i in 0..<count {
      let err = rd_kafka_topic_result_error(results[i])
      if err == RD_KAFKA_RESP_ERR_NO_ERROR
        || (ifNotExists && err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      {
        continue
      }
      let name = String(cString: rd_kafka_topic_result_name(results[i]))
      let text = rd_kafka_topic_result_error_string(results[i]).map { String(cString: $0) } ?? ""
      throw KafkaError(
        .admin, "cannot create topic '\(name)': \(text)", librdkafkaCode: err.rawValue)
    }
  }

  /// The cluster's id, broker count and topics (names and partition counts). Fails with
  /// `.timeout` when no broker answers.
  public func describeCluster(timeoutMs: Int = 10_000) throws(KafkaError) -> KafkaClusterInfo {
    var metadata: UnsafePointer<rd_kafka_metadata>? = nil
    let err = rd_kafka_metadata(client.handle, 1, nil, &metadata, Int32(clamping: timeoutMs))
    guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
      let code: KafkaError.Code =
        err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT
        ? .timeout : .admin
      throw KafkaError(code, "cannot read cluster metadata", rdError: err)
    }
    defer { rd_kafka_metadata_destroy(metadata) }
    var topics: [String: Int] = [:]
    for i in 0..<Int(metadata.pointee.topic_cnt) {
      let topic = metadata.pointee.topics[i]
      if topic.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        topics[String(cString: topic.topic)] = Int(topic.partition_cnt)
      }
    }
    var id: String?
    if let raw = rd_kafka_clusterid(client.handle, Int32(clamping: min(timeoutMs, 2000))) {
      id = String(cString: raw)
      rd_kafka_mem_free(client.handle, raw)
    }
    return KafkaClusterInfo(id: id, brokers: Int(metadata.pointee.broker_cnt), topics: topics)
  }

  /// Topic names and partition counts known to the cluster. Also a connectivity check: it
  /// fails with `.timeout` when no broker answers.
  public func topics(timeoutMs: Int = 10_000) throws(KafkaError) -> [String: Int] {
    try describeCluster(timeoutMs: timeoutMs).topics
  }
}

/// What a cluster says about itself (`KafkaAdmin.describeCluster`).
public struct KafkaClusterInfo: Sendable, Equatable {
  /// The cluster id, when the cluster has one.
  public var id: String?
  public var brokers: Int
  /// Topic names and partition counts.
  public var topics: [String: Int]

  public init(id: String?, brokers: Int, topics: [String: Int]) {
    self.id = id
    self.brokers = brokers
    self.topics = topics
  }

  /// Whether it is librdkafka's mock cluster (an embedded broker, here or in another process):
  /// its ids start with `mockCluster`.
  public var isEmbeddedBroker: Bool { id?.hasPrefix("mockCluster") ?? false }
}
