#if canImport(Glibc)
  import Glibc
#endif

/// Seconds since the epoch that never jump: the wall clock read once, then a monotonic clock.
/// Deadlines derive from record timestamps (epoch milliseconds), so the batcher needs the same
/// scale, and must not stall or rush when the wall clock is stepped.
public struct PipelineClock: Sendable {
  private let startMonotonic: UInt64
  private let startEpoch: Double

  public init() {
    startMonotonic = Self.monotonicNanoseconds()
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    startEpoch = Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }

  /// Read once or more per request: straight from the monotonic clock, in whole nanoseconds
  /// (`ContinuousClock.now - start` went through `Duration`'s 128-bit arithmetic).
  public func now() -> Double {
    startEpoch + Double(Self.monotonicNanoseconds() &- startMonotonic) / 1e9
  }

  public func nowMs() -> Int64 { Int64((now() * 1000).rounded()) }

  /// Nanoseconds on the monotonic clock (since an unspecified start; never jumps).
  public static func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
  }
}
