import Foundation

/// Random app sets for tests, benchmarks and the simulator: SLOs uniform in a range, rates
/// log-uniform (heavy-tailed: most apps are slow, a few are busy, as in production traces).
public struct WorkloadGenerator: Sendable {
  public var sloRange: ClosedRange<Double>
  public var rateRange: ClosedRange<Double>

  public init(
    sloRange: ClosedRange<Double> = 0.3...1.0, rateRange: ClosedRange<Double> = 0.1...40
  ) {
    self.sloRange = sloRange
    self.rateRange = rateRange
  }

  /// The paper's SLO range for a model: 0.3–1.0 s for VGG19 and Bert, 1.0–2.4 s for VideoMAE and
  /// GPT-2 (and 0.3–1.0 s for anything else).
  public static func paperSLORange(model: String) -> ClosedRange<Double> {
    ["videomae", "gpt-2"].contains(model.lowercased()) ? 1.0...2.4 : 0.3...1.0
  }

  /// `count` apps named `app-1`, `app-2`, … with SLOs rounded to whole milliseconds.
  public func apps(count: Int, using random: inout SeededRandom) -> [App] {
    (0..<count).map { index in
      let slo = sloRange.lowerBound + random.unit() * (sloRange.upperBound - sloRange.lowerBound)
      let logRate =
        log(rateRange.lowerBound) + random.unit()
        * (log(rateRange.upperBound) - log(rateRange.lowerBound))
      return App(
        id: "app-\(index + 1)", slo: (slo * 1000).rounded() / 1000,
        rate: (exp(logRate) * 1000).rounded() / 1000)
    }
  }
}
