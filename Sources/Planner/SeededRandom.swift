import Foundation

/// A small, fast, seedable random number generator (SplitMix64), so that generated workloads and
/// simulations repeat exactly for the same seed on every platform.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1).
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

  /// A standard normal draw (Box–Muller).
  public mutating func normal() -> Double {
    let u = Swift.max(unit(), 1e-300)
    return (-2 * log(u)).squareRoot() * cos(2 * .pi * unit())
  }

  /// The gap to the next arrival of a Poisson process with `rate` per second (infinite at 0).
  public mutating func exponential(rate: Double) -> Double {
    guard rate > 0 else { return .infinity }
    return -log(Swift.max(unit(), 1e-300)) / rate
  }
}
