import Synchronization

/// Counters the router and batcher keep while they run, readable from any thread: for
/// benchmarks, the live view and tests.
public final class PipelineMetrics: Sendable {
  public let routed = Atomic<Int>(0)
  public let deadLetters = Atomic<Int>(0)
  public let batches = Atomic<Int>(0)
  public let dispatched = Atomic<Int>(0)
  public let late = Atomic<Int>(0)
  /// For batches flushed by a wake-up at their deadline: how far behind the computed deadline
  /// the flush ran (ms).
  private let lateness = Mutex<[Double]>([])
  private static let latenessLimit = 1_000_000

  public init() {}

  public func recordFlushLateness(_ milliseconds: Double) {
    lateness.withLock { samples in
      if samples.count < Self.latenessLimit { samples.append(milliseconds) }
    }
  }

  /// Flush lateness samples so far (ms), in the order they happened.
  public var flushLatenessMs: [Double] { lateness.withLock { $0 } }

  /// Requests that left the batcher, in a batch or as a late record.
  public var settled: Int {
    dispatched.load(ordering: .relaxed) + late.load(ordering: .relaxed)
  }
}
