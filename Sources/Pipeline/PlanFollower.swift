import Foundation
import Kafka
import PipelineCore
import Planner

/// Follows the plan topic (`PlanLog`): reads it to the end at start to find the plan in force,
/// then picks up each plan published after it. Reads without a consumer group, so every reader
/// sees every plan.
public final class PlanFollower {
  private let consumer: KafkaConsumer
  private let log: PipelineLog
  private var planLog = PlanLog()
  private var arrived = false
  /// Called with each plan that comes into force, in the topic's order (`next` returns only the
  /// last of those read in one call).
  public var onInForce: ((Plan) -> Void)?

  /// The plan in force: the last valid plan on partition 0 of the topic.
  public var latest: Plan? { planLog.inForce }
  /// Plan records refused (not a valid plan, or not on partition 0).
  public var refused: Int { planLog.refused }

  public init(common: KafkaConfiguration, topic: String, log: PipelineLog) throws(KafkaError) {
    self.log = log
    var configuration = KafkaConsumerConfiguration(common: common, groupID: nil)
    configuration.reportPartitionEOF = true
    configuration.prefetchMessages = 1000
    configuration.fetchWaitMax = .milliseconds(100)
    consumer = try KafkaConsumer(configuration: configuration)
    // Every partition is read, so that a record on another one is refused out loud.
    let partitions = try KafkaAdmin(configuration: common).topics()[topic] ?? 1
    try consumer.assign(
      (0..<Int32(partitions)).map { (KafkaTopicPartition(topic: topic, partition: $0), .beginning) }
    )
  }

  deinit { consumer.close() }

  /// Reads until every partition is at its end (or the time is up) and returns the plan in force.
  @discardableResult
  public func catchUp(timeout: Duration = .seconds(10)) -> Plan? {
    var atEnd = Set<KafkaTopicPartition>()
    let partitions = Set(consumer.assignment())
    let deadline = ContinuousClock.now + timeout
    while atEnd != partitions, ContinuousClock.now < deadline {
      guard let event = try? consumer.poll(timeoutMs: 100) else { continue }
      switch event {
      case .record(let record): consider(record)
      case .partitionEOF(let partition, _): atEnd.insert(partition)
      default: break
      }
    }
    if atEnd != partitions {
      log.warning("the plan topic was not read to its end within \(timeout)")
    }
    arrived = false
    return latest
  }

  /// The plan in force, if another took its place since the last call (or `catchUp`); never
  /// blocks.
  @discardableResult
  public func next() -> Plan? {
    while let event = try? consumer.poll(timeoutMs: 0) {
      if case .record(let record) = event { consider(record) }
    }
    guard arrived else { return nil }
    arrived = false
    return latest
  }

  private func consider(_ record: KafkaRecord) {
    switch planLog.read(
      record.value, partition: record.topicPartition.partition, at: record.coordinates)
    {
    case .inForce(let plan):
      arrived = true
      onInForce?(plan)
    case .same: break
    case .refused(let reason): log.warning("refused: \(reason)")
    }
  }
}
