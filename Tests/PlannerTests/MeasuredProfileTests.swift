import Foundation
import Testing

@testable import Planner

/// The one fit behind `harmonybatch profile`: measured points (and the fractional-vCPU ones a
/// single thread gives by CPU share) become a profile; without a GPU part it plans CPU only.
@Suite struct MeasuredProfileTests {
  /// Points of a model that takes `2 ms + 8 ms × batch / vCPU`, at 1 and 2 threads.
  static func points(maxBatch: Int = 3) -> [LatencyMeasurement] {
    (1...maxBatch).flatMap { batch in
      [1.0, 2.0].map { vcpu in
        let seconds = 0.002 + 0.008 * Double(batch) / vcpu
        return LatencyMeasurement(batch: batch, vcpu: vcpu, avg: seconds, p99: seconds * 1.1)
      }
    }
  }

  @Test func oneThreadGivesTheFractionalPointsByShare() {
    let points = MeasuredProfile.addingShares(Self.points(maxBatch: 1))
    let half = points.first { $0.vcpu == 0.5 }
    #expect(points.count == 5)
    #expect(half?.measured == false && abs((half?.avg ?? 0) - 0.020) < 1e-12)
  }

  @Test func aProfileWithoutAGPUPartPlansCPUFunctionsOnly() throws {
    let fitted = try MeasuredProfile.fit(
      MeasuredProfile.addingShares(Self.points()), name: "mine", source: "test",
      estimated: false, gpu: nil)
    let profile = try fitted.profile.validated()
    #expect(profile.cpu.maxBatch == 3 && profile.gpu == nil)
    // The fit follows the points within a fifth.
    #expect(fitted.errors.allSatisfy { abs($0.avg) < 0.2 && abs($0.max) < 0.2 }, "\(fitted.errors)")
    let plan = try Planner(profile: profile, pricing: PricingPreset.builtIn(named: "alibaba-cny"))
      .plan([
        App(id: "a1", slo: 0.2, rate: 20), App(id: "a2", slo: 0.5, rate: 10),
      ])
    #expect(!plan.groups.isEmpty && plan.groups.allSatisfy { $0.function.kind == .cpu })
  }

  @Test func missingBatchSizesOrOnePointPerSizeAreRefused() {
    var gap = Self.points()
    gap.removeAll { $0.batch == 2 }
    #expect(throws: PlannerInputError.self) {
      try MeasuredProfile.fit(gap, name: "x", source: "x", estimated: false, gpu: nil)
    }
    let single = Self.points(maxBatch: 1).filter { $0.vcpu == 2 }
    #expect(throws: PlannerInputError.self) {
      try MeasuredProfile.fit(single, name: "x", source: "x", estimated: false, gpu: nil)
    }
  }
}
