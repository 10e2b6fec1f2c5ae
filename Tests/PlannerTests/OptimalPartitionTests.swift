import Testing

@testable import Planner

/// `optimal` is the best of *all* partitions up to `PartitionSearch.maxApps` apps (often not a
/// contiguous SLO range), and beyond that never dearer than the contiguous optimum or the paper's
/// merge it starts from.
@Suite struct OptimalPartitionTests {
  static func contiguousObjective(_ planner: Planner, _ apps: [App]) -> Double {
    let sorted = apps.sorted(by: App.ordered)
    let groups = ContiguousOptimum(provisioner: planner.provisioner, maxSpan: sorted.count)
      .plan(sorted)
    let total = sorted.reduce(0) { $0 + $1.rate }
    return groups.reduce(0) { $0 + $1.weightedCost } / total
  }

  @Test(arguments: ModelProfile.paperModelNames)
  func upToTwelveAppsOptimalIsTheBestOfAllPartitions(model: String) throws {
    let planner = try Planner(model: model)
    let generator = WorkloadGenerator(sloRange: WorkloadGenerator.paperSLORange(model: model))
    var random = SeededRandom(seed: 17)
    var nonContiguous = 0
    for round in 0..<24 {
      let apps = generator.apps(count: 6 + round % 7, using: &random)
      let plan = try planner.plan(apps, algorithm: .optimal)
      PlanPropertyTests.checkConstraints(plan, apps: apps, planner: planner)
      let best = try #require(planner.bestPartitionObjective(apps))
      #expect(abs(plan.objective / best - 1) < 1e-9, "round \(round): \(plan.objective) vs \(best)")
      let contiguous = Self.contiguousObjective(planner, apps)
      #expect(plan.objective <= contiguous * (1 + 1e-9))
      if plan.objective < contiguous * (1 - 1e-9) { nonContiguous += 1 }
    }
    // Some of these workloads are served cheaper by groups that are not SLO ranges, or the
    // exact search proves nothing the contiguous optimum did not already find.
    #expect(nonContiguous > 0, "\(model): no workload where the best grouping is not contiguous")
  }

  @Test(arguments: ModelProfile.paperModelNames)
  func beyondTwelveAppsLocalSearchOnlyImproves(model: String) throws {
    let planner = try Planner(model: model)
    let generator = WorkloadGenerator(sloRange: WorkloadGenerator.paperSLORange(model: model))
    var random = SeededRandom(seed: 29)
    for round in 0..<6 {
      let apps = generator.apps(count: round < 3 ? 14 : 40, using: &random)
      let plan = try planner.plan(apps, algorithm: .optimal)
      PlanPropertyTests.checkConstraints(plan, apps: apps, planner: planner)
      #expect(Set(plan.groups.flatMap(\.apps)).count == apps.count - plan.infeasible.count)
      #expect(plan.objective <= Self.contiguousObjective(planner, apps) * (1 + 1e-9))
      let harmony = try planner.plan(apps, algorithm: .harmony).objective
      #expect(plan.objective <= harmony * (1 + 1e-9))
      if apps.count <= PartitionSearch.maxYardstickApps {
        let best = try #require(planner.bestPartitionObjective(apps))
        #expect(best <= plan.objective * (1 + 1e-9))
      }
    }
  }
}
