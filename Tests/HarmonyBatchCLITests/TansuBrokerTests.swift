import Foundation
import TestSupport
import Testing

/// The whole pipeline on a second, independent Kafka-protocol broker: Tansu (Rust, memory
/// storage; `scripts/tansu`), through librdkafka 2.16 (Debian's 2.0.2 cannot read Tansu's
/// ApiVersions reply). The topics are created through the CreateTopics API (`harmonybatch
/// topics`); controller, batcher (router inside), a CPU and a GPU worker run as processes;
/// requests come from kcat and from the Python client; every one ends exactly once as a result,
/// a dead letter or a late record. The CPU pool is three workers of one slot each: the hot app's
/// batches (one group, batch 1) are spread over the partitions, so every replica runs some.
@Suite(.serialized, .startsServices, .onOwnThread) struct TansuBrokerTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  @Test func thePipelineServesEveryRequestOnTansu() async throws {
    let tansu = try ChildProcess(Self.root.appendingPathComponent("scripts/tansu").path, [])
    defer {
      // Tansu stops on SIGINT and ignores SIGTERM; nothing may outlive the test.
      tansu.stop(SIGINT, timeout: .seconds(10))
    }
    // The script may first install Tansu and librdkafka 2.16 from PyPI.
    let lines = await tansu.waitForLines(2, timeout: .seconds(600))
    let bootstrap = try #require(
      lines.first { $0.hasPrefix("BOOTSTRAP=") }?.dropFirst("BOOTSTRAP=".count).description,
      "\(tansu.standardError)")
    let library = try #require(
      lines.first { $0.hasPrefix("LD_LIBRARY_PATH=") }?.dropFirst("LD_LIBRARY_PATH=".count)
        .description)
    let environment = ["LD_LIBRARY_PATH": library]

    // CreateTopics, as on a real cluster (the embedded broker has none).
    var created: [String] = []
    #expect(
      try await eventually(timeout: .seconds(30), every: .milliseconds(500)) {
        let (status, output, _) = try await runToCompletion(
          harmonybatchPath,
          [
            "topics", "--bootstrap", bootstrap, "--partitions", "4", "--replication-factor", "1",
          ], environment: environment)
        created = output
        return status == 0
      }, "\(created)")
    #expect(created.contains { $0.hasPrefix("hb.requests") && $0.hasSuffix("created") })
    #expect(created.contains { $0.hasPrefix("hb.plans") && $0.contains("cleanup.policy=compact") })
    let (_, again, _) = try await runToCompletion(
      harmonybatchPath, ["topics", "--bootstrap", bootstrap, "--partitions", "4"],
      environment: environment)
    #expect(again.contains { $0.hasPrefix("hb.results") && $0.hasSuffix("exists") }, "\(again)")

    let apps = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-tansu-apps-\(UUID().uuidString).json").path
    try Data(
      (#"{"apps":[{"id":"a1","slo_ms":2000,"rate":20},{"id":"a2","slo_ms":3000,"rate":20},"#
        + #"{"id":"hot","slo_ms":400,"rate":4}]}"#).utf8
    ).write(to: URL(fileURLWithPath: apps))
    defer { try? FileManager.default.removeItem(atPath: apps) }
    // Tansu answers a fetch on a timer, not when records arrive: a short wait (README).
    let common = [
      "--bootstrap", bootstrap, "--property", "session.timeout.ms=6000", "--property",
      "consumer.fetch.wait.max.ms=20",
    ]
    let stages = [
      try ChildProcess(
        harmonybatchPath, ["controller", "--model", "VGG19", "--apps", apps] + common,
        environment: environment),
      try ChildProcess(
        harmonybatchPath, ["batcher", "--model", "VGG19"] + common, environment: environment),
    ]
    // Three one-slot CPU replicas in hb-workers-cpu (the plan puts the hot app alone on CPU).
    let cpuWorkers = try (1...3).map { _ in
      try ChildProcess(
        harmonybatchPath,
        [
          "worker", "--kind", "cpu", "--backend", "emulated-cpu", "--model", "VGG19",
          "--concurrency", "1",
        ] + common, environment: environment)
    }
    let services =
      stages + cpuWorkers + [
        try ChildProcess(
          harmonybatchPath, ["worker", "--kind", "gpu", "--model", "VGG19"] + common,
          environment: environment)
      ]
    defer {
      for service in services {
        service.stop(timeout: .seconds(60))
      }
    }
    // The batcher is ready once its router has the controller's plan.
    #expect(
      await eventually(timeout: .seconds(90)) { services[1].standardError.contains(" ready") },
      "\(services.map(\.standardError))")

    // 20 requests from kcat, each with its own id; one with an SLO no function meets.
    for index in 0..<20 {
      let (status, _, error) = try await runToCompletion(
        "/usr/bin/kcat",
        [
          "-P", "-b", bootstrap, "-t", "hb.requests", "-k", index % 2 == 0 ? "a1" : "a2", "-H",
          "hb-slo-ms=\(index == 7 ? 1 : 2000)", "-H", "hb-request-id=kcat-\(index)",
        ], stdin: "sentence \(index)\n", environment: environment)
      #expect(status == 0, "\(error)")
    }
    /// The Python client (confluent-kafka 2.16) sending `count` requests of `app`; it waits for
    /// each one's reply and prints a JSON summary last.
    func client(app: String, sloMs: Int, count: Int, rate: Int) async throws -> [String: Any]? {
      let (status, output, error) = try await runToCompletion(
        "/usr/bin/env",
        [
          "python3",
          Self.root.appendingPathComponent("Deploy/clients/python/harmonybatch_client.py")
            .path, "--bootstrap", bootstrap, "--app", app, "--slo-ms", String(sloMs), "--count",
          String(count), "--rate", String(rate), "--timeout", "90", "--property",
          "session.timeout.ms=6000",
        ], timeout: .seconds(180), environment: environment)
      #expect(status == 0, "\(output) \(error)")
      return output.last.flatMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
      }
    }
    // 50 from the Python client.
    let summary = try #require(try await client(app: "a2", sloMs: 3000, count: 50, rate: 25))
    #expect(summary["replies"] as? Int == 50)
    #expect(summary["traceparent_intact"] as? Int == 50)
    // 40 of the hot app, whose group runs on the one-slot CPU replicas.
    let hot = try await client(app: "hot", sloMs: 400, count: 40, rate: 4)
    #expect(hot?["replies"] as? Int == 40)

    // Every request ends exactly once: results are keyed by request id; late records and dead
    // letters name theirs in hb-request-id.
    var ended: [String: Int] = [:]
    let counted = try await eventually(timeout: .seconds(60), every: .seconds(1)) {
      let (_, records, _) = try await runToCompletion(
        harmonybatchPath,
        [
          "consume", "--bootstrap", bootstrap, "--topic", "hb.results,hb.late,hb.dead-letter",
          "--idle-exit-ms", "3000", "--log-level", "error",
        ], environment: environment)
      ended = [:]
      for line in records {
        guard
          let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { continue }
        let topic = record["topic"] as? String
        let headers = record["headers"] as? [String: Any] ?? [:]
        let id =
          topic == "hb.results" ? record["key"] as? String : headers["hb-request-id"] as? String
        if let id { ended[id, default: 0] += 1 }
      }
      return ended.count >= 110
    }
    #expect(counted, "\(ended.count) of 110 ended: \(ended.keys.sorted())")
    for index in 0..<20 { #expect(ended["kcat-\(index)"] == 1, "kcat-\(index)") }
    #expect(ended.count == 110)
    #expect(ended.values.allSatisfy { $0 == 1 }, "ended twice: \(ended.filter { $0.value > 1 })")

    // Every CPU replica ran some of the hot group's batches (keyed by group they would all sit
    // on one partition, run by one replica).
    let (_, feedback, _) = try await runToCompletion(
      harmonybatchPath,
      [
        "consume", "--bootstrap", bootstrap, "--topic", "hb.feedback", "--idle-exit-ms", "3000",
        "--log-level", "error",
      ], environment: environment)
    var batchesByWorker: [String: Int] = [:]
    for line in feedback {
      guard
        let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let value = record["value"] as? [String: Any]
          ?? (record["value"] as? String).flatMap({
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
          }),
        value["worker_group"] as? String == "hb-workers-cpu",
        let worker = value["worker"] as? String
      else { continue }
      batchesByWorker[worker, default: 0] += 1
    }
    #expect(batchesByWorker.count == 3, "CPU batches by replica: \(batchesByWorker)")
  }
}
