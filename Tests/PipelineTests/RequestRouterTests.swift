import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// The router's decision for single records (pure, no broker).
@Suite struct RequestRouterTests {
  static func router() throws -> RequestRouter {
    let (planner, plan) = try Planner.tableOnePlan()
    return RequestRouter(
      table: RoutingTable(plan: plan, planner: planner), topics: PipelineTopics())
  }

  static func record(key: [UInt8]?, slo: String?) -> KafkaRecord {
    KafkaRecord(
      topic: "hb.requests", partition: 0, offset: 7, key: key, value: Array("text".utf8),
      headers: slo.map { [KafkaHeader(key: HeaderName.slo, value: Array($0.utf8))] } ?? [],
      timestampMs: 1_000)
  }

  static func code(_ decision: RequestRouter.Decision) -> String {
    switch decision {
    case .grouped: "grouped"
    case .deadLetter(_, let code, _): code.rawValue
    }
  }

  @Test func theSLOHeaderIsDecimalMillisecondsInItsRangeAndNothingElse() throws {
    var router = try Self.router()
    for good in ["500", "250.5", "3600000", "0500"] {
      #expect(
        Self.code(router.route(Self.record(key: Array("a1".utf8), slo: good), nowMs: 0))
          == "grouped", "\(good)")
    }
    // Well formed, and more than any function can do: a different reason.
    #expect(
      Self.code(router.route(Self.record(key: Array("a1".utf8), slo: "1"), nowMs: 0))
        == "impossible-slo")
    // Each of these was accepted before: hexadecimal, exponent, spaces, a number too big for any
    // clock, signs, infinities, digit groups, a fraction without digits.
    for bad in [
      "0x1F4", "1e3", " 500", "500 ", "99999999999999999999", "+500", "-500", "0", "0.5",
      "inf", "nan", "5,000", "500.", ".5", "", "3600001", "５００",
    ] {
      #expect(
        Self.code(router.route(Self.record(key: Array("a1".utf8), slo: bad), nowMs: 0))
          == "bad-slo", "'\(bad)'")
    }
  }

  /// A request that waited on hb.requests (a backlog after an outage) is counted as backlog, so
  /// the controller does not take it for a burst; a fresh one is not.
  @Test func requestsThatWaitedAreReportedAsBacklog() throws {
    var router = try Self.router()
    let record = Self.record(key: Array("a1".utf8), slo: "500")  // arrived at 1,000 ms
    _ = router.route(record, nowMs: 1_500)
    _ = router.route(record, nowMs: 1_000 + RouterReport.backlogAgeMs + 1)
    _ = router.route(record, nowMs: 9_000)
    let count = try #require(router.takeReport().apps["a1"])
    #expect(count.requests == 3)
    #expect(count.backlog == 2)
    _ = router.route(record, nowMs: 1_200)
    #expect(router.takeReport().apps["a1"]?.backlog == nil)
    // The field is written only when there is a backlog.
    let message = RatesMessage(
      router: "r", planVersion: 1, windowStartMs: 0, windowEndMs: 1000, apps: ["a1": count],
      rejected: [:])
    #expect(String(decoding: try message.messageJSON(), as: UTF8.self).contains("\"backlog\":2"))
    #expect(message.checks.isValid)
  }

  @Test func aKeyThatIsNotUTF8HasItsOwnReason() throws {
    var router = try Self.router()
    #expect(
      Self.code(router.route(Self.record(key: [0xFF, 0xFE], slo: "500"), nowMs: 0)) == "bad-key")
    #expect(Self.code(router.route(Self.record(key: nil, slo: "500"), nowMs: 0)) == "missing-app")
    #expect(Self.code(router.route(Self.record(key: [], slo: "500"), nowMs: 0)) == "missing-app")
  }
}

extension RequestRouterTests {
  /// With nothing to provision it alone, an app the plan does not cover is a dead letter — and
  /// still reported (it used to vanish from hb.rates, so the controller never learnt of it).
  @Test func anUnplannedAppIsReportedEvenWhenItCannotBeServed() throws {
    let (_, plan) = try Planner.tableOnePlan()
    var router = RequestRouter(
      table: RoutingTable(plan: plan, planner: nil), topics: PipelineTopics())
    let decision = router.route(Self.record(key: Array("newcomer".utf8), slo: "900"), nowMs: 0)
    #expect(Self.code(decision) == "unplanned-app")
    let report = router.takeReport()
    #expect(report.apps["newcomer"] == .init(requests: 1, sloMs: 900, planned: false))
    #expect(report.rejected["unplanned-app"] == 1)
  }
}

/// The router following hb.plans, with no profile of its own.
@Suite(.serialized, .startsServices, .onOwnThread) struct UnplannedAppFlowTests {
  @Test func anUnplannedAppIsServedAloneOnThePlansOwnModel() async throws {
    let bootstrap = sharedBroker.bootstrapServers
    let topics = PipelineTopics(prefix: uniqueName("unplanned") + ".")
    try sharedBroker.createTopics(topics.specs(partitions: 4))
    let (_, plan) = try Planner.tableOnePlan()
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    defer { producer.close() }
    try producer.enqueue(
      KafkaProducerMessage(
        topic: topics.plans, key: Array("plan".utf8), value: Array(try plan.jsonData(pretty: false))
      ))
    try producer.flush()
    let log = CapturedLog()
    var settings = RouterService.Settings()
    settings.topics = topics
    settings.groupID = uniqueName("router")
    settings.reportInterval = .milliseconds(200)
    let routing = settings
    let router = RunningService("router") { stop in
      try RouterService(common: quietCommon(bootstrap), settings: routing, log: log.log("router"))
        .run(stop: stop)
    }
    #expect(
      await eventually { log.contains("router: assigned") && log.contains("following plan v1") })
    try producer.enqueue(
      KafkaProducerMessage(
        topic: topics.requests, key: Array("newcomer".utf8), value: Array("x".utf8),
        headers: [
          KafkaHeader(key: HeaderName.requestID, value: Array("n1".utf8)),
          KafkaHeader(key: HeaderName.slo, value: Array("900".utf8)),
        ]))
    try producer.flush()
    let grouped = try readTopic(bootstrap, topics.grouped) { !$0.isEmpty }
    #expect(grouped.first?.keyString == "solo:newcomer:900", "\(log.all)")
    let reports = try readTopic(bootstrap, topics.rates) { records in
      records.contains { String(decoding: $0.value ?? [], as: UTF8.self).contains("newcomer") }
    }
    let report = try JSONDecoder().decode(
      RatesMessage.self,
      from: Data(
        try #require(
          reports.first { String(decoding: $0.value ?? [], as: UTF8.self).contains("newcomer") }
        )
        .value ?? []))
    #expect(report.apps["newcomer"]?.planned == false)
    #expect(router.finish() == nil)
  }
}
