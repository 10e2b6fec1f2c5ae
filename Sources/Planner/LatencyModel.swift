import Foundation

/// Predicts batch latency on CPU and GPU functions from a profile (model reference §3).
public struct LatencyModel: Sendable {
  public let profile: ModelProfile
  /// Multiplies the time-sliced GPU maximum when the function holds less than the whole GPU. The
  /// authors' code uses 1.2 (not in the paper); their plots only reproduce with it.
  public let gpuMaxMargin: Double

  public static let defaultGPUMaxMargin = 1.2

  public init(profile: ModelProfile, gpuMaxMargin: Double = defaultGPUMaxMargin) {
    self.profile = profile
    self.gpuMaxMargin = gpuMaxMargin
  }

  /// The latency of `batch` requests on `function`: a CPU batch beyond the profile's largest
  /// measured batch is predicted at that batch. Requires a GPU profile for a GPU function.
  public func latency(of function: FunctionConfig, batch: Int) -> Latency {
    switch function.kind {
    case .cpu: cpu(vcpu: function.vcpu, batch: min(batch, profile.cpu.maxBatch))
    case .gpu: gpu(memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: batch)
    }
  }

  /// Eq. 1, for `batch` in 1...cpu.maxBatch.
  public func cpu(vcpu: Double, batch: Int) -> Latency {
    Latency(
      avg: profile.cpu.latencyAvg[batch - 1](vcpu: vcpu),
      max: profile.cpu.latencyMax[batch - 1](vcpu: vcpu))
  }

  /// Eqs. 2–4 with the host-CPU share (BERT) added after the margin. `vcpu` is the function's host
  /// vCPU. Requires a GPU profile.
  public func gpu(memoryGB: Int, vcpu: Double, batch: Int) -> Latency {
    let gpu = profile.gpu!
    let whole = gpu.xi1 * Double(batch) + gpu.xi2
    let onGPU = whole * (1 - gpu.hostCPUShare)
    let total = gpu.memoryGB.max
    let m = Double(memoryGB)
    var avg = total / m * onGPU
    var max = onGPU
    if m < total {
      let slices = (onGPU / (m * gpu.timeSliceS) - 1e-12).rounded(.up)
      max = (slices * (total - m) * gpu.timeSliceS + onGPU) * gpuMaxMargin
    }
    if gpu.hostCPUShare > 0 {
      let onHost = whole * gpu.hostCPUShare / Swift.min(vcpu, 1)
      avg += onHost
      max += onHost
    }
    return Latency(avg: avg, max: max)
  }
}
