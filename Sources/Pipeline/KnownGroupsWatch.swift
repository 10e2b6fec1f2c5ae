import Foundation
import Kafka
import PipelineCore

/// A worker's view of the plans (`KnownGroups`), kept current from the plan topic: the reading
/// thread follows the topic, the slots ask about each batch.
final class KnownGroupsWatch: @unchecked Sendable {
  private let lock = NSLock()
  private let follower: PlanFollower
  private var groups = KnownGroups()
  private var lastCatchUp = ContinuousClock.now - .seconds(60)

  init(common: KafkaConfiguration, topic: String, log: PipelineLog) throws(KafkaError) {
    follower = try PlanFollower(common: common, topic: topic, log: log)
    follower.onInForce = { [unowned self] plan in groups.adopt(plan) }
    lock.withLock { _ = follower.catchUp() }
    if !groups.sawPlan {
      log.info(
        "no plan on \(topic) yet: batches are run whatever their group until one is published")
    }
  }

  /// Takes the plans published since the last call; never blocks.
  func follow() {
    lock.withLock { _ = follower.next() }
  }

  /// Why `batch` is not one to run (its group is in none of the recent plans); nil when it is.
  func problem(of batch: BatchMessage) -> String? {
    lock.withLock {
      let apps = batch.requests.map(\.app)
      guard
        let problem = groups.problem(
          group: batch.group, planVersion: batch.planVersion, apps: apps)
      else { return nil }
      // Perhaps a plan this worker has not read yet: read the topic to its end first (at most
      // twice a second, so that a stream of such batches costs little).
      let now = ContinuousClock.now
      guard !groups.knows(version: batch.planVersion), now - lastCatchUp >= .milliseconds(500)
      else { return problem }
      lastCatchUp = now
      _ = follower.catchUp(timeout: .seconds(2))
      return groups.problem(group: batch.group, planVersion: batch.planVersion, apps: apps)
    }
  }
}
