import Foundation
import Testing
import WaitSupport

@testable import Planner

/// Properties every plan must have, over seeded random app sets of every built-in model.
@Suite(.serialized, .computesLong) struct PlanPropertyTests {
  /// Checks constraints (8)–(10) from the plan's own numbers, recomputing latency and cost from
  /// the models rather than trusting the plan.
  static func checkConstraints(
    _ plan: Plan, apps: [App], planner: Planner, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let latency = planner.provisioner.latencyModel
    let cost = planner.provisioner.costModel
    var served: [String: Double] = [:]
    // The objectives are the rate-weighted means of the groups' costs: the paper's, and billed.
    if plan.rate > 0 {
      let paper = plan.groups.reduce(0) { $0 + $1.rate * $1.costPerRequest } / plan.rate
      let billed =
        plan.groups.reduce(0) { $0 + $1.rate * ($1.billedCostPerRequest ?? .nan) } / plan.rate
      #expect(abs(plan.objective / paper - 1) < 1e-9, sourceLocation: sourceLocation)
      #expect(
        abs((plan.billedObjective ?? .nan) / billed - 1) < 1e-9, sourceLocation: sourceLocation)
    }
    for group in plan.groups {
      let function = group.function
      let predicted =
        function.kind == .cpu
        ? latency.cpu(vcpu: function.vcpu, batch: group.batchSize)
        : latency.gpu(
          memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: group.batchSize)
      #expect(
        abs(predicted.max * 1000 - group.latencyMaxMs) < 1e-6, "\(group.id) max latency",
        sourceLocation: sourceLocation)
      let price =
        function.kind == .cpu
        ? cost.cpuCostPerRequest(
          vcpu: function.vcpu, batch: group.batchSize, avgLatency: predicted.avg)
        : cost.gpuCostPerRequest(
          memoryGB: function.gpuMemoryGB, batch: group.batchSize, avgLatency: predicted.avg)
      #expect(
        price.map { abs($0 - group.costPerRequest) <= 1e-12 * $0 } == true, "\(group.id) cost",
        sourceLocation: sourceLocation)
      // (8) GPU memory.
      if function.kind == .gpu {
        #expect(
          cost.gpuDemandGB(batch: group.batchSize) <= function.gpuMemoryGB,
          sourceLocation: sourceLocation)
      }
      // (10) every app's wait plus the batch's maximum latency fits its SLO.
      var pairs: [(timeout: Double, rate: Double)] = []
      for id in group.apps {
        let app = apps.first(where: { $0.id == id })!
        let timeout = group.timeoutsMs[id]! / 1000
        #expect(timeout >= 0, "\(id) timeout", sourceLocation: sourceLocation)
        #expect(
          timeout + predicted.max <= app.slo + 1e-9,
          "\(id): \(timeout) + \(predicted.max) > \(app.slo)",
          sourceLocation: sourceLocation)
        pairs.append((timeout, group.appRates[id]!))
        served[id, default: 0] += group.appRates[id]!
      }
      // (9) the batch fills within the group's equivalent timeout.
      let window = EquivalentTimeout.of(pairs)
      #expect(
        group.batchSize <= EquivalentTimeout.reachableBatch(rate: group.rate, timeout: window),
        "\(group.id): b \(group.batchSize), R \(group.rate), T \(window)",
        sourceLocation: sourceLocation)
    }
    // Every app is served in full, or listed as infeasible; none is lost.
    for app in apps {
      let infeasible = plan.infeasible.contains(where: { $0.app == app.id })
      if infeasible {
        #expect(served[app.id] == nil, sourceLocation: sourceLocation)
      } else {
        #expect(
          abs((served[app.id] ?? -1) - app.rate) <= 1e-9 * max(1, app.rate), "\(app.id) rate",
          sourceLocation: sourceLocation)
      }
    }
  }

  @Test(arguments: ModelProfile.paperModelNames)
  func everyPlanMeetsItsConstraintsAndTheOptimumIsNoDearer(model: String) throws {
    let planner = try Planner(model: model)
    let generator = WorkloadGenerator(sloRange: WorkloadGenerator.paperSLORange(model: model))
    var random = SeededRandom(seed: 20_240_513)
    var (cpuGroups, gpuGroups, sharedGroups) = (0, 0, 0)
    for round in 0..<40 {
      let apps = generator.apps(count: 2 + round % 6, using: &random)
      var objectives: [Planner.Algorithm: Double] = [:]
      var searched = 0.0
      for algorithm in [Planner.Algorithm.optimal, .harmony, .mbs] {
        let plan = try planner.plan(apps, algorithm: algorithm)
        Self.checkConstraints(plan, apps: apps, planner: planner)
        objectives[algorithm] = plan.billedObjective!
        if algorithm == .optimal { searched = planner.searchObjective(plan) }
        for group in plan.groups {
          if group.function.kind == .gpu { gpuGroups += 1 } else { cpuGroups += 1 }
          if group.apps.count > 1 { sharedGroups += 1 }
        }
      }
      let best = try #require(planner.bestPartitionObjective(apps))
      let optimal = objectives[.optimal]!
      #expect(best <= searched * (1 + 1e-9), "round \(round): best \(best) > optimal \(searched)")
      #expect(
        optimal <= objectives[.harmony]! * (1 + 1e-9),
        "round \(round): optimal \(optimal) > harmony \(objectives[.harmony]!)")
    }
    // The rounds exercise both kinds of function and real grouping, or they prove little.
    // (VideoMAE's CPU functions cost more than a whole billed GPU second, so it never uses them.)
    #expect(gpuGroups > 0 && sharedGroups > 0, "\(gpuGroups) GPU, \(sharedGroups) shared groups")
    #expect(cpuGroups > 0 || model == "VideoMAE", "no CPU group")
  }

  @Test func batchWaitsAndAverageLatencyFitTheSLO() throws {
    let planner = try Planner(model: "Bert")
    var random = SeededRandom(seed: 7)
    let apps = WorkloadGenerator().apps(count: 30, using: &random)
    let plan = try planner.plan(apps, algorithm: .batch)
    #expect(plan.groups.count + plan.infeasible.count == apps.count)
    for group in plan.groups {
      #expect(group.function.kind == .cpu && group.apps.count == 1)
      let app = apps.first(where: { $0.id == group.apps[0] })!
      #expect(group.timeoutsMs[app.id]! + group.latencyAvgMs <= app.slo * 1000 + 1e-6)
    }
  }

  @Test func largeWorkloadsArePlannedCompletely() throws {
    let planner = try Planner(model: "VGG19")
    var random = SeededRandom(seed: 99)
    let apps = WorkloadGenerator(rateRange: 0.01...5).apps(count: 300, using: &random)
    for algorithm in Planner.Algorithm.allCases where algorithm != .batch {
      let plan = try planner.plan(apps, algorithm: algorithm)
      Self.checkConstraints(plan, apps: apps, planner: planner)
    }
  }

  @Test func samePlanForTheSameInput() throws {
    let planner = try Planner(model: "VideoMAE")
    var random = SeededRandom(seed: 3)
    let apps = WorkloadGenerator(sloRange: 1.0...2.4).apps(count: 12, using: &random)
    var first = try planner.plan(apps)
    var second = try planner.plan(apps.reversed())
    first.planningMs = 0
    second.planningMs = 0
    // Written (a plan that cannot be throws), not empty, read back as itself, and the same bytes.
    let written = try first.jsonData()
    #expect(!first.groups.isEmpty)
    #expect(written.count > 100)
    #expect(try Plan.decode(written) == first)
    #expect(try second.jsonData() == written)
  }

  /// A plan or profile with a number JSON cannot hold throws, naming the field, instead of being
  /// written as nothing (two such plans compared equal: both empty).
  @Test func aPlanOrProfileThatCannotBeWrittenThrows() throws {
    var plan = try Planner(model: "VGG19").plan([App(id: "a1", slo: 0.5, rate: 1)])
    _ = try plan.jsonData()
    plan.objective = .nan
    let error = #expect(throws: EncodingError.self) { try plan.jsonData(pretty: false) }
    #expect(error?.summary.contains("objective") == true, "\(error?.summary ?? "")")
    plan.objective = 1
    plan.groups[0].costPerRequest = .infinity
    let nested = #expect(throws: EncodingError.self) { try plan.jsonData() }
    #expect(nested?.summary.hasPrefix("groups[0].") == true, "\(nested?.summary ?? "")")

    var profile = try ModelProfile.builtIn(named: "VGG19")
    #expect(
      try PlannerResources.decode(ModelProfile.self, from: profile.jsonData(), what: "t") == profile
    )
    profile.cpu.vcpu.max = .nan
    #expect(throws: EncodingError.self) { try profile.jsonData() }
  }

  @Test func aPlanReadsBackAsItWasWritten() throws {
    let planner = try Planner(model: "GPT-2", pricing: "paper-usd")
    var random = SeededRandom(seed: 17)
    let apps = WorkloadGenerator(sloRange: 1.0...2.4).apps(count: 9, using: &random)
    for algorithm in Planner.Algorithm.allCases {
      var plan = try planner.plan(
        apps + [App(id: "late", slo: 0.01, rate: 1)], algorithm: algorithm)
      plan.version = 3
      plan.createdAt = "2026-11-26T15:00:00Z"
      #expect(try Plan.decode(plan.jsonData()) == plan)
      #expect(plan.infeasible.map(\.app) == ["late"])
    }
  }
}
