import Foundation
import Planner

/// Online refit of the latency model from workers' feedback (pure), anchored on the profile as a
/// prior:
/// - CPU, per batch size: the profile's curve scaled by a factor, the median ratio of measured to
///   predicted average over the last `memory` batches (quick to follow a change); the maximum by
///   the 99th-percentile ratio over the last `tailMemory` batches (so that one straggler on a
///   busy machine is not taken for the function's maximum, while a real slowdown shows at once).
/// - GPU: ξ1, ξ2 by least squares, weighted to recent feedback, on the whole-GPU-equivalent
///   time (measured × m / M_max, the time-sliced share removed); the maximum follows through the
///   model (the slicing term and its margin).
/// Until a batch size has enough feedback, the profile stands.
public struct LatencyRefit: Sendable {
  public struct Observation: Sendable {
    public var function: FunctionConfig
    public var batch: Int
    public var seconds: Double

    public init(function: FunctionConfig, batch: Int, seconds: Double) {
      self.function = function
      self.batch = batch
      self.seconds = seconds
    }
  }

  public let prior: ModelProfile
  /// Recent observations the averages are fitted to, per CPU batch size and for the GPU.
  public var memory: Int
  /// Recent observations the CPU maximum is fitted to, per batch size.
  public var tailMemory: Int
  /// Observations needed before a part of the profile is refitted.
  public var minimum: Int
  /// Feedback records seen.
  public private(set) var observations = 0
  private var cpu: [Int: [Observation]] = [:]
  private var gpu: [Observation] = []
  private let model: LatencyModel

  public init(prior: ModelProfile, memory: Int = 60, tailMemory: Int = 200, minimum: Int = 8) {
    self.prior = prior
    self.memory = memory
    self.tailMemory = max(memory, tailMemory)
    self.minimum = minimum
    model = LatencyModel(profile: prior)
  }

  public mutating func observe(_ observation: Observation) {
    guard observation.seconds > 0, observation.batch >= 1 else { return }
    observations += 1
    switch observation.function.kind {
    case .cpu:
      guard observation.batch <= prior.cpu.maxBatch else { return }
      cpu[observation.batch, default: []].append(observation)
      if cpu[observation.batch]!.count > tailMemory { cpu[observation.batch]!.removeFirst() }
    case .gpu:
      guard prior.gpu != nil else { return }
      gpu.append(observation)
      if gpu.count > memory { gpu.removeFirst() }
    }
  }

  /// The profile with every part that has enough feedback refitted.
  public func profile() -> ModelProfile {
    var fitted = prior
    for (batch, tail) in cpu where tail.count >= minimum {
      func ratios(_ observations: ArraySlice<Observation>) -> [Double] {
        observations.map { $0.seconds / model.cpu(vcpu: $0.function.vcpu, batch: batch).avg }
          .sorted()
      }
      let observations = tail.suffix(memory)
      let recent = ratios(observations)
      let median = recent[recent.count / 2]
      let all = ratios(tail[...])
      let high = all[min(all.count - 1, Int(Double(all.count) * 0.99))]
      let avg = prior.cpu.latencyAvg[batch - 1]
      let maxCurve = prior.cpu.latencyMax[batch - 1]
      // The measured maximum relative to the prior's maximum curve.
      let maxRatio =
        high
        * observations.map { model.cpu(vcpu: $0.function.vcpu, batch: batch).avg }
        .reduce(0, +)
        / observations.map { model.cpu(vcpu: $0.function.vcpu, batch: batch).max }.reduce(0, +)
      fitted.cpu.latencyAvg[batch - 1] = ModelProfile.ExponentialLatency(
        alpha: avg.alpha * median, beta: avg.beta, gamma: avg.gamma * median)
      let scale = Swift.max(maxRatio, median)
      fitted.cpu.latencyMax[batch - 1] = ModelProfile.ExponentialLatency(
        alpha: maxCurve.alpha * scale, beta: maxCurve.beta, gamma: maxCurve.gamma * scale)
    }
    if let gpuPrior = prior.gpu, gpu.count >= minimum, Set(gpu.map(\.batch)).count >= 2 {
      // Whole-GPU time: the average of a time-sliced function is (M/m)·L0 (host share aside).
      let total = gpuPrior.memoryGB.max
      let points = gpu.map { observation -> (Double, Double) in
        let m = Double(observation.function.gpuMemoryGB)
        let host = gpuPrior.hostCPUShare / Swift.min(Swift.max(observation.function.vcpu, 1e-6), 1)
        let share = (1 - gpuPrior.hostCPUShare) * total / m + host
        return (Double(observation.batch), observation.seconds / share)
      }
      // Weighted least squares, recent feedback counting most (weight halves every ten batches),
      // so a change in the hardware shows within a few dozen batches.
      var (n, sx, sy, sxx, sxy) = (0.0, 0.0, 0.0, 0.0, 0.0)
      for (age, point) in points.reversed().enumerated() {
        let w = pow(0.933, Double(age))
        n += w
        sx += w * point.0
        sy += w * point.1
        sxx += w * point.0 * point.0
        sxy += w * point.0 * point.1
      }
      let det = n * sxx - sx * sx
      if abs(det) > 1e-12 {
        let xi1 = (n * sxy - sx * sy) / det
        let xi2 = (sy - xi1 * sx) / n
        if xi1 > 0, xi1 + xi2 > 0 {
          fitted.gpu?.xi1 = xi1
          fitted.gpu?.xi2 = xi2
        }
      }
    }
    return fitted
  }

  /// How far the given profile's average predictions are from the most recent feedback (the
  /// last 16 batches of each CPU batch size and of the GPU; mean absolute relative error), or nil
  /// without feedback.
  public func predictionError(of profile: ModelProfile) -> Double? {
    let model = LatencyModel(profile: profile)
    let all = cpu.values.flatMap { $0.suffix(16) } + gpu.suffix(16)
    guard !all.isEmpty else { return nil }
    let errors = all.map { observation -> Double in
      let predicted =
        observation.function.kind == .cpu
        ? model.cpu(vcpu: observation.function.vcpu, batch: observation.batch).avg
        : model.gpu(
          memoryGB: observation.function.gpuMemoryGB, vcpu: observation.function.vcpu,
          batch: observation.batch
        ).avg
      return abs(predicted - observation.seconds) / observation.seconds
    }
    return errors.reduce(0, +) / Double(errors.count)
  }
}
