import Foundation
import Kafka
import Pipeline
import PipelineCore
import Planner
import Synchronization
@_exported import WaitSupport

public func uniqueName(_ prefix: String) -> String {
  "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}

/// One embedded cluster for the whole test process.
public let sharedBroker: EmbeddedBroker = { try! EmbeddedBroker(brokers: 1, logger: .silent) }()

public func quietCommon(_ bootstrap: String) -> KafkaConfiguration {
  var common = KafkaConfiguration(bootstrapServers: bootstrap)
  common.logger = .silent
  common.properties["session.timeout.ms"] = "6000"
  return common
}

/// Log lines of the services under test, kept for assertions.
public final class CapturedLog: Sendable {
  public init() {}
  private let lines = Mutex<[String]>([])

  public func log(_ service: String) -> PipelineLog {
    PipelineLog(service: service, minimumLevel: .info) { [self] line in
      lines.withLock { $0.append(line) }
      if ProcessInfo.processInfo.environment["HB_TEST_LOG"] != nil { print(line) }
    }
  }

  public var all: [String] { lines.withLock { $0 } }

  public func contains(_ text: String) -> Bool { all.contains { $0.contains(text) } }
}

/// A service loop on a thread of its own, stopped and joined by the test.
public final class RunningService: Sendable {
  public let stop = StopFlag()
  private let done = DispatchSemaphore(value: 0)
  private let failure = Mutex<String?>(nil)

  public init(_ name: String, _ body: @escaping @Sendable (StopFlag) throws -> Void) {
    let thread = Thread { [stop, done, self] in
      do {
        try body(stop)
      } catch {
        self.failure.withLock { $0 = "\(error)" }
      }
      done.signal()
    }
    thread.name = name
    thread.start()
  }

  /// Stops the service and waits for it; returns its error, if any.
  @discardableResult
  public func finish(timeout: Double = 60) -> String? {
    stop.set()
    if done.wait(timeout: .now() + timeout) == .timedOut { return "did not stop in \(timeout) s" }
    return failure.withLock { $0 }
  }
}

/// Reads a topic (all partitions, no group) until `enough` holds or `timeout` passes. It blocks
/// (it polls a consumer): call it from a test on a thread of its own (`.onOwnThread`).
public func readTopic(
  _ bootstrap: String, _ topic: String, partitions: Int = 4, timeout: Duration = .seconds(30),
  until enough: ([KafkaRecord]) -> Bool
) throws -> [KafkaRecord] {
  var configuration = KafkaConsumerConfiguration(common: quietCommon(bootstrap), groupID: nil)
  configuration.fetchWaitMax = .milliseconds(10)
  let consumer = try KafkaConsumer(configuration: configuration)
  defer { consumer.close() }
  try consumer.assign(
    (0..<Int32(partitions)).map { (KafkaTopicPartition(topic: topic, partition: $0), .beginning) })
  var records: [KafkaRecord] = []
  let deadline = ContinuousClock.now + timeout
  while !enough(records), ContinuousClock.now < deadline {
    if case .record(let record) = try consumer.poll(timeoutMs: 50) { records.append(record) }
  }
  return records
}

extension KafkaRecord {
  public func header(_ key: String) -> String? {
    headers.last(where: { $0.key == key })?.value.map { String(decoding: $0, as: UTF8.self) }
  }
}

/// Where every request ended: request id → outcomes (a batch, a dead letter, a late record).
public struct Outcomes {
  public var batched: [String: Int] = [:]
  public var deadLetters: [String: String] = [:]
  public var late: [String: Int] = [:]
  public var batches: [BatchMessage] = []

  public var total: Int {
    batched.values.reduce(0, +) + deadLetters.count + late.values.reduce(0, +)
  }

  public var ids: Set<String> { Set(batched.keys).union(deadLetters.keys).union(late.keys) }

  public static func read(
    _ bootstrap: String, _ topics: PipelineTopics, expecting count: Int,
    timeout: Duration = .seconds(40)
  ) throws -> Outcomes {
    let deadline = ContinuousClock.now + timeout
    var outcomes = Outcomes()
    repeat {
      outcomes = Outcomes()
      for topic in [topics.batchesCPU, topics.batchesGPU] {
        for record in try readTopic(
          bootstrap, topic, timeout: .milliseconds(300), until: { _ in false })
        {
          let batch = try BatchMessage.decode(record.value ?? [])
          outcomes.batches.append(batch)
          for request in batch.requests { outcomes.batched[request.id, default: 0] += 1 }
        }
      }
      for record in try readTopic(
        bootstrap, topics.deadLetter, timeout: .milliseconds(300), until: { _ in false })
      {
        outcomes.deadLetters[record.header(HeaderName.requestID) ?? record.coordinates] =
          record.header(HeaderName.error) ?? "?"
      }
      for record in try readTopic(
        bootstrap, topics.late, timeout: .milliseconds(300), until: { _ in false })
      {
        outcomes.late[record.header(HeaderName.requestID) ?? "?", default: 0] += 1
      }
    } while outcomes.ids.count < count && ContinuousClock.now < deadline
    return outcomes
  }
}

extension Planner {
  /// The Table I apps of the paper, planned for VGG19, as a published plan version.
  public static func tableOnePlan(version: Int = 1) throws -> (Planner, Plan) {
    let planner = try Planner(model: "VGG19")
    var plan = try planner.plan([
      App(id: "a1", slo: 0.5, rate: 5), App(id: "a2", slo: 0.8, rate: 10),
      App(id: "a3", slo: 1.0, rate: 20),
    ])
    plan.version = version
    return (planner, plan)
  }
}
