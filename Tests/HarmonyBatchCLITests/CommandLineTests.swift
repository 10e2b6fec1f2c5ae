import Foundation
import Kafka
import TestSupport
import Testing

@Suite(.startsServices, .onOwnThread) struct CommandLineTests {
  @Test func usageMistakesExitWithCode2AndOneLine() async throws {
    let cases: [[String]] = [
      ["nonsense"], ["broker", "--brokers", "0"], ["broker", "--bogus"],
      ["consume", "--topic", "t"],
      ["bench", "nothing"], ["bench"], ["demo", "--duration", "-5"],
      ["plan", "--apps", "x.json"], ["plan", "--model", "ResNet", "--apps", "x.json"],
      ["plan", "--model", "VGG19", "--apps", "/nonexistent/apps.json"],
      ["plan", "--model", "VGG19", "--apps", "x.json", "--algorithm", "greedy"],
      ["plan", "--model", "VGG19", "--apps", "x.json", "--pricing", "azure"],
      ["consume", "--bootstrap", "127.0.0.1:1", "--topic", "t", "--property", "linger.msx=1"],
      // No cluster named: no silent private broker (produce used to report success into one
      // that vanished with it).
      ["produce", "--apps", "x.json"], ["worker", "--kind", "gpu"],
      ["controller", "--model", "VGG19"], ["batcher", "--model", "VGG19"],
      ["worker", "--kind", "gpu", "--bootstrap", "127.0.0.1:1", "--embedded"],
      ["plan", "--log-format", "xml"], ["worker", "--log-level", "loud"],
      ["topics"], ["topics", "--bootstrap", "127.0.0.1:1", "--topic-partitions", "hb.late"],
      ["topics", "--bootstrap", "127.0.0.1:1", "--replication-factor", "0"],
      ["consume", "--bootstrap", "127.0.0.1:1", "--topic", "t", "--kafka-log-level", "chatty"],
    ]
    for arguments in cases {
      let (status, _, stderr) = try await runToCompletion(harmonybatchPath, arguments)
      #expect(status == 2, "\(arguments) exited with \(String(describing: status))")
      let lines = stderr.split(separator: "\n")
      #expect(lines.count == 1, "\(arguments): \(stderr)")
      #expect(lines.first?.hasPrefix("harmonybatch") == true)
    }
  }

  /// `HARMONYBATCH_BOOTSTRAP` stands for `--bootstrap` (every option has its variable).
  @Test func theClusterCanBeNamedInTheEnvironment() throws {
    let topic = uniqueName("env-topic")
    try sharedBroker.createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(sharedBroker.bootstrapServers)))
    try producer.enqueue(KafkaProducerMessage(topic: topic, key: "k", value: "hello"))
    try producer.flush()
    _ = producer.close()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: harmonybatchPath)
    process.arguments = ["consume", "--topic", topic, "--count", "1", "--commit", "none"]
    process.environment = ProcessInfo.processInfo.environment.merging(
      ["HARMONYBATCH_BOOTSTRAP": sharedBroker.bootstrapServers]) { $1 }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    #expect(text.contains("\"value\":\"hello\""), "\(text)")
  }

  /// `topics` reads the cluster it is given: on the embedded broker (no CreateTopics) it shows
  /// the topics and says they are made on first use.
  @Test func topicsShowsTheLayoutOnTheEmbeddedBroker() async throws {
    let (status, stdout, stderr) = try await runToCompletion(
      harmonybatchPath,
      ["topics", "--bootstrap", sharedBroker.bootstrapServers, "--partitions", "6"])
    #expect(status == 0, "\(stderr)")
    #expect(stdout.first?.hasPrefix("topic") == true)
    #expect(stdout.contains { $0.hasPrefix("hb.plans") && $0.contains("cleanup.policy=compact") })
    #expect(stdout.last?.contains("an embedded broker") == true, "\(stdout)")
  }

  @Test func everyCommandHasHelp() async throws {
    for command in [
      "demo", "plan", "batcher", "worker", "controller", "produce", "watch", "profile", "broker",
      "consume", "bench", "topics",
    ] {
      let (status, stdout, _) = try await runToCompletion(harmonybatchPath, [command, "--help"])
      #expect(status == 0)
      #expect(stdout.contains { $0.contains("Usage: harmonybatch \(command)") })
    }
    let (status, stdout, _) = try await runToCompletion(harmonybatchPath, ["--help"])
    #expect(status == 0)
    #expect(stdout.contains { $0.contains("broker") })
    // The command column fits the longest name ("controller") with room to spare.
    #expect(stdout.contains { $0.hasPrefix("  controller  Estimate rates") }, "\(stdout)")
    let (_, plan, _) = try await runToCompletion(harmonybatchPath, ["plan", "--help"])
    #expect(plan.contains { $0.contains("exact over all partitions up to 12 apps") })
    #expect(!plan.contains { $0.contains("contiguous") })
  }

  /// Every line a service writes has a time, a level, a component and a message: as JSON objects
  /// with `--log-format json`; `--log-level` hides our less important lines.
  @Test func logLinesAreTimedLevelledAndMayBeJSON() async throws {
    let worker = try ChildProcess(
      harmonybatchPath,
      [
        "worker", "--kind", "gpu", "--model", "VGG19", "--bootstrap",
        sharedBroker.bootstrapServers, "--log-format", "json", "--group", uniqueName("hb-log"),
      ])
    #expect(await eventually(timeout: .seconds(40)) { worker.standardError.contains("assigned") })
    worker.signal(SIGTERM)
    #expect(await worker.waitForExit(timeout: .seconds(40)) == 0)
    let lines = worker.standardError.split(separator: "\n").filter { !$0.hasPrefix("---") }
    #expect(lines.count >= 2)
    for line in lines {
      let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
      #expect(object != nil, "not a JSON object: \(line)")
      #expect(
        object?["time"]?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil,
        "\(line)")
      #expect(["error", "warning", "info", "debug"].contains(object?["level"] ?? ""), "\(line)")
      #expect(object?["component"]?.isEmpty == false, "\(line)")
      #expect(object?["message"] != nil, "\(line)")
    }
    #expect(lines.contains { $0.contains(#""message":"stopped"#) })

    // Text, errors only: a worker whose cluster never answers says nothing but why it exits.
    let (status, _, stderr) = try await runToCompletion(
      harmonybatchPath,
      [
        "worker", "--kind", "gpu", "--model", "VGG19", "--bootstrap", "127.0.0.1:1",
        "--unreachable-timeout", "3", "--log-level", "error", "--kafka-log-level", "error",
      ])
    #expect(status == 1)
    let textLines = stderr.split(separator: "\n")
    #expect(!textLines.isEmpty)
    for line in textLines {
      #expect(
        line.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error [a-z-]+: .+/) != nil,
        "\(line)")
    }
  }

  /// A service whose cluster stops answering says it is unhealthy, then exits 1 — it used to log
  /// "Connection refused" for ever.
  @Test func aServiceWhoseClusterIsGoneExits() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(await broker.waitForLines(1).first)
    let worker = try ChildProcess(
      harmonybatchPath,
      [
        "worker", "--kind", "gpu", "--model", "VGG19", "--bootstrap", bootstrap,
        "--unreachable-timeout", "8",
      ])
    #expect(await eventually(timeout: .seconds(40)) { worker.standardError.contains("assigned") })
    broker.signal(SIGKILL)
    _ = await broker.waitForExit()
    #expect(await worker.waitForExit(timeout: .seconds(40)) == 1, "\(worker.standardError)")
    #expect(worker.standardError.contains("unhealthy: no broker of the Kafka cluster"))
    #expect(worker.standardError.contains("unreachable for"))
  }
}

extension CommandLineTests {
  /// A secret never travels on a command line, and one given in a config file shows neither in
  /// the logs nor on `/metrics`.
  @Test func secretsStayOffTheCommandLineAndOutOfTheLogs() async throws {
    let secret = "hb-known-secret-7f3a"
    let (status, _, stderr) = try await runToCompletion(
      harmonybatchPath,
      ["worker", "--kind", "gpu", "--embedded", "--property", "sasl.password=\(secret)"])
    #expect(status == 2, "\(stderr)")
    #expect(stderr.contains("sasl.password") && !stderr.contains(secret), "\(stderr)")

    let config = FileManager.default.temporaryDirectory.appendingPathComponent(
      uniqueName("secret-config") + ".json")
    try Data(
      #"{"property": {"sasl.username": "hb", "sasl.password": "\#(secret)"}, "kafka-log-level": "debug"}"#
        .utf8
    ).write(to: config)
    defer { try? FileManager.default.removeItem(at: config) }
    let worker = try ChildProcess(
      harmonybatchPath,
      [
        "worker", "--kind", "gpu", "--model", "VGG19", "--embedded", "--metrics-port", "0",
        "--config", config.path, "--log-level", "debug",
      ])
    defer {
      worker.stop()
    }
    #expect(await eventually(timeout: .seconds(30)) { worker.standardError.contains("assigned") })
    let text = worker.standardError
    guard let range = text.range(of: "metrics and health on port "),
      let port = Int(text[range.upperBound...].prefix { $0.isNumber })
    else {
      Issue.record("no endpoint: \(text)")
      return
    }
    let (_, metrics, _) = try await runToCompletion(
      "/usr/bin/env",
      [
        "python3", "-c",
        "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
        "http://127.0.0.1:\(port)/metrics",
      ])
    #expect(!metrics.isEmpty)
    #expect(!metrics.joined().contains(secret))
    #expect(!worker.standardError.contains(secret))
  }
}
