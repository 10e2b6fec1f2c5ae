/// The cheapest partition of the SLO-sorted apps into contiguous groups, by dynamic programming
/// over segments: `best[j] = min over i < j of best[i] + R(i..<j) · C(i..<j)`. Each segment's load
/// extends the previous one by one app, and provisioning is table look-ups, so this is O(n²)
/// cheap calls; `maxSpan` caps how many apps one group may hold for very large n.
///
/// Contiguous grouping is within a fraction of a percent of the best of all partitions (model
/// reference §11); the brute force in `PartitionSearch` measures it.
struct ContiguousOptimum: Sendable {
  let provisioner: Provisioner
  let search: Provisioner.Search = .exhaustive
  let maxSpan: Int

  /// `apps` are feasible on their own and in planner order.
  func plan(_ apps: [App]) -> [GroupAssignment] {
    let count = apps.count
    guard count > 0 else { return [] }
    var best = Array(repeating: Double.infinity, count: count + 1)
    var cut = Array(repeating: 0, count: count + 1)
    best[0] = 0
    for start in 0..<count {
      let base = best[start]
      guard base.isFinite else { continue }
      var load = GroupLoad()
      for end in start..<min(count, start + maxSpan) {
        load.add(apps[end])
        guard let choice = provisioner.provision(load, search: search) else { break }
        let total = base + load.rate * choice.objectiveCost
        if total < best[end + 1] {
          best[end + 1] = total
          cut[end + 1] = start
        }
      }
    }
    var groups: [GroupAssignment] = []
    var end = count
    while end > 0 {
      let start = cut[end]
      let members = Array(apps[start..<end])
      groups.append(
        GroupAssignment(members: members, choice: provisioner.provision(members, search: search)!))
      end = start
    }
    return groups.reversed()
  }
}
