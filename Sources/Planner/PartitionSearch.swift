/// The best of *all* partitions of the apps into groups (not only contiguous SLO ranges), by
/// dynamic programming over subsets: the cheapest partition of a set is its cheapest block
/// holding the set's first app plus the cheapest partition of the rest. Each subset is
/// provisioned once (2ⁿ calls) and the blocks are walked as submasks (3ⁿ steps): 12 apps take
/// about a millisecond, 16 about a second, so `optimal` uses it up to `maxApps` and contiguous
/// dynamic programming with `LocalSearch` beyond.
struct PartitionSearch: Sendable {
  /// The most apps searched exactly when planning.
  static let maxApps = 12
  /// The most apps the yardstick (`Planner.bestPartitionObjective`, tests, `bench planner`)
  /// searches.
  static let maxYardstickApps = 15

  let provisioner: Provisioner
  let search: Provisioner.Search = .exhaustive

  /// The cheapest partition of `apps` (feasible on their own, in planner order) by
  /// `Σ R_X · C_X`; nil for more than `limit` apps.
  func plan(_ apps: [App], limit: Int = maxApps) -> [GroupAssignment]? {
    guard apps.count <= limit else { return nil }
    guard !apps.isEmpty else { return [] }
    let count = apps.count
    let full = (1 << count) - 1
    // Weighted cost of every subset, built by adding the subset's apps in planner order.
    var blockCost = [Double](repeating: .infinity, count: full + 1)
    var blockChoice = [Provisioner.Choice?](repeating: nil, count: full + 1)
    for mask in 1...full {
      var load = GroupLoad()
      for index in 0..<count where mask & (1 << index) != 0 { load.add(apps[index]) }
      if let choice = provisioner.provision(load, search: search) {
        blockCost[mask] = load.rate * choice.objectiveCost
        blockChoice[mask] = choice
      }
    }
    var best = [Double](repeating: .infinity, count: full + 1)
    var firstBlock = [Int](repeating: 0, count: full + 1)
    best[0] = 0
    for mask in 1...full {
      let lowest = mask & -mask
      let rest = mask ^ lowest
      var sub = rest
      while true {
        let block = sub | lowest
        let value = blockCost[block] + best[mask ^ block]
        if value < best[mask] {
          best[mask] = value
          firstBlock[mask] = block
        }
        if sub == 0 { break }
        sub = (sub - 1) & rest
      }
    }
    guard best[full].isFinite else { return nil }
    var groups: [GroupAssignment] = []
    var left = full
    while left != 0 {
      let block = firstBlock[left]
      let members = (0..<count).filter { block & (1 << $0) != 0 }.map { apps[$0] }
      groups.append(GroupAssignment(members: members, choice: blockChoice[block]!))
      left ^= block
    }
    return groups
  }

  /// The lowest `Σ R_X · C_X / Σ r` over every partition; nil for more than
  /// `maxYardstickApps` apps or an app no function can serve.
  func objective(_ apps: [App]) -> Double? {
    let sorted = apps.sorted(by: App.ordered)
    guard let groups = plan(sorted, limit: Self.maxYardstickApps) else { return nil }
    let total = sorted.reduce(0) { $0 + $1.rate }
    return total > 0 ? groups.reduce(0) { $0 + $1.weightedCost } / total : 0
  }
}
