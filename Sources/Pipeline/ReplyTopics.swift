import Foundation
import Kafka
import PipelineCore
import Synchronization

/// Keeps replies to topics the cluster has (`ReplyTopicCache`): a reply to any other topic is
/// not produced — the outcome is on its own topic all the same — and is counted, and logged at
/// most every 30 s. Shared by a stage's threads.
final class ReplyTopics: Sendable {
  private struct State {
    var cache = ReplyTopicCache()
    var dropped = 0
    var droppedTopics: Set<String> = []
    var loggedAt = -Double.infinity
  }

  private let admin: KafkaAdmin
  private let log: PipelineLog
  private let state = Mutex(State())
  private let clock = PipelineClock()

  init(common: KafkaConfiguration, log: PipelineLog) throws(KafkaError) {
    admin = try KafkaAdmin(configuration: common)
    self.log = log
  }

  /// The replies whose topics exist.
  func existing(_ replies: [KafkaProducerMessage]) -> [KafkaProducerMessage] {
    replies.filter { exists($0.topic) }
  }

  private func exists(_ topic: String) -> Bool {
    let now = clock.now()
    var answer = state.withLock { $0.cache.answer(topic, now: now) }
    if answer == .lookAgain {
      // A metadata request for all topics creates none (one for this name could).
      let found = try? admin.topics(timeoutMs: 5_000)
      answer = state.withLock { state in
        if let found {
          state.cache.update(found.keys, now: now)
        } else {
          state.cache.lookFailed(now: now)
        }
        return state.cache.answer(topic, now: now)
      }
    }
    guard answer != .exists else { return true }
    let report: (Int, [String])? = state.withLock { state in
      state.dropped += 1
      if state.droppedTopics.count < 10 { state.droppedTopics.insert(topic) }
      guard now - state.loggedAt >= 30 else { return nil }
      defer {
        state.loggedAt = now
        state.dropped = 0
        state.droppedTopics = []
      }
      return (state.dropped, state.droppedTopics.sorted())
    }
    if let (count, topics) = report {
      log.warning(
        "\(count) replies not sent: their reply topics do not exist (\(topics.joined(separator: ", ")))"
          + "; their outcomes are on the pipeline's topics. Create each reply topic, or let "
          + "the broker create them with --create-reply-topics")
    }
    return false
  }
}
