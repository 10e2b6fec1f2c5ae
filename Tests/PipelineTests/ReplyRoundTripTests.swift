import Foundation
import Kafka
import PipelineCore
import TestSupport
import Testing

/// The Python client in Deploy/clients/python (confluent-kafka, an independent client) against a
/// batcher and two workers as processes: every request it sends with `hb-reply-topic` and a
/// `traceparent` gets exactly its own reply, with the traceparent intact; requests whose SLO no
/// function can meet get a dead-letter reply that says why.
@Suite(.serialized, .startsServices, .onOwnThread) struct ReplyRoundTripTests {
  static let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Deploy/clients/python/harmonybatch_client.py").path

  struct Summary: Decodable {
    let sent: Int
    let replies: Int
    let outcomes: [String: Int]
    let traceparentIntact: Int
    let undelivered: Int

    enum CodingKeys: String, CodingKey {
      case sent, replies, outcomes, undelivered
      case traceparentIntact = "traceparent_intact"
    }
  }

  static func runClient(_ bootstrap: String, _ arguments: [String]) async throws -> (
    Int32?, Summary?
  ) {
    let (status, output, error) = try await runToCompletion(
      "/usr/bin/env", ["python3", client, "--bootstrap", bootstrap] + arguments,
      timeout: .seconds(120))
    let summary = output.last.flatMap {
      try? JSONDecoder().decode(Summary.self, from: Data($0.utf8))
    }
    if summary == nil { Issue.record("the client printed no summary (\(status)): \(error)") }
    return (status, summary)
  }

  @Test func everyRequestGetsItsOwnReplyWithItsTraceContext() async throws {
    let broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    try broker.createTopics(PipelineTopics().specs(partitions: 4))
    let bootstrap = broker.bootstrapServers
    let common = ["--bootstrap", bootstrap, "--property", "session.timeout.ms=6000"]
    let services = [
      try ChildProcess(harmonybatchPath, ["batcher", "--model", "VGG19"] + common),
      try ChildProcess(
        harmonybatchPath,
        ["worker", "--kind", "cpu", "--backend", "emulated-cpu", "--model", "VGG19"] + common),
      try ChildProcess(harmonybatchPath, ["worker", "--kind", "gpu", "--model", "VGG19"] + common),
    ]
    defer {
      for process in services {
        process.stop()
      }
    }
    // Requests sent before the workers joined their groups could wait out their SLO and be shed
    // as late (each still gets its reply); this test is about results, so it waits for the
    // workers (the batcher, with no controller here, serves apps alone without a plan).
    for service in services.dropFirst() {
      #expect(
        await service.waitForError(containing: "ready", timeout: .seconds(60)),
        "\(service.standardError)")
    }
    // 100 requests at 100/s with an SLO every function meets: 100 replies. Served alone (no
    // controller), the app runs on the cheapest function within 5 s, so a burst queues for the
    // slots: a request whose batch starts too late is shed as late (its reply says so) rather
    // than run past its SLO. Nothing is a dead letter.
    let (status, summary) = try await Self.runClient(
      bootstrap, ["--count", "100", "--rate", "100", "--slo-ms", "5000", "--timeout", "90"])
    let served = try #require(summary)
    #expect(status == 0, "\(services.map(\.standardError))")
    #expect(served.sent == 100)
    #expect(served.replies == 100)
    #expect(Set(served.outcomes.keys).isSubset(of: ["result", "late"]), "\(served.outcomes)")
    #expect(served.outcomes.values.reduce(0, +) == 100)
    #expect((served.outcomes["result"] ?? 0) >= 50, "\(served.outcomes)")
    #expect(served.traceparentIntact == 100)
    #expect(served.undelivered == 0)

    // An SLO of 1 ms: no function can meet it; each request is a dead letter, and says so.
    let (_, refused) = try await Self.runClient(
      bootstrap, ["--count", "5", "--rate", "0", "--slo-ms", "1", "--timeout", "30"])
    let dead = try #require(refused)
    #expect(dead.replies == 5)
    #expect(dead.outcomes == ["dead-letter": 5])
    #expect(dead.traceparentIntact == 5)
  }

  /// A reply goes only to a topic the cluster has: a request (from kcat) naming a reply topic
  /// that does not exist still gets its result, no reply is sent, and no topic is created — on a
  /// broker that would create one on first use. With `--create-reply-topics` the reply is sent
  /// (and the broker creates the topic).
  @Test func aReplyToATopicThatDoesNotExistIsNotSentAndCreatesNothing() async throws {
    let broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    let topics = PipelineTopics()
    try broker.createTopics(
      topics.specs(partitions: 2) + [KafkaTopicSpec(name: "replies.ok", partitions: 1)])
    let bootstrap = broker.bootstrapServers
    let common = ["--bootstrap", bootstrap, "--property", "session.timeout.ms=6000"]
    func start(_ extra: [String]) throws -> [ChildProcess] {
      [
        try ChildProcess(harmonybatchPath, ["batcher", "--model", "VGG19"] + common + extra),
        try ChildProcess(
          harmonybatchPath,
          ["worker", "--kind", "cpu", "--backend", "emulated-cpu", "--model", "VGG19"] + common
            + extra),
      ]
    }
    func stop(_ services: [ChildProcess]) {
      for process in services {
        process.stop()
      }
    }
    func send(_ id: String, replyTo topic: String) async throws {
      let (status, _, error) = try await runToCompletion(
        "/usr/bin/kcat",
        [
          "-P", "-b", bootstrap, "-t", topics.requests, "-k", "a1", "-H", "hb-slo-ms=5000",
          "-H", "hb-request-id=\(id)", "-H", "hb-reply-topic=\(topic)",
        ], stdin: "some text\n")
      #expect(status == 0, "\(error)")
    }
    func resultsFor(_ ids: Set<String>) throws -> Set<String> {
      Set(
        try readTopic(bootstrap, topics.results, partitions: 2, timeout: .seconds(60)) {
          ids.isSubset(of: Set($0.compactMap(\.keyString)))
        }.compactMap(\.keyString))
    }
    let admin = try KafkaAdmin(configuration: quietCommon(bootstrap))

    let services = try start([])
    #expect(await services[1].waitForError(containing: "ready", timeout: .seconds(60)))
    try await send("r-missing", replyTo: "replies.nobody-made-this")
    try await send("r-ok", replyTo: "replies.ok")
    #expect(try resultsFor(["r-missing", "r-ok"]).isSuperset(of: ["r-missing", "r-ok"]))
    let replies = try readTopic(bootstrap, "replies.ok", partitions: 1, timeout: .seconds(30)) {
      !$0.isEmpty
    }
    #expect(replies.map(\.keyString) == ["r-ok"])
    #expect(
      await eventually(timeout: .seconds(30)) {
        services[1].standardError.contains("replies not sent: their reply topics do not exist")
      }, "\(services[1].standardError)")
    #expect(try admin.topics()["replies.nobody-made-this"] == nil)
    stop(services)

    // The operator allows it: the reply is sent, and this broker creates the topic for it.
    let allowed = try start(["--create-reply-topics"])
    defer { stop(allowed) }
    #expect(await allowed[1].waitForError(containing: "ready", timeout: .seconds(60)))
    try await send("r-created", replyTo: "replies.created")
    _ = try resultsFor(["r-created"])
    #expect(
      await eventually(timeout: .seconds(30)) { (try? admin.topics()["replies.created"]) != nil })
  }
}
