import Foundation
import Kafka
import Planner
import Synchronization
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// `harmonybatch worker` processes on a `harmonybatch broker` process: two emulated GPU workers
/// share a stream of batches, one is killed mid-batch, and every request still gets a result.
@Suite(.serialized, .startsServices, .onOwnThread) struct WorkerProcessTests {
  @Test func twoWorkersShareTheBatchesAndAKilledOnesBatchIsDoneByTheOther() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    defer { broker.signal(SIGTERM) }
    func worker() throws -> ChildProcess {
      try ChildProcess(
        harmonybatchPath,
        [
          "worker", "--kind", "gpu", "--backend", "emulated-gpu", "--model", "VGG19",
          "--bootstrap", bootstrap, "--property", "session.timeout.ms=6000", "--seed", "5",
          "--log-level", "debug",
        ])
    }
    let first = try worker()
    let second = try worker()
    func serving(_ process: ChildProcess) -> Bool { process.standardError.contains("assigned") }
    #expect(await eventually(timeout: .seconds(40)) { serving(first) && serving(second) })
    // Settle the rebalance: each holds two of the four partitions (workers rebalance
    // cooperatively: the first gives two up, the second takes them).
    #expect(
      await eventually(timeout: .seconds(40)) {
        [first, second].allSatisfy { process in
          guard
            let line = process.standardError.split(separator: "\n").last(where: {
              $0.contains("holding ")
            }),
            let held = line.components(separatedBy: "holding ").last
          else { return false }
          return held.components(separatedBy: ", ").count == 2
        }
      })

    // 48 batches of 13 on a 2 GB GPU function (about 0.3 s each), over 8 group keys.
    let topics = PipelineTopics()
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    var ids: [String] = []
    let now = Date().timeIntervalSince1970
    for index in 0..<48 {
      let spec = GroupSpec(
        key: GroupKey(planVersion: 1, group: "g\(index % 8)"),
        function: .gpu(memoryGB: 2, vcpu: 2.0 / 3),
        capacity: 13, latencyMax: 0.3455)
      let requests = (0..<13).map { position in
        BufferedRequest(
          id: "w-\(index)-\(position)", app: "app\(index % 8)", arrival: now, slo: 60, timeout: 1,
          item: BatchItem(
            source: KafkaTopicPartition(topic: "hb.grouped", partition: 0), offset: Int64(index),
            value: Array("text \(index) \(position)".utf8), headers: []))
      }
      ids += requests.map(\.id)
      let batch = ReadyBatch(
        spec: spec, requests: requests, reason: .full, flushedAt: now, dueAt: now, lateIDs: [])
      try producer.enqueue(try batch.message(id: "b-\(index)", batcher: "test", topics: topics))
    }
    // A batch that is not JSON goes to the dead letter; the worker goes on. So does one on a GPU
    // function of 0 GB (it used to spin a worker at full CPU for ever, deaf to SIGTERM).
    try producer.enqueue(
      KafkaProducerMessage(
        topic: topics.batchesGPU, key: Array("g0".utf8), value: Array("{oops".utf8)))
    let wedge = ReadyBatch(
      spec: GroupSpec(
        key: GroupKey(planVersion: 1, group: "g0"), function: .gpu(memoryGB: 0, vcpu: 1),
        capacity: 2, latencyMax: 0.3),
      requests: [
        BufferedRequest(
          id: "wedge", app: "app0", arrival: now, slo: 60, timeout: 1,
          item: BatchItem(
            source: KafkaTopicPartition(topic: "hb.grouped", partition: 0), offset: 99,
            value: Array("x".utf8), headers: []))
      ], reason: .full, flushedAt: now, dueAt: now, lateIDs: [])
    try producer.enqueue(try wedge.message(id: "b-wedge", batcher: "test", topics: topics))
    try producer.flush()
    producer.close()

    // Kill one worker, without warning, while it holds a batch: at the first batch it says it
    // starts from now on (each takes about 0.3 s), within the 5 ms this wait looks every.
    let seenBefore = first.standardErrorEnd
    var held: String?
    #expect(
      await eventually(timeout: .seconds(40), every: .milliseconds(5)) {
        held = Self.batchesRunning(in: first.standardError(since: seenBefore)).first
        return held != nil
      }, "\(first.standardError.suffix(2000))")
    first.signal(SIGKILL)
    #expect(await first.waitForExit() == SIGKILL)

    var results: [String: Int] = [:]
    var feedback: [String] = []
    let expected = Set(ids)
    let deadline = ContinuousClock.now + .seconds(90)
    repeat {
      results = [:]
      for record in try readTopic(
        bootstrap, topics.results, timeout: .milliseconds(500), until: { _ in false })
      {
        let result = try JSONDecoder().decode(ResultMessage.self, from: Data(record.value ?? []))
        #expect(result.backend == "emulated-gpu" && result.emulated && result.output == nil)
        results[result.requestID, default: 0] += 1
      }
    } while Set(results.keys) != expected && ContinuousClock.now < deadline
    #expect(
      Set(results.keys) == expected,
      "\(expected.subtracting(results.keys).count) requests have no result")
    // The batch the killed worker held is done by the other; what it had already published is
    // found in hb.results and not published again: one result per request.
    let twice = results.filter { $0.value > 1 }
    let notes = second.standardError.split(separator: "\n").filter {
      $0.contains("recover") || $0.contains("assigned")
    }
    #expect(
      twice.isEmpty,
      "\(twice.count) requests with two results, e.g. \(twice.keys.sorted().prefix(3)); \(notes)")
    feedback = try readTopic(bootstrap, topics.feedback, timeout: .seconds(10)) { $0.count >= 48 }
      .map { String(decoding: $0.value ?? [], as: UTF8.self) }
    #expect(feedback.count >= 48)
    // The killed worker held the batch it had started: it never finished it (no feedback of its
    // own for it); the other did.
    if let held {
      let batches = try readTopic(bootstrap, topics.batchesGPU, timeout: .seconds(10)) {
        $0.contains { $0.coordinates == held }
      }
      let heldID = try #require(
        batches.first { $0.coordinates == held }.map { try BatchMessage.decode($0.value ?? []) }
      ).batchID
      let doneBy = try feedback.map {
        try JSONDecoder().decode(FeedbackMessage.self, from: Data($0.utf8))
      }
      .filter { $0.batchID == heldID }.map(\.worker)
      #expect(
        !doneBy.isEmpty && !doneBy.contains { $0.hasSuffix("-\(first.process.processIdentifier)") },
        "\(held) (\(heldID)) done by \(doneBy)")
    }
    let deadLetters = try readTopic(bootstrap, topics.deadLetter, timeout: .seconds(10)) {
      !$0.isEmpty
    }
    #expect(deadLetters.contains { $0.header(HeaderName.error) == "bad-batch" })
    let refused = try readTopic(bootstrap, topics.deadLetter, timeout: .seconds(10)) { records in
      records.contains { $0.header(HeaderName.errorDetail)?.contains("gpu_mem_gb 0") == true }
    }
    #expect(
      refused.contains { $0.header(HeaderName.errorDetail)?.contains("gpu_mem_gb 0") == true })

    // Results and feedback validate against their schemas.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let resultLines = try readTopic(bootstrap, topics.results, timeout: .seconds(15)) {
      $0.count >= 100
    }
    .prefix(100).map { String(decoding: $0.value ?? [], as: UTF8.self) }
    #expect(resultLines.count == 100)
    for (schema, lines) in [
      ("feedback.schema.json", feedback), ("result.schema.json", Array(resultLines)),
    ] {
      let (status, problems, _) = try await runToCompletion(
        root.appendingPathComponent("scripts/validate-json").path,
        [root.appendingPathComponent("Schemas/\(schema)").path, "-"],
        stdin: lines.joined(separator: "\n") + "\n")
      #expect(status == 0, "\(schema): \(problems.prefix(3))")
    }
    second.signal(SIGTERM)
    #expect(await second.waitForExit(timeout: .seconds(40)) == 0, "\(second.standardError)")
  }

  /// One tenant's request in a batch costs that request alone, and a batch record produced twice
  /// ends each request once: a `worker` process, batches a router would never write.
  @Test func aBadRequestIsRefusedAloneAndAReplayedBatchEndsItsRequestsOnce() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    defer { broker.signal(SIGTERM) }
    let worker = try await Self.emulatedCPUWorker(bootstrap)
    defer { worker.signal(SIGKILL) }
    let topics = PipelineTopics()
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    let now = Date().timeIntervalSince1970
    let spec = GroupSpec(
      key: GroupKey(planVersion: 1, group: "g1"), function: .cpu(vcpu: 2), capacity: 4,
      latencyMax: 0.5)
    let tooMany = (0..<65).map { KafkaHeader(key: "x-\($0)", value: [1]) }
    let requests = ["ok-1", "bad", "ok-2"].enumerated().map { index, id in
      BufferedRequest(
        id: id, app: "a1", arrival: now, slo: 60, timeout: 1,
        item: BatchItem(
          source: KafkaTopicPartition(topic: "hb.grouped", partition: 0), offset: Int64(index),
          value: Array("text \(id)".utf8), headers: id == "bad" ? tooMany : []))
    }
    let batch = ReadyBatch(
      spec: spec, requests: requests, reason: .full, flushedAt: now, dueAt: now, lateIDs: [])
    let message = try batch.message(id: "b-replayed", batcher: "test", topics: topics)
    // The same record twice: a producer's retry, or a replay.
    try producer.enqueue(message)
    try producer.enqueue(message)
    try producer.flush()
    producer.close()

    #expect(
      await eventually(timeout: .seconds(30)) {
        worker.standardError.contains("ended here already")
      }, "\(worker.standardError)")
    let results = try readTopic(bootstrap, topics.results, timeout: .seconds(10)) {
      $0.count >= 2
    }
    let deadLetters = try readTopic(bootstrap, topics.deadLetter, timeout: .seconds(10)) {
      !$0.isEmpty
    }
    var ended: [String: [String]] = [:]
    for record in results + deadLetters {
      let id = record.header(HeaderName.requestID) ?? record.keyString ?? "?"
      ended[id, default: []].append(record.header(HeaderName.error) ?? "result")
    }
    #expect(ended["ok-1"] == ["result"] && ended["ok-2"] == ["result"], "\(ended)")
    #expect(ended["bad"] == ["bad-headers"], "\(ended)")
  }

  /// Once plans are on hb.plans, a batch whose group is in none of them (nor a group served alone
  /// holding only its app) is not run: each of its requests ends as an `unknown-group` dead
  /// letter, while the plan's own groups and solo groups run.
  @Test func aBatchForAGroupNoPlanHasIsRefusedRequestByRequest() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    defer { broker.signal(SIGTERM) }
    let topics = PipelineTopics()
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    // BATCH: one CPU function per app, so every group is one a CPU worker runs.
    var plan = try Planner(model: "VGG19").plan(
      [App(id: "a1", slo: 1.0, rate: 2), App(id: "a2", slo: 1.0, rate: 2)], algorithm: .batch)
    plan.version = 3
    plan.writer = "test"
    try producer.enqueue(
      KafkaProducerMessage(
        topic: topics.plans, key: Array("plan".utf8), value: Array(try plan.jsonData(pretty: false))
      ))
    try producer.flush()
    let worker = try await Self.emulatedCPUWorker(bootstrap)
    defer { worker.signal(SIGKILL) }
    let now = Date().timeIntervalSince1970
    let group = try #require(plan.group(of: "a1"))
    func batch(_ id: String, group: String, version: Int, apps: [String]) throws
      -> KafkaProducerMessage
    {
      let spec = GroupSpec(
        key: GroupKey(planVersion: version, group: group), function: .cpu(vcpu: 2),
        capacity: apps.count, latencyMax: 0.5)
      let requests = apps.enumerated().map { index, app in
        BufferedRequest(
          id: "\(id)-\(index)", app: app, arrival: now, slo: 60, timeout: 1,
          item: BatchItem(
            source: KafkaTopicPartition(topic: "hb.grouped", partition: 1),
            offset: Int64(index), value: Array("t".utf8),
            headers: []))
      }
      return try ReadyBatch(
        spec: spec, requests: requests, reason: .full, flushedAt: now, dueAt: now, lateIDs: []
      ).message(id: id, batcher: "test", topics: topics)
    }
    try producer.enqueue(batch("planned", group: group.id, version: 3, apps: ["a1"]))
    try producer.enqueue(batch("rogue", group: "g-rogue", version: 3, apps: ["a1", "a2"]))
    try producer.enqueue(batch("future", group: "g9", version: 99, apps: ["a1"]))
    try producer.enqueue(batch("alone", group: "solo:a:b:700", version: 3, apps: ["a:b"]))
    try producer.enqueue(batch("posing", group: "solo:a1:700", version: 3, apps: ["a2"]))
    try producer.flush()
    producer.close()
    let results = try readTopic(bootstrap, topics.results, timeout: .seconds(30)) {
      $0.count >= 2
    }
    let deadLetters = try readTopic(bootstrap, topics.deadLetter, timeout: .seconds(30)) {
      $0.count >= 4
    }
    var ended: [String: [String]] = [:]
    for record in results + deadLetters {
      let id = record.header(HeaderName.requestID) ?? record.keyString ?? "?"
      ended[id, default: []].append(record.header(HeaderName.error) ?? "result")
    }
    #expect(ended["planned-0"] == ["result"] && ended["alone-0"] == ["result"], "\(ended)")
    for id in ["rogue-0", "rogue-1", "future-0", "posing-0"] {
      #expect(ended[id] == ["unknown-group"], "\(id): \(ended) \(worker.standardError)")
    }
  }

  /// The coordinates of the batches a worker said it started (`--log-level debug`), in order.
  static func batchesRunning(in log: String) -> [String] {
    log.split(separator: "\n").compactMap { line in
      guard let range = line.range(of: ": batch "),
        let end = line.range(of: ": running ", range: range.upperBound..<line.endIndex)
      else { return nil }
      return String(line[range.upperBound..<end.lowerBound])
    }
  }

  /// An emulated CPU worker process holding its partitions.
  static func emulatedCPUWorker(_ bootstrap: String) async throws -> ChildProcess {
    let worker = try ChildProcess(
      harmonybatchPath,
      [
        "worker", "--kind", "cpu", "--backend", "emulated-cpu", "--model", "VGG19",
        "--bootstrap", bootstrap, "--property", "session.timeout.ms=6000",
      ])
    #expect(await eventually(timeout: .seconds(40)) { worker.standardError.contains("assigned") })
    return worker
  }
}
