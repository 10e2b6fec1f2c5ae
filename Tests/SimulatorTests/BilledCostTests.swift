import Foundation
import Testing
import WaitSupport

@testable import Planner
@testable import Simulator

/// The expected billed cost (`BilledCost`) against what it models and against the simulator.
@Suite(.serialized, .computesLong) struct BilledCostTests {
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

  /// On the paper's setting at its rates and at 4× them, the expected billed cost is within 2 %
  /// of the simulated cost for every planner that fills batches by plan (BATCH sizes on the
  /// average latency), and far closer to it than the planners' own prediction; so is every
  /// group of `optimal`'s plans that ran enough batches to measure (3 %).
  @Test(arguments: [1.0, 4.0])
  func theSimulatorBillsWhatIsExpected(rateScale: Double) throws {
    var predictedError = 0.0
    var expectedError = 0.0
    var groupsChecked = 0
    for model in ModelProfile.paperModelNames {
      // `simulate --paper`'s setting, 30 minutes at the paper's rates, 10 at 4×.
      let planner = try Planner(model: model)
      let apps = Workload.paperApps(
        count: 8, sloRange: WorkloadGenerator.paperSLORange(model: model), seed: 1
      ).map { App(id: $0.id, slo: $0.slo, rate: $0.rate * rateScale) }
      let workload = Workload.generated(
        apps: apps, minutes: rateScale > 1 ? 10 : 30, shape: .diurnal, seed: 1)
      let simulation = Simulation(planner: planner, workload: workload, seed: 1)
      for algorithm in [Planner.Algorithm.harmony, .mbs, .optimal] {
        let result = try simulation.run(algorithm)
        let versusExpected = result.costPerRequest / result.expectedBilledCostPerRequest - 1
        #expect(abs(versusExpected) < 0.02, "\(model) \(algorithm): \(versusExpected)")
        expectedError += abs(versusExpected)
        predictedError += abs(result.costPerRequest / result.predictedCostPerRequest - 1)
        guard algorithm == .optimal else { continue }
        for group in result.groups where group.batches >= 200 {
          let error = group.costPerRequest / group.expectedBilledCostPerRequest - 1
          #expect(abs(error) < 0.03, "\(model) \(group.apps) on \(group.function): \(error)")
          groupsChecked += 1
        }
      }
    }
    #expect(expectedError < predictedError / 5, "\(expectedError) vs \(predictedError)")
    #expect(groupsChecked >= 8, "only \(groupsChecked) groups ran 200 batches")
  }

  /// One app's fill is the Poisson count of its timeout; several apps' fill, as the buffer runs
  /// it, is a distribution whose mean lies between what the tightest and the loosest timeout
  /// alone would give.
  @Test func theFillOfSeveralTimeouts() {
    let one = BatchFill(apps: [(timeout: 0.4, rate: 20)], capacity: 12)
    let poisson = BatchFill(rate: 20, window: 0.4, capacity: 12)
    for (a, b) in zip(one.probabilities, poisson.probabilities) { #expect(abs(a - b) < 1e-12) }

    let apps = [(timeout: 0.1, rate: 10.0), (timeout: 0.5, rate: 30.0)]
    let mixed = BatchFill(apps: apps, capacity: 32)
    #expect(abs(mixed.probabilities.reduce(0, +) - 1) < 1e-9)
    let tight = BatchFill(rate: 40, window: 0.1, capacity: 32).expected
    let loose = BatchFill(rate: 40, window: 0.5, capacity: 32).expected
    #expect(tight < mixed.expected && mixed.expected < loose, "\(tight) \(mixed.expected) \(loose)")
  }
}
