import Foundation
import Kafka
import PipelineCore
import Planner
import TestSupport
import Testing

/// The Python worker (`Deploy/python`, `harmonybatch-worker` on confluent-kafka) keeps the worker
/// contract (`docs/worker-contract.md`) as a process among the Swift ones: it shares a consumer
/// group with a Swift worker, its records validate against the schemas, a kill costs nothing and
/// ends nothing twice, and a handler that fails in any way fails only its requests. Requests come
/// from kcat.
@Suite(.serialized, .startsServices, .onOwnThread) struct PythonWorkerTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let topics = PipelineTopics()

  /// A `harmonybatch-worker` process serving `handler` (from Deploy/python/tests/handlers.py).
  static func pythonWorker(
    _ bootstrap: String, handler: String, kind: String = "cpu", extra: [String] = []
  ) throws -> ChildProcess {
    let package = root.appendingPathComponent("Deploy/python").path
    return try ChildProcess(
      "/usr/bin/env",
      [
        "python3", "-m", "harmonybatch_worker", "--kind", kind, "--handler", "handlers:\(handler)",
        "--bootstrap", bootstrap, "--property", "session.timeout.ms=6000",
      ] + extra,
      environment: ["PYTHONPATH": "\(package):\(package)/tests", "PYTHONUNBUFFERED": "1"])
  }

  /// Requests from kcat: one per `(app, payload)`, each with its SLO.
  static func send(_ bootstrap: String, _ requests: [(app: String, payload: String)], sloMs: Int)
    async throws
  {
    let lines = requests.map { "\($0.app)\t\($0.payload)" }.joined(separator: "\n") + "\n"
    let (status, _, error) = try await runToCompletion(
      "/usr/bin/kcat",
      ["-P", "-b", bootstrap, "-t", topics.requests, "-K", "\t", "-H", "hb-slo-ms=\(sloMs)"],
      stdin: lines)
    #expect(status == 0, "\(error)")
  }

  /// How each request ended (by request id): `result` or its dead letter's code, or `late`.
  static func outcomes(_ bootstrap: String, expecting count: Int) throws -> (
    ended: [String: [String]], results: [KafkaRecord]
  ) {
    var results: [KafkaRecord] = []
    var ended: [String: [String]] = [:]
    let deadline = ContinuousClock.now + .seconds(90)
    repeat {
      results = try readTopic(bootstrap, topics.results, timeout: .seconds(2)) { _ in false }
      let others =
        try readTopic(bootstrap, topics.deadLetter, timeout: .seconds(1)) { _ in false }
        + (try readTopic(bootstrap, topics.late, timeout: .seconds(1)) { _ in false })
      ended = [:]
      for record in results {
        ended[record.keyString ?? "?", default: []].append("result")
      }
      for record in others {
        let id = record.header(HeaderName.requestID) ?? "?"
        ended[id, default: []].append(
          record.topic == topics.late
            ? "late: \(record.header(HeaderName.lateReason) ?? "?")"
            : record.header(HeaderName.error) ?? "?")
      }
    } while ended.count < count && ContinuousClock.now < deadline
    return (ended, results)
  }

  /// A folder of this test's own, removed by `defer` at the call.
  static func scratch(_ name: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-python-\(name)-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
  }

  /// `harmonybatch-worker profile` of the `scaled` handler (batch sizes 1…`maxBatch`, 1 and 2
  /// vCPU), fitted by this build's `harmonybatch profile`: its exit status and standard error.
  static func profileScaled(
    in directory: URL, maxBatch: Int, extra: [String] = []
  ) async throws -> (status: Int32?, error: String, profile: String) {
    let payloads = directory.appendingPathComponent("payloads.txt").path
    let profile = directory.appendingPathComponent("profile.json").path
    try Data("one\ntwo\nthree\n".utf8).write(to: URL(fileURLWithPath: payloads))
    let package = root.appendingPathComponent("Deploy/python").path
    let (status, _, error) = try await runToCompletion(
      "/usr/bin/env",
      [
        "python3", "-m", "harmonybatch_worker", "profile", "--handler", "handlers:scaled",
        "--payloads", payloads, "--threads", "2", "--max-batch", String(maxBatch), "--runs", "5",
        "--harmonybatch", harmonybatchPath, "--out", profile,
      ] + extra, timeout: .seconds(120),
      environment: ["PYTHONPATH": "\(package):\(package)/tests"])
    return (status, error, profile)
  }

  /// What the `slow` handler said it `started` or `finished` (each batch by its first payload).
  static func handlerLines(_ event: String, in log: String) -> [String] {
    log.split(separator: "\n").compactMap { line in
      line.hasPrefix("slow: \(event) ") ? String(line.dropFirst("slow: \(event) ".count)) : nil
    }
  }

  static func values(_ records: [KafkaRecord]) -> String {
    records.map { String(decoding: $0.value ?? [], as: UTF8.self) }.joined(separator: "\n")
  }

  @Test func aPythonAndASwiftWorkerShareOneGroupAndTheirRecordsValidate() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    defer { broker.signal(SIGTERM) }
    // Served alone without a controller, an app's last requests are flushed at their deadline
    // with no room for transport: this test is about sharing a group, so nothing is shed.
    let common = [
      "--bootstrap", bootstrap, "--property", "session.timeout.ms=6000", "--late-policy", "run",
    ]
    let swift = try ChildProcess(
      harmonybatchPath,
      [
        "worker", "--kind", "cpu", "--backend", "emulated-cpu", "--model", "VGG19",
        "--concurrency", "16",
      ] + common)
    let python = try Self.pythonWorker(
      bootstrap, handler: "upper", extra: ["--concurrency", "4", "--late-policy", "run"])
    // A burst of 160: enough slots that nothing waits out its SLO.
    let gpu = try ChildProcess(
      harmonybatchPath,
      ["worker", "--kind", "gpu", "--model", "VGG19", "--concurrency", "16"] + common)
    defer {
      for process in [swift, python, gpu] {
        process.stop()
      }
    }
    #expect(
      await eventually(timeout: .seconds(40)) {
        swift.standardError.contains("assigned") && python.standardError.contains("assigned")
      }, "\(swift.standardError)\n\(python.standardError)")
    let batcher = try ChildProcess(
      harmonybatchPath,
      ["batcher", "--model", "VGG19", "--bootstrap", bootstrap, "--late-policy", "forward"])
    defer { batcher.signal(SIGTERM) }
    // Eight apps served alone (no controller) on the cheapest function within 10 s: CPU.
    let requests = (0..<160).map { (app: "a\($0 % 8)", payload: "text \($0)") }
    try await Self.send(bootstrap, requests, sloMs: 10_000)
    let (ended, results) = try Self.outcomes(bootstrap, expecting: requests.count)
    #expect(ended.count == requests.count, "\(python.standardError)")
    #expect(
      ended.values.allSatisfy { $0 == ["result"] }, "\(ended.filter { $0.value != ["result"] })")

    // Both workers of the group ran batches; the Python one ran its handler.
    let byBackend = Dictionary(grouping: results) { record -> String in
      let result =
        try? JSONSerialization.jsonObject(with: Data(record.value ?? [])) as? [String: Any]
      return result?["backend"] as? String ?? "?"
    }
    let fromPython = byBackend["python:handlers:upper"] ?? []
    #expect(!fromPython.isEmpty && !(byBackend["emulated-cpu"] ?? []).isEmpty, "\(byBackend.keys)")
    #expect(
      fromPython.allSatisfy {
        String(decoding: $0.value ?? [], as: UTF8.self).contains(#""output_text":"TEXT "#)
      })

    // Its results, feedback and reports validate against the schemas.
    let feedback = try readTopic(bootstrap, Self.topics.feedback, timeout: .seconds(5)) { _ in false
    }
    .filter { String(decoding: $0.value ?? [], as: UTF8.self).contains("python:handlers") }
    let reports = try readTopic(bootstrap, Self.topics.workers, timeout: .seconds(5)) { _ in false }
      .filter { String(decoding: $0.value ?? [], as: UTF8.self).contains("python:handlers") }
    #expect(!feedback.isEmpty && !reports.isEmpty)
    for (schema, records) in [
      ("result.schema.json", fromPython), ("feedback.schema.json", feedback),
      ("workers.schema.json", reports),
    ] {
      let (status, problems, _) = try await runToCompletion(
        Self.root.appendingPathComponent("scripts/validate-json").path,
        [Self.root.appendingPathComponent("Schemas/\(schema)").path, "-"],
        stdin: Self.values(records) + "\n")
      #expect(status == 0, "\(schema): \(problems.prefix(5))")
    }
  }

  @Test func aPythonWorkerKilledMidBatchLosesNothingAndEndsNothingTwice() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    defer { broker.signal(SIGTERM) }
    let first = try Self.pythonWorker(bootstrap, handler: "slow")
    let second = try Self.pythonWorker(bootstrap, handler: "slow")
    defer {
      for process in [first, second] { process.signal(SIGKILL) }
    }
    #expect(
      await eventually(timeout: .seconds(40)) {
        first.standardError.contains("assigned") && second.standardError.contains("assigned")
      }, "\(first.standardError)\n\(second.standardError)")
    let batcher = try ChildProcess(
      harmonybatchPath,
      [
        "batcher", "--model", "VGG19", "--bootstrap", bootstrap, "--property",
        "session.timeout.ms=6000",
      ])
    defer { batcher.signal(SIGTERM) }
    let requests = (0..<60).map { (app: "a\($0 % 6)", payload: "text \($0)") }
    try await Self.send(bootstrap, requests, sloMs: 120_000)
    // Killed while it runs a batch (the `slow` handler takes 0.3 s and says when it starts and
    // ends one): at the first start from now on, within the 5 ms this wait looks every. What it
    // had not finished goes to the other.
    let seenBefore = first.standardErrorEnd
    var held: String?
    #expect(
      await eventually(timeout: .seconds(30), every: .milliseconds(5)) {
        held =
          Self.handlerLines("started", in: first.standardError(since: seenBefore))
          .first
        return held != nil
      }, "\(first.standardError)")
    first.signal(SIGKILL)
    #expect(await first.waitForExit() == SIGKILL)
    if let held {
      #expect(
        !Self.handlerLines("finished", in: first.standardError).contains(held),
        "the killed worker had finished \(held) already")
    }
    let (ended, _) = try Self.outcomes(bootstrap, expecting: requests.count)
    #expect(ended.count == requests.count, "\(second.standardError)")
    #expect(
      ended.values.allSatisfy { $0.count == 1 },
      "\(ended.filter { $0.value.count != 1 })\n\(first.standardError)\n\(second.standardError)")
    #expect(second.standardError.contains("assigned"))
  }

  @Test func aHandlerThatFailsCostsOnlyItsRequests() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    defer { broker.signal(SIGTERM) }
    let worker = try Self.pythonWorker(
      bootstrap, handler: "Picky", extra: ["--handler-timeout", "2", "--concurrency", "2"])
    defer { worker.signal(SIGKILL) }
    #expect(
      await eventually(timeout: .seconds(40)) { worker.standardError.contains("assigned") },
      "\(worker.standardError)")
    let batcher = try ChildProcess(
      harmonybatchPath,
      [
        "batcher", "--model", "VGG19", "--bootstrap", bootstrap, "--property",
        "session.timeout.ms=6000",
      ])
    defer { batcher.signal(SIGTERM) }
    // One app per request: each is a batch of its own.
    let payloads = ["first", "bad", "crash", "short", "hang", "bytes", "vector", "last"]
    try await Self.send(
      bootstrap, payloads.enumerated().map { (app: "p\($0.offset)", payload: $0.element) },
      sloMs: 60_000)
    let (ended, results) = try Self.outcomes(bootstrap, expecting: payloads.count)
    let byPayload = Dictionary(
      uniqueKeysWithValues: try results.map { record -> (String, String) in
        let result = try #require(
          try JSONSerialization.jsonObject(with: Data(record.value ?? [])) as? [String: Any])
        let app = try #require(result["app"] as? String)
        return (
          payloads[Int(app.dropFirst())!], String(decoding: record.value ?? [], as: UTF8.self)
        )
      })
    #expect(ended.count == payloads.count, "\(ended) \(worker.standardError)")
    #expect(ended.values.allSatisfy { $0.count == 1 })
    #expect(byPayload["first"]?.contains(#""output_text":"FIRST""#) == true)
    #expect(byPayload["last"]?.contains(#""output_text":"LAST""#) == true)
    #expect(byPayload["bytes"]?.contains(#""output_base64":"AAE=""#) == true)
    #expect(byPayload["vector"]?.contains(#""output":[0.5,1.0,"#) == true)
    let codes = ended.values.flatMap { $0 }.filter { $0 != "result" }.sorted()
    #expect(codes == ["bad-output", "bad-payload", "handler-error", "handler-timeout"], "\(ended)")
    // Still serving, after all of it.
    #expect(worker.process.isRunning)
  }

  /// `harmonybatch-worker profile` measures a handler as functions of 1 and 2 vCPU and has
  /// `harmonybatch profile --measurements` fit it: a valid profile with no GPU part, whose plans
  /// use CPU functions.
  @Test func aHandlersProfileIsFittedByTheSameFitAndPlansCPUFunctions() async throws {
    let directory = try Self.scratch("profile")
    defer { try? FileManager.default.removeItem(at: directory) }
    let measurements = directory.appendingPathComponent("measurements.json").path
    let (status, error, profile) = try await Self.profileScaled(
      in: directory, maxBatch: 3, extra: ["--measurements-out", measurements])
    #expect(status == 0, "\(error)")
    #expect(error.contains("no GPU part"), "\(error)")
    for (schema, file) in [
      ("measurements.schema.json", measurements), ("profile.schema.json", profile),
    ] {
      let (valid, problems, _) = try await runToCompletion(
        Self.root.appendingPathComponent("scripts/validate-json").path,
        [Self.root.appendingPathComponent("Schemas/\(schema)").path, file])
      #expect(valid == 0, "\(schema): \(problems)")
    }
    let apps = directory.appendingPathComponent("apps.json").path
    try Data(
      #"{"apps":[{"id":"a1","slo_ms":200,"rate":20},{"id":"a2","slo_ms":500,"rate":10}]}"#.utf8
    ).write(to: URL(fileURLWithPath: apps))
    let (planned, plan, planError) = try await runToCompletion(
      harmonybatchPath, ["plan", "--profile", profile, "--apps", apps, "--format", "json"])
    #expect(planned == 0, "\(planError)")
    let json = plan.joined(separator: "\n")
    #expect(json.contains(#""kind" : "cpu""#) && !json.contains(#""kind" : "gpu""#), "\(json)")
  }

  /// The controller learns a Python worker's model from its feedback: planned on a profile three
  /// times too fast, it publishes a new plan made on the refitted model (`feedback_batches` from
  /// the Python worker's batches, the refit's prediction error).
  @Test func theControllerRefitsFromAPythonWorkersFeedback() async throws {
    let pipeline = try await OwnModelPipeline(name: "refit", handler: "scaled_slowly")
    defer { pipeline.stop() }
    let (bootstrap, apps, common, controller) = (
      pipeline.bootstrap, pipeline.apps, pipeline.common, pipeline.controller
    )
    let producer = try ChildProcess(
      harmonybatchPath, ["produce", "--apps", apps, "--duration", "30"] + common)
    defer { producer.signal(SIGTERM) }
    var refitted: Plan?
    _ = await eventually(timeout: .seconds(60)) {
      let plans =
        (try? readTopic(bootstrap, Self.topics.plans, partitions: 1, timeout: .seconds(1)) {
          _ in false
        }) ?? []
      refitted = plans.compactMap { try? Plan.decode(Data($0.value ?? [])) }
        .first { ($0.version ?? 0) > 1 && ($0.feedbackBatches ?? 0) > 0 }
      return refitted != nil
    }
    let plan = try #require(refitted, "\(controller.standardError)")
    #expect(plan.predictionError != nil)
    #expect(plan.reason != nil && !plan.reason!.hasPrefix("first"), "\(plan.reason ?? "")")
  }

  /// The MiniLM examples in Deploy/python/examples, called as the worker calls a handler: ONNX
  /// Runtime always (`./scripts/setup` installs it); PyTorch too where torch and transformers are
  /// installed (too large for the set-up), and then the two agree.
  @Test func theMiniLMExamplesEmbedAndRefuseTextThatIsNotUTF8() async throws {
    let (hasTorch, _, _) = try await runToCompletion(
      "/usr/bin/env", ["python3", "-c", "import torch, transformers"])
    let handlers = ["minilm_onnx:MiniLM"] + (hasTorch == 0 ? ["minilm_torch:MiniLM"] : [])
    let (status, output, error) = try await runToCompletion(
      "/usr/bin/env",
      ["python3", Self.root.appendingPathComponent("Deploy/python/tests/check_examples.py").path]
        + handlers, timeout: .seconds(300))
    #expect(status == 0, "\(output) \(error.suffix(2000))")
    let report = output.last ?? ""
    for handler in handlers { #expect(report.contains(#""\#(handler)""#), "\(report)") }
  }
}

/// The Python worker's SLOs end to end, measured with no other suite's services beside them
/// (`.startsServices(alone: true)`): beside another, 99.2 % of 391 were within SLO once.
@Suite(.serialized, .startsServices(alone: true), .onOwnThread) struct PythonWorkerSLOTests {
  /// End to end with your own model: the handler's profile, a controller planning with it, the
  /// batcher and two Python workers; Poisson requests at the apps' rates for 20 s: every request
  /// ends once, and at least 99.5 % within its SLO.
  @Test func aHandlerIsServedEndToEndFromItsOwnProfile() async throws {
    let pipeline = try await OwnModelPipeline(name: "e2e", handler: "scaled")
    defer { pipeline.stop() }
    let (bootstrap, apps, common, controller, workers) = (
      pipeline.bootstrap, pipeline.apps, pipeline.common, pipeline.controller, pipeline.workers
    )
    let (sent, _, produceError) = try await runToCompletion(
      harmonybatchPath, ["produce", "--apps", apps, "--duration", "20"] + common,
      timeout: .seconds(60))
    #expect(sent == 0, "\(produceError)")
    let requests = try readTopic(bootstrap, PythonWorkerTests.topics.requests, timeout: .seconds(5))
    { _ in false
    }
    let (ended, results) = try PythonWorkerTests.outcomes(bootstrap, expecting: requests.count)
    #expect(
      requests.count > 300 && ended.count == requests.count, "\(ended.count) of \(requests.count)")
    #expect(ended.values.allSatisfy { $0.count == 1 })
    let within = results.filter {
      String(decoding: $0.value ?? [], as: UTF8.self).contains(#""slo_met":true"#)
    }.count
    var others: [String: Int] = [:]
    for outcome in ended.values.flatMap({ $0 }) where outcome != "result" {
      others[outcome, default: 0] += 1
    }
    let logs = controller.standardError.suffix(3000) + "\n" + workers[0].standardError.suffix(2000)
    #expect(
      Double(within) >= 0.995 * Double(requests.count),
      "\(within) of \(requests.count) within SLO; not results: \(others)\n\(logs)")
  }
}

/// Your own model as deployed: the `scaled` handler's profile, a broker, a controller planning
/// with that profile for two apps (300 and 600 ms, 10 req/s each), the batcher and two Python
/// workers of two slots serving `handler`, each a process; ready when the workers hold their
/// partitions and plan v1 is out.
final class OwnModelPipeline {
  let directory: URL
  let apps: String
  let broker: ChildProcess
  let bootstrap: String
  let common: [String]
  let controller: ChildProcess
  let batcher: ChildProcess
  let workers: [ChildProcess]

  init(name: String, handler: String) async throws {
    directory = try PythonWorkerTests.scratch(name)
    apps = directory.appendingPathComponent("apps.json").path
    try Data(
      #"{"apps":[{"id":"a1","slo_ms":300,"rate":10},{"id":"a2","slo_ms":600,"rate":10}]}"#.utf8
    ).write(to: URL(fileURLWithPath: apps))
    let (profiled, profileError, profile) = try await PythonWorkerTests.profileScaled(
      in: directory, maxBatch: 4)
    guard profiled == 0 else {
      throw MetricsEndpointTests.TestFailure("the profiler failed: \(profileError)")
    }
    broker = try ChildProcess(harmonybatchPath, ["broker"])
    guard let address = await broker.waitForLines(1).first else {
      throw MetricsEndpointTests.TestFailure(
        "the broker printed no address: \(broker.standardError)")
    }
    bootstrap = address
    common = ["--bootstrap", address, "--property", "session.timeout.ms=6000"]
    workers = try (0..<2).map { _ in
      try PythonWorkerTests.pythonWorker(address, handler: handler, extra: ["--concurrency", "2"])
    }
    controller = try ChildProcess(
      harmonybatchPath, ["controller", "--profile", profile, "--apps", apps] + common)
    batcher = try ChildProcess(harmonybatchPath, ["batcher"] + common)
    let (workers, controller, batcher) = (self.workers, self.controller, self.batcher)
    // The router follows the plan too: a request it read before would have no plan to go by
    // and no profile to be served alone with (unplanned-app; seen once on a busy machine).
    #expect(
      await eventually(timeout: .seconds(40)) {
        workers.allSatisfy { $0.standardError.contains("assigned") }
          && controller.standardError.contains("published plan v1")
          && batcher.standardError.contains("following plan v")
      }, "\(controller.standardError)\n\(batcher.standardError.suffix(2000))")
  }

  func stop() {
    for process in [controller, batcher] + workers {
      process.stop()
    }
    broker.signal(SIGTERM)
    try? FileManager.default.removeItem(at: directory)
  }
}
