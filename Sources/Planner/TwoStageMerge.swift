/// HarmonyBatch's grouping (Alg. 1, model reference §6): start with one group per app in SLO
/// order; stage 1 walks the list and accumulates runs of consecutive CPU groups, and tries to
/// merge a run once its rate passes the knee rate of the run's head; stage 2 merges adjacent
/// pairs with a GPU side while that lowers the rate-weighted cost.
///
/// A run whose merge is rejected keeps only its head apart: the walk goes on from the next group,
/// so the apps behind a tight head still get their own run (a run that never reaches its head's
/// knee stays apart as a whole, model reference §11).
///
/// A merge is accepted when `η_new · C_new < Σ η_part · C_part` with `η_new = Σ η_part` (the
/// authors' cleaned-up code starts the merged weight at 1, which blocks almost every merge).
struct TwoStageMerge: Sendable {
  let provisioner: Provisioner
  let search: Provisioner.Search = .paper

  /// `apps` are feasible on their own and in planner order.
  func plan(_ apps: [App]) -> [GroupAssignment] {
    let knee = KneeRate(provisioner: provisioner, search: search)
    var kneeBySLO: [Double: Double] = [:]
    var groups = apps.map { app in
      GroupAssignment(members: [app], choice: provisioner.provision([app], search: search)!)
    }

    // Stage 1: runs of CPU groups.
    var stageOne: [GroupAssignment] = []
    var start = 0
    while start < groups.count {
      guard groups[start].function.kind == .cpu else {
        stageOne.append(groups[start])
        start += 1
        continue
      }
      let headSLO = groups[start].members[0].slo
      let threshold =
        kneeBySLO[headSLO]
        ?? {
          let rate = knee.rate(slo: headSLO)
          kneeBySLO[headSLO] = rate
          return rate
        }()
      var end = start
      var runRate = 0.0
      while end < groups.count, groups[end].function.kind == .cpu {
        runRate += groups[end].rate
        end += 1
        if runRate > threshold { break }
      }
      guard runRate > threshold, end - start >= 2 else {
        // The run ended (a GPU group or the list's end) below its head's knee: it stays apart.
        stageOne.append(contentsOf: groups[start..<end])
        start = end
        continue
      }
      if let merged = merge(Array(groups[start..<end])) {
        stageOne.append(merged)
        start = end
      } else {
        // Rejected: only the head stays alone; the walk goes on from the next group, which
        // starts a run of its own against its own knee (as stage 2 moves one neighbour on).
        stageOne.append(groups[start])
        start += 1
      }
    }
    groups = stageOne

    // Stage 2: adjacent pairs with a GPU side; after a merge, try the next neighbour.
    var index = 0
    while index + 1 < groups.count {
      if groups[index].function.kind == .gpu || groups[index + 1].function.kind == .gpu,
        let merged = merge([groups[index], groups[index + 1]])
      {
        groups[index] = merged
        groups.remove(at: index + 1)
        continue
      }
      index += 1
    }
    return groups
  }

  /// The parts as one group, if that is strictly cheaper weighted by rate.
  private func merge(_ parts: [GroupAssignment]) -> GroupAssignment? {
    let members = parts.flatMap(\.members)
    guard let choice = provisioner.provision(members, search: search) else { return nil }
    let merged = GroupAssignment(members: members, choice: choice)
    let apart = parts.reduce(0) { $0 + $1.weightedCost }
    return merged.weightedCost < apart ? merged : nil
  }
}
