import Foundation
import Testing

@testable import Planner

/// Table I of the paper: VGG19, apps with SLO 0.5 / 0.8 / 1.0 s at 5 / 10 / 20 req/s.
@Suite struct TableOneTests {
  let planner: Planner
  let apps = [
    App(id: "app1", slo: 0.5, rate: 5), App(id: "app2", slo: 0.8, rate: 10),
    App(id: "app3", slo: 1.0, rate: 20),
  ]

  init() throws {
    planner = try Planner(model: "VGG19")
  }

  @Test func batchPutsEveryAppAloneOnCPU() throws {
    let plan = try planner.plan(apps, algorithm: .batch)
    #expect(plan.groups.count == 3)
    #expect(plan.groups.allSatisfy { $0.function.kind == .cpu && $0.apps.count == 1 })
    let sizes = plan.groups.map { ($0.function.vcpu, $0.batchSize) }
    #expect(sizes.map(\.1) == [1, 2, 2], "\(sizes)")
    for (vcpu, expected) in zip(sizes.map(\.0), [1.55, 1.5, 1.5]) {
      #expect(abs(vcpu - expected) <= 0.051, "\(sizes)")
    }
  }

  @Test func harmonyPutsApp1OnCPUAndApps2And3OnOneGPU() throws {
    let plan = try planner.plan(apps, algorithm: .harmony)
    try #require(plan.groups.count == 2, "\(plan.groups)")
    let (cpu, gpu) = (plan.groups[0], plan.groups[1])
    #expect(cpu.apps == ["app1"])
    #expect(cpu.function == .cpu(vcpu: 1.6))
    #expect(cpu.batchSize == 1)
    #expect(gpu.apps == ["app2", "app3"])
    #expect(gpu.function.kind == .gpu && gpu.function.gpuMemoryGB == 2)
    #expect((13...14).contains(gpu.batchSize), "b = \(gpu.batchSize)")

    let batch = try planner.plan(apps, algorithm: .batch)
    let ratio = plan.objective / batch.objective
    #expect((0.58...0.66).contains(ratio), "HarmonyBatch/BATCH = \(ratio)")
  }

  @Test func mbsIsNoDearerThanBatch() throws {
    let mbs = try planner.plan(apps, algorithm: .mbs)
    let batch = try planner.plan(apps, algorithm: .batch)
    #expect(
      mbs.objective / batch.objective <= 1.0, "MBS+/BATCH = \(mbs.objective / batch.objective)")
  }

  @Test func optimalIsNoDearerThanHarmony() throws {
    let optimal = try planner.plan(apps, algorithm: .optimal)
    let harmony = try planner.plan(apps, algorithm: .harmony)
    #expect(optimal.billedObjective! <= harmony.billedObjective! * (1 + 1e-12))
  }
}
