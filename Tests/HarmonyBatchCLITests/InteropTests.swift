import Foundation
import Kafka
import TestSupport
import Testing

/// Our client against an independent one (kcat), through a separate `harmonybatch broker` process.
@Suite(.serialized, .startsServices, .onOwnThread) struct InteropTests {
  static let kcat = "/usr/bin/kcat"

  @Test func kcatReadsWhatWeWriteAndWeReadWhatKcatWrites() async throws {
    let broker = try ChildProcess(
      harmonybatchPath, ["broker", "--topics", "ours,theirs", "--partitions", "1"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    #expect(bootstrap.hasPrefix("127.0.0.1:"))

    var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
    configuration.common.logger = .silent
    let producer = try KafkaProducer(configuration: configuration)
    for i in 0..<3 {
      _ = try await producer.send(
        KafkaProducerMessage(
          topic: "ours", key: "app-\(i)", value: "payload \(i)",
          headers: [
            KafkaHeader(key: "hb-slo-ms", string: "\(500 + i)"),
            KafkaHeader(key: "hb-request-id", string: "r\(i)"),
          ]))
    }
    let (status, lines, stderr) = try await runToCompletion(
      Self.kcat,
      ["-C", "-b", bootstrap, "-t", "ours", "-o", "beginning", "-e", "-q", "-f", "%k|%h|%s\n"])
    #expect(status == 0, "\(stderr)")
    #expect(
      lines == (0..<3).map { "app-\($0)|hb-slo-ms=\(500 + $0),hb-request-id=r\($0)|payload \($0)" })

    let (writeStatus, _, writeErr) = try await runToCompletion(
      Self.kcat,
      ["-P", "-b", bootstrap, "-t", "theirs", "-k", "app-a", "-H", "hb-slo-ms=500", "-H", "x=y"],
      stdin: "first request\nsecond request\n")
    #expect(writeStatus == 0, "\(writeErr)")
    var consumerConfiguration = KafkaConsumerConfiguration(
      bootstrapServers: bootstrap, groupID: "interop")
    consumerConfiguration.common.logger = .silent
    let consumer = try KafkaConsumer(configuration: consumerConfiguration)
    try consumer.subscribe(topics: ["theirs"])
    var records: [KafkaRecord] = []
    let deadline = ContinuousClock.now + .seconds(30)
    while records.count < 2 && ContinuousClock.now < deadline {
      if case .record(let record) = try consumer.poll(timeoutMs: 100) { records.append(record) }
    }
    consumer.close()
    #expect(records.map(\.valueString) == ["first request", "second request"])
    #expect(records.allSatisfy { $0.keyString == "app-a" })
    #expect(
      records.allSatisfy {
        $0.headers == [
          KafkaHeader(key: "hb-slo-ms", string: "500"), KafkaHeader(key: "x", string: "y"),
        ]
      })
    #expect(records.allSatisfy { $0.timestampMs != nil })

    broker.signal(SIGTERM)
    #expect(await broker.waitForExit() == 0)
  }

  /// A member process killed (SIGKILL) before committing: another member of the group gets every
  /// one of its records.
  @Test func recordsOfAKilledUncommittedConsumerAreRedeliveredToAnotherMember() async throws {
    let broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    try broker.createTopics([KafkaTopicSpec(name: "work", partitions: 2)])
    var producerConfiguration = KafkaProducerConfiguration(
      bootstrapServers: broker.bootstrapServers)
    producerConfiguration.common.logger = .silent
    let producer = try KafkaProducer(configuration: producerConfiguration)
    for i in 0..<50 {
      try producer.enqueue(KafkaProducerMessage(topic: "work", key: "k\(i)", value: "job \(i)"))
    }
    try producer.flush()

    let doomed = try ChildProcess(
      harmonybatchPath,
      [
        "consume", "--bootstrap", broker.bootstrapServers, "--topic", "work", "--group", "workers",
        "--commit", "none", "--session-timeout-ms", "3000", "--kafka-log-level", "error",
      ])
    let seen = await doomed.waitForLines(50, timeout: .seconds(60))
    #expect(
      seen.count == 50, "the first member read everything before it died: \(doomed.standardError)")
    doomed.signal(SIGKILL)
    #expect(await doomed.waitForExit() == SIGKILL)

    var configuration = KafkaConsumerConfiguration(
      bootstrapServers: broker.bootstrapServers, groupID: "workers")
    configuration.common.logger = .silent
    configuration.sessionTimeout = .seconds(3)
    let survivor = try KafkaConsumer(configuration: configuration)
    defer { survivor.close() }
    try survivor.subscribe(topics: ["work"])
    var values = Set<String>()
    let deadline = ContinuousClock.now + .seconds(60)
    while values.count < 50 && ContinuousClock.now < deadline {
      if case .record(let record) = try survivor.poll(timeoutMs: 100) {
        values.insert(record.valueString ?? "")
        try survivor.storeOffset(for: record)
      }
    }
    #expect(values == Set((0..<50).map { "job \($0)" }))
  }
}
