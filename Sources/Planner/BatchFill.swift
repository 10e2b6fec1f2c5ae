import Foundation

/// How many requests a group's batch holds when it flushes, under Poisson arrivals (model
/// reference §2): a batch opens with its first request and flushes when it holds `capacity` or
/// when the group's equivalent timeout `window` has passed since it opened, whichever is first.
/// The requests that join it follow a Poisson count of mean `rate · window`, so the fill is
/// `1 + min(N, capacity − 1)`. (The equivalent timeout stands for the per-app timeouts, as in the
/// planner's constraint (9).)
public struct BatchFill: Sendable, Equatable {
  /// P(fill = k) at index k − 1, k = 1…capacity.
  public let probabilities: [Double]

  public init(rate: Double, window: Double, capacity: Int) {
    let b = max(1, capacity)
    let mean = max(0, rate) * max(0, window)
    var probabilities = [Double](repeating: 0, count: b)
    var term = exp(-mean)  // P(N = 0)
    var below = 0.0
    for k in 0..<(b - 1) {
      probabilities[k] = term
      below += term
      term *= mean / Double(k + 1)
    }
    probabilities[b - 1] = max(0, 1 - below)
    if !mean.isFinite || mean > 700 {
      // exp(−mean) underflows: the batch is always full.
      probabilities = [Double](repeating: 0, count: b)
      probabilities[b - 1] = 1
    }
    self.probabilities = probabilities
  }

  /// The mean number of requests per batch.
  public var expected: Double {
    probabilities.enumerated().reduce(0) { $0 + Double($1.offset + 1) * $1.element }
  }

  /// The mean of `value(k)` over the fill k.
  public func mean(_ value: (Int) -> Double) -> Double {
    probabilities.enumerated().reduce(0) { sum, entry in
      entry.element > 0 ? sum + entry.element * value(entry.offset + 1) : sum
    }
  }
}
