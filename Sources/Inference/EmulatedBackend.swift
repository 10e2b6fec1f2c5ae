import Foundation
import PipelineCore
import Planner
import Synchronization

/// A function emulated from a profile: holds the worker for a latency drawn from the profile's
/// model of that function and batch, then returns `.emulated` outputs.
///
/// - CPU: normal around the profile's average, with the spread that puts its maximum at the 99th
///   percentile.
/// - GPU: the model reference's time-slicing: the batch's GPU work runs only in the function's
///   slices (m·τ of every M·τ), starting at a random phase of the slicing period, times a normal
///   run-to-run factor of mean 1; scaled so the mean is the profile's average, the factor's spread
///   calibrated so the 99th percentile is the profile's maximum (by simulation, once per
///   configuration).
public final class EmulatedBackend: InferenceBackend, Sendable {
  public let name: String
  public let emulated = true
  public let kind: FunctionConfig.Kind
  let model: LatencyModel
  private let random: Mutex<SeededRandom>
  private let calibrations = Mutex<[FunctionConfig: [Int: GPUCalibration]]>([:])
  /// Sleeps for the sampled latency; tests replace it to run without waiting.
  let hold: @Sendable (Double) -> Void

  struct GPUCalibration: Sendable {
    var scale: Double
    var spread: Double
  }

  public init(
    kind: FunctionConfig.Kind, profile: ModelProfile, seed: UInt64 = 1,
    hold: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }
  ) throws(InferenceError) {
    guard kind == .cpu || profile.gpu != nil else {
      throw InferenceError("profile '\(profile.name)' has no GPU part to emulate")
    }
    self.kind = kind
    name = kind == .cpu ? "emulated-cpu" : "emulated-gpu"
    model = LatencyModel(profile: profile)
    random = Mutex(SeededRandom(seed: seed))
    self.hold = hold
  }

  public func run(_ payloads: [[UInt8]], on function: FunctionConfig) -> [BackendOutput] {
    // A function no profile describes is not emulated (a GPU of 0 GB would never finish).
    let largestGPU = Int(model.profile.gpu?.memoryGB.max ?? 0)
    guard function.vcpu.isFinite, function.vcpu > 0,
      function.kind == .cpu || (function.gpuMemoryGB >= 1 && function.gpuMemoryGB <= largestGPU)
    else {
      return Array(
        repeating: .failed(
          code: .badBatch,
          detail: "the function \(function) cannot be emulated on \(model.profile.name)"),
        count: payloads.count)
    }
    hold(sampleLatency(batch: payloads.count, on: function))
    return Array(repeating: .emulated, count: payloads.count)
  }

  /// One latency draw (seconds) for a batch of `batch` on `function`.
  public func sampleLatency(batch: Int, on function: FunctionConfig) -> Double {
    switch function.kind {
    case .cpu:
      let b = min(max(1, batch), model.profile.cpu.maxBatch)
      let predicted = model.cpu(vcpu: function.vcpu, batch: b)
      return predicted.drawn(z: random.withLock { $0.normal() })
    case .gpu:
      let b = min(max(1, batch), model.profile.gpu!.maxBatch)
      let calibration = calibrate(function, batch: b)
      return random.withLock { random in
        sliced(function, batch: b, spread: calibration.spread, random: &random) * calibration.scale
      }
    }
  }

  /// Completion time of the batch's GPU work under time slicing at a random phase, plus the host
  /// share (BERT), before scaling.
  private func sliced(
    _ function: FunctionConfig, batch: Int, spread: Double, random: inout SeededRandom
  ) -> Double {
    let gpu = model.profile.gpu!
    let whole = gpu.xi1 * Double(batch) + gpu.xi2
    let work = max(1e-6, whole * (1 - gpu.hostCPUShare))
    let period = gpu.memoryGB.max * gpu.timeSliceS
    let slice = Double(function.gpuMemoryGB) * gpu.timeSliceS
    var elapsed = 0.0
    if slice < period {
      // Our slice is [0, slice) of each period; we start at a random point of the period.
      var phase = random.unit() * period
      var left = work
      while left > 1e-12 {
        if phase < slice {
          let run = min(left, slice - phase)
          left -= run
          elapsed += run
          phase += run
        } else {
          elapsed += period - phase
          phase = 0
        }
      }
    } else {
      elapsed = work
    }
    let host = whole * gpu.hostCPUShare / min(max(function.vcpu, 1e-6), 1)
    // Run-to-run variation of the whole invocation (mean 1).
    return (elapsed + host) * max(0.2, 1 + spread * random.normal())
  }

  private func calibrate(_ function: FunctionConfig, batch: Int) -> GPUCalibration {
    if let known = calibrations.withLock({ $0[function]?[batch] }) { return known }
    let predicted = model.gpu(memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: batch)
    func fit(spread: Double) -> (scale: Double, p99: Double) {
      var random = SeededRandom(seed: 0xC0FFEE)
      var samples = (0..<20000).map { _ in
        sliced(function, batch: batch, spread: spread, random: &random)
      }
      samples.sort()
      let mean = samples.reduce(0, +) / Double(samples.count)
      let scale = predicted.avg / mean
      return (scale, Quantile.nearestRank(samples, 0.99) * scale)
    }
    var low = 0.0
    var high = 1.0
    var best = fit(spread: 0)
    if best.p99 < predicted.max {
      for _ in 0..<30 {
        let mid = (low + high) / 2
        let trial = fit(spread: mid)
        if trial.p99 < predicted.max { low = mid } else { high = mid }
      }
      best = fit(spread: low)
    }
    let calibration = GPUCalibration(scale: best.scale, spread: low)
    calibrations.withLock { $0[function, default: [:]][batch] = calibration }
    return calibration
  }
}
