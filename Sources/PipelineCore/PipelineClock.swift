#if canImport(Glibc)
  import Glibc
#endif

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
