import Foundation
import Testing

@testable import Planner

/// The model reference's §4 and §9 values, computed with the authors' code and coefficients.
@Suite struct ReferenceValueTests {
  static func model(_ name: String) throws -> LatencyModel {
    LatencyModel(profile: try ModelProfile.builtIn(named: name))
  }

  static func close(_ actual: Double, _ expected: Double, relative: Double = 1e-3) -> Bool {
    abs(actual - expected) <= relative * abs(expected) + 5e-5
  }

  @Test(arguments: [
    ("VGG19", 0.75, 1, 0.6218, 0.8483),
    ("VGG19", 1.6, 1, 0.2685, 0.3530),
    ("VGG19", 2.0, 4, 0.8602, 0.9607),
    ("VideoMAE", 5.5, 1, 1.3038, 1.5184),
  ])
  func cpuLatency(model: String, vcpu: Double, batch: Int, avg: Double, max: Double) throws {
    let latency = try Self.model(model).cpu(vcpu: vcpu, batch: batch)
    #expect(Self.close(latency.avg, avg), "avg \(latency.avg) vs \(avg)")
    #expect(Self.close(latency.max, max), "max \(latency.max) vs \(max)")
  }

  @Test(arguments: [
    ("VGG19", 2, 13, 0.2874, 0.3455),
    ("VGG19", 4, 1, 0.0228, 0.0526),
    ("VGG19", 24, 13, 0.0240, 0.0240),
    ("Bert", 3, 8, 0.0393, 0.0611),
    ("GPT-2", 6, 8, 0.8355, 1.0282),
  ])
  func gpuLatency(model: String, memory: Int, batch: Int, avg: Double, max: Double) throws {
    let latency = try Self.model(model).gpu(
      memoryGB: memory, vcpu: Double(memory) / 3, batch: batch)
    #expect(Self.close(latency.avg, avg), "avg \(latency.avg) vs \(avg)")
    #expect(Self.close(latency.max, max), "max \(latency.max) vs \(max)")
  }

  @Test(arguments: [
    ([0.45, 0.65], [10.0, 20.0], 0.5076, 16),
    ([0.40, 0.60], [10.0, 20.0], 0.4576, 14),
    ([0.1, 0.2, 0.3], [5.0, 5.0, 5.0], 0.1660, 3),
  ])
  func equivalentTimeout(timeouts: [Double], rates: [Double], expected: Double, batch: Int) {
    let pairs = zip(timeouts, rates).map { (timeout: $0, rate: $1) }
    let folded = EquivalentTimeout.of(pairs)
    #expect(abs(folded - expected) < 1e-4, "T_eq \(folded) vs \(expected)")
    let total = rates.reduce(0, +)
    #expect(EquivalentTimeout.reachableBatch(rate: total, timeout: folded) == batch)
  }

  @Test func equivalentTimeoutShiftsWithTheTimeouts() {
    let pairs: [(timeout: Double, rate: Double)] = [(0.3, 2), (0.5, 7), (0.9, 0.5), (1.2, 3)]
    let base = EquivalentTimeout.of(pairs)
    let shifted = EquivalentTimeout.of(pairs.map { ($0.timeout - 0.25, $0.rate) })
    #expect(abs(shifted - (base - 0.25)) < 1e-12)
  }

  @Test func equivalentTimeoutOfASilentFirstApp() {
    // A first app with no traffic: the batch fills from the second app's timeout onward.
    let folded = EquivalentTimeout.of([(0.2, 0), (0.5, 4)])
    #expect(abs(folded - 0.5) < 1e-12)
  }

  @Test func cpuCostExample() throws {
    let cost = CostModel(
      profile: try ModelProfile.builtIn(named: "VGG19"),
      pricing: try PricingPreset.builtIn(named: "alibaba-cny"))
    #expect(cost.cpuMemoryGB(vcpu: 1.6, batch: 1) == 1.625)
    let latency = try Self.model("VGG19").cpu(vcpu: 1.6, batch: 1)
    let perRequest = try #require(
      cost.cpuCostPerRequest(vcpu: 1.6, batch: 1, avgLatency: latency.avg))
    #expect(Self.close(perRequest, 4.3498e-5, relative: 1e-4), "\(perRequest)")
  }

  @Test func gpuCostExampleBillsWholeSeconds() throws {
    let cost = CostModel(
      profile: try ModelProfile.builtIn(named: "VGG19"),
      pricing: try PricingPreset.builtIn(named: "alibaba-cny"))
    #expect(cost.gpuHostMemoryGB(memoryGB: 2) == 0.5)
    let latency = try Self.model("VGG19").gpu(memoryGB: 2, vcpu: 2.0 / 3, batch: 13)
    let perRequest = try #require(
      cost.gpuCostPerRequest(memoryGB: 2, batch: 13, avgLatency: latency.avg))
    #expect(Self.close(perRequest, 2.1954e-5, relative: 1e-4), "\(perRequest)")
    // 0.29 s and 0.99 s bill the same whole second.
    #expect(
      cost.gpuCostPerRequest(memoryGB: 2, batch: 13, avgLatency: 0.99)
        == cost.gpuCostPerRequest(memoryGB: 2, batch: 13, avgLatency: latency.avg))
  }

  @Test func gpuMemoryDemandFollowsTheThresholds() throws {
    let cost = CostModel(
      profile: try ModelProfile.builtIn(named: "VideoMAE"),
      pricing: try PricingPreset.builtIn(named: "alibaba-cny"))
    #expect(
      (1...16).map { cost.gpuDemandGB(batch: $0) } == [
        2, 2, 2, 2, 3, 3, 4, 4, 4, 4, 4, 4, 5, 5, 6, 6,
      ])
  }

  @Test(arguments: [(0.4, 34.85), (0.5, 22.06), (0.6, 18.92), (0.8, 12.28), (1.0, 9.09)])
  func kneeRate(slo: Double, expected: Double) throws {
    let planner = try Planner(model: "VGG19")
    let knee = planner.kneeRate(slo: slo)
    #expect(abs(knee - expected) <= 0.05 * expected, "knee at SLO \(slo): \(knee) vs \(expected)")
  }
}

@Suite struct LatencyFitTests {
  @Test func recoversAKnownModelFromNoisyPoints() {
    let truth = ModelProfile.ExponentialLatency(alpha: 1.83, beta: 0.53, gamma: 0.18)
    var random = SeededRandom(seed: 4)
    let fitPoints = stride(from: 0.25, through: 4.0, by: 0.25).map { c in
      LatencyFit.Point(vcpu: c, seconds: truth(vcpu: c) * (1 + 0.01 * (random.unit() - 0.5)))
    }
    let (fitted, errors) = LatencyFit.exponential(fitPoints)
    #expect(errors.allSatisfy { abs($0) < 0.02 })
    // Held-out points between the measured ones.
    for c in [0.4, 1.1, 2.3, 3.7] {
      #expect(abs(fitted(vcpu: c) / truth(vcpu: c) - 1) < 0.02, "c = \(c)")
    }
  }
}
