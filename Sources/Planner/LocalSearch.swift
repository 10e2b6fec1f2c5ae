/// Improves a partition by local moves until none helps (or `maxPasses` passes): move one app to
/// another group or to a group of its own, or swap two apps of different groups; a move is taken
/// when it lowers `Σ R_X · C_X`. Started from the best contiguous partition, it finds the
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
    var members = groups.map(\.members)
    var costs = members.map(weightedCost)
    let appCount = members.reduce(0) { $0 + $1.count }
    for _ in 0..<maxPasses {
      var improved = false
      // Moves: each app to every other group, or alone.
      var from = 0
      while from < members.count {
        var index = 0
        while index < members[from].count {
          let app = members[from][index]
          var left = members[from]
          left.remove(at: index)
          let leftCost = left.isEmpty ? 0 : weightedCost(left)
          var bestGain = 1e-12 * (costs[from] + 1e-300)
          var bestTarget: Int?
          var bestTargetCost = 0.0
          for to in members.indices where to != from {
            let joined = members[to] + [app]
            let gain = costs[from] + costs[to] - leftCost - weightedCost(joined)
            if gain > bestGain {
              bestGain = gain
              bestTarget = to
              bestTargetCost = weightedCost(joined)
            }
          }
          if members[from].count > 1 {
            let alone = weightedCost([app])
            let gain = costs[from] - leftCost - alone
            if gain > bestGain {
              bestGain = gain
              bestTarget = members.count
              bestTargetCost = alone
            }
          }
          guard let to = bestTarget, leftCost.isFinite else {
            index += 1
            continue
          }
          improved = true
          if to == members.count {
            members.append([app])
            costs.append(bestTargetCost)
          } else {
            members[to].append(app)
            costs[to] = bestTargetCost
          }
          members[from] = left
          costs[from] = leftCost
          if left.isEmpty { break }
        }
        if members[from].isEmpty {
          members.remove(at: from)
          costs.remove(at: from)
        } else {
          from += 1
        }
      }
      // Swaps: two apps of different groups trade places.
      if appCount <= maxAppsForSwaps {
        for first in members.indices {
          for second in members.indices where second > first {
            var swapped = true
            while swapped {
              swapped = false
              search: for i in members[first].indices {
                for j in members[second].indices {
                  var a = members[first]
                  var b = members[second]
                  (a[i], b[j]) = (b[j], a[i])
                  let costA = weightedCost(a)
                  let costB = weightedCost(b)
                  let before = costs[first] + costs[second]
                  if before - costA - costB > 1e-12 * before {
                    members[first] = a
                    members[second] = b
                    costs[first] = costA
                    costs[second] = costB
                    improved = true
                    swapped = true
                    break search
                  }
                }
              }
            }
          }
        }
      }
      // Two groups together re-partitioned exactly, when they are small enough (this takes any
      // mix of moves, swaps, splits and merges between them).
      if members.count <= maxGroupsForPairs {
        var first = 0
        while first < members.count {
          var second = first + 1
          while second < members.count {
            let union = (members[first] + members[second]).sorted(by: App.ordered)
            let before = costs[first] + costs[second]
            var better: [(members: [App], cost: Double)]?
            if union.count <= PartitionSearch.maxApps {
              if let best = PartitionSearch(provisioner: provisioner).plan(union),
                before - best.reduce(0, { $0 + $1.weightedCost }) > 1e-12 * before
              {
                better = best.map { ($0.members, $0.weightedCost) }
              }
            } else if union.count <= maxAppsForSplits, appCount <= maxAppsForSplits * 3,
              let split = bestSplit(union), before - split.cost > 1e-12 * before
            {
              better = split.groups
            }
            if let better {
              members.remove(at: second)
              costs.remove(at: second)
              members.remove(at: first)
              costs.remove(at: first)
              for group in better {
                members.append(group.members)
                costs.append(group.cost)
              }
              improved = true
              continue
            }
            second += 1
          }
          first += 1
        }
      }
      // Merges: two groups become one.
      var first = 0
      while first < members.count {
        var merged = false
        for second in members.indices where second > first {
          let joined = members[first] + members[second]
          let cost = weightedCost(joined)
          let before = costs[first] + costs[second]
          if before - cost > 1e-12 * before {
            members[first] = joined
            costs[first] = cost
            members.remove(at: second)
            costs.remove(at: second)
            improved = true
            merged = true
            break
          }
        }
        if !merged { first += 1 }
      }
      if !improved { break }
    }
    return members.map { group in
      GroupAssignment(members: group, choice: provisioner.provision(group, search: search)!)
    }
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
    provisioner.provision(load, search: search).map { load.rate * $0.costPerRequest }
  }

  /// `R_X · C_X` of a group (infinite when no function serves it).
  private func weightedCost(_ group: [App]) -> Double {
    let load = GroupLoad(group)
    guard let choice = provisioner.provision(load, search: search) else { return .infinity }
    return load.rate * choice.costPerRequest
  }
}
