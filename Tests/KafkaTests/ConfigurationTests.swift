import Kafka
import Testing
import WaitSupport

@Suite(.onOwnThread) struct ConfigurationTests {
  @Test func unknownKeyFailsNamingTheKey() throws {
    var configuration = producerConfiguration("127.0.0.1:1")
    configuration.common.properties["linger.msx"] = "5"
    #expect(throws: KafkaError(.config, "unknown config key 'linger.msx'")) {
      _ = try KafkaProducer(configuration: configuration)
    }
  }

  @Test func invalidValueFailsNamingKeyAndValue() throws {
    var configuration = consumerConfiguration("127.0.0.1:1", group: "g")
    configuration.common.properties["session.timeout.ms"] = "soon"
    do {
      _ = try KafkaConsumer(configuration: configuration)
      Issue.record("an invalid value was accepted")
    } catch {
      #expect(error.code == .config)
      #expect(error.message.contains("'session.timeout.ms'"))
      #expect(error.message.contains("'soon'"))
    }
  }

  @Test func passThroughPropertiesOverrideTypedSettings() throws {
    var configuration = producerConfiguration("127.0.0.1:1")
    configuration.linger = .milliseconds(5)
    configuration.common.properties["linger.ms"] = "not-a-number"
    #expect(throws: KafkaError.self) { _ = try KafkaProducer(configuration: configuration) }
  }

  /// `consumer.`, `producer.` and `admin.` keys reach only their kind of client (librdkafka
  /// checks each value when the client is made: a bad one fails only the client it is for).
  @Test func prefixedPropertiesReachOnlyTheirKindOfClient() throws {
    var common = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
    common.logger = .silent
    common.properties["consumer.session.timeout.ms"] = "soon"
    #expect(throws: KafkaError.self) {
      _ = try KafkaConsumer(configuration: KafkaConsumerConfiguration(common: common, groupID: "g"))
    }
    _ = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common)).close()
    common.properties = ["producer.linger.ms": "not-a-number"]
    #expect(throws: KafkaError.self) {
      _ = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    }
    try KafkaConsumer(configuration: KafkaConsumerConfiguration(common: common, groupID: "g"))
      .close()
    // The prefixed key wins over the unprefixed one for its kind.
    common.properties = ["linger.ms": "not-a-number", "producer.linger.ms": "3"]
    _ = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common)).close()
  }

  @Test func parsesKeyValueProperties() throws {
    let (key, value) = try KafkaConfiguration.parseProperty("sasl.password=a=b")
    #expect(key == "sasl.password")
    #expect(value == "a=b")
    #expect(throws: KafkaError.self) { try KafkaConfiguration.parseProperty("novalue") }
    #expect(throws: KafkaError.self) { try KafkaConfiguration.parseProperty("=x") }
  }

  @Test func bootstrapListIsSplitAndTrimmed() {
    let configuration = KafkaConfiguration(bootstrapServers: "a:1, b:2")
    #expect(configuration.bootstrapServers == ["a:1", "b:2"])
  }
}
