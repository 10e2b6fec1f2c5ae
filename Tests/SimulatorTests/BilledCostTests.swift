import Foundation
import Testing

@testable import Planner
@testable import Simulator

/// The expected billed cost (`BilledCost`) against what it models and against the simulator.
@Suite struct BilledCostTests {
  /// A group busy enough that every batch fills is billed about what the planner predicts; a
  /// quiet group on a GPU function billed per whole second pays for a second per request.
  @Test func fullBatchesMatchThePredictionAndLonelyOnesDoNot() throws {
    let planner = try Planner(model: "VGG19")
    let billed = BilledCost(
      latency: planner.provisioner.latencyModel, cost: planner.provisioner.costModel)
    let plan = try planner.plan([App(id: "busy", slo: 1.0, rate: 400)])
    let group = try #require(plan.groups.first)
    let expected = try #require(billed.perRequest(group))
    #expect(
      abs(expected / group.costPerRequest - 1) < 0.05, "\(expected) vs \(group.costPerRequest)")

    let gpu = FunctionConfig.gpu(memoryGB: 4, vcpu: 4.0 / 3)
    let lonely = try #require(billed.perRequest(function: gpu, batch: 8, rate: 0.01, window: 0.1))
    let one = try #require(billed.expectedBatchCost(function: gpu, requests: 1))
    let full = try #require(billed.expectedBatchCost(function: gpu, requests: 8))
    #expect(abs(lonely / one - 1) < 0.01)
    #expect(lonely > 4 * full / 8, "a batch of one costs about what a full one does")
  }

  /// On the paper's setting, the expected billed cost is within 7 % of the simulated cost for
  /// every planner that fills batches by plan (BATCH sizes on the average latency), and closer
  /// to it than the planners' own prediction.
  @Test func theSimulatorBillsWhatIsExpected() throws {
    var predictedError = 0.0
    var expectedError = 0.0
    for model in ModelProfile.paperModelNames {
      // `simulate --paper`'s setting, 30 minutes.
      let planner = try Planner(model: model)
      let apps = Workload.paperApps(
        count: 8, sloRange: WorkloadGenerator.paperSLORange(model: model), seed: 1)
      let workload = Workload.generated(apps: apps, minutes: 30, shape: .diurnal, seed: 1)
      let simulation = Simulation(planner: planner, workload: workload, seed: 1)
      for algorithm in [Planner.Algorithm.harmony, .mbs, .optimal] {
        let result = try simulation.run(algorithm)
        let versusExpected = result.costPerRequest / result.expectedBilledCostPerRequest - 1
        #expect(abs(versusExpected) < 0.07, "\(model) \(algorithm): \(versusExpected)")
        expectedError += abs(versusExpected)
        predictedError += abs(result.costPerRequest / result.predictedCostPerRequest - 1)
      }
    }
    #expect(expectedError < predictedError / 3, "\(expectedError) vs \(predictedError)")
  }
}
