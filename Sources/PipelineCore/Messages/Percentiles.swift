import Foundation
import Planner

/// A distribution summarised (same unit as the samples).
public struct Percentiles: Codable, Sendable, Equatable {
  public var p50: Double
  public var p95: Double
  public var p99: Double
  public var max: Double
  public var count: Int

  public init(p50: Double, p95: Double, p99: Double, max: Double, count: Int) {
    self.p50 = p50
    self.p95 = p95
    self.p99 = p99
    self.max = max
    self.count = count
  }

  /// The summary of `samples`, or nil when there are none. Nearest rank: the smallest sample
  /// with at least q of them at or below it.
  public static func of(_ samples: [Double]) -> Percentiles? {
    guard !samples.isEmpty else { return nil }
    let sorted = samples.sorted()
    return Percentiles(
      p50: Quantile.nearestRank(sorted, 0.5), p95: Quantile.nearestRank(sorted, 0.95),
      p99: Quantile.nearestRank(sorted, 0.99), max: sorted[sorted.count - 1], count: sorted.count)
  }
}
