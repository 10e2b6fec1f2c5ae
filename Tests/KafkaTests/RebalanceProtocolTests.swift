import Testing

@testable import Kafka

/// A rebalance follows the protocol librdkafka names, and the configured strategy when it names
/// none: a revocation while the consumer closes used to end the process (a String made of NULL).
@Suite struct RebalanceProtocolTests {
  @Test func theNamedProtocolDecidesAndNoNameFallsBackToTheConfiguredStrategy() {
    #expect(KafkaConsumer.isCooperative(protocolName: "COOPERATIVE", configured: false))
    #expect(!KafkaConsumer.isCooperative(protocolName: "EAGER", configured: true))
    #expect(KafkaConsumer.isCooperative(protocolName: "NONE", configured: true))
    #expect(!KafkaConsumer.isCooperative(protocolName: "NONE", configured: false))
    #expect(KafkaConsumer.isCooperative(protocolName: nil, configured: true))
    #expect(!KafkaConsumer.isCooperative(protocolName: nil, configured: false))
  }
}
