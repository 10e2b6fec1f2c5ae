import Foundation
import Logging
import Synchronization

/// A dedicated thread that calls `body` until stopped: librdkafka's blocking polls live here,
/// never on Swift's cooperative thread pool.
final class BackgroundPoller: Sendable {
  private let running = Atomic<Bool>(true)
  private let finished = DispatchSemaphore(value: 0)

  init(name: String, body: @escaping @Sendable () -> Void) {
    // The thread keeps the poller alive until `stop()`; the poller's owner calls it.
    let thread = Thread { [self] in
      KernelThreadName.set(name)
      while running.load(ordering: .acquiring) { body() }
      finished.signal()
    }
    thread.name = name
    thread.start()
  }

  /// Stops the thread and waits for its current `body` call to return. Idempotent.
  func stop() {
    if running.exchange(false, ordering: .acquiringAndReleasing) { finished.wait() }
  }
}
