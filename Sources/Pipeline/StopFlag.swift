import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Asks a running service to stop: it stops taking input, finishes what it holds, commits and
/// leaves. Set from a signal handler or a test.
public final class StopFlag: Sendable {
  private let flag = Atomic<Bool>(false)

  public init() {}

  public var isSet: Bool { flag.load(ordering: .acquiring) }

  public func set() { flag.store(true, ordering: .releasing) }
}

/// Seconds since the epoch that never jump: the wall clock read once, then a monotonic clock.
/// Deadlines derive from record timestamps (epoch milliseconds), so the batcher needs the same
/// scale, and must not stall or rush when the wall clock is stepped.
public struct PipelineClock: Sendable {
  private let start: ContinuousClock.Instant
  private let startEpoch: Double

  public init() {
    start = ContinuousClock.now
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    startEpoch = Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }

  public func now() -> Double {
    let (seconds, attoseconds) = (ContinuousClock.now - start).components
    return startEpoch + Double(seconds) + Double(attoseconds) / 1e18
  }

  public func nowMs() -> Int64 { Int64((now() * 1000).rounded()) }
}
