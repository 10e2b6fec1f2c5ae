import Foundation
import Kafka
import Synchronization
import WaitSupport

/// A unique topic or group name per test, so tests sharing a broker never see each other's data.
func uniqueName(_ prefix: String) -> String {
  "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}

/// One embedded cluster for the whole test process (one cluster per process is the norm).
let sharedBroker: EmbeddedBroker = {
  try! EmbeddedBroker(brokers: 1, logger: .silent)
}()

func producerConfiguration(_ bootstrap: String) -> KafkaProducerConfiguration {
  var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
  configuration.common.logger = .silent
  return configuration
}

func consumerConfiguration(_ bootstrap: String, group: String?) -> KafkaConsumerConfiguration {
  var configuration = KafkaConsumerConfiguration(bootstrapServers: bootstrap, groupID: group)
  configuration.common.logger =
    ProcessInfo.processInfo.environment["HB_TEST_KAFKA_LOG"] != nil
    ? .standardError(minimumLevel: .info) : .silent
  configuration.sessionTimeout = .seconds(6)
  return configuration
}

/// Polls `consumer` until `count` records arrived or `timeout` passed.
func readRecords(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(30)) throws
  -> [KafkaRecord]
{
  var records: [KafkaRecord] = []
  let deadline = ContinuousClock.now + timeout
  while records.count < count && ContinuousClock.now < deadline {
    if case .record(let record) = try consumer.poll(timeoutMs: 100) { records.append(record) }
  }
  return records
}

/// A group member that processes records on its own thread: records each value, marks it done.
final class GroupMember: @unchecked Sendable {
  let consumer: KafkaConsumer
  private let state = Mutex<
    (assignment: Set<KafkaTopicPartition>, values: [String], revocations: Int)
  >(
    ([], [], 0))
  private let stopped = Atomic<Bool>(false)
  private let finished = DispatchSemaphore(value: 0)

  init(bootstrap: String, group: String, topic: String) throws {
    consumer = try KafkaConsumer(configuration: consumerConfiguration(bootstrap, group: group))
    try consumer.subscribe(topics: [topic])
    Thread.detachNewThread { [self] in
      while !stopped.load(ordering: .relaxed) { step() }
      consumer.close()
      finished.signal()
    }
  }

  private func step() {
    guard let event = try? consumer.poll(timeoutMs: 50) else { return }
    switch event {
    case .record(let record):
      state.withLock { $0.values.append(record.valueString ?? "") }
      try? consumer.storeOffset(for: record)
    case .partitionsAssigned(let partitions):
      state.withLock { $0.assignment.formUnion(partitions) }
    case .partitionsRevoked(let partitions):
      state.withLock {
        $0.assignment.subtract(partitions)
        $0.revocations += 1
      }
    case .partitionEOF, .error:
      break
    }
  }

  var assignment: Set<KafkaTopicPartition> { state.withLock { $0.assignment } }
  var values: [String] { state.withLock { $0.values } }
  var revocations: Int { state.withLock { $0.revocations } }

  func stop() {
    stopped.store(true, ordering: .relaxed)
    finished.wait()
  }
}
