/// The function a group's batches run on: a CPU function with `vcpu` vCPU, or a GPU function
/// holding `gpuMemoryGB` GB of a time-sliced GPU (and `vcpu` host vCPU, `m · vcpu_per_gpu_gb`).
public struct FunctionConfig: Codable, Sendable, Hashable, CustomStringConvertible {
  public enum Kind: String, Codable, Sendable {
    case cpu
    case gpu
  }

  public var kind: Kind
  public var vcpu: Double
  /// Whole GB of GPU memory; 0 for a CPU function.
  public var gpuMemoryGB: Int

  public static func cpu(vcpu: Double) -> FunctionConfig {
    FunctionConfig(kind: .cpu, vcpu: vcpu, gpuMemoryGB: 0)
  }

  public static func gpu(memoryGB: Int, vcpu: Double) -> FunctionConfig {
    FunctionConfig(kind: .gpu, vcpu: vcpu, gpuMemoryGB: memoryGB)
  }

  public init(kind: Kind, vcpu: Double, gpuMemoryGB: Int) {
    self.kind = kind
    self.vcpu = vcpu
    self.gpuMemoryGB = gpuMemoryGB
  }

  public var description: String {
    switch kind {
    case .cpu: return "cpu \(formatted(vcpu)) vCPU"
    case .gpu: return "gpu \(gpuMemoryGB) GB"
    }
  }

  private func formatted(_ value: Double) -> String {
    let text = String(format: "%.2f", value)
    return text.hasSuffix("0") ? String(text.dropLast()) : text
  }

  enum CodingKeys: String, CodingKey {
    case kind, vcpu
    case gpuMemoryGB = "gpu_mem_gb"
  }
}

/// Predicted latency of one batch, in seconds.
public struct Latency: Sendable, Equatable {
  public var avg: Double
  public var max: Double

  public init(avg: Double, max: Double) {
    self.avg = avg
    self.max = max
  }

  /// How one batch's latency varies, as the simulator and the emulated workers draw it (and
  /// `ExpectedBilling` bills it): normal around `avg` with `max` its 99th percentile, never
  /// below `floor`. The standard deviation.
  public var spread: Double { Swift.max(0, max - avg) / 2.326 }
  /// The least a draw takes: a fifth of the average.
  public var floor: Double { 0.2 * avg }

  /// The latency at standard normal `z`.
  public func drawn(z: Double) -> Double { Swift.max(floor, avg + spread * z) }
}
