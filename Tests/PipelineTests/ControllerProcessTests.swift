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
@Suite(.serialized) struct ControllerProcessTests {
  @Test func theControllerRecommendsReplicasForThePoolTheWorkersReport() throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(broker.waitForLines(1).first)
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
    #expect(pool.slotsNeeded > 3 && pool.status == .scaleUp && pool.replicasToAdd >= 1, "\(pool)")
    #expect(controller.standardError.contains("pool hb-workers-cpu"))

    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    for (schema, records) in [
      ("workers.schema.json", reports), ("scaling.schema.json", scaling),
      ("plan.schema.json", plans),
    ] {
      let lines = records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
      let (status, problems, _) = try runToCompletion(
        root.appendingPathComponent("scripts/validate-json").path,
        [root.appendingPathComponent("Schemas/\(schema)").path, "-"],
        stdin: lines.joined(separator: "\n") + "\n")
      #expect(status == 0, "\(schema): \(problems.prefix(3))")
    }
    controller.signal(SIGTERM)
    #expect(controller.waitForExit(timeout: .seconds(30)) == 0, "\(controller.standardError)")
  }
}
