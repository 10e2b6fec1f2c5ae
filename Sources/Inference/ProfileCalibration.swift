import Foundation
import PipelineCore
import Planner

/// A quick measurement of MiniLM on this machine against a profile's CPU part, so a plan starts
/// from this machine's speed rather than the one the profile was measured on (CPUs differ by 2×
/// and more). One thread, batch sizes 1…4, a few runs each on short sentences: well under a second
/// on a machine like the profile's. The refit takes it from there.
public struct ProfileCalibration: Sendable {
  /// Median seconds at batch 1…4 on one thread, measured and as the profile predicts at 1 vCPU.
  public let measured: [Double]
  public let predicted: [Double]

  /// The mean ratio of measured to predicted: what the profile's CPU latencies are scaled by.
  public var factor: Double {
    let ratios = zip(measured, predicted).map { $0 / max($1, 1e-9) }
    return ratios.reduce(0, +) / Double(max(1, ratios.count))
  }

  /// `profile` with its CPU part scaled to this machine.
  public func apply(to profile: ModelProfile) -> ModelProfile {
    var calibrated = profile.scaledCPU(by: factor)
    calibrated.source = String(
      format: "%@; CPU part scaled by %.2f to this machine (one thread, batch 1-4)",
      profile.source, factor)
    return calibrated
  }

  /// Measures `encoder` and compares with `profile`.
  public static func measure(
    _ encoder: MiniLMEncoder, against profile: ModelProfile, runs: Int = 7
  ) -> ProfileCalibration {
    let model = LatencyModel(profile: profile)
    var measured: [Double] = []
    var predicted: [Double] = []
    for batch in 1...min(4, profile.cpu.maxBatch) {
      let tokens = (0..<batch).map {
        encoder.tokenizer.encode(LatencyProfiler.sentences[$0 % LatencyProfiler.sentences.count])
      }
      _ = encoder.embed(tokens: tokens)
      var samples: [Double] = []
      for _ in 0..<max(1, runs) {
        let start = ContinuousClock.now
        _ = encoder.embed(tokens: tokens)
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        samples.append(Double(seconds) + Double(attoseconds) / 1e18)
      }
      samples.sort()
      measured.append(Quantile.median(samples))
      predicted.append(model.cpu(vcpu: 1, batch: batch).avg)
    }
    return ProfileCalibration(measured: measured, predicted: predicted)
  }
}
