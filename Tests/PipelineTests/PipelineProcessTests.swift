import Foundation
import Kafka
import Planner
import Synchronization
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// `harmonybatch batcher` as processes against a `harmonybatch broker` process: killed without
/// warning and restarted, and two of them sharing the partitions.
@Suite(.serialized, .startsServices, .onOwnThread) struct PipelineProcessTests {
  struct Cluster {
    let broker: ChildProcess
    let bootstrap: String
    let planPath: String
    let plan: Plan

    init() async throws {
      broker = try ChildProcess(harmonybatchPath, ["broker"])
      bootstrap = try #require(await broker.waitForLines(1).first)
      var (_, plan) = try Planner.tableOnePlan(version: 1)
      plan.version = 1
      self.plan = plan
      planPath =
        FileManager.default.temporaryDirectory
        .appendingPathComponent("hb-plan-\(UUID().uuidString).json").path
      try plan.jsonData().write(to: URL(fileURLWithPath: planPath))
    }

    /// `debug`: the batcher logs each request it holds (read, not yet flushed).
    func batcher(debug: Bool = false) throws -> ChildProcess {
      try ChildProcess(
        harmonybatchPath,
        [
          "batcher", "--bootstrap", bootstrap, "--plan", planPath, "--property",
          "session.timeout.ms=6000",
        ] + (debug ? ["--log-level", "debug"] : []))
    }

    /// Waits until the process's router and batcher both hold partitions.
    func waitUntilServing(_ process: ChildProcess, timeout: Duration = .seconds(40)) async -> Bool {
      await eventually(timeout: timeout) {
        let text = process.standardError
        return text.contains("router: assigned") && text.contains("batcher: assigned")
          || !process.isRunning
      } && process.isRunning
    }
  }

  /// The request ids a batcher logged as buffered (`--log-level debug`) in `log`, in order.
  static func bufferedRequests(in log: String) -> [String] {
    log.split(separator: "\n").compactMap { line in
      guard let range = line.range(of: "batcher: request "),
        let end = line.range(of: " buffered: ", range: range.upperBound..<line.endIndex)
      else { return nil }
      return String(line[range.upperBound..<end.lowerBound])
    }
  }

  /// Produces requests at a steady rate on a thread of its own.
  final class Stream: Sendable {
    private let sentIDs = Mutex<[String]>([])
    private let stopped = StopFlag()
    private let finished = DispatchSemaphore(value: 0)

    init(bootstrap: String, apps: [String], perSecond: Double, prefix: String) throws {
      let producer = try KafkaProducer(
        configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
      Thread.detachNewThread { [self] in
        var index = 0
        let start = ContinuousClock.now
        while !stopped.isSet {
          let due = Int(
            Double((ContinuousClock.now - start).components.seconds) * perSecond
              + Double((ContinuousClock.now - start).components.attoseconds) / 1e18 * perSecond)
          while index < due {
            let id = "\(prefix)-\(index)"
            try? producer.enqueue(
              KafkaProducerMessage(
                topic: "hb.requests", key: Array(apps[index % apps.count].utf8),
                value: Array("request \(index)".utf8),
                headers: [KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8))]))
            sentIDs.withLock { $0.append(id) }
            index += 1
          }
          // Paces the stream (a request is due every 25 ms): this sleep is the producer's
          // rate, not a wait for an event.
          Thread.sleep(forTimeInterval: 0.005)
        }
        try? producer.flush()
        producer.close()
        finished.signal()
      }
    }

    /// Requests sent so far.
    var sentCount: Int { sentIDs.withLock { $0.count } }

    /// Stops producing and returns the ids of every request sent.
    func stop() -> [String] {
      stopped.set()
      finished.wait()
      return sentIDs.withLock { $0 }
    }
  }

  @Test func aBatcherKilledMidStreamAndRestartedLosesNoRequest() async throws {
    let cluster = try await Cluster()
    let first = try cluster.batcher(debug: true)
    try #require(await cluster.waitUntilServing(first), "\(first.standardError)")
    // A slow stream keeps the GPU group's buffer (b = 14, waits of 0.4–0.6 s) partly full most
    // of the time, so the kill lands while requests wait in it, read but not yet dispatched.
    let stream = try Stream(
      bootstrap: cluster.bootstrap, apps: ["a2", "a3", "a3", "a1"], perSecond: 40, prefix: "k")
    // Kill it once it has dispatched batches (so it is mid-stream, its offsets partly
    // committed) and 120 requests are out (3 s of the stream).
    let dispatched = try readTopic(cluster.bootstrap, "hb.batches.gpu", timeout: .seconds(40)) {
      !$0.isEmpty
    }
    #expect(!dispatched.isEmpty, "the first batcher dispatched no batch")
    #expect(await eventually(timeout: .seconds(40)) { stream.sentCount >= 120 })
    // Killed while it holds requests: at the first request it logs as buffered from now on (read,
    // not flushed: the GPU group's buffer waits 0.4–0.6 s, or until 14 are in), within the 5 ms
    // this wait looks every.
    let seenBefore = first.standardErrorEnd
    var held: String?
    #expect(
      await eventually(timeout: .seconds(20), every: .milliseconds(5)) {
        held = Self.bufferedRequests(in: first.standardError(since: seenBefore)).first
        return held != nil
      }, "\(first.standardError.suffix(2000))")
    first.signal(SIGKILL)
    #expect(await first.waitForExit() == SIGKILL)
    // The replacement starts while the stream goes on: 80 more requests (2 s) before it stops.
    let atRestart = stream.sentCount
    let second = try cluster.batcher()
    #expect(await eventually(timeout: .seconds(40)) { stream.sentCount >= atRestart + 80 })
    let sent = stream.stop()
    #expect(
      await cluster.waitUntilServing(second, timeout: .seconds(60)), "\(second.standardError)")

    let outcomes = try Outcomes.read(
      cluster.bootstrap, PipelineTopics(), expecting: sent.count, timeout: .seconds(60))
    let missing = Set(sent).subtracting(outcomes.ids)
    #expect(sent.count > 150)
    #expect(
      missing.isEmpty,
      "\(missing.count) of \(sent.count) requests lost, e.g. \(missing.sorted().prefix(5))")
    #expect(outcomes.deadLetters.isEmpty)
    // Requests read but not committed before the kill are read again; what the first batcher
    // already dispatched is found in its outputs and not dispatched again: exactly one outcome
    // per request (it used to be at least one: some ended both in a batch and late).
    let twice =
      outcomes.batched.filter { $0.value > 1 }.map(\.key)
      + outcomes.late.filter { $0.value > 1 || outcomes.batched[$0.key] != nil }.map(\.key)
    #expect(
      twice.isEmpty,
      "\(twice.count) requests with two outcomes, e.g. \(twice.prefix(5).map { ($0, outcomes.batched[$0] ?? 0, outcomes.late[$0] ?? 0) }) \(outcomes.batches.filter { $0.requests.contains { twice.contains($0.id) } }.map { "\($0.batchID) \($0.requests.map { "\($0.id)@\($0.source)" })" })"
    )
    #expect(outcomes.total == sent.count)
    // The first held the request it had logged when it was killed: it never dispatched it (its
    // batches are named after its process id), and it was not lost.
    if let held {
      let firstBatcher = "-\(first.process.processIdentifier)"
      let dispatchedBy = outcomes.batches.filter { $0.requests.contains { $0.id == held } }
        .map(\.batcher)
      #expect(!dispatchedBy.contains { $0.hasSuffix(firstBatcher) }, "\(held): \(dispatchedBy)")
      #expect(outcomes.ids.contains(held))
    }
    #expect(second.standardError.contains("recovered:"), "\(second.standardError)")
    second.signal(SIGTERM)
    #expect(await second.waitForExit(timeout: .seconds(40)) == 0, "\(second.standardError)")
    cluster.broker.signal(SIGTERM)
  }

  @Test func twoBatchersShareThePartitionsAndDispatchEveryRequest() async throws {
    let cluster = try await Cluster()
    let first = try cluster.batcher()
    let second = try cluster.batcher()
    let firstServes = await cluster.waitUntilServing(first)
    let secondServes = await cluster.waitUntilServing(second)
    try #require(firstServes && secondServes)
    // Wait for the rebalance to settle: each member's latest assignment holds half the partitions.
    func settled(_ process: ChildProcess) -> Bool {
      let lines = process.standardError.split(separator: "\n")
      let latest = ["router", "batcher"].map { stage in
        lines.last(where: { $0.contains("\(stage): assigned") })?
          .components(separatedBy: "holding ").last?.split(separator: ",").count ?? 0
      }
      return latest == [2, 2]
    }
    #expect(await eventually(timeout: .seconds(40)) { settled(first) && settled(second) })

    // Planned apps and twelve unplanned ones: fourteen group keys spread over both members.
    let apps = ["a1", "a2", "a3"] + (1...12).map { "extra-\($0)" }
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(cluster.bootstrap)))
    var sent: [String] = []
    for index in 0..<900 {
      let id = "two-\(index)"
      try producer.enqueue(
        KafkaProducerMessage(
          topic: "hb.requests", key: Array(apps[index % apps.count].utf8), value: Array("r".utf8),
          headers: [
            KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8)),
            KafkaHeader(key: HeaderName.slo, value: Array("60000".utf8)),
          ]))
      sent.append(id)
    }
    try producer.flush()
    producer.close()

    let outcomes = try Outcomes.read(cluster.bootstrap, PipelineTopics(), expecting: sent.count)
    #expect(Set(sent).subtracting(outcomes.ids).isEmpty)
    #expect(Set(outcomes.batched.keys) == Set(sent), "every request in a batch (none late)")
    #expect(outcomes.total == sent.count, "each exactly once")
    let batchers = Set(outcomes.batches.map(\.batcher))
    #expect(batchers.count == 2, "batches came from \(batchers)")
    for process in [first, second] {
      process.signal(SIGTERM)
      #expect(await process.waitForExit(timeout: .seconds(40)) == 0, "\(process.standardError)")
    }
    cluster.broker.signal(SIGTERM)
  }

  /// A stage that fails for good ends its process with exit code 1 and a message naming the
  /// failure — the process used to stay alive doing nothing, its main task waiting for a signal.
  @Test func aStageThatFailsEndsItsProcess() async throws {
    let cluster = try await Cluster()
    defer { cluster.broker.signal(SIGTERM) }
    // A producer limit no grouped record fits: the router's first output is refused for good.
    let process = try ChildProcess(
      harmonybatchPath,
      [
        "batcher", "--bootstrap", cluster.bootstrap, "--plan", cluster.planPath, "--property",
        "message.max.bytes=1000",
      ])
    #expect(await cluster.waitUntilServing(process))
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(cluster.bootstrap)))
    defer { producer.close() }
    try producer.enqueue(
      KafkaProducerMessage(
        topic: "hb.requests", key: Array("a1".utf8), value: Array(repeating: 1, count: 2_000),
        headers: [KafkaHeader(key: HeaderName.slo, value: Array("500".utf8))]))
    try producer.flush()
    #expect(await process.waitForExit(timeout: .seconds(40)) == 1, "\(process.standardError)")
    #expect(process.standardError.contains("router failed"))
  }
}
