import Foundation
import PipelineCore
import Planner

/// Measures the MiniLM encoder on this machine and fits the planner's CPU latency model, for
/// `harmonybatch profile`.
///
/// Points: every batch size 1...4 at every whole thread count up to the machine's cores, and —
/// because a serverless function with c < 1 vCPU runs one thread on a c share of a core — the
/// one-thread times divided by c for c = 0.25, 0.5, 0.75. The GPU part cannot be measured here;
/// it is the paper's BERT GPU profile with the per-request slope scaled by the two models' FLOPs,
/// and the profile says `"estimated": true`.
public struct LatencyProfiler {
  public typealias Measurement = LatencyMeasurement

  /// Requests as the demo sends them: short sentences of mixed length.
  public static let sentences = [
    "Where is the nearest train station?",
    "The quick brown fox jumps over the lazy dog near the quiet river bank.",
    "Please summarise the quarterly report for the board meeting tomorrow morning.",
    "How do I reset my password?",
  ]

  /// MiniLM-L6's per-token FLOPs over BERT-base's (non-embedding parameters, 10.6 M / 85 M).
  public static let flopsRatio = 10.6 / 85.0

  let encoder: MiniLMEncoder
  public let runs: Int
  public let maxThreads: Int

  public init(encoder: MiniLMEncoder, runs: Int = 40, maxThreads: Int? = nil) {
    self.encoder = encoder
    self.runs = max(5, runs)
    self.maxThreads = max(1, maxThreads ?? ProcessInfo.processInfo.activeProcessorCount)
  }

  public func measure(progress: (Measurement) -> Void = { _ in }) -> [Measurement] {
    var results: [Measurement] = []
    for threads in 1...maxThreads {
      for batch in 1...4 {
        let tokens = (0..<batch).map {
          encoder.tokenizer.encode(Self.sentences[$0 % Self.sentences.count])
        }
        _ = encoder.embed(tokens: tokens, threads: threads)
        var samples: [Double] = []
        for _ in 0..<runs {
          let start = ContinuousClock.now
          _ = encoder.embed(tokens: tokens, threads: threads)
          let (seconds, attoseconds) = (ContinuousClock.now - start).components
          samples.append(Double(seconds) + Double(attoseconds) / 1e18)
        }
        samples.sort()
        let measurement = Measurement(
          batch: batch, vcpu: Double(threads), avg: samples.reduce(0, +) / Double(samples.count),
          p99: Quantile.nearestRank(samples, 0.99), measured: true)
        results.append(measurement)
        progress(measurement)
      }
    }
    return MeasuredProfile.addingShares(results)
  }

  /// The profile these measurements give, with each point's fit error (avg, max).
  public static func profile(
    from measurements: [Measurement], name: String = "minilm", bert: ModelProfile
  ) throws(PlannerInputError) -> (ModelProfile, errors: [(Measurement, avg: Double, max: Double)]) {
    var gpu = bert.gpu
    gpu?.xi1 *= flopsRatio
    gpu?.hardware =
      "estimated: the paper's BERT profile on an NVIDIA A10, per-request slope scaled by FLOPs"
    let fitted = try MeasuredProfile.fit(
      measurements, name: name,
      source:
        "measured by 'harmonybatch profile --backend minilm' (\(ProcessInfo.processInfo.activeProcessorCount) cores); "
        + "points below 1 vCPU are the 1-thread times divided by the CPU share; GPU part estimated",
      estimated: true, gpu: gpu)
    return (fitted.profile, fitted.errors.map { ($0.point, $0.avg, $0.max) })
  }
}
