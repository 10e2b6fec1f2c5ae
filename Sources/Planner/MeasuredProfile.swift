import Foundation

/// One measured (or derived) latency of a model: a batch of `batch` requests on `vcpu` threads.
public struct LatencyMeasurement: Codable, Sendable, Equatable {
  public var batch: Int
  public var vcpu: Double
  /// Seconds.
  public var avg: Double
  public var p99: Double
  /// False for a point derived from a one-thread measurement by CPU share.
  public var measured: Bool

  public init(batch: Int, vcpu: Double, avg: Double, p99: Double, measured: Bool = true) {
    self.batch = batch
    self.vcpu = vcpu
    self.avg = avg
    self.p99 = p99
    self.measured = measured
  }
}

/// A CPU profile fitted from measured latencies — the one fit behind `harmonybatch profile`,
/// whether the measurements are of the built-in MiniLM or come from a file (a Python worker's
/// `harmonybatch-worker profile` measures your handler and hands its points here).
///
/// - A serverless function with c < 1 vCPU runs one thread on a c share of a core, so each
///   one-thread point gives points for c = 0.25, 0.5, 0.75 (its times divided by c).
/// - Per batch size 1…B, `L(c) = α·exp(−c/β) + γ` is fitted to the averages and to the 99th
///   percentiles (`LatencyFit.exponential`).
/// - The GPU part is given (an estimate) or absent: a profile without one plans CPU functions
///   only.
public enum MeasuredProfile {
  public static let shares = [0.25, 0.5, 0.75]

  /// `measurements` with the fractional-vCPU points each one-thread measurement gives.
  public static func addingShares(_ measurements: [LatencyMeasurement]) -> [LatencyMeasurement] {
    var points = measurements
    for point in measurements where point.measured && point.vcpu == 1 {
      for share in shares
      where !measurements.contains(where: { $0.batch == point.batch && $0.vcpu == share }) {
        points.append(
          LatencyMeasurement(
            batch: point.batch, vcpu: share, avg: point.avg / share, p99: point.p99 / share,
            measured: false))
      }
    }
    return points
  }

  public struct Fitted: Sendable {
    public var profile: ModelProfile
    /// Each point with its fit's relative error on the average and on the 99th percentile.
    public var errors: [(point: LatencyMeasurement, avg: Double, max: Double)]
  }

  /// The profile `measurements` give (shares included by the caller, `addingShares`). Needs
  /// batch sizes 1…B, each at two vCPU values at least, every time positive and finite.
  public static func fit(
    _ measurements: [LatencyMeasurement], name: String, source: String, estimated: Bool,
    gpu: ModelProfile.GPUProfile?
  ) throws(PlannerInputError) -> Fitted {
    let batches = Set(measurements.map(\.batch))
    guard let largest = batches.max(), largest >= 1, batches == Set(1...largest),
      largest <= FieldBounds.batchSize.upperBound
    else {
      throw PlannerInputError(
        "measurements need every batch size from 1 up (got \(batches.sorted()))")
    }
    guard
      measurements.allSatisfy({
        $0.avg.isFinite && $0.avg > 0 && $0.p99.isFinite && $0.p99 > 0 && $0.vcpu.isFinite
          && $0.vcpu > 0 && $0.vcpu <= 1024
      })
    else {
      throw PlannerInputError(
        "measurements need positive, finite times and vCPU in (0, 1024]")
    }
    var avg: [ModelProfile.ExponentialLatency] = []
    var max: [ModelProfile.ExponentialLatency] = []
    var errors: [(point: LatencyMeasurement, avg: Double, max: Double)] = []
    for batch in 1...largest {
      let points = measurements.filter { $0.batch == batch }.sorted { $0.vcpu < $1.vcpu }
      guard Set(points.map(\.vcpu)).count >= 2 else {
        throw PlannerInputError(
          "batch size \(batch) needs points at two vCPU values at least (one thread gives "
            + "0.25, 0.5 and 0.75 by CPU share)")
      }
      let (avgFit, avgErrors) = LatencyFit.exponential(
        points.map { LatencyFit.Point(vcpu: $0.vcpu, seconds: $0.avg) })
      let (maxFit, maxErrors) = LatencyFit.exponential(
        points.map { LatencyFit.Point(vcpu: $0.vcpu, seconds: $0.p99) })
      avg.append(avgFit)
      max.append(maxFit)
      for (index, point) in points.enumerated() {
        errors.append((point, avgErrors[index], maxErrors[index]))
      }
    }
    let vcpus = measurements.map(\.vcpu)
    let profile = ModelProfile(
      name: name, source: source, estimated: estimated,
      cpu: ModelProfile.CPUProfile(
        vcpu: ModelProfile.Range(
          min: vcpus.min() ?? 0.25, max: vcpus.max() ?? 1, step: 0.05),
        maxBatch: largest,
        memoryMB: ModelProfile.CPUProfile.MemoryModel(perRequest: 8, base: 256),
        latencyAvg: avg, latencyMax: max),
      gpu: gpu)
    return Fitted(profile: profile, errors: errors)
  }
}
