import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// `harmonybatch controller` and `harmonybatch worker` processes on a `harmonybatch broker`: the
/// controller publishes a plan, the worker reports its slots on hb.workers, and the controller
/// recommends replicas for the pool on hb.scaling — every record valid against `Schemas/`.
@Suite(.serialized, .startsServices, .onOwnThread) struct ControllerProcessTests {
  @Test func theControllerRecommendsReplicasForThePoolTheWorkersReport() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    defer { broker.signal(SIGTERM) }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-controller-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    // a1 stays on CPU functions (below its knee rate of 35 req/s at 0.4 s) and keeps about six
    // CPU slots busy: more than the one worker below has.
    let apps = directory.appendingPathComponent("apps.json").path
    try """
    {"apps":[{"id":"a1","slo_ms":400,"rate":20},{"id":"a2","slo_ms":1000,"rate":20}]}
    """.write(toFile: apps, atomically: true, encoding: .utf8)
    let controller = try ChildProcess(
      harmonybatchPath,
      ["controller", "--bootstrap", bootstrap, "--model", "VGG19", "--apps", apps])
    defer { controller.signal(SIGTERM) }
    let worker = try ChildProcess(
      harmonybatchPath,
      [
        "worker", "--bootstrap", bootstrap, "--kind", "cpu", "--backend", "emulated-cpu",
        "--model", "VGG19", "--concurrency", "3",
      ])
    defer { worker.signal(SIGTERM) }

    let topics = PipelineTopics()
    let plans = try readTopic(bootstrap, topics.plans, partitions: 1, timeout: .seconds(30)) {
      !$0.isEmpty
    }
    let plan = try Plan.decode(Data(try #require(plans.first?.value)))
    #expect(plan.version == 1 && plan.transportReserveMs != nil && plan.baselineObjective != nil)
    #expect(plan.group(of: "a1")?.function.kind == .cpu)

    let reports = try readTopic(bootstrap, topics.workers, timeout: .seconds(30)) { $0.count >= 2 }
    #expect(reports.count >= 2, "\(worker.standardError)")
    let decoded = try reports.map {
      try JSONDecoder().decode(WorkerReport.self, from: Data($0.value ?? []))
    }
    #expect(decoded.allSatisfy { $0.slots == 3 && $0.group == "hb-workers-cpu" && $0.kind == .cpu })

    // The recommendation for the pool once the controller has heard from it.
    var recommendation: ScalingRecommendation?
    let scaling = try readTopic(bootstrap, topics.scaling, timeout: .seconds(30)) { records in
      recommendation = records.compactMap {
        try? JSONDecoder().decode(ScalingRecommendation.self, from: Data($0.value ?? []))
      }.last { $0.group == "hb-workers-cpu" && $0.slotsAvailable == 3 }
      return recommendation != nil
    }
    let pool = try #require(recommendation, "\(controller.standardError)")
    #expect(pool.replicas == 1 && pool.slotsPerReplica == 3)
    // More than the one replica's 3 slots: for the load and for the waits a 400 ms SLO allows
    // next to ~280 ms batches — at four partitions, past what 3-slot replicas can give.
    #expect(
      pool.slotsNeeded > 3 && [.scaleUp, .partitionLimit].contains(pool.status)
        && pool.replicasToAdd >= 1, "\(pool)")
    #expect(controller.standardError.contains("pool hb-workers-cpu"))

    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    for (schema, records) in [
      ("workers.schema.json", reports), ("scaling.schema.json", scaling),
      ("plan.schema.json", plans),
    ] {
      let lines = records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
      let (status, problems, _) = try await runToCompletion(
        root.appendingPathComponent("scripts/validate-json").path,
        [root.appendingPathComponent("Schemas/\(schema)").path, "-"],
        stdin: lines.joined(separator: "\n") + "\n")
      #expect(status == 0, "\(schema): \(problems.prefix(3))")
    }
    controller.signal(SIGTERM)
    #expect(await controller.waitForExit(timeout: .seconds(30)) == 0, "\(controller.standardError)")
  }

  /// Two controllers started together publish one sequence of plan versions (one holds the
  /// lease, the other stands by); the active one killed without warning, the other takes over
  /// and plans a new app within the hand-over time.
  @Test func twoControllersPublishOneSequenceAndAStandbyTakesOver() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    defer { broker.signal(SIGTERM) }
    let topics = PipelineTopics()
    let arguments = ["controller", "--bootstrap", bootstrap, "--model", "VGG19"]
    let first = try ChildProcess(harmonybatchPath, arguments)
    let second = try ChildProcess(harmonybatchPath, arguments)
    defer {
      first.signal(SIGKILL)
      second.signal(SIGKILL)
    }
    func holds(_ process: ChildProcess) -> Bool {
      process.standardError.contains("holding the lease")
    }
    #expect(await eventually(timeout: .seconds(30)) { holds(first) || holds(second) })
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    defer { _ = producer.close() }
    /// Reports `app` on hb.rates every half second until a plan covers it; returns the plans.
    func plan(_ app: String, within timeout: Duration) throws -> [Plan] {
      let deadline = ContinuousClock.now + timeout
      var plans: [Plan] = []
      repeat {
        let now = Date().timeIntervalSince1970 * 1000
        let report = RatesMessage(
          router: "test", planVersion: 0, windowStartMs: now - 1000, windowEndMs: now,
          apps: [app: .init(requests: 5, sloMs: 800, planned: false)], rejected: [:])
        try producer.enqueue(
          KafkaProducerMessage(
            topic: topics.rates, key: Array("test".utf8), value: try report.messageJSON()))
        try producer.flush()
        plans = try readTopic(bootstrap, topics.plans, partitions: 1, timeout: .milliseconds(500)) {
          _ in false
        }.compactMap { try? Plan.decode(Data($0.value ?? [])) }
      } while !plans.contains(where: { $0.group(of: app) != nil }) && ContinuousClock.now < deadline
      return plans
    }
    let before = try plan("a1", within: .seconds(30))
    // Required: with no plan at all, the checks below would build an empty range and stop the
    // whole test process instead of failing this test.
    try #require(before.contains { $0.group(of: "a1") != nil }, "\(first.standardError)")
    // One writer: exactly one holds the lease, and the versions rise one by one.
    #expect(holds(first) != holds(second))
    #expect(before.compactMap(\.version) == Array(1...before.count))

    let (active, standby) = holds(first) ? (first, second) : (second, first)
    active.signal(SIGKILL)
    let killed = ContinuousClock.now
    #expect(await eventually(timeout: .seconds(30)) { holds(standby) }, "\(standby.standardError)")
    let handOver = ContinuousClock.now - killed
    let after = try plan("a2", within: .seconds(30))
    #expect(after.contains { $0.group(of: "a2") != nil }, "\(standby.standardError)")
    #expect(after.compactMap(\.version) == Array(1...after.count))
    // The documented hand-over: the session timeout and a rebalance. The new holder publishes the
    // plan in force again as its own at once.
    #expect(handOver < ControllerService.leaseSessionTimeout + .seconds(10), "\(handOver)")
    let writers = after.compactMap(\.writer)
    #expect(Set(writers).count == 2 && writers.allSatisfy { $0.hasPrefix("controller@") })
    #expect(after.contains { $0.reason?.hasPrefix("reasserted: taking over") == true })

    // Another writer (kcat, as any producer with write access could) publishes a valid plan with
    // the highest version there is, under the controller's own writer name: the controller
    // republishes its own over it, under its own next version, and goes on planning.
    var rogue = try #require(after.last)
    rogue.version = Int(Int32.max)
    rogue.reason = "rogue"
    let (status, _, kcatError) = try await runToCompletion(
      "/usr/bin/kcat", ["-P", "-b", bootstrap, "-t", topics.plans, "-p", "0", "-k", "plan"],
      stdin: String(decoding: try rogue.jsonData(pretty: false), as: UTF8.self) + "\n")
    #expect(status == 0, "\(kcatError)")
    let reasserted = try plan("a3", within: .seconds(30))
    let last = try #require(reasserted.last)
    #expect(last.group(of: "a3") != nil, "\(standby.standardError)")
    #expect(last.writer == after.last?.writer, "\(standby.standardError)")
    let rogueAt = try #require(reasserted.firstIndex { $0.reason == "rogue" })
    #expect(reasserted[rogueAt + 1].version == (after.last?.version ?? 0) + 1)
    #expect(reasserted[rogueAt + 1].reason?.contains("was in force") == true)
  }
}
