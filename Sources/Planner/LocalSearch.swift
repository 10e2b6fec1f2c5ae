/// Improves a partition by local moves until none helps (or `maxPasses` passes): move one app to
/// another group or to a group of its own, swap two apps of different groups, re-partition two
/// groups exactly, merge two groups; a move is taken when it lowers `Σ R_X · C_X`. Started from the best contiguous partition, it finds the
/// non-contiguous groupings that pay (a busy app with a middle SLO that fills batches best beside
/// others) when there are too many apps to search every partition (`PartitionSearch`).
struct LocalSearch: Sendable {
  let provisioner: Provisioner
  let search: Provisioner.Search = .exhaustive
  var maxPasses = 8
  /// Swaps are tried only up to this many apps (they cost a pass n² evaluations).
  var maxAppsForSwaps = 60
  /// Pairs of groups are re-partitioned exactly only up to this many groups.
  var maxGroupsForPairs = 40
  /// Two groups of more than `PartitionSearch.maxApps` apps together are split two ways exactly
  /// (2ⁿ⁻¹ splits) up to this many apps, and only in plans of at most three times as many.
  var maxAppsForSplits = 16

  func improve(_ groups: [GroupAssignment]) -> [GroupAssignment] {
    var partition = Partition(members: groups.map(\.members), costs: [])
    partition.costs = partition.members.map(weightedCost)
    let appCount = partition.members.reduce(0) { $0 + $1.count }
    for _ in 0..<maxPasses {
      var improved = moveApps(&partition)
      if appCount <= maxAppsForSwaps { improved = swapApps(&partition) || improved }
      if partition.members.count <= maxGroupsForPairs {
        improved = repartitionPairs(&partition, appCount: appCount) || improved
      }
      improved = mergeGroups(&partition) || improved
      if !improved { break }
    }
    return partition.members.map { group in
      GroupAssignment(members: group, choice: provisioner.provision(group, search: search)!)
    }
  }

  /// Groups and their `R_X · C_X`, side by side.
  private struct Partition {
    var members: [[App]]
    var costs: [Double]

    mutating func remove(at index: Int) {
      members.remove(at: index)
      costs.remove(at: index)
    }

    mutating func append(_ group: [App], cost: Double) {
      members.append(group)
      costs.append(cost)
    }
  }

  /// Whether `after` is cheaper than `before` by more than rounding.
  private func saves(_ before: Double, _ after: Double) -> Bool {
    before - after > 1e-12 * before
  }

  /// Each app to the other group (or a group of its own) where it saves most, if any.
  private func moveApps(_ partition: inout Partition) -> Bool {
    var improved = false
    var from = 0
    while from < partition.members.count {
      var index = 0
      while index < partition.members[from].count {
        let app = partition.members[from][index]
        var left = partition.members[from]
        left.remove(at: index)
        let leftCost = left.isEmpty ? 0 : weightedCost(left)
        let before = partition.costs[from]
        var best: (target: Int, cost: Double, gain: Double)?
        for to in partition.members.indices where to != from {
          let cost = weightedCost(partition.members[to] + [app])
          let gain = before + partition.costs[to] - leftCost - cost
          if gain > (best?.gain ?? 1e-12 * before) { best = (to, cost, gain) }
        }
        if partition.members[from].count > 1 {
          let cost = weightedCost([app])
          let gain = before - leftCost - cost
          if gain > (best?.gain ?? 1e-12 * before) { best = (partition.members.count, cost, gain) }
        }
        guard let best, leftCost.isFinite else {
          index += 1
          continue
        }
        improved = true
        if best.target == partition.members.count {
          partition.append([app], cost: best.cost)
        } else {
          partition.members[best.target].append(app)
          partition.costs[best.target] = best.cost
        }
        partition.members[from] = left
        partition.costs[from] = leftCost
        if left.isEmpty { break }
      }
      if partition.members[from].isEmpty {
        partition.remove(at: from)
      } else {
        from += 1
      }
    }
    return improved
  }

  /// Two apps of different groups trade places, while that saves.
  private func swapApps(_ partition: inout Partition) -> Bool {
    var improved = false
    for first in partition.members.indices {
      for second in partition.members.indices where second > first {
        var swapped = true
        while swapped {
          swapped = false
          pairs: for i in partition.members[first].indices {
            for j in partition.members[second].indices {
              var a = partition.members[first]
              var b = partition.members[second]
              (a[i], b[j]) = (b[j], a[i])
              let costA = weightedCost(a)
              let costB = weightedCost(b)
              guard saves(partition.costs[first] + partition.costs[second], costA + costB)
              else { continue }
              partition.members[first] = a
              partition.members[second] = b
              partition.costs[first] = costA
              partition.costs[second] = costB
              improved = true
              swapped = true
              break pairs
            }
          }
        }
      }
    }
    return improved
  }

  /// Two groups together re-partitioned exactly when they are small enough — every partition up
  /// to `PartitionSearch.maxApps` apps, every two-way split up to `maxAppsForSplits` (this takes
  /// any mix of moves, swaps, splits and merges between them).
  private func repartitionPairs(_ partition: inout Partition, appCount: Int) -> Bool {
    var improved = false
    var first = 0
    while first < partition.members.count {
      var second = first + 1
      while second < partition.members.count {
        let union = (partition.members[first] + partition.members[second]).sorted(by: App.ordered)
        let before = partition.costs[first] + partition.costs[second]
        var better: [(members: [App], cost: Double)]?
        if union.count <= PartitionSearch.maxApps {
          if let best = PartitionSearch(provisioner: provisioner).plan(union),
            saves(before, best.reduce(0) { $0 + $1.weightedCost })
          {
            better = best.map { ($0.members, $0.weightedCost) }
          }
        } else if union.count <= maxAppsForSplits, appCount <= maxAppsForSplits * 3,
          let split = bestSplit(union), saves(before, split.cost)
        {
          better = split.groups
        }
        guard let better else {
          second += 1
          continue
        }
        partition.remove(at: second)
        partition.remove(at: first)
        for group in better { partition.append(group.members, cost: group.cost) }
        improved = true
      }
      first += 1
    }
    return improved
  }

  /// Two groups become one, while that saves.
  private func mergeGroups(_ partition: inout Partition) -> Bool {
    var improved = false
    var first = 0
    while first < partition.members.count {
      var merged = false
      for second in partition.members.indices where second > first {
        let joined = partition.members[first] + partition.members[second]
        let cost = weightedCost(joined)
        guard saves(partition.costs[first] + partition.costs[second], cost) else { continue }
        partition.members[first] = joined
        partition.costs[first] = cost
        partition.remove(at: second)
        improved = true
        merged = true
        break
      }
      if !merged { first += 1 }
    }
    return improved
  }

  /// The cheapest way to hold `apps` (in planner order) in one group or two: every two-way
  /// split, 2ⁿ⁻¹ of them (the first app's side fixed).
  private func bestSplit(_ apps: [App]) -> (groups: [(members: [App], cost: Double)], cost: Double)?
  {
    let count = apps.count
    var best: (mask: Int, cost: Double, a: Double, b: Double)?
    for rest in 0..<(1 << (count - 1)) {
      let mask = (rest << 1) | 1
      var a = GroupLoad()
      var b = GroupLoad()
      for index in 0..<count {
        if mask & (1 << index) != 0 { a.add(apps[index]) } else { b.add(apps[index]) }
      }
      guard let costA = cost(a) else { continue }
      let costB = b.count == 0 ? 0 : (cost(b) ?? .infinity)
      if costA + costB < (best?.cost ?? .infinity) { best = (mask, costA + costB, costA, costB) }
    }
    guard let best else { return nil }
    let inA = (0..<count).filter { best.mask & (1 << $0) != 0 }.map { apps[$0] }
    let inB = (0..<count).filter { best.mask & (1 << $0) == 0 }.map { apps[$0] }
    var groups = [(members: inA, cost: best.a)]
    if !inB.isEmpty { groups.append((members: inB, cost: best.b)) }
    return (groups, best.cost)
  }

  private func cost(_ load: GroupLoad) -> Double? {
    provisioner.provision(load, search: search).map { load.rate * $0.objectiveCost }
  }

  /// `R_X · C_X` of a group (infinite when no function serves it).
  private func weightedCost(_ group: [App]) -> Double {
    cost(GroupLoad(group)) ?? .infinity
  }
}
