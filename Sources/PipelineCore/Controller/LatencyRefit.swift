import Foundation
import Planner

/// Online refit of the latency model from workers' feedback (pure), anchored on the profile as a
/// prior:
/// - CPU, per batch size: the profile's curve scaled by a factor, the median ratio of measured to
///   predicted average over the last `memory` batches (quick to follow a change); the maximum by
///   the 99th-percentile ratio over the last `tailMemory` batches (so that one straggler on a
///   busy machine is not taken for the function's maximum, while a real slowdown shows at once).
/// - GPU, on the whole-GPU-equivalent time (measured × m / M_max, the time-sliced share
///   removed): the line ξ1·b + ξ2 by least squares over the batches remembered when their sizes
///   spread enough (else the profile's), scaled by the recent batches' mean ratio to it (quick to
///   follow a change); the maximum follows through the model (the slicing term and its margin).
/// Until a batch size has enough feedback, the profile stands.
public struct LatencyRefit: Sendable {
  public struct Observation: Sendable {
    public var function: FunctionConfig
    public var batch: Int
    public var seconds: Double
    /// Its place among all observations (set by `observe`).
    var sequence = 0

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
  /// Observations (of any part) after which a part without new ones is stale.
  public var staleAfter = 200
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
    guard observation.seconds > 0, observation.seconds.isFinite, observation.batch >= 1 else {
      return
    }
    observations += 1
    var observation = observation
    observation.sequence = observations
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

  /// Forgets the feedback so far (the count of observations stays): after a change of the
  /// hardware was detected and planned for, fits rest on what came after it only — a mix of
  /// before and after would look faster than the functions now are.
  public mutating func forgetObservations() {
    cpu = [:]
    gpu = []
  }

  /// The profile with every part that has enough recent feedback refitted; the other parts are
  /// `fallback`'s (the prior's by default).
  ///
  /// A part is stale when none of the last `staleAfter` observations (of any part) fell in it. A
  /// stale CPU batch size follows the ratio of the fresh CPU batches of every size when there are
  /// enough of them, and `fallback` otherwise; a stale GPU part is `fallback`'s. After the
  /// hardware changes, a function the plan stopped using must not look as fast as it was.
  public func profile(fallback: ModelProfile? = nil) -> ModelProfile {
    var fitted = fallback ?? prior
    func fresh(_ observation: Observation) -> Bool {
      observations - observation.sequence < staleAfter
    }
    let freshRatios = cpu.flatMap { batch, observations in
      observations.suffix(memory).filter(fresh).map {
        $0.seconds / model.cpu(vcpu: $0.function.vcpu, batch: batch).avg
      }
    }.sorted()
    for (batch, tail) in cpu where tail.count >= minimum {
      if let last = tail.last, !fresh(last) {
        if freshRatios.count >= minimum {
          let ratio = Quantile.median(freshRatios)
          fitted.cpu.latencyAvg[batch - 1] = Self.scaled(prior.cpu.latencyAvg[batch - 1], ratio)
          fitted.cpu.latencyMax[batch - 1] = Self.scaled(prior.cpu.latencyMax[batch - 1], ratio)
        }
        continue
      }
      func ratios(_ observations: ArraySlice<Observation>) -> [Double] {
        observations.map { $0.seconds / model.cpu(vcpu: $0.function.vcpu, batch: batch).avg }
          .sorted()
      }
      let observations = tail.suffix(memory)
      let recent = ratios(observations)
      let median = Quantile.median(recent)
      let all = ratios(tail[...])
      let high = Quantile.nearestRank(all, 0.99)
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
    if let gpuPrior = prior.gpu, gpu.count >= minimum, let last = gpu.last, fresh(last) {
      // Whole-GPU time: the average of a time-sliced function is (M/m)·L0 (host share aside).
      let total = gpuPrior.memoryGB.max
      let points = gpu.map { observation -> (x: Double, y: Double) in
        let m = Double(observation.function.gpuMemoryGB)
        let host = gpuPrior.hostCPUShare / Swift.min(Swift.max(observation.function.vcpu, 1e-6), 1)
        let share = (1 - gpuPrior.hostCPUShare) * total / m + host
        return (Double(observation.batch), observation.seconds / share)
      }
      // The shape of L0(b) = ξ1·b + ξ2: least squares over every batch remembered, when their
      // sizes spread enough to tell slope from intercept (batches of one group cluster near its
      // batch size, and a line through a cluster extrapolates badly); else the prior's shape.
      var shape = (xi1: gpuPrior.xi1, xi2: gpuPrior.xi2)
      let count = Double(points.count)
      let meanX = points.reduce(0) { $0 + $1.x } / count
      let meanY = points.reduce(0) { $0 + $1.y } / count
      let sxx = points.reduce(0) { $0 + ($1.x - meanX) * ($1.x - meanX) }
      let sxy = points.reduce(0) { $0 + ($1.x - meanX) * ($1.y - meanY) }
      if (sxx / count).squareRoot() >= 3 {
        let xi1 = sxy / sxx
        let xi2 = meanY - xi1 * meanX
        if xi1 > 0, xi1 + xi2 > 0 { shape = (xi1, xi2) }
      }
      // Its scale follows recent feedback (weight halving every ten batches), so a change in
      // the hardware shows within a few dozen batches.
      var (weights, scale) = (0.0, 0.0)
      for (age, point) in points.reversed().enumerated() {
        let predicted = shape.xi1 * point.x + shape.xi2
        guard predicted > 0 else { continue }
        let w = pow(0.933, Double(age))
        weights += w
        scale += w * point.y / predicted
      }
      if weights > 0, scale > 0 {
        fitted.gpu?.xi1 = shape.xi1 * scale / weights
        fitted.gpu?.xi2 = shape.xi2 * scale / weights
      }
    }
    return fitted
  }

  static func scaled(
    _ curve: ModelProfile.ExponentialLatency, _ factor: Double
  ) -> ModelProfile.ExponentialLatency {
    .init(alpha: curve.alpha * factor, beta: curve.beta, gamma: curve.gamma * factor)
  }

  /// How far the given profile's average predictions are from the most recent feedback (the
  /// last 16 batches of each CPU batch size and of the GPU; mean absolute relative error), or nil
  /// without feedback. On a noisy machine this stays high whatever the model: it describes, it
  /// does not decide (`drift` does).
  public func predictionError(of profile: ModelProfile) -> Double? {
    let model = LatencyModel(profile: profile)
    let all = recent
    guard !all.isEmpty else { return nil }
    let errors = all.map { observation -> Double in
      abs(Self.predicted(observation, by: model) - observation.seconds) / observation.seconds
    }
    return errors.reduce(0, +) / Double(errors.count)
  }

  /// How far the refitted model has moved from `old`, where the move is beyond the noise of the
  /// feedback it was fitted to: per part (each CPU batch size, the GPU), the mean relative
  /// difference of the two models' average predictions on that part's recent batches, counted
  /// only when it exceeds `sigmas` standard errors of the fit (the spread of those batches around
  /// the refit over the square root of how many it rests on). The largest such move, 0 when none
  /// is significant, nil without feedback. On a noisy machine single batches vary by tens of
  /// percent; this does not, unless the hardware really changed.
  public func significantDrift(from old: ModelProfile, sigmas: Double = 4) -> Double? {
    let fitted = profile(fallback: old)
    let (before, after) = (LatencyModel(profile: old), LatencyModel(profile: fitted))
    var parts: [(observations: [Observation], effective: Double)] = cpu.values
      .filter { $0.count >= minimum }.map {
        let recent = Array($0.suffix(memory))
        // The median's standard error is about 1.25 times the mean's.
        return (recent, Double(recent.count) / (1.25 * 1.25))
      }
    if gpu.count >= minimum {
      // The GPU fit weighs recent batches most (0.933 per batch): its effective sample size.
      let weights = (0..<gpu.count).map { pow(0.933, Double($0)) }
      let sum = weights.reduce(0, +)
      parts.append((gpu, sum * sum / weights.map { $0 * $0 }.reduce(0, +)))
    }
    guard !parts.isEmpty else { return nil }
    var largest = 0.0
    for (observations, effective) in parts {
      let moves = observations.map {
        Self.predicted($0, by: after) / max(1e-12, Self.predicted($0, by: before)) - 1
      }
      let move = abs(moves.reduce(0, +) / Double(moves.count))
      let residuals = observations.map {
        $0.seconds / max(1e-12, Self.predicted($0, by: after))
      }
      let mean = residuals.reduce(0, +) / Double(residuals.count)
      let variance =
        residuals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
        / Double(max(1, residuals.count - 1))
      let standardError = variance.squareRoot() / max(1, effective).squareRoot()
      if move > sigmas * standardError { largest = max(largest, move) }
    }
    return largest
  }

  /// The last 16 batches of each CPU batch size and of the GPU.
  private var recent: [Observation] { cpu.values.flatMap { $0.suffix(16) } + gpu.suffix(16) }

  private static func predicted(_ observation: Observation, by model: LatencyModel) -> Double {
    observation.function.kind == .cpu
      ? model.cpu(vcpu: observation.function.vcpu, batch: observation.batch).avg
      : model.gpu(
        memoryGB: observation.function.gpuMemoryGB, vcpu: observation.function.vcpu,
        batch: observation.batch
      ).avg
  }
}
