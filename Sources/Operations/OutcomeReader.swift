import Foundation
import Inference
import Kafka
import Pipeline
import PipelineCore
import Planner
import Synchronization

/// Reads results, late records and dead letters (no group: it sees everything).
public final class OutcomeReader: @unchecked Sendable {
  public struct Outcome: Sendable {
    public var app: String
    public var latencyMs: Double?
    public var sloMet: Bool
    public var kind: OutcomeKind
    public var backend: String?
  }

  private let consumer: KafkaConsumer
  private let topics: PipelineTopics
  private(set) var outcomes: [String: Outcome] = [:]
  public var ids: Set<String> { Set(outcomes.keys) }
  /// Request ids that ended more than once (a second result, late record or dead letter).
  public private(set) var endedTwice: Set<String> = []
  /// For each id that ended more than once, how each time (`result of batch B`, `late`, …).
  public private(set) var endings: [String: [String]] = [:]

  public init(common: KafkaConfiguration, topics: PipelineTopics) throws {
    var configuration = KafkaConsumerConfiguration(common: common, groupID: nil)
    configuration.fetchWaitMax = .milliseconds(10)
    self.topics = topics
    consumer = try KafkaConsumer(configuration: configuration)
    var partitions: [(KafkaTopicPartition, KafkaOffset)] = []
    for topic in [topics.results, topics.late, topics.deadLetter] {
      // Every partition the topic has (a demo that emulates a model makes 8): one not read
      // would leave its outcomes missing.
      guard let count = consumer.partitionCount(of: topic, timeoutMs: 10_000) else {
        throw RunFailure("cannot read \(topic): the cluster did not say its partitions in 10 s")
      }
      for partition in 0..<Int32(count) {
        partitions.append((KafkaTopicPartition(topic: topic, partition: partition), .beginning))
      }
    }
    try consumer.assign(partitions)
  }

  deinit { consumer.close() }

  public func has(_ id: String) -> Bool { outcomes[id] != nil }

  /// Reads what has arrived; returns the ids seen in this call.
  @discardableResult
  public func poll() -> [String] {
    var seen: [String] = []
    while let event = try? consumer.poll(timeoutMs: 1), case .record(let record) = event {
      if record.topic == topics.results {
        guard
          let result = try? JSONDecoder().decode(ResultMessage.self, from: Data(record.value ?? []))
        else { continue }
        note(result.requestID, "result of batch \(result.batchID)")
        if outcomes[result.requestID] != nil { endedTwice.insert(result.requestID) }
        outcomes[result.requestID] = Outcome(
          app: result.app, latencyMs: result.latencyMs, sloMet: result.sloMet, kind: .result,
          backend: result.backend)
        seen.append(result.requestID)
      } else {
        let id =
          record.headers.last(where: { $0.key == HeaderName.requestID })?.value
          .map { String(decoding: $0, as: UTF8.self) } ?? record.coordinates
        let app = record.keyString ?? "?"
        note(
          id,
          (record.topic == topics.late ? "late" : "dead letter")
            + (record.headers.last { $0.key == HeaderName.batchSource }?.value.map {
              " of \(String(decoding: $0, as: UTF8.self))"
            } ?? ""))
        if outcomes[id] != nil {
          endedTwice.insert(id)
        } else {
          outcomes[id] = Outcome(
            app: app, latencyMs: nil, sloMet: false,
            kind: record.topic == topics.late ? .late : .deadLetter, backend: nil)
        }
        seen.append(id)
      }
    }
    return seen
  }

  /// Keeps how `id` ended; only ids that end twice keep more than their first ending.
  private func note(_ id: String, _ ending: String) {
    if outcomes[id] == nil {
      endings[id] = [ending]
    } else {
      endings[id, default: []].append(ending)
    }
  }

  /// Up to `count` ids that ended twice, each with how it ended, for a summary line.
  public func endedTwiceExamples(_ count: Int = 3) -> String {
    endedTwice.sorted().prefix(count).map { id in
      "\(id) (\((endings[id] ?? []).joined(separator: ", ")))"
    }.joined(separator: "; ")
  }
}
