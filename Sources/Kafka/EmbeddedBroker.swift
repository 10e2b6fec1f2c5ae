import CRdKafka

/// An embedded Kafka-protocol cluster: librdkafka's mock cluster, serving real Kafka clients over
/// TCP on loopback. For the demo, the tests and single-machine runs.
///
/// One cluster per process is the norm: every client connects to `bootstrapServers`. The mock
/// cluster keeps records in memory, auto-creates unknown topics with 4 partitions, and does not
/// implement CreateTopics — create topics through `createTopics` here. Faults can be injected for
/// tests: brokers set down and up, round-trip delays, and error responses to chosen requests.
public final class EmbeddedBroker: @unchecked Sendable {
  private let client: RDKafkaClient
  private let cluster: OpaquePointer
  public let brokerCount: Int
  /// `host:port,host:port` of the cluster's brokers.
  public let bootstrapServers: String

  public init(brokers: Int = 1, logger: KafkaLogger = .standardError()) throws(KafkaError) {
    guard brokers >= 1 else {
      throw KafkaError(.broker, "an embedded cluster needs at least 1 broker")
    }
    client = try RDKafkaClient(
      kind: .producer, properties: [("client.id", "harmonybatch-embedded-broker")],
      callbacks: RDKafkaCallbacks(logger: logger))
    guard let cluster = rd_kafka_mock_cluster_new(client.handle, Int32(brokers)) else {
      throw KafkaError(
        .broker, "librdkafka could not start an embedded cluster of \(brokers) brokers")
    }
    self.cluster = cluster
    brokerCount = brokers
    bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
  }

  deinit {
    rd_kafka_mock_cluster_destroy(cluster)
  }

  /// Creates topics; a topic that already exists is left as it is.
  public func createTopics(_ topics: [KafkaTopicSpec]) throws(KafkaError) {
    for topic in topics {
      guard topic.partitions >= 1 else {
        throw KafkaError(.admin, "topic '\(topic.name)' needs at least 1 partition")
      }
      let err = rd_kafka_mock_topic_create(
        cluster, topic.name, Int32(topic.partitions),
        Int32(min(topic.replicationFactor, brokerCount)))
      if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
        throw KafkaError(.admin, "cannot create topic '\(topic.name)'", rdError: err)
      }
    }
  }

  /// Broker ids run from 1 to `brokerCount`.
  public func setBrokerDown(_ brokerID: Int32) throws(KafkaError) {
    try check(rd_kafka_mock_broker_set_down(cluster, brokerID), "set broker \(brokerID) down")
  }

  public func setBrokerUp(_ brokerID: Int32) throws(KafkaError) {
    try check(rd_kafka_mock_broker_set_up(cluster, brokerID), "set broker \(brokerID) up")
  }

  /// Delays every response of a broker by `milliseconds`.
  public func setRoundTripTime(broker brokerID: Int32, milliseconds: Int) throws(KafkaError) {
    try check(
      rd_kafka_mock_broker_set_rtt(cluster, brokerID, Int32(milliseconds)),
      "set the RTT of broker \(brokerID)")
  }

  /// The next `errors.count` requests of this kind (to any broker) fail with these errors, in order.
  public func failNextRequests(_ api: KafkaRequestKind, with errors: [KafkaBrokerError]) {
    var codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.code) }
    rd_kafka_mock_push_request_errors_array(cluster, api.apiKey, codes.count, &codes)
  }

  private func check(_ err: rd_kafka_resp_err_t, _ what: String) throws(KafkaError) {
    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
      throw KafkaError(.broker, "cannot \(what)", rdError: err)
    }
  }
}
