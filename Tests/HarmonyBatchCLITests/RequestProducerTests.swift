import Arguments
import Foundation
import Kafka
import Operations
import Pipeline
import Planner
import TestSupport
import Testing

/// `produce`'s work as a library: the lines it reads and the loop that sends them.
@Suite struct RequestProducerTests {
  @Test func linesNameTheirAppBeforeTheFirstTabOrComma() throws {
    let requests = try RequestLines.requests(
      "app-a\tfirst, with a comma\n\napp-b,second\n", app: nil, idPrefix: "run",
      sloMs: { $0 == "app-a" ? 450 : nil })
    #expect(requests.map(\.app) == ["app-a", "app-b"])
    #expect(requests.map(\.id) == ["run-0", "run-1"])
    #expect(requests.map(\.sloMs) == [450, nil])
    #expect(
      requests.map { String(decoding: $0.payload, as: UTF8.self) } == [
        "first, with a comma", "second",
      ])
    let fixed = try RequestLines.requests(
      "a\tb\n", app: "app-c", idPrefix: "r", sloMs: { _ in 100 })
    #expect(fixed.first?.app == "app-c" && fixed.first?.payload == Array("a\tb".utf8))
  }

  @Test func aLineWithoutAnAppIsAUsageErrorNamingIt() {
    #expect(
      throws: UsageError(
        "line 2: expected APP<TAB>PAYLOAD or APP,PAYLOAD (or give --app ID)")
    ) {
      try RequestLines.requests(
        "a\tb\nno separator\n", app: nil, idPrefix: "r", sloMs: { _ in nil })
    }
  }

  @Test func givenRequestsAreSentAndAcknowledged() async throws {
    let topic = uniqueName("produce-given")
    try sharedBroker.createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
    let requests = (0..<5).map {
      RequestRecord(app: "app-a", id: "r-\($0)", sloMs: 300, payload: Array("hello".utf8))
    }
    var group = ServiceGroup.Settings()
    group.handlesSignals = false
    let report = try await RequestProducer.run(
      .given(requests), topic: topic, common: quietCommon(sharedBroker.bootstrapServers),
      group: group)
    #expect(report.code == 0 && report.sent == 5 && report.targetRate == nil)
    #expect(report.text.hasPrefix("produce: 5 requests acknowledged in "), "\(report.text)")
    let records = try readTopic(sharedBroker.bootstrapServers, topic, partitions: 1) {
      $0.count >= 5
    }
    #expect(records.compactMap { $0.header("hb-request-id") } == requests.map(\.id))
  }

  @Test func generatedArrivalsAreSentForTheDurationAtTheirRate() async throws {
    let topic = uniqueName("produce-generated")
    try sharedBroker.createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
    let generator = RequestGenerator(
      apps: [App(id: "app-a", slo: 0.5, rate: 200)], seed: 3, idPrefix: "g")
    var group = ServiceGroup.Settings()
    group.handlesSignals = false
    let report = try await RequestProducer.run(
      .generated(generator, for: .milliseconds(500)), topic: topic,
      common: quietCommon(sharedBroker.bootstrapServers), group: group)
    // Every arrival up to the end, the same as the generator alone draws.
    var alone = generator
    #expect(report.code == 0 && report.sent == alone.due(by: 0.5).count)
    #expect(report.targetRate == 200 && report.seconds >= 0.5)
    #expect(report.text.hasSuffix("; target 200.0 req/s)"), "\(report.text)")
  }
}
