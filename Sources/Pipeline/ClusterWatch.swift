import Foundation
import Kafka
import PipelineCore
import Synchronization

/// Whether a stage's Kafka cluster is reachable: a thread of its own asks a broker for metadata
/// every few seconds (librdkafka retries for ever and only logs), and the stage's loop calls
/// `check()`. Unreachable past a tenth of `timeout` (`KafkaConfiguration.unreachableTimeout`; at
/// least 5 s): said once, loudly — the service is unhealthy. Past `timeout`: `check()` throws, the
/// stage stops and its process exits 1, instead of logging "Connection refused" for ever.
final class ClusterWatch: Sendable {
  private let producer: KafkaProducer
  private let log: PipelineLog
  /// Seconds, like the clock it is compared with.
  private let timeout: Double
  private let unhealthyAfter: Double
  private let state: Mutex<(lastReachable: ContinuousClock.Instant, unhealthy: Bool)>
  private let stopped = Atomic<Bool>(false)
  private let done = DispatchSemaphore(value: 0)

  /// `interval`: how often a broker is asked.
  init(
    producer: KafkaProducer, timeout: Duration, log: PipelineLog, interval: Duration = .seconds(2)
  ) {
    self.producer = producer
    self.log = log
    let seconds = max(1, timeout.seconds)
    self.timeout = seconds
    unhealthyAfter = min(seconds, max(5, seconds / 10))
    state = Mutex((ContinuousClock.now, false))
    let probe = Thread { [self] in
      while !stopped.load(ordering: .acquiring) {
        if producer.clusterReachable(timeoutMs: interval.wholeMilliseconds) {
          state.withLock { $0.lastReachable = .now }
        }
        Thread.sleep(forTimeInterval: interval.seconds)
      }
      done.signal()
    }
    probe.name = "hb-cluster-watch"
    probe.start()
  }

  /// Whether the cluster has been out of reach long enough to call the service unhealthy.
  var isUnhealthy: Bool { state.withLock { $0.unhealthy } }

  /// Throws once the cluster has been out of reach for the whole timeout.
  func check() throws(KafkaError) {
    let (silent, changed): (Double, Bool?) = state.withLock { state in
      let silent = (ContinuousClock.now - state.lastReachable).seconds
      let unhealthy = silent > unhealthyAfter
      defer { state.unhealthy = unhealthy }
      return (silent, unhealthy != state.unhealthy ? unhealthy : nil)
    }
    if changed == true {
      log.error(
        String(
          format:
            "unhealthy: no broker of the Kafka cluster has answered for %.0f s; exiting if none "
            + "does within %.0f s", silent, timeout))
    } else if changed == false {
      log.info("the Kafka cluster is reachable again")
    }
    if silent > timeout {
      throw KafkaError(
        .timeout, String(format: "the Kafka cluster was unreachable for %.0f s", silent))
    }
  }

  func stop() {
    guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
    done.wait()
  }
}
