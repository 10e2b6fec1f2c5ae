import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// One tenant's bad request costs that request alone: the router refuses what a worker would,
/// from the same limits, and a worker that finds one anyway refuses only it.
@Suite struct TenantIsolationTests {
  static func record(key: String, headers: [KafkaHeader]) -> KafkaRecord {
    KafkaRecord(
      topic: "hb.requests", partition: 0, offset: 9, key: Array(key.utf8),
      value: Array("text".utf8),
      headers: [KafkaHeader(key: HeaderName.slo, value: Array("500".utf8))] + headers,
      timestampMs: 1_000)
  }

  static func code(_ record: KafkaRecord) throws -> String {
    var router = try RequestRouterTests.router()
    return RequestRouterTests.code(router.route(record, nowMs: 1_000))
  }

  @Test func theRouterRefusesWhatAWorkerWouldRefuse() throws {
    let many = (0..<64).map { KafkaHeader(key: "x-\($0)", value: [1]) }
    #expect(try Self.code(Self.record(key: "a1", headers: [])) == "grouped")
    // 64 headers with the SLO's: one too many.
    #expect(try Self.code(Self.record(key: "a1", headers: many)) == "bad-headers")
    #expect(try Self.code(Self.record(key: "a1", headers: Array(many.prefix(63)))) == "grouped")
    #expect(
      try Self.code(Self.record(key: "a1", headers: [KafkaHeader(key: "", value: [1])]))
        == "bad-headers")
    #expect(
      try Self.code(Self.record(key: String(repeating: "k", count: 129), headers: []))
        == "bad-key")
    // At the limit: past the limits' check (the plan then decides).
    #expect(
      try Self.code(Self.record(key: String(repeating: "k", count: 128), headers: [])) != "bad-key")
    for bad in ["a b", "a\n", "é", "a\u{0}"] {
      #expect(try Self.code(Self.record(key: bad, headers: [])) == "bad-key", "\(bad)")
    }
    let longID = KafkaHeader(
      key: HeaderName.requestID, value: Array(String(repeating: "i", count: 257).utf8))
    #expect(try Self.code(Self.record(key: "a1", headers: [longID])) == "bad-request-id")
    let controlID = KafkaHeader(key: HeaderName.requestID, value: Array("r\u{1B}1".utf8))
    #expect(try Self.code(Self.record(key: "a1", headers: [controlID])) == "bad-request-id")
  }

  @Test func aRequestOfABatchIsJudgedAlone() throws {
    func request(_ id: String, app: String = "a1", headers: Int = 0) -> BatchMessage.Request {
      BatchMessage.Request(
        id: id, app: app, sloMs: 500, arrivalMs: 1_700_000_000_000, deadlineMs: 1.7e12,
        late: false, source: "hb.grouped/0/1", payload: "dGV4dA==",
        headers: headers == 0
          ? nil : (0..<headers).map { BatchMessage.Header(name: "h\($0)", value: "v", base64: nil) }
      )
    }
    #expect(request("r1").problem == nil)
    #expect(request("r2", headers: 65).problem?.code == .badHeaders)
    #expect(request("r3", app: String(repeating: "a", count: 200)).problem?.code == .badKey)
    var late = request("r4")
    late.sloMs = .nan
    #expect(late.problem?.code == .badBatch)
    // The batch itself stays valid: its requests' faults are theirs.
    let batch = BatchMessage(
      batchID: "b1", group: "g1", planVersion: 1, function: .cpu(vcpu: 1), batchSize: 4,
      flushReason: .full, flushedAtMs: 1.7e12, latencyMaxMs: 100, batcher: "b", intakeMs: nil,
      requests: [request("r1"), request("r2", headers: 65)])
    let decoded = try BatchMessage.decode(try batch.messageJSON())
    #expect(decoded.requests.map { $0.problem == nil } == [true, false])
  }

  @Test func aBatchThatCannotBeReadStillNamesItsRequests() {
    // Not a batch (a field of the wrong type), and its requests still say who they are.
    let text = #"""
      {"batch_id": 7, "group": "g1", "requests": [
        {"id": "r1", "app": "a1", "source": "hb.grouped/0/1", "payload": "dGV4dA==",
         "headers": [{"name": "hb-reply-topic", "value": "replies.a1"}]},
        {"id": "r2", "app": "a2"}, {"id": ""}, {"app": "no id"}, {"id": "r1"}]}
      """#
    let salvaged = BatchMessage.salvage(Array(text.utf8))
    #expect(salvaged.group == "g1")
    #expect(salvaged.requests.map(\.id) == ["r1", "r2"])
    #expect(salvaged.requests[0].headers?.first?.name == HeaderName.replyTopic)
    #expect(BatchMessage.salvage(Array("not json".utf8)).requests.isEmpty)
    #expect(BatchMessage.salvage(Array("[1,2]".utf8)).requests.isEmpty)
  }

  @Test func oneBadEntryOfARatesReportCostsOnlyThatEntry() throws {
    let planner = try Planner.tableOnePlan().0
    var core = ControllerCore(
      settings: ControllerCore.Settings(prior: planner.profile, pricing: planner.pricing))
    let report = RatesMessage(
      router: "r", planVersion: 0, windowStartMs: 1.7e12, windowEndMs: 1.7e12 + 1_000,
      apps: [
        "good": .init(requests: 5, sloMs: 500, planned: false),
        String(repeating: "x", count: 1_100): .init(requests: 1, sloMs: 500, planned: false),
      ], rejected: [:])
    let logs = core.receive(rates: report)
    #expect(
      logs.contains {
        if case .log(_, let text) = $0 { return text.contains("new app good") }
        return false
      })
    #expect(core.lastRefusal?.contains("at most 128") == true)
  }

  @Test func anAppsFileKeepsToTheAppIDs() {
    #expect(throws: PlannerInputError.self) {
      try AppsFile.parse(Data(#"{"apps": [{"id": "a b", "slo_ms": 500, "rate": 1}]}"#.utf8))
    }
    #expect(AppID.problem("tenant-7/app.v2@eu:1+x_y") == nil)
  }
}

extension TenantIsolationTests {
  /// Tenants choose app ids: a metric's series stop growing at its bound, new apps count under
  /// `app="other"`, nothing is lost from the totals.
  @Test func metricSeriesAreBoundedWithNewAppsUnderOther() {
    let registry = MetricsRegistry(maxSeriesPerFamily: 3)
    let family = MetricsRegistry.Family("hb_test_requests_total", .counter, "test")
    for index in 0..<10 {
      registry.add(family, labels: ["app": "app-\(index)", "slo_met": "true"])
    }
    registry.add(family, labels: ["app": "app-0", "slo_met": "true"])
    let lines = registry.render().split(separator: "\n").filter {
      $0.hasPrefix("hb_test_requests_total{")
    }
    #expect(lines.count == 4, "\(lines)")
    #expect(lines.contains { $0.contains("app=\"other\"") && $0.hasSuffix(" 7") })
    #expect(lines.contains { $0.contains("app=\"app-0\"") && $0.hasSuffix(" 2") })
  }
}

extension TenantIsolationTests {
  /// Distinct app ids cannot grow the plan past a record or the controller's memory: apps past
  /// `maxApps` are not planned, and a plan of that many apps of the longest ids fits a record.
  @Test func appsAreBoundedAndThePlanFitsARecord() throws {
    let planner = try Planner.tableOnePlan().0
    var settings = ControllerCore.Settings(prior: planner.profile, pricing: planner.pricing)
    settings.maxApps = 3
    var core = ControllerCore(settings: settings)
    let apps = Dictionary(
      uniqueKeysWithValues: (0..<5).map {
        ("app-\($0)", RouterReport.AppCount(requests: 2, sloMs: 500, planned: false))
      })
    _ = core.receive(
      rates: RatesMessage(
        router: "r", planVersion: 0, windowStartMs: 1.7e12, windowEndMs: 1.7e12 + 1_000,
        apps: apps, rejected: [:]))
    #expect(core.lastRefusal?.contains("--max-apps") == true)
    #expect(core.knownApps.count == 3)

    // The default bound, every id at its longest, one group each (BATCH): still one record.
    let many =
      (0..<ControllerCore.Settings(prior: planner.profile, pricing: planner.pricing)
      .maxApps).map { index in
        App(
          id: String(format: "%04d", index) + String(repeating: "x", count: 124), slo: 0.5,
          rate: 0.1)
      }
    let plan = try planner.plan(many, algorithm: .batch)
    #expect(try plan.jsonData(pretty: false).count <= settings.maxPlanBytes)
  }
}

extension TenantIsolationTests {
  /// A producer's clock ahead of ours cannot make a request look older or younger than it is
  /// read: its arrival is the router's now, counted, and no latency comes out negative.
  @Test func aCreateTimeInTheFutureIsTakenAsNow() throws {
    var router = try RequestRouterTests.router()
    let leads: [Int64] = [3_600_000, 74 * 365 * 86_400_000]
    for ahead in leads {
      var record = Self.record(key: "a1", headers: [])
      record.timestampMs = 1_000 + ahead
      guard case .grouped(let message, let grouped) = router.route(record, nowMs: 1_000) else {
        Issue.record("not routed")
        continue
      }
      #expect(grouped.arrivalMs == 1_000)
      #expect(message.timestampMs == 1_000)
    }
    let future = router.takeFutureArrivals()
    #expect(future.count == 2 && future.aheadMs == 74 * 365 * 86_400_000)
    #expect(router.takeFutureArrivals().count == 0)
  }
}

extension TenantIsolationTests {
  /// Replies never land on a broker's internal topics or the pipeline's own, and stay under the
  /// operator's prefix when one is set.
  @Test func replyTopicsStayOutOfTheBrokersAndThePipelinesTopics() throws {
    let topics = PipelineTopics()
    for name in ["__consumer_offsets", "__transaction_state", "__anything"] {
      #expect(ReplyTopic.problem(name, topics: topics)?.contains("internal") == true)
    }
    #expect(ReplyTopic.problem(topics.plans, topics: topics) != nil)
    #expect(ReplyTopic.problem("replies.a1", topics: topics, requiredPrefix: "replies.") == nil)
    #expect(ReplyTopic.problem("other.a1", topics: topics, requiredPrefix: "replies.") != nil)
    var router = try RequestRouterTests.router()
    router.replyTopicPrefix = "replies."
    let record = Self.record(
      key: "a1", headers: [KafkaHeader(key: HeaderName.replyTopic, value: Array("x.a1".utf8))])
    #expect(RequestRouterTests.code(router.route(record, nowMs: 1_000)) == "bad-reply-topic")
  }
}

extension TenantIsolationTests {
  @Test func recentRequestsAreClaimedOnceAndForgottenOldestFirst() {
    var recent = RecentRequests(capacity: 3)
    var claims: [Bool] = []
    for source in ["1", "2", "1", "3", "4"] {
      claims.append(recent.claim("hb.grouped/0/" + source))
    }
    #expect(claims == [true, true, false, true, true])
    #expect(recent.count == 3)
    // The oldest was forgotten: a replay that old runs again (bounded memory).
    let again = recent.claim("hb.grouped/0/1")
    let newest = recent.claim("hb.grouped/0/4")
    #expect(again && !newest)
  }
}

extension TenantIsolationTests {
  /// The plan in force is the last valid plan on partition 0, whatever its number: a plan
  /// numbered 2,147,483,647 locks nobody out, the controller's next one (numbered 1 again)
  /// replaces it, and what is not a plan — or not on partition 0 — changes nothing.
  @Test func thePlanInForceFollowsTheTopicsOrderNotTheVersions() throws {
    var ours = try Planner.tableOnePlan().1
    ours.version = 5
    ours.writer = "controller@a/1/f"
    func bytes(_ plan: Plan) throws -> [UInt8] { Array(try plan.jsonData(pretty: false)) }
    var log = PlanLog()
    #expect(log.read(try bytes(ours), partition: 0, at: "hb.plans/0/0") == .inForce(ours))
    var rogue = ours
    rogue.version = Int(Int32.max)
    rogue.writer = "rogue"
    #expect(log.read(try bytes(rogue), partition: 0, at: "hb.plans/0/1") == .inForce(rogue))
    var next = ours
    next.version = Plan.version(after: rogue.version ?? 0)
    #expect(next.version == 1)
    #expect(log.read(try bytes(next), partition: 0, at: "hb.plans/0/2") == .inForce(next))
    #expect(log.read(try bytes(next), partition: 0, at: "hb.plans/0/3") == .same)

    // Refused, and the plan in force stays: another partition, bytes that are not a plan, and a
    // plan with an app in two groups it does not split.
    if case .refused = log.read(try bytes(rogue), partition: 1, at: "hb.plans/1/0") {
    } else {
      Issue.record("a plan on partition 1 was taken")
    }
    if case .refused = log.read(Array("{oops".utf8), partition: 0, at: "hb.plans/0/4") {
    } else {
      Issue.record("bytes that are no plan were taken")
    }
    var twice = rogue
    twice.groups.append(twice.groups[0])
    twice.groups[twice.groups.count - 1].id = "copy"
    for index in twice.groups.indices { twice.groups[index].appRates = [:] }
    if case .refused = log.read(try bytes(twice), partition: 0, at: "hb.plans/0/5") {
    } else {
      Issue.record("a plan with an app in two groups was taken")
    }
    #expect(log.inForce == next && log.refused == 3)
  }

  /// The controller publishes the plan in force again as its own — on taking over, or over a plan
  /// another wrote — under its own next version, whatever number the other took.
  @Test func theControllerReassertsItsPlanOverAnotherWriters() throws {
    let (planner, plan) = try Planner.tableOnePlan()
    var settings = ControllerCore.Settings(prior: planner.profile, pricing: planner.pricing)
    settings.writer = "controller@here/2/a"
    var core = ControllerCore(settings: settings)
    #expect(core.reassert("nothing yet", now: 1.7e9).isEmpty)
    var found = plan
    found.version = 7
    found.writer = "controller@there/1/b"
    core.resume(from: found)
    let published = core.reassert("rogue was in force", now: 1.7e9).compactMap {
      if case .publishPlan(let plan) = $0 { return plan } else { return nil }
    }
    let again = try #require(published.first)
    #expect(again.version == 8 && again.writer == "controller@here/2/a")
    #expect(again.reason == "reasserted: rogue was in force")
    #expect(ControllerCore.sameDecisions(again, found))
    #expect(try Plan.decode(again.jsonData(pretty: false)) == again)
  }
}

extension TenantIsolationTests {
  /// A worker runs the groups of the recent plans and groups served alone that hold only their
  /// app; nothing is checked before a plan is seen; the oldest plans are forgotten first.
  @Test func aWorkerKnowsTheGroupsOfTheRecentPlans() throws {
    var known = KnownGroups(depth: 2)
    #expect(known.problem(group: "anything", planVersion: 9, apps: ["x"]) == nil)
    var plan = try Planner.tableOnePlan().1
    let group = plan.groups[0].id
    for version in [4, 5, 6] {
      plan.version = version
      known.adopt(plan)
    }
    #expect(known.versions == [5, 6])
    #expect(known.problem(group: group, planVersion: 6, apps: ["a1"]) == nil)
    #expect(known.problem(group: group, planVersion: 4, apps: ["a1"])?.contains("v4") == true)
    #expect(known.problem(group: "rogue", planVersion: 6, apps: ["a1"]) != nil)
    #expect(known.problem(group: "solo:a:b:500", planVersion: 0, apps: ["a:b", "a:b"]) == nil)
    #expect(known.problem(group: "solo:a1:500", planVersion: 6, apps: ["a1", "a2"]) != nil)
    #expect(known.problem(group: "solo:nocolon", planVersion: 6, apps: ["nocolon"]) != nil)
  }
}

extension TenantIsolationTests {
  /// A reply topic not known sends the stage to look again, at most every `lookEvery` seconds.
  @Test func replyTopicsAreLookedUpAtMostEveryFewSeconds() {
    var cache = ReplyTopicCache(lookEvery: 2)
    #expect(cache.answer("mine", now: 0) == .lookAgain)
    cache.update(["mine"], now: 0)
    #expect(cache.answer("mine", now: 0.5) == .exists)
    #expect(cache.answer("invented-1", now: 0.5) == .missing)
    #expect(cache.answer("invented-2", now: 2) == .lookAgain)
    cache.lookFailed(now: 2)
    #expect(cache.answer("invented-2", now: 3) == .missing)
    cache.update(["mine", "invented-2"], now: 4)
    #expect(cache.answer("invented-2", now: 4) == .exists)
  }
}
