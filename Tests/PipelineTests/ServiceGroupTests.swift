import Foundation
import Kafka
import Pipeline
import Planner
import Synchronization
import TestSupport
import Testing

@testable import PipelineCore

/// The one lifecycle every command runs: services on threads, graceful shutdown in reverse order,
/// failures that end the group, readiness, and a grace period that is not waited out forever.
@Suite(.onOwnThread) struct ServiceGroupTests {
  private static func quietSettings(grace: Duration = .seconds(10)) -> ServiceGroup.Settings {
    var settings = ServiceGroup.Settings()
    settings.handlesSignals = false
    settings.gracePeriod = grace
    return settings
  }

  /// Records which services saw their stop flag, in order.
  final class Journal: Sendable {
    private let entries = Mutex<[String]>([])
    func note(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
  }

  @Test func aFailingServiceStopsTheOthersAndTheGroupExitsOne() {
    let journal = Journal()
    let steady = ClosureService("steady") { context in
      context.ready()
      context.waitForStop()
      journal.note("steady stopped")
    }
    let failing = ClosureService("failing") { context in
      context.ready()
      // Fails once the other serves, so that it has something to stop.
      _ = context.waitUntilOthersReady(timeout: .seconds(10))
      throw KafkaError(.delivery, "the broker refused a message")
    }
    let group = ServiceGroup(
      [steady, failing], settings: Self.quietSettings(), log: .silent("test"))
    let started = ContinuousClock.now
    let outcome = group.runBlocking()
    #expect(outcome.exitCode == 1)
    #expect(outcome.failures.count == 1)
    #expect(outcome.failures.first?.hasPrefix("failing: ") == true)
    #expect(journal.all == ["steady stopped"])
    // Promptly: the others are asked to stop at once, not after a signal or the grace period.
    #expect(ContinuousClock.now - started < .seconds(3))
  }

  @Test func servicesStopOneAtATimeTheLastStartedFirst() {
    let journal = Journal()
    func stage(_ name: String) -> ClosureService {
      ClosureService(name) { context in
        context.waitForStop()
        journal.note("\(name) stopping")
        // Draining takes a while (this sleep stands for that work, not for a wait); the next one
        // up must not be stopped meanwhile.
        Thread.sleep(forTimeInterval: 0.05)
        journal.note("\(name) stopped")
      }
    }
    let workload = ClosureService("workload") { _ in
      // A workload that runs a while (the sleep is its work), then ends and stops the group.
      Thread.sleep(forTimeInterval: 0.1)
      journal.note("workload finished")
    }
    let group = ServiceGroup(
      [stage("worker"), stage("batcher"), stage("router"), workload],
      settings: Self.quietSettings(), log: .silent("test"))
    let outcome = group.runBlocking()
    #expect(outcome.exitCode == 0)
    #expect(
      journal.all == [
        "workload finished", "router stopping", "router stopped", "batcher stopping",
        "batcher stopped", "worker stopping", "worker stopped",
      ])
  }

  @Test func aServiceThatDoesNotStopIsLeftAfterTheGracePeriod() {
    let release = DispatchSemaphore(value: 0)
    defer { release.signal() }
    let stubborn = ClosureService("stubborn") { _ in release.wait() }
    let group = ServiceGroup(
      [stubborn], settings: Self.quietSettings(grace: .milliseconds(300)), log: .silent("test"))
    group.shutdown(because: "test")
    let started = ContinuousClock.now
    let outcome = group.runBlocking()
    #expect(outcome.exitCode == 1)
    #expect(outcome.abandoned == ["stubborn"])
    #expect(ContinuousClock.now - started < .seconds(5))
  }

  @Test func readinessIsAnEventOthersCanWaitFor() {
    let waited = Mutex<[Bool]>([])
    let slow = ClosureService("slow") { context in
      // Slow to start (the sleep is its start-up work): ready after the others looked.
      Thread.sleep(forTimeInterval: 0.2)
      context.ready()
      context.waitForStop()
    }
    let never = ClosureService("never") { context in context.waitForStop() }
    let watcher = ClosureService("watcher") { context in
      // Not all ready within 0.5 s ("never" never is) …
      let all = context.waitUntilOthersReady(timeout: .milliseconds(500))
      waited.withLock { $0.append(all) }
    }
    let lines = CapturedLog()
    let group = ServiceGroup(
      [slow, never, watcher], settings: Self.quietSettings(), log: lines.log("test"))
    _ = group.runBlocking()
    #expect(waited.withLock { $0 } == [false])
    #expect(group.readiness.map(\.ready) == [true, false, false])
    #expect(!lines.contains("ready:"))

    let both = ClosureService("both") { context in
      #expect(context.waitUntilOthersReady(timeout: .seconds(5)))
      context.ready()
    }
    let other = ClosureService("other") { context in
      context.ready()
      context.waitForStop()
    }
    let second = CapturedLog()
    _ = ServiceGroup([other, both], settings: Self.quietSettings(), log: second.log("test"))
      .runBlocking()
    #expect(second.contains(" info test: ready: other, both"))
  }
}

/// `harmonybatch batcher` as a process whose router fails for good: the batcher stage is stopped
/// gracefully and the process exits 1 at once, without waiting for a signal.
@Suite(.startsServices, .onOwnThread) struct ServiceFailureProcessTests {
  @Test func aStageThatFailsEndsItsProcessWithExitCodeOne() async throws {
    let broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    let topics = PipelineTopics()
    try broker.createTopics(topics.specs(partitions: 4))
    let (_, plan) = try Planner.tableOnePlan(version: 1)
    let planPath =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-plan-\(UUID().uuidString).json").path
    try plan.jsonData().write(to: URL(fileURLWithPath: planPath))
    // A request waits on hb.requests; then every write to the broker is refused.
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(broker.bootstrapServers)))
    try producer.enqueue(
      KafkaProducerMessage(
        topic: topics.requests, key: Array("a1".utf8), value: Array("hello".utf8),
        headers: [KafkaHeader(key: HeaderName.requestID, value: Array("r-1".utf8))]))
    try producer.flush()
    _ = producer.close()
    broker.failNextRequests(
      .produce, with: Array(repeating: .topicAuthorizationFailed, count: 1000))

    let process = try ChildProcess(
      harmonybatchPath,
      [
        "batcher", "--bootstrap", broker.bootstrapServers, "--plan", planPath, "--property",
        "session.timeout.ms=6000",
      ])
    defer { if process.process.isRunning { process.process.terminate() } }
    let exited = await eventually(timeout: .seconds(60)) { !process.process.isRunning }
    #expect(exited, "still running: \(process.standardError)")
    guard exited else { return }
    let log = process.standardError
    #expect(process.process.terminationStatus == 1, "\(log)")
    #expect(log.contains(" error batcher: router failed"), "\(log)")
    // The batcher stage was stopped, not abandoned, and no signal was needed.
    #expect(!log.contains("did not stop within"), "\(log)")
    #expect(!log.contains("received"), "\(log)")
  }
}
