import Foundation
import Testing
import WaitSupport

@testable import Planner

/// The paper's two-stage merge (model reference §6), restated as plainly as possible so that
/// `harmony` can be checked against it: groups are app lists, provisioned with the paper's
/// Theorems 1 and 2, and a merge is taken only when `η_new · C_new < Σ η_part · C_part`.
///
/// Stage 1 walks the SLO-ordered list: from each CPU group it accumulates the rate of the
/// consecutive CPU groups that follow until the rate passes the knee rate of the run's first app;
/// a run that never passes it stays apart as a whole (a tight head blocks its run, §11), a run
/// that passes it is tried as one group. `rejectedRunEndsStageOne` is the rule `harmony` had
/// before: a rejected run also stayed apart as a whole, so no app behind its head could start a
/// run of its own.
struct PaperMergeRestatement {
  let planner: Planner
  var rejectedRunEndsStageOne = false

  struct Group: Equatable {
    var apps: [App]
    var function: FunctionConfig
    var batch: Int
    var costPerRequest: Double
    var rate: Double { apps.reduce(0) { $0 + $1.rate } }
    var weighted: Double { rate * costPerRequest }
  }

  func provisioned(_ apps: [App]) -> Group? {
    planner.provisioner.provision(apps, search: .paper).map {
      Group(apps: apps, function: $0.function, batch: $0.batch, costPerRequest: $0.costPerRequest)
    }
  }

  /// The parts as one group, when that is strictly cheaper weighted by rate.
  func merged(_ parts: [Group]) -> Group? {
    guard let group = provisioned(parts.flatMap(\.apps)) else { return nil }
    return group.weighted < parts.map(\.weighted).reduce(0, +) ? group : nil
  }

  func plan(_ apps: [App]) -> [Group] {
    let groups = apps.sorted(by: App.ordered).map { provisioned([$0])! }
    return stageTwo(stageOne(groups))
  }

  func stageOne(_ groups: [Group]) -> [Group] {
    var result: [Group] = []
    var i = 0
    while i < groups.count {
      if groups[i].function.kind == .gpu {
        result.append(groups[i])
        i += 1
        continue
      }
      let knee = planner.kneeRate(slo: groups[i].apps[0].slo)
      var run = [groups[i]]
      var j = i + 1
      while run.map(\.rate).reduce(0, +) <= knee, j < groups.count,
        groups[j].function.kind == .cpu
      {
        run.append(groups[j])
        j += 1
      }
      if run.map(\.rate).reduce(0, +) <= knee {
        result += run
        i = j
      } else if let group = merged(run) {
        result.append(group)
        i = j
      } else if rejectedRunEndsStageOne {
        result += run
        i = j
      } else {
        result.append(groups[i])
        i += 1
      }
    }
    return result
  }

  func stageTwo(_ groups: [Group]) -> [Group] {
    var groups = groups
    var i = 0
    while i + 1 < groups.count {
      let pair = [groups[i], groups[i + 1]]
      if pair.contains(where: { $0.function.kind == .gpu }), let group = merged(pair) {
        groups.replaceSubrange(i...(i + 1), with: [group])
      } else {
        i += 1
      }
    }
    return groups
  }

  /// The paper's objective of a grouping: the rate-weighted mean cost per request.
  static func objective(_ groups: [Group]) -> Double {
    groups.map(\.weighted).reduce(0, +) / groups.map(\.rate).reduce(0, +)
  }
}

/// `harmony` is the paper's two-stage merge: the example of issue 30, hand-built cases of the
/// rule it used to break (a rejected stage-1 run kept every app of the run apart), and a seeded
/// random comparison with the re-statement above.
@Suite(.serialized, .computesLong) struct PaperMergeTests {
  /// Issue 30: VGG19, alibaba-cny. Every app alone is on CPU; w3 (330 ms, 23.7 req/s) heads the
  /// first run with the capped knee of 40 req/s; w3 + w4 + w0 pass it, but that merge is dearer
  /// (w3's SLO allows no GPU batch worth having), so only w3 stays apart and the walk goes on
  /// from w4: w4 + w0 + w5 pass w4's knee and go to a GPU, and stage 2 adds w1 and w2.
  static let issue30 = [
    App(id: "w0", slo: 0.564, rate: 20.788), App(id: "w1", slo: 0.890, rate: 0.585),
    App(id: "w2", slo: 0.910, rate: 4.853), App(id: "w3", slo: 0.330, rate: 23.702),
    App(id: "w4", slo: 0.479, rate: 0.926), App(id: "w5", slo: 0.597, rate: 3.817),
  ]

  @Test func issue30ExampleLeavesOnlyTheTightBusyHeadOnCPU() throws {
    let planner = try Planner(model: "VGG19", pricing: "alibaba-cny")
    let plan = try planner.plan(Self.issue30, algorithm: .harmony)
    try #require(plan.groups.count == 2, "\(plan.groups.map(\.apps))")
    let (cpu, gpu) = (plan.groups[0], plan.groups[1])
    #expect(cpu.apps == ["w3"])
    #expect(cpu.function.kind == .cpu)
    #expect(gpu.apps == ["w4", "w0", "w5", "w1", "w2"])
    #expect(gpu.function.kind == .gpu)
    #expect(gpu.batchSize == 9)
    #expect(abs(plan.objective / 3.6883e-05 - 1) < 1e-4, "objective \(plan.objective)")
    // `optimal` finds the same grouping.
    let optimal = try planner.plan(Self.issue30, algorithm: .optimal)
    #expect(optimal.groups.map(\.apps) == plan.groups.map(\.apps))
  }

  /// What makes the example pin the rule: the first run passes its head's knee and its merge is
  /// rejected; keeping that whole run apart (the old rule) leaves six CPU functions, 13 % dearer.
  @Test func issue30ExampleHasARejectedFirstRun() throws {
    let planner = try Planner(model: "VGG19")
    let paper = PaperMergeRestatement(planner: planner)
    let apps = Self.issue30.sorted(by: App.ordered)
    #expect(apps.map(\.id) == ["w3", "w4", "w0", "w5", "w1", "w2"])
    let alone = apps.map { paper.provisioned([$0])! }
    #expect(alone.allSatisfy { $0.function.kind == .cpu })
    #expect(planner.kneeRate(slo: 0.330) == KneeRate.highest)
    #expect(alone[0].rate + alone[1].rate <= KneeRate.highest)
    #expect(alone[0].rate + alone[1].rate + alone[2].rate > KneeRate.highest)
    #expect(paper.merged(Array(alone[0...2])) == nil)

    var old = paper
    old.rejectedRunEndsStageOne = true
    let before = old.plan(apps)
    #expect(before.count == 6)
    #expect(abs(PaperMergeRestatement.objective(before) / 4.1817e-05 - 1) < 1e-4)
    let after = paper.plan(apps)
    #expect(after.map { $0.apps.map(\.id) } == [["w3"], ["w4", "w0", "w5", "w1", "w2"]])
    #expect(PaperMergeRestatement.objective(after) < 0.9 * PaperMergeRestatement.objective(before))
  }

  /// The rule on its own, case by case (found by a seeded search against the re-statement):
  /// the first run of CPU groups passes its head's knee and is rejected, and the
  /// apps behind the head still merge. `before` is what the old rule made of it.
  @Test(arguments: [
    RejectedRunCase(
      model: "VGG19",
      apps: [
        App(id: "app-1", slo: 0.339, rate: 30.634), App(id: "app-3", slo: 0.618, rate: 9.452),
        App(id: "app-4", slo: 0.69, rate: 5.422), App(id: "app-2", slo: 0.879, rate: 9.232),
      ],
      after: [["app-1"], ["app-3", "app-4", "app-2"]],
      before: [["app-1"], ["app-3"], ["app-4"], ["app-2"]]),
    RejectedRunCase(
      model: "GPT-2",
      apps: [
        App(id: "app-4", slo: 1.581, rate: 0.167), App(id: "app-2", slo: 1.749, rate: 0.157),
        App(id: "app-3", slo: 1.894, rate: 8.645), App(id: "app-5", slo: 1.999, rate: 3.396),
        App(id: "app-1", slo: 2.183, rate: 15.543),
      ],
      after: [["app-4"], ["app-2", "app-3"], ["app-5", "app-1"]],
      before: [["app-4"], ["app-2"], ["app-3"], ["app-5", "app-1"]]),
  ])
  func aRejectedRunKeepsOnlyItsHeadApart(_ example: RejectedRunCase) throws {
    let planner = try Planner(model: example.model)
    let paper = PaperMergeRestatement(planner: planner)
    let run = example.apps.map { paper.provisioned([$0])! }.prefix { $0.function.kind == .cpu }
    let knee = planner.kneeRate(slo: example.apps[0].slo)
    let crossing = try #require(run.indices.first { run[...$0].map(\.rate).reduce(0, +) > knee })
    #expect(crossing >= 1)
    #expect(paper.merged(Array(run[...crossing])) == nil)

    let plan = try planner.plan(example.apps, algorithm: .harmony)
    #expect(plan.groups.map(\.apps) == example.after)
    #expect(plan.groups.contains { $0.function.kind == .gpu })
    var old = paper
    old.rejectedRunEndsStageOne = true
    #expect(old.plan(example.apps).map { $0.apps.map(\.id) } == example.before)
  }

  /// `harmony` groups, places and batches exactly as the re-statement on seeded random workloads
  /// of every paper model; the workloads include some where the old rule leaves apps apart that
  /// the paper merges (else this would not test the rule).
  @Test func harmonyIsTheRestatedMergeOnRandomWorkloads() throws {
    var differsFromOldRule: [String: Int] = [:]
    for model in ModelProfile.paperModelNames {
      let planner = try Planner(model: model)
      let paper = PaperMergeRestatement(planner: planner)
      var old = paper
      old.rejectedRunEndsStageOne = true
      let generator = WorkloadGenerator(sloRange: WorkloadGenerator.paperSLORange(model: model))
      var random = SeededRandom(seed: 30)
      for round in 0..<Self.rounds {
        let apps = generator.apps(count: 5 + round % 5, using: &random)
        let served = apps.filter { planner.provisioner.provision([$0], search: .paper) != nil }
        guard !served.isEmpty else { continue }
        let plan = try planner.plan(apps, algorithm: .harmony)
        let expected = paper.plan(served)
        #expect(
          plan.groups.map(\.apps) == expected.map { $0.apps.map(\.id) },
          "\(model) round \(round)")
        #expect(plan.groups.map(\.function) == expected.map(\.function), "\(model) round \(round)")
        #expect(plan.groups.map(\.batchSize) == expected.map(\.batch), "\(model) round \(round)")
        if old.plan(served).map({ $0.apps.map(\.id) }) != expected.map({ $0.apps.map(\.id) }) {
          differsFromOldRule[model, default: 0] += 1
        }
      }
    }
    // A rejected run that matters is rare in these workloads (a few in a thousand): the seed is
    // one where it happens, so that this test pins the rule.
    #expect(differsFromOldRule.values.reduce(0, +) > 0, "the search never hit the rule")
  }

  static let rounds = 200
}

/// A workload whose first stage-1 run is rejected, with the groups of the paper's merge
/// (`after`) and of the old rule (`before`), apps in SLO order.
struct RejectedRunCase: Sendable, CustomTestStringConvertible {
  let model: String
  let apps: [App]
  let after: [[String]]
  let before: [[String]]
  var testDescription: String { "\(model), \(apps.count) apps" }
}
