import Foundation

/// The expected billed duration of one invocation whose latency varies as `Latency.drawn(z:)`
/// draws it, billed rounded up to the platform's step (whole seconds on GPU functions; 0 bills
/// the exact duration). Closed forms, so that the planner can tabulate every function and batch
/// fill when it is built.
enum ExpectedBilling {
  /// E[billed(max(avg / 5, avg + σZ))] in seconds.
  static func seconds(_ latency: Latency, step: Double) -> Double {
    let mean = latency.avg
    let floor = latency.floor
    let sigma = latency.spread
    guard sigma > 0 else { return PricingPreset.billed(max(floor, mean), step: step) }
    guard step > 0 else {
      // E[max(a, X)] = a·Φ(α) + μ·(1 − Φ(α)) + σ·φ(α), α = (a − μ)/σ.
      let alpha = (floor - mean) / sigma
      return floor * cdf(alpha) + mean * (1 - cdf(alpha)) + sigma * density(alpha)
    }
    // E[step·⌈Y/step⌉] = step · Σ_{j ≥ 0} P(Y > j·step), with P(Y > t) = 1 below the floor.
    var total = 0.0
    var j = 0.0
    while true {
      let t = j * step
      let above = t < floor ? 1 : 1 - cdf((t - mean) / sigma)
      if t > mean && above < 1e-12 { break }
      total += above
      j += 1
    }
    return total * step
  }

  /// Φ, the standard normal distribution function.
  static func cdf(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

  /// φ, the standard normal density.
  static func density(_ z: Double) -> Double { exp(-z * z / 2) / (2 * Double.pi).squareRoot() }
}
