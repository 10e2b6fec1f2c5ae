import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// Router and batcher on the embedded broker: every request produced ends in exactly one of a
/// batch, the dead letter or the late topic.
@Suite(.serialized, .startsServices, .onOwnThread) struct PipelineFlowTests {
  @Test func everyRequestEndsInABatchADeadLetterOrTheLateTopic() async throws {
    let bootstrap = sharedBroker.bootstrapServers
    let topics = PipelineTopics(prefix: uniqueName("flow") + ".")
    try sharedBroker.createTopics(topics.specs(partitions: 4))
    let (planner, plan) = try Planner.tableOnePlan()
    let log = CapturedLog()
    var routerSettings = RouterService.Settings()
    routerSettings.topics = topics
    routerSettings.groupID = uniqueName("router")
    routerSettings.fixedPlan = plan
    routerSettings.planner = planner
    routerSettings.maxPayloadBytes = 1000
    var batcherSettings = BatcherService.Settings()
    batcherSettings.topics = topics
    batcherSettings.groupID = uniqueName("batcher")
    let (routing, batching) = (routerSettings, batcherSettings)
    let router = RunningService("router") { stop in
      try RouterService(common: quietCommon(bootstrap), settings: routing, log: log.log("router"))
        .run(stop: stop)
    }
    let batcher = RunningService("batcher") { stop in
      try BatcherService(
        common: quietCommon(bootstrap), settings: batching, log: log.log("batcher")
      )
      .run(stop: stop)
    }
    // Requests count from their CreateTime: produce only once both stages hold partitions.
    #expect(
      await eventually { log.contains("router: assigned") && log.contains("batcher: assigned") })

    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    var expected: [String: String] = [:]  // id → "batch", "late" or a dead-letter code
    func send(
      _ id: String, app: String?, slo: String?, payload: Int = 20, ageMs: Int64 = 0,
      expect outcome: String
    ) throws {
      var headers = [KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8))]
      if let slo { headers.append(KafkaHeader(key: HeaderName.slo, value: Array(slo.utf8))) }
      let now = Int64(Date().timeIntervalSince1970 * 1000)
      try producer.enqueue(
        KafkaProducerMessage(
          topic: topics.requests, key: app.map { Array($0.utf8) },
          value: Array(repeating: UInt8(ascii: "x"), count: payload), headers: headers,
          timestampMs: now - ageMs))
      expected[id] = outcome
    }
    // The first record on a topic waits for its metadata (about 100 ms per hop): warm the path
    // up, or the tightest requests count that start-up against their SLO.
    try send("warm-up", app: "a1", slo: "60000", expect: "batch")
    try producer.flush()
    let warm = try await eventually {
      try !readTopic(
        bootstrap, topics.batchesCPU, timeout: .milliseconds(200), until: { !$0.isEmpty }
      )
      .isEmpty
    }
    #expect(warm)
    for index in 0..<300 {
      let app = ["a1", "a2", "a3"][index % 3]
      // Half carry their SLO, half rely on the plan's.
      try send("ok-\(index)", app: app, slo: index % 2 == 0 ? "1000" : nil, expect: "batch")
    }
    for index in 0..<3 { try send("solo-\(index)", app: "newcomer", slo: "900", expect: "batch") }
    for index in 0..<5 { try send("nokey-\(index)", app: nil, slo: "500", expect: "missing-app") }
    for index in 0..<5 { try send("badslo-\(index)", app: "a1", slo: "soon", expect: "bad-slo") }
    for index in 0..<3 {
      try send("noslo-\(index)", app: "stranger", slo: nil, expect: "missing-slo")
    }
    for index in 0..<2 {
      try send("tight-\(index)", app: "racer", slo: "1", expect: "impossible-slo")
    }
    for index in 0..<2 {
      try send("big-\(index)", app: "a2", slo: nil, payload: 2000, expect: "payload-too-large")
    }
    for index in 0..<3 {
      try send("old-\(index)", app: "a3", slo: "1000", ageMs: 5000, expect: "late")
    }
    try producer.flush()

    let outcomes = try Outcomes.read(bootstrap, topics, expecting: expected.count)
    #expect(router.finish() == nil)
    #expect(batcher.finish() == nil)
    producer.close()

    #expect(
      outcomes.ids == Set(expected.keys),
      "missing: \(Set(expected.keys).subtracting(outcomes.ids).sorted().prefix(10))")
    #expect(outcomes.total == expected.count, "some request ended twice")
    for (id, outcome) in expected {
      switch outcome {
      case "batch": #expect(outcomes.batched[id] == 1, "\(id)")
      case "late": #expect(outcomes.late[id] == 1, "\(id)")
      default:
        #expect(outcomes.deadLetters[id] == outcome, "\(id): \(outcomes.deadLetters[id] ?? "none")")
      }
    }
    // Batches follow the plan: a1 alone on CPU, a2 and a3 together on a 2 GB GPU function.
    for batch in outcomes.batches {
      let apps = Set(batch.requests.map(\.app))
      #expect(batch.requests.count <= batch.batchSize)
      switch batch.group {
      case "g1": #expect(apps == ["a1"] && batch.function.kind == .cpu)
      case "g2":
        #expect(apps.isSubset(of: ["a2", "a3"]) && batch.function == plan.groups[1].function)
      default: #expect(batch.group == "solo:newcomer:900" && apps == ["newcomer"], "\(batch.group)")
      }
    }
    #expect(
      outcomes.batches.contains {
        $0.group == "g2" && $0.requests.count == plan.groups[1].batchSize
      })

    // What the stages wrote validates against Schemas/ (batch.schema.json, rates.schema.json).
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    for (schema, topicNames) in [
      ("batch.schema.json", [topics.batchesCPU, topics.batchesGPU]),
      ("rates.schema.json", [topics.rates]),
    ] {
      var lines: [String] = []
      for topic in topicNames {
        // Several batches per batch topic and at least one router report; a first fetch may wait
        // half a second for partition leaders, so wait for records rather than a fixed time.
        let wanted = topic == topics.rates ? 1 : 5
        let records = try readTopic(bootstrap, topic, timeout: .seconds(15)) {
          $0.count >= wanted
        }
        lines += records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
      }
      #expect(!lines.isEmpty, "\(schema): nothing to validate")
      let (status, problems, _) = try await runToCompletion(
        root.appendingPathComponent("scripts/validate-json").path,
        [root.appendingPathComponent("Schemas/\(schema)").path, "-"],
        stdin: lines.joined(separator: "\n") + "\n")
      #expect(status == 0, "\(schema): \(problems.prefix(5))")
    }
  }

  @Test func theRouterFollowsPlansPublishedOnThePlanTopic() async throws {
    let bootstrap = sharedBroker.bootstrapServers
    let topics = PipelineTopics(prefix: uniqueName("plans") + ".")
    try sharedBroker.createTopics(topics.specs(partitions: 2))
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    defer { producer.close() }
    func publish(_ plan: Plan) throws {
      try producer.enqueue(
        KafkaProducerMessage(
          topic: topics.plans, key: Array("plan".utf8),
          value: Array(try plan.jsonData(pretty: false))))
      try producer.flush()
    }
    let (planner, first) = try Planner.tableOnePlan(version: 1)
    var older = first
    older.version = 0  // an older version later in the topic must not win
    try publish(first)
    try publish(older)

    let log = CapturedLog()
    var settings = RouterService.Settings()
    settings.topics = topics
    settings.groupID = uniqueName("router")
    settings.planner = planner
    let routing = settings
    let router = RunningService("router") { stop in
      try RouterService(common: quietCommon(bootstrap), settings: routing, log: log.log("router"))
        .run(stop: stop)
    }
    #expect(await eventually { log.contains("router: assigned") })
    #expect(log.contains("following plan v1"))

    func route(_ id: String) throws -> KafkaRecord? {
      try producer.enqueue(
        KafkaProducerMessage(
          topic: topics.requests, key: Array("a1".utf8), value: [1],
          headers: [KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8))]))
      try producer.flush()
      return try readTopic(bootstrap, topics.grouped, partitions: 2) { records in
        records.contains { $0.header(HeaderName.requestID) == id }
      }.first { $0.header(HeaderName.requestID) == id }
    }
    let before = try #require(try route("before"))
    let beforeRoute = try GroupedRecord.parse(before.headers).get()
    #expect(beforeRoute.spec.key == GroupKey(planVersion: 1, group: "g1"))
    #expect(before.header(HeaderName.slo) == "500")

    // Version 2 gives a1 a looser SLO and puts it with a2 and a3 on one GPU function.
    var second = try planner.plan([
      App(id: "a1", slo: 0.9, rate: 5), App(id: "a2", slo: 0.95, rate: 10),
      App(id: "a3", slo: 1.0, rate: 20),
    ])
    second.version = 2
    try #require(second.groups.count == 1)
    try publish(second)
    #expect(await eventually { log.contains("following plan v2") })
    let after = try #require(try route("after"))
    let afterRoute = try GroupedRecord.parse(after.headers).get()
    #expect(afterRoute.spec.key == GroupKey(planVersion: 2, group: "g1"))
    #expect(after.header(HeaderName.slo) == "900")
    #expect(afterRoute.spec.function.kind == .gpu)

    // A record of the right shape with numbers no planner makes (batch size 0, a negative
    // timeout, −1 vCPU) is refused; the router keeps plan v2. (It used to follow it and
    // dead-letter every request.)
    var bad = second
    bad.version = 3
    bad.groups[0].batchSize = 0
    bad.groups[0].timeoutsMs["a1"] = -5
    bad.groups[0].function = .gpu(memoryGB: 2, vcpu: -1)
    try publish(bad)
    #expect(await eventually { log.contains("batch_size 0 is outside") })
    #expect(log.contains("plan v2 stays in force"), "\(log.all.filter { $0.contains("refused") })")
    let kept = try #require(try route("after-bad-plan"))
    #expect(try GroupedRecord.parse(kept.headers).get().spec.key.planVersion == 2)
    #expect(router.finish() == nil)
  }
}
