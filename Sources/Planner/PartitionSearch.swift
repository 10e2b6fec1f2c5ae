/// The best of *all* partitions of the apps (not only contiguous ones), by enumerating every set
/// partition (Bell(n): 4,140 for 8 apps). Exponential: a yardstick for tests and
/// `bench planner`, never a planning algorithm.
public struct PartitionSearch: Sendable {
  public static let maxApps = 10

  let provisioner: Provisioner
  let search: Provisioner.Search = .exhaustive

  /// The lowest `Σ R_X · C_X / Σ r` over every partition; nil for more than `maxApps` apps or an
  /// app no function can serve.
  func objective(_ apps: [App]) -> Double? {
    guard apps.count <= Self.maxApps, !apps.isEmpty else { return apps.isEmpty ? 0 : nil }
    let sorted = apps.sorted(by: App.ordered)
    let total = sorted.reduce(0) { $0 + $1.rate }
    // Weighted cost of every subset (bit mask), memoised: 2^n provisioning calls.
    var subsetCost = Array(repeating: Double.nan, count: 1 << sorted.count)
    func cost(_ mask: Int) -> Double {
      if !subsetCost[mask].isNaN { return subsetCost[mask] }
      var load = GroupLoad()
      for index in sorted.indices where mask & (1 << index) != 0 { load.add(sorted[index]) }
      let value =
        provisioner.provision(load, search: search).map { load.rate * $0.costPerRequest }
        ?? .infinity
      subsetCost[mask] = value
      return value
    }
    // best[mask]: cheapest partition of `mask`; the block holding its lowest app is chosen first.
    let full = (1 << sorted.count) - 1
    var best = Array(repeating: Double.infinity, count: full + 1)
    best[0] = 0
    for mask in 1...full {
      let lowest = mask & -mask
      let rest = mask ^ lowest
      var sub = rest
      while true {
        let block = sub | lowest
        let value = cost(block) + best[mask ^ block]
        if value < best[mask] { best[mask] = value }
        if sub == 0 { break }
        sub = (sub - 1) & rest
      }
    }
    guard best[full].isFinite else { return nil }
    return total > 0 ? best[full] / total : 0
  }
}
