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
  private let waiters = Mutex<[CheckedContinuation<Int32, Never>]>([])
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

  /// Returns the signal number once SIGINT or SIGTERM arrives.
  public func wait() async -> Int32 {
    await withCheckedContinuation { continuation in
      let already: Int32? = waiters.withLock { list in
        if let number = signalNumber { return number }
        list.append(continuation)
        return nil
      }
      if let already { continuation.resume(returning: already) }
    }
  }

  /// Asks for termination as a signal would (used by `--duration` limits and tests).
  public func fire(_ number: Int32) {
    let resumed: [CheckedContinuation<Int32, Never>] = waiters.withLock { list in
      guard
        requested.compareExchange(expected: 0, desired: number, ordering: .acquiringAndReleasing)
          .exchanged
      else { return [] }
      defer { list.removeAll() }
      return list
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
