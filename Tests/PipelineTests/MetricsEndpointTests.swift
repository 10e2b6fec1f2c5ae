import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// `--metrics-port` on a batcher and two workers as processes: `/readyz` says 503 until a plan
/// is in hand, then 200; `/metrics`, read by an independent parser (Python's
/// `prometheus_client`), counts every request sent.
@Suite(.serialized, .startsServices, .onOwnThread) struct MetricsEndpointTests {
  /// Fetches each URL and parses it with prometheus_client: for `/metrics`, sample name → the
  /// sum of its values over labels; otherwise {"status": HTTP status}.
  static let reader = """
    import json, sys, urllib.error, urllib.request
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for url in sys.argv[1:]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode()
        sums = {"status": status}
        if url.endswith("/metrics"):
            for family in text_string_to_metric_families(body):
                for sample in family.samples:
                    sums[sample.name] = sums.get(sample.name, 0) + sample.value
        out[url] = sums
    print(json.dumps(out))
    """

  static func read(_ urls: [String]) async throws -> [String: [String: Double]] {
    let (status, output, error) = try await runToCompletion(
      "/usr/bin/env", ["python3", "-c", reader] + urls, timeout: .seconds(30))
    guard status == 0, let line = output.last else {
      throw TestFailure(
        "the metrics reader failed (\(status.map(String.init) ?? "killed")): \(error)")
    }
    return try JSONDecoder().decode([String: [String: Double]].self, from: Data(line.utf8))
  }

  struct TestFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
  }

  /// The port a service logged for its endpoint.
  static func port(of process: ChildProcess) async -> Int? {
    var found: Int?
    _ = await eventually(timeout: .seconds(20)) {
      let text = process.standardError
      guard let range = text.range(of: "metrics and health on port ") else { return false }
      found = Int(text[range.upperBound...].prefix { $0.isNumber })
      return found != nil
    }
    return found
  }

  @Test func readinessWaitsForAPlanAndTheCountersCountEveryRequest() async throws {
    let broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    let topics = PipelineTopics()
    try broker.createTopics(topics.specs(partitions: 4))
    let bootstrap = broker.bootstrapServers
    let common = [
      "--bootstrap", bootstrap, "--metrics-port", "0", "--property", "session.timeout.ms=6000",
    ]
    let batcher = try ChildProcess(harmonybatchPath, ["batcher", "--model", "VGG19"] + common)
    let cpu = try ChildProcess(
      harmonybatchPath,
      ["worker", "--kind", "cpu", "--backend", "emulated-cpu", "--model", "VGG19"] + common)
    let gpu = try ChildProcess(
      harmonybatchPath, ["worker", "--kind", "gpu", "--model", "VGG19"] + common)
    defer {
      for process in [batcher, cpu, gpu] {
        process.stop()
      }
    }
    var ports: [Int?] = []
    for process in [batcher, cpu, gpu] { ports.append(await Self.port(of: process)) }
    guard let batcherPort = ports[0], let cpuPort = ports[1], let gpuPort = ports[2] else {
      Issue.record("no endpoint: \(batcher.standardError) \(cpu.standardError)")
      return
    }
    let base = "http://127.0.0.1:\(batcherPort)"

    // No plan on hb.plans: alive, not ready (the router has nothing to route by).
    #expect(
      await eventually {
        (try? await Self.read([base + "/healthz"]))?[base + "/healthz"]?["status"] == 200
      })
    #expect(try await Self.read([base + "/readyz"])[base + "/readyz"]?["status"] == 503)

    let (_, plan) = try Planner.tableOnePlan(version: 1)
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    defer { _ = producer.close() }
    try producer.enqueue(
      KafkaProducerMessage(
        topic: topics.plans, key: Array("plan".utf8), value: Array(try plan.jsonData())))
    try producer.flush()
    #expect(
      await eventually(timeout: .seconds(40)) {
        (try? await Self.read([base + "/readyz"]))?[base + "/readyz"]?["status"] == 200
      })

    let sent = 60
    for index in 0..<sent {
      try producer.enqueue(
        RequestRecord(
          app: ["a1", "a2", "a3"][index % 3], id: "m-\(index)", sloMs: 5000,
          payload: Array("x".utf8)
        ).message(topic: topics.requests))
    }
    try producer.flush()
    let urls = [base, "http://127.0.0.1:\(cpuPort)", "http://127.0.0.1:\(gpuPort)"].map {
      $0 + "/metrics"
    }
    var sums: [String: [String: Double]] = [:]
    let ended = await eventually(timeout: .seconds(60)) {
      sums = (try? await Self.read(urls)) ?? [:]
      let served = urls.dropFirst().map { sums[$0]?["harmonybatch_requests_served_total"] ?? 0 }
      let late = sums[urls[0]]?["harmonybatch_late_requests_total"] ?? 0
      // The router hands its counts to the registry once per report interval.
      let routed = sums[urls[0]]?["harmonybatch_requests_routed_total"] ?? 0
      return Int(served.reduce(0, +) + late) >= sent && Int(routed) >= sent
    }
    #expect(ended, "\(sums)")
    let batcherSums = sums[urls[0]] ?? [:]
    #expect(batcherSums["harmonybatch_requests_routed_total"] == Double(sent))
    #expect(
      (batcherSums["harmonybatch_requests_dispatched_total"] ?? 0)
        + (batcherSums["harmonybatch_late_requests_total"] ?? 0) == Double(sent))
    #expect(batcherSums["harmonybatch_plan_version"] == 1)
    // Lag is reported every second (the router's on its rate reports).
    for url in urls { #expect(sums[url]?["harmonybatch_consumer_lag"] != nil, "\(url)") }
    for url in urls.dropFirst() {
      let busy = sums[url]?["harmonybatch_slot_utilisation_ratio"]
      #expect(busy.map { (0...1).contains($0) } == true, "\(url): \(String(describing: busy))")
    }
    #expect(batcherSums["harmonybatch_service_ready"] == 2)
    let served = urls.dropFirst().map { sums[$0]?["harmonybatch_requests_served_total"] ?? 0 }
    let latencyCount = urls.dropFirst().map {
      sums[$0]?["harmonybatch_request_latency_seconds_count"] ?? 0
    }
    #expect(served.reduce(0, +) == latencyCount.reduce(0, +))
    #expect(
      served.reduce(0, +) + (batcherSums["harmonybatch_late_requests_total"] ?? 0)
        == Double(sent))
  }

  @Test func theControllerCountsThePlansItPublishes() async throws {
    let broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    try broker.createTopics(PipelineTopics().specs(partitions: 4))
    let apps =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-apps-\(UUID().uuidString).json").path
    try Data(
      #"{"apps":[{"id":"a1","slo_ms":500,"rate":5},{"id":"a2","slo_ms":800,"rate":10}]}"#.utf8
    )
    .write(to: URL(fileURLWithPath: apps))
    let controller = try ChildProcess(
      harmonybatchPath,
      [
        "controller", "--model", "VGG19", "--apps", apps, "--bootstrap", broker.bootstrapServers,
        "--metrics-port", "0",
      ])
    defer {
      controller.stop()
    }
    guard let port = await Self.port(of: controller) else {
      Issue.record("no endpoint: \(controller.standardError)")
      return
    }
    let url = "http://127.0.0.1:\(port)/metrics"
    var sums: [String: Double] = [:]
    #expect(
      await eventually(timeout: .seconds(30)) {
        sums = (try? await Self.read([url]))?[url] ?? [:]
        return (sums["harmonybatch_plans_published_total"] ?? 0) >= 1
      }, "\(sums)")
    #expect((sums["harmonybatch_plan_version"] ?? 0) >= 1)
    #expect((sums["harmonybatch_plan_cost_per_request"] ?? 0) > 0)
    #expect(sums["harmonybatch_service_ready"] == 1)
  }
}

extension MetricsEndpointTests {
  /// 1,100 idle connections (past select()'s 1,024 descriptors) leave `/healthz` answering, and
  /// the endpoint listens on this host only unless told otherwise.
  @Test func manyIdleConnectionsLeaveTheProbesAnswering() async throws {
    let batcher = try ChildProcess(
      harmonybatchPath,
      ["batcher", "--model", "VGG19", "--embedded", "--metrics-port", "0"])
    defer {
      batcher.stop()
    }
    let port = try #require(await Self.port(of: batcher), "\(batcher.standardError)")
    #expect(batcher.standardError.contains("port \(port) of 127.0.0.1"))
    let script = """
      import resource, socket, sys, urllib.request
      soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
      resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
      port = int(sys.argv[1])
      idle = []
      for _ in range(1100):
          s = socket.create_connection(("127.0.0.1", port), timeout=5)
          idle.append(s)
      with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
          print(r.status, r.read().decode().strip())
      """
    let (status, output, error) = try await runToCompletion(
      "/usr/bin/env", ["python3", "-c", script, String(port)], timeout: .seconds(60))
    #expect(status == 0 && output.last == "200 ok", "\(output) \(error)")
  }
}
