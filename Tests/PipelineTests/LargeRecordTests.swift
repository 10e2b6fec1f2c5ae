import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// Records near and over the broker's size limit: none stops a stage, none is lost.
@Suite struct RecordLimitTests {
  @Test func aDeadLetterTooLargeLosesItsValueNotItsRecord() {
    let source = KafkaRecord(
      topic: "hb.requests", partition: 1, offset: 9, key: Array("a1".utf8),
      value: Array(repeating: 7, count: 2_000_000),
      headers: [KafkaHeader(key: HeaderName.requestID, value: Array("big".utf8))],
      timestampMs: 1)
    let letter = DeadLetter.message(
      for: source, code: .payloadTooLarge, detail: "too large", topic: "hb.dead-letter")
    #expect(letter.value == nil)
    #expect(RecordLimits.size(of: letter) <= RecordLimits.maxRecordBytes)
    let headers = Dictionary(
      letter.headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) },
      uniquingKeysWith: { $1 })
    #expect(headers[HeaderName.valueDroppedBytes] == "2000000")
    #expect(
      headers[HeaderName.requestID] == "big" && headers[HeaderName.error] == "payload-too-large")

    // Headers that are themselves too large go too; the pipeline's own stay.
    var noisy = source
    noisy.value = [1]
    noisy.headers += (0..<300).map {
      KafkaHeader(key: "x-\($0)", value: Array(repeating: 1, count: 4_000))
    }
    let trimmed = DeadLetter.message(
      for: noisy, code: .badSLO, detail: "bad", topic: "hb.dead-letter")
    #expect(RecordLimits.size(of: trimmed) <= RecordLimits.maxRecordBytes)
    #expect(trimmed.headers.contains { $0.key == HeaderName.headersDropped })
    #expect(trimmed.headers.contains { $0.key == HeaderName.requestID })
  }

  @Test func aBufferThatARequestWouldPushPastTheLimitIsFlushedFirst() {
    var buffers = GroupBuffers<Int>(maxBatchBytes: 1_000)
    let spec = GroupSpec(
      key: GroupKey(planVersion: 1, group: "g"), function: .cpu(vcpu: 1), capacity: 10,
      latencyMax: 0.01)
    var batches: [[Int]] = []
    for index in 0..<7 {
      let request = BufferedRequest(
        id: "\(index)", app: "a", arrival: 0, slo: 10, timeout: 5, item: index, bytes: 400)
      for case .dispatch(let batch) in buffers.receive(request, in: spec, now: 0) {
        #expect(batch.reason == .size)
        batches.append(batch.requests.map(\.item))
      }
    }
    #expect(batches == [[0, 1], [2, 3], [4, 5]])
    #expect(buffers.waiting(in: spec.key) == 1)
  }
}

/// A 2 MB request, and four 400 KB ones: they used to stop the router and the batcher for good
/// (a dead letter over the producer's limit; a 1.6 MB batch), and every request behind them ended
/// late. Now the first is a dead letter without its value, the others travel in batches under the
/// limit, and the requests behind them are served.
@Suite(.serialized, .startsServices, .onOwnThread) struct LargeRecordFlowTests {
  @Test func largeRecordsNeverStopAStage() async throws {
    let bootstrap = sharedBroker.bootstrapServers
    let topics = PipelineTopics(prefix: uniqueName("large") + ".")
    try sharedBroker.createTopics(topics.specs(partitions: 4))
    let (planner, plan) = try Planner.tableOnePlan()
    let log = CapturedLog()
    var routing = RouterService.Settings()
    routing.topics = topics
    routing.groupID = uniqueName("router")
    routing.fixedPlan = plan
    routing.planner = planner
    var batching = BatcherService.Settings()
    batching.topics = topics
    batching.groupID = uniqueName("batcher")
    let (routerSettings, batcherSettings) = (routing, batching)
    let router = RunningService("router") { stop in
      try RouterService(
        common: quietCommon(bootstrap), settings: routerSettings, log: log.log("router")
      ).run(stop: stop)
    }
    let batcher = RunningService("batcher") { stop in
      try BatcherService(
        common: quietCommon(bootstrap), settings: batcherSettings, log: log.log("batcher")
      ).run(stop: stop)
    }
    #expect(
      await eventually { log.contains("router: assigned") && log.contains("batcher: assigned") })

    var producerConfiguration = KafkaProducerConfiguration(common: quietCommon(bootstrap))
    producerConfiguration.common.properties["message.max.bytes"] = "3000000"
    let producer = try KafkaProducer(configuration: producerConfiguration)
    defer { producer.close() }
    func send(_ id: String, app: String, slo: String, bytes: Int) throws {
      try producer.enqueue(
        KafkaProducerMessage(
          topic: topics.requests, key: Array(app.utf8),
          value: Array(repeating: UInt8(ascii: "y"), count: bytes),
          headers: [
            KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8)),
            KafkaHeader(key: HeaderName.slo, value: Array(slo.utf8)),
          ]))
    }
    try send("huge", app: "a3", slo: "60000", bytes: 2_000_000)
    for index in 0..<4 { try send("big-\(index)", app: "a3", slo: "60000", bytes: 400_000) }
    for index in 0..<20 { try send("after-\(index)", app: "a3", slo: "60000", bytes: 50) }
    try producer.flush()

    let outcomes = try Outcomes.read(bootstrap, topics, expecting: 25, timeout: .seconds(60))
    #expect(outcomes.deadLetters["huge"] == "payload-too-large")
    for index in 0..<4 { #expect(outcomes.batched["big-\(index)"] == 1, "big-\(index)") }
    for index in 0..<20 { #expect(outcomes.batched["after-\(index)"] == 1, "after-\(index)") }
    #expect(outcomes.late.isEmpty)
    for topic in [topics.batchesCPU, topics.batchesGPU] {
      for record in try readTopic(
        bootstrap, topic, timeout: .milliseconds(500), until: { _ in false })
      {
        #expect((record.value?.count ?? 0) <= RecordLimits.maxRecordBytes)
      }
    }
    let letter = try readTopic(bootstrap, topics.deadLetter) { !$0.isEmpty }
    #expect(
      letter.first?.value == nil && letter.first?.header(HeaderName.valueDroppedBytes) == "2000000")
    #expect(router.finish() == nil)
    #expect(batcher.finish() == nil)
  }
}
