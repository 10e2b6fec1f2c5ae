import Foundation
import Kafka
import PipelineCore
import Planner

/// Follows the compacted plan topic: reads it to the end at start to find the latest plan, then
/// picks up new versions as the controller publishes them. Reads without a consumer group, so
/// every router sees every plan.
public final class PlanFollower {
  private let consumer: KafkaConsumer
  private let log: PipelineLog
  public private(set) var latest: Plan?
  /// Plan records refused (not valid, or not newer than the plan in hand).
  public private(set) var refused = 0

  public init(common: KafkaConfiguration, topic: String, log: PipelineLog) throws(KafkaError) {
    self.log = log
    var configuration = KafkaConsumerConfiguration(common: common, groupID: nil)
    configuration.reportPartitionEOF = true
    configuration.prefetchMessages = 1000
    configuration.fetchWaitMaxMs = 100
    consumer = try KafkaConsumer(configuration: configuration)
    let partitions = try KafkaAdmin(configuration: common).topics()[topic] ?? 1
    try consumer.assign(
      (0..<Int32(partitions)).map { (KafkaTopicPartition(topic: topic, partition: $0), .beginning) }
    )
  }

  deinit { consumer.close() }

  /// Reads until every partition is at its end (or the time is up) and returns the newest plan.
  public func catchUp(timeoutMs: Int = 10_000) -> Plan? {
    var atEnd = Set<KafkaTopicPartition>()
    let partitions = Set(consumer.assignment())
    let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
    while atEnd != partitions, ContinuousClock.now < deadline {
      guard let event = try? consumer.poll(timeoutMs: 100) else { continue }
      switch event {
      case .record(let record): consider(record)
      case .partitionEOF(let partition, _): atEnd.insert(partition)
      default: break
      }
    }
    if atEnd != partitions {
      log.warning("the plan topic was not read to its end within \(timeoutMs) ms")
    }
    return latest
  }

  /// A plan newer than `version`, if one arrived; never blocks.
  public func newer(than version: Int) -> Plan? {
    while let event = try? consumer.poll(timeoutMs: 0) {
      if case .record(let record) = event { consider(record) }
    }
    guard let latest, (latest.version ?? 0) > version else { return nil }
    return latest
  }

  /// Takes a plan record: a plan that is not valid, or not newer than the one in hand, is refused
  /// and logged; the last good plan stays in force (versions only increase).
  private func consider(_ record: KafkaRecord) {
    guard let value = record.value else { return }
    let kept = latest.map { "plan v\($0.version ?? 0) stays in force" } ?? "no plan yet"
    do {
      let plan = try Plan.decode(Data(value), source: "the plan at \(record.coordinates)")
      guard let current = latest else {
        latest = plan
        return
      }
      if (plan.version ?? 0) > (current.version ?? 0) {
        latest = plan
      } else if (plan.version ?? 0) < (current.version ?? 0) || plan != current {
        refused += 1
        log.warning(
          "refused: the plan at \(record.coordinates) is version \(plan.version ?? 0), not newer "
            + "than \(current.version ?? 0); \(kept)")
      }
    } catch {
      refused += 1
      log.warning("refused: \(error.message); \(kept)")
    }
  }
}
