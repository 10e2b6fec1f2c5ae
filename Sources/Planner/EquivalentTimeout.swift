import Foundation

/// The equivalent timeout of a group (Eq. 5, Appendix A): the single timeout that fills a batch as
/// fast, on average, as the group's per-app timeouts do. Built by folding apps in order of timeout.
///
/// The fold only depends on differences between timeouts, so shifting every timeout by δ shifts the
/// result by δ. The planner folds the SLOs once per group and gets the equivalent timeout of
/// `t_w = s_w − L` as `foldedSLOs − L`, with no search.
public struct EquivalentTimeout: Sendable, Equatable {
  /// The folded timeout so far (seconds).
  public private(set) var timeout: Double
  /// The total rate folded so far (requests per second).
  public private(set) var rate: Double
  /// How many apps were folded.
  public private(set) var count: Int

  public init() {
    timeout = 0
    rate = 0
    count = 0
  }

  /// Folds the next app; its timeout must be at least every timeout folded before.
  public mutating func add(timeout next: Double, rate nextRate: Double) {
    defer {
      rate += nextRate
      count += 1
    }
    guard count > 0 else {
      timeout = next
      return
    }
    let total = rate + nextRate
    guard total > 0 else { return }
    let gap = Swift.max(0, next - timeout)
    // (1 − e^{−r·d}) / r, which tends to d as r → 0.
    let fill = rate > 0 ? -expm1(-rate * gap) / rate : gap
    timeout += nextRate / total * fill
  }

  /// The equivalent timeout of (timeout, rate) pairs in any order.
  public static func of(_ apps: [(timeout: Double, rate: Double)]) -> Double {
    var fold = EquivalentTimeout()
    for app in apps.sorted(by: { $0.timeout < $1.timeout }) {
      fold.add(timeout: app.timeout, rate: app.rate)
    }
    return fold.timeout
  }

  /// The largest batch the group can fill within timeout `t` at rate `r`: `⌊r·t⌋ + 1`. The
  /// epsilon keeps `r · ((b − 1) / r)` from flooring to b − 2.
  public static func reachableBatch(rate: Double, timeout: Double) -> Int {
    guard timeout > 0, rate > 0 else { return 1 }
    let product = rate * timeout + 1e-9
    return product >= Double(Int.max / 2) ? Int.max / 2 : Int(product.rounded(.down)) + 1
  }
}
