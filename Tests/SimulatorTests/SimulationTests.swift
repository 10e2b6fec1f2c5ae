import Foundation
import PipelineCore
import Planner
import Testing

@testable import Simulator

/// The simulator on the paper's Table I apps and on random workloads.
@Suite struct SimulationTests {
  static let tableOne = [
    App(id: "app1", slo: 0.5, rate: 5), App(id: "app2", slo: 0.8, rate: 10),
    App(id: "app3", slo: 1.0, rate: 20),
  ]

  @Test func sameSeedSameResults() throws {
    let planner = try Planner(model: "VGG19")
    let workload = Workload.generated(apps: Self.tableOne, minutes: 3, shape: .bursty, seed: 4)
    let first = try Simulation(planner: planner, workload: workload, seed: 9).run(.harmony)
    let second = try Simulation(planner: planner, workload: workload, seed: 9).run(.harmony)
    #expect(first == second)
    let other = try Simulation(planner: planner, workload: workload, seed: 10).run(.harmony)
    #expect(other.requests != first.requests || other.totalCost != first.totalCost)
  }

  @Test func harmonyIsCheaperThanBatchAndKeepsItsSLOs() throws {
    let planner = try Planner(model: "VGG19")
    let workload = Workload.generated(apps: Self.tableOne, minutes: 10, shape: .constant, seed: 1)
    let simulation = Simulation(planner: planner, workload: workload, seed: 1)
    let harmony = try simulation.run(.harmony)
    let batch = try simulation.run(.batch)
    let optimal = try simulation.run(.optimal)
    // About 35 req/s for 10 minutes.
    #expect((19_000...23_000).contains(harmony.requests))
    #expect(harmony.costPerRequest < batch.costPerRequest)
    #expect(harmony.violationPercent <= 0.5, "harmony violations \(harmony.violationPercent) %")
    #expect(optimal.costPerRequest <= harmony.costPerRequest * 1.02)
    #expect(optimal.violationPercent <= 0.5)
    // BATCH sizes on the average latency, so its tail breaks SLOs.
    #expect(batch.violationPercent > harmony.violationPercent)
    #expect(harmony.gpuShare > 0.5 && batch.gpuShare == 0)
    #expect(harmony.replans == 0)
  }
}
