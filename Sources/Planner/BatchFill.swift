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

extension BatchFill {
  /// E[cost of a batch] / E[requests in a batch] when `mean` requests join a batch's first one
  /// within its window (Poisson) and it holds at most `capacity`: the fill is
  /// `1 + min(N, capacity − 1)`. `invocationCost(k)` is the expected cost of a batch of k. No
  /// allocation: the planner calls it for every candidate function.
  @inline(__always)
  static func expectedPerRequest(
    mean: Double, capacity: Int, invocationCost: (Int) -> Double
  ) -> Double {
    let b = max(1, capacity)
    guard mean.isFinite, mean <= 700, b > 1 else { return invocationCost(b) / Double(b) }
    var term = exp(-mean)  // P(N = 0)
    var below = 0.0
    var cost = 0.0
    var requests = 0.0
    for k in 1..<b {
      if term > 0 {
        cost += term * invocationCost(k)
        requests += term * Double(k)
        below += term
      }
      term *= mean / Double(k)
    }
    let full = max(0, 1 - below)
    cost += full * invocationCost(b)
    requests += full * Double(b)
    return cost / requests
  }
}

extension BatchFill {
  /// The fill of a group whose apps wait different timeouts, as the buffer runs it: a batch
  /// opens with its first request (app i with probability r_i / R) and flushes when it holds
  /// `capacity` or at the earliest deadline of the requests in it. With the opener's timeout
  /// t_i, the flush time T is the first of t_i and every arrival's own deadline `s + t_j`:
  /// P(T > τ) = exp(−Σ_j r_j (τ − t_j)⁺) for τ < t_i. Given T = τ, the requests that joined are
  /// Poisson with mean Σ_j r_j min(τ, t_j), plus the one whose deadline set T when τ < t_i.
  /// Exact for Poisson arrivals (up to `maxClasses` distinct timeouts; beyond, neighbours share
  /// their rate-weighted mean timeout); one app gives `init(rate:window:capacity:)`.
  public init(apps: [(timeout: Double, rate: Double)], capacity: Int) {
    let b = max(1, capacity)
    let apps = Self.classes(of: apps)
    let total = apps.reduce(0) { $0 + $1.rate }
    var probabilities = [Double](repeating: 0, count: b)
    guard total > 0 else {
      probabilities[0] = 1
      self.probabilities = probabilities
      return
    }
    /// Adds `weight` × P(fill = min(b, extra + 1 + Poisson(mean))).
    func add(weight: Double, mean: Double, extra: Int) {
      guard weight > 0 else { return }
      let fixed = BatchFill(rate: 1, window: mean, capacity: max(1, b - extra)).probabilities
      for (index, probability) in fixed.enumerated() {
        probabilities[min(b - 1, index + extra)] += weight * probability
      }
    }
    let joined = { (tau: Double) in apps.reduce(0) { $0 + $1.rate * min(tau, max(0, $1.timeout)) } }
    for opener in apps {
      let share = opener.rate / total
      let limit = max(0, opener.timeout)
      // Pieces of constant hazard: between consecutive timeouts below the opener's.
      var survival = 1.0
      var start = 0.0
      var hazard = 0.0
      var next = 0
      while start < limit {
        while next < apps.count, max(0, apps[next].timeout) <= start {
          hazard += apps[next].rate
          next += 1
        }
        let end = next < apps.count ? min(limit, max(0, apps[next].timeout)) : limit
        if hazard > 0, end > start {
          // Midpoints of 16 slices of the piece, each with its probability of T.
          let slices = 16
          let width = (end - start) / Double(slices)
          var left = survival
          for slice in 0..<slices {
            let tau = start + (Double(slice) + 0.5) * width
            let right = survival * exp(-hazard * (Double(slice + 1) * width))
            add(weight: share * (left - right), mean: joined(tau), extra: 1)
            left = right
          }
          survival = left
        }
        start = end
      }
      add(weight: share * survival, mean: joined(limit), extra: 0)
    }
    self.probabilities = probabilities
  }

  /// The most distinct timeouts `init(apps:capacity:)` works with: its time is quadratic in them.
  static let maxClasses = 32

  /// Apps with a rate, by timeout, those with the same timeout merged; beyond `maxClasses`,
  /// runs of neighbours merged at their rate-weighted mean timeout.
  static func classes(of apps: [(timeout: Double, rate: Double)]) -> [(
    timeout: Double, rate: Double
  )] {
    var merged: [(timeout: Double, rate: Double)] = []
    for app in apps.filter({ $0.rate > 0 }).sorted(by: { $0.timeout < $1.timeout }) {
      if let last = merged.last, last.timeout == app.timeout {
        merged[merged.count - 1].rate += app.rate
      } else {
        merged.append(app)
      }
    }
    guard merged.count > maxClasses else { return merged }
    let size = (merged.count + maxClasses - 1) / maxClasses
    return stride(from: 0, to: merged.count, by: size).map { start in
      let run = merged[start..<min(merged.count, start + size)]
      let rate = run.reduce(0) { $0 + $1.rate }
      return (run.reduce(0) { $0 + $1.timeout * $1.rate } / rate, rate)
    }
  }
}
