import Foundation
import Kafka
import TestSupport
import Testing

@Suite struct CommandLineTests {
  @Test func usageMistakesExitWithCode2AndOneLine() throws {
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
    ]
    for arguments in cases {
      let (status, _, stderr) = try runToCompletion(harmonybatchPath, arguments)
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

  @Test func everyCommandHasHelp() throws {
    for command in [
      "demo", "plan", "batcher", "worker", "controller", "produce", "watch", "profile", "broker",
      "consume", "bench",
    ] {
      let (status, stdout, _) = try runToCompletion(harmonybatchPath, [command, "--help"])
      #expect(status == 0)
      #expect(stdout.contains { $0.contains("Usage: harmonybatch \(command)") })
    }
    let (status, stdout, _) = try runToCompletion(harmonybatchPath, ["--help"])
    #expect(status == 0)
    #expect(stdout.contains { $0.contains("broker") })
  }

  /// A service whose cluster stops answering says it is unhealthy, then exits 1 — it used to log
  /// "Connection refused" for ever.
  @Test func aServiceWhoseClusterIsGoneExits() throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    let bootstrap = try #require(broker.waitForLines(1).first)
    let worker = try ChildProcess(
      harmonybatchPath,
      [
        "worker", "--kind", "gpu", "--model", "VGG19", "--bootstrap", bootstrap,
        "--unreachable-timeout", "8",
      ])
    #expect(eventually(timeout: .seconds(40)) { worker.standardError.contains("assigned") })
    broker.signal(SIGKILL)
    _ = broker.waitForExit()
    #expect(worker.waitForExit(timeout: .seconds(40)) == 1, "\(worker.standardError)")
    #expect(worker.standardError.contains("unhealthy: no broker of the Kafka cluster"))
    #expect(worker.standardError.contains("unreachable for"))
  }
}
