import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline

/// Router and batcher on the embedded broker: every request produced ends in exactly one of a
/// batch, the dead letter or the late topic.
@Suite(.serialized) struct PipelineFlowTests {
  @Test func everyRequestEndsInABatchADeadLetterOrTheLateTopic() throws {
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
    #expect(eventually { log.contains("router: assigned") && log.contains("batcher: assigned") })

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
    let warm = try eventually {
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
        let records = try readTopic(
          bootstrap, topic, timeout: .milliseconds(500), until: { _ in false })
        lines += records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
      }
      #expect(!lines.isEmpty, "\(schema): nothing to validate")
      let (status, problems, _) = try runToCompletion(
        root.appendingPathComponent("scripts/validate-json").path,
        [root.appendingPathComponent("Schemas/\(schema)").path, "-"],
        stdin: lines.joined(separator: "\n") + "\n")
      #expect(status == 0, "\(schema): \(problems.prefix(5))")
    }
  }
}
