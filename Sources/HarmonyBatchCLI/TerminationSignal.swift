import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// SIGINT and SIGTERM as a value: loops check `isRequested`, async code awaits `wait()`.
/// Installing it replaces the default "die at once" so that services can drain and leave cleanly.
// @unchecked: `sources` is written once in init and afterwards only kept alive.
public final class TerminationSignal: @unchecked Sendable {
  private let requested = Atomic<Int32>(0)
  private let waiters = Mutex<(list: [Int: CheckedContinuation<Int32?, Never>], next: Int)>(
    ([:], 0))
  private var sources: [any DispatchSourceSignal] = []

  public init() {
    let queue = DispatchQueue(label: "harmonybatch-signals")
    var made: [any DispatchSourceSignal] = []
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler { [weak self] in self?.fire(number) }
      source.resume()
      made.append(source)
    }
    sources = made
  }

  /// The signal that asked us to stop, or nil.
  public var signalNumber: Int32? {
    let value = requested.load(ordering: .acquiring)
    return value == 0 ? nil : value
  }

  public var isRequested: Bool { signalNumber != nil }

  /// Returns the signal number once SIGINT or SIGTERM arrives, or nil when the waiting task is
  /// cancelled first (a service that failed must not leave its process waiting for a signal).
  public func wait() async -> Int32? {
    let id = Atomic<Int>(0)
    return await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
        let already: Int32?? = waiters.withLock { state in
          if let number = signalNumber { return .some(number) }
          if Task.isCancelled { return .some(nil) }
          state.next += 1
          id.store(state.next, ordering: .releasing)
          state.list[state.next] = continuation
          return .none
        }
        if let already { continuation.resume(returning: already) }
      }
    } onCancel: {
      let waiting = waiters.withLock { $0.list.removeValue(forKey: id.load(ordering: .acquiring)) }
      waiting?.resume(returning: nil)
    }
  }

  /// Asks for termination as a signal would (used by `--duration` limits and tests).
  public func fire(_ number: Int32) {
    let resumed: [CheckedContinuation<Int32?, Never>] = waiters.withLock { state in
      guard
        requested.compareExchange(expected: 0, desired: number, ordering: .acquiringAndReleasing)
          .exchanged
      else { return [] }
      defer { state.list.removeAll() }
      return Array(state.list.values)
    }
    for waiter in resumed { waiter.resume(returning: number) }
  }

  public static func name(_ number: Int32) -> String {
    switch number {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    default: "signal \(number)"
    }
  }
}
