import Kafka
import Pipeline

/// `harmonybatch broker`'s work: an embedded cluster on loopback with its topics created, its
/// bootstrap address printed as the first line of standard output, served until SIGINT or
/// SIGTERM.
public enum BrokerHost {
  /// Runs `brokers` brokers with `topics`; returns the service group's exit code.
  public static func run(brokers: Int, topics: [KafkaTopicSpec], logLevel: KafkaLogLevel)
    async throws -> Int32
  {
    let broker = try EmbeddedBroker(
      brokers: brokers, logger: .standardError(minimumLevel: logLevel))
    try broker.createTopics(topics)
    Console.out(broker.bootstrapServers)
    let log = PipelineLog(service: "broker")
    log.info(
      "\(brokers) embedded broker(s) at \(broker.bootstrapServers); topics "
        + "\(topics.map(\.name).joined(separator: ",")); stop with Ctrl-C")
    let service = ClosureService("broker") { $0.waitForStop() }
    return await ServiceGroup([service], log: log).run(keepingAlive: broker)
  }
}
