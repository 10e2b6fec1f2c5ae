import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// Replies and carried headers, without a broker: which topics a request may name, what a reply
/// holds, and that a request's own headers survive the batch JSON.
@Suite struct ReplyTests {
  static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

  static func header(_ key: String, _ value: String) -> KafkaHeader {
    KafkaHeader(key: key, value: Array(value.utf8))
  }

  @Test func aReplyTopicIsALegalNameAndNoneOfThePipelines() {
    let topics = PipelineTopics()
    for good in ["replies", "client-7.replies", "a_b", String(repeating: "r", count: 249)] {
      #expect(ReplyTopic.problem(good, topics: topics) == nil, "\(good)")
    }
    for bad in [
      "", ".", "..", "with space", "slash/topic", "ümlaut", String(repeating: "r", count: 250),
      "hb.plans", "hb.batches.gpu", "hb.results", "hb.requests",
    ] {
      #expect(ReplyTopic.problem(bad, topics: topics) != nil, "'\(bad)'")
    }
    // Another prefix: its own topics are refused, the default names are ordinary topics.
    #expect(ReplyTopic.problem("x.plans", topics: PipelineTopics(prefix: "x.")) != nil)
    #expect(ReplyTopic.problem("hb.plans", topics: PipelineTopics(prefix: "x.")) == nil)
  }

  @Test func aReplyCarriesTheRequestsOwnHeadersAndItsOutcome() throws {
    let headers = [
      Self.header("traceparent", Self.traceparent),
      Self.header(HeaderName.replyTopic, "client-replies"),
      Self.header(HeaderName.source, "hb.requests/0/1"),  // the pipeline's: not carried
      KafkaHeader(key: "binary", value: [0xff, 0x00]),
    ]
    let value = Array("{\"request_id\":\"r-1\"}".utf8)
    let reply = try #require(
      Reply.message(
        headers: headers, requestID: "r-1", outcome: .result, value: value,
        topics: PipelineTopics()))
    #expect(reply.topic == "client-replies")
    #expect(reply.key == Array("r-1".utf8))
    #expect(reply.value == value)
    #expect(
      reply.headers.map(\.key) == [
        "traceparent", HeaderName.replyTopic, "binary", HeaderName.requestID, HeaderName.outcome,
      ])
    #expect(reply.headers[0].value == Array(Self.traceparent.utf8))
    #expect(reply.headers[2].value == [0xff, 0x00])
    #expect(reply.headers.last?.value == Array("result".utf8))
    // No reply topic, or one it may not name: no reply.
    #expect(
      Reply.message(
        headers: [Self.header("traceparent", "x")], requestID: "r", outcome: .result,
        topics: PipelineTopics()) == nil)
    #expect(
      Reply.message(
        headers: [Self.header(HeaderName.replyTopic, "hb.plans")], requestID: "r",
        outcome: .result, topics: PipelineTopics()) == nil)
  }

  @Test func aDeadLettersReplySaysWhyAndLeavesThePayloadOut() throws {
    let record = KafkaRecord(
      topic: "hb.requests", partition: 3, offset: 42, key: Array("app-a".utf8),
      value: Array("a sentence".utf8),
      headers: [
        Self.header(HeaderName.slo, "0x1F4"), Self.header(HeaderName.replyTopic, "mine"),
        Self.header("traceparent", Self.traceparent),
      ], timestampMs: 1_000)
    var router = RequestRouter(
      table: RoutingTable(plan: nil, planner: nil), topics: PipelineTopics())
    guard case .deadLetter(let deadLetter, let code, let reply?) = router.route(record, nowMs: 0)
    else {
      Issue.record("expected a dead letter with a reply")
      return
    }
    #expect(code == .badSLO)
    #expect(deadLetter.value == Array("a sentence".utf8))
    #expect(reply.topic == "mine")
    #expect(reply.key == Array("hb.requests/3/42".utf8))
    #expect(reply.value == nil)
    let replyHeaders = Dictionary(
      reply.headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) },
      uniquingKeysWith: { $1 })
    #expect(replyHeaders[HeaderName.outcome] == "dead-letter")
    #expect(replyHeaders[HeaderName.error] == "bad-slo")
    #expect(replyHeaders[HeaderName.errorDetail]?.contains("0x1F4") == true)
    #expect(replyHeaders["traceparent"] == Self.traceparent)
    #expect(replyHeaders[HeaderName.slo] == nil)
  }

  @Test func aRequestNamingABadReplyTopicIsADeadLetterWithoutAReply() throws {
    var router = RequestRouter(
      table: RoutingTable(plan: nil, planner: nil), topics: PipelineTopics())
    for topic in ["hb.plans", "no spaces", ""] {
      let record = KafkaRecord(
        topic: "hb.requests", partition: 0, offset: 1, key: Array("app-a".utf8),
        value: Array("x".utf8),
        headers: [Self.header(HeaderName.slo, "500"), Self.header(HeaderName.replyTopic, topic)],
        timestampMs: 1_000)
      guard case .deadLetter(_, let code, let reply) = router.route(record, nowMs: 0) else {
        Issue.record("expected a dead letter for '\(topic)'")
        continue
      }
      #expect(code == .badReplyTopic)
      #expect(reply == nil)
    }
  }

  /// A request's own headers (text or not) travel in the batch and come back as Kafka headers;
  /// the router's do not (they are in the batch's own fields).
  @Test func carriedHeadersSurviveTheBatch() async throws {
    let spec = GroupSpec(
      key: GroupKey(planVersion: 1, group: "g1"), function: .cpu(vcpu: 2), capacity: 4,
      latencyMax: 0.2)
    let own = [
      Self.header("traceparent", Self.traceparent), Self.header("tracestate", "a=\"1\"\n"),
      Self.header(HeaderName.replyTopic, "client-replies"), KafkaHeader(key: "raw", value: [0xc3]),
      KafkaHeader(key: "empty", value: nil),
    ]
    let routed = [
      Self.header(HeaderName.app, "a1"), Self.header(HeaderName.requestID, "r-1"),
      Self.header(HeaderName.route, "1|4|100|200|1000|cpu:2|g1"),
      Self.header(HeaderName.source, "hb.requests/0/1"),
    ]
    let requests = [own + routed, routed].enumerated().map { index, headers in
      BufferedRequest(
        id: "r-\(index)", app: "a1", arrival: 1_795_000_000, slo: 0.5, timeout: 0.1,
        item: BatchItem(
          source: KafkaTopicPartition(topic: "hb.grouped", partition: 0), offset: Int64(index),
          value: Array("x".utf8), headers: headers))
    }
    let batch = ReadyBatch(
      spec: spec, requests: requests, reason: .full, flushedAt: 1_795_000_000.1,
      dueAt: 1_795_000_000.1, lateIDs: [])
    let value = try batch.message(id: "b", batcher: "h", topics: PipelineTopics()).value ?? []
    let decoded = try BatchMessage.decode(value)
    // And it is what Schemas/batch.schema.json describes.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-batch-\(UUID().uuidString).json")
    try Data(value).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let (status, output, _) = try await runToCompletion(
      root.appendingPathComponent("scripts/validate-json").path,
      [root.appendingPathComponent("Schemas/batch.schema.json").path, file.path])
    #expect(status == 0, "\(output)")
    #expect(decoded.requests[0].kafkaHeaders == own)
    #expect(decoded.requests[1].headers == nil)
    #expect(
      RecordLimits.carriedHeaderBytes(own + routed) > RecordLimits.carriedHeaderBytes(routed))
    #expect(RecordLimits.carriedHeaderBytes(routed) == 0)
  }
}
