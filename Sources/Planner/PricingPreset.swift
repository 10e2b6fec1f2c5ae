import Foundation

/// How a serverless platform bills functions (model reference §5). Presets are data: the authors'
/// CNY prices (default, reproduces the paper), the paper's USD Eq. 6, and AWS Lambda ship as
/// resources; any file in the same format (`Schemas/pricing.schema.json`) works too.
public struct PricingPreset: Codable, Sendable, Equatable {
  public var format: Int = 1
  public var name: String
  public var currency: String
  public var description: String
  public var vcpuSecond: Double
  public var memoryGBSecond: Double
  public var gpuMemoryGBSecond: Double
  public var invocation: Double
  /// Function memory is allocated in steps of this many MB.
  public var memoryStepMB: Double
  public var cpu: CPUBilling
  /// Absent when the platform has no GPU functions.
  public var gpu: GPUBilling?

  public struct CPUBilling: Codable, Sendable, Equatable {
    /// Billed duration is the latency rounded up to this step; 0 bills the exact latency.
    public var billingStepS: Double
    /// A CPU function's memory must lie within [min·c, max·c] GB for c vCPU.
    public var memoryGBPerVCPU: Bounds
    /// The platform's own vCPU ceiling, if lower than the profile's.
    public var maxVCPU: Double?

    public struct Bounds: Codable, Sendable, Equatable {
      public var min: Double
      public var max: Double
    }

    enum CodingKeys: String, CodingKey {
      case billingStepS = "billing_step_s"
      case memoryGBPerVCPU = "memory_gb_per_vcpu"
      case maxVCPU = "max_vcpu"
    }
  }

  public struct GPUBilling: Codable, Sendable, Equatable {
    public var billingStepS: Double
    /// The host vCPU a GPU function with m GB gets: `m · vcpu_per_gpu_gb`.
    public var vcpuPerGPUGB: Double
    /// Whether a GPU function also pays for its host vCPU and memory.
    public var billsHost: Bool

    enum CodingKeys: String, CodingKey {
      case billingStepS = "billing_step_s"
      case vcpuPerGPUGB = "vcpu_per_gpu_gb"
      case billsHost = "bills_host"
    }
  }

  enum CodingKeys: String, CodingKey {
    case format, name, currency, description
    case vcpuSecond = "vcpu_second"
    case memoryGBSecond = "memory_gb_second"
    case gpuMemoryGBSecond = "gpu_memory_gb_second"
    case invocation
    case memoryStepMB = "memory_step_mb"
    case cpu, gpu
  }

  public func validated() throws(PlannerInputError) -> PricingPreset {
    func fail(_ field: String, _ why: String) -> PlannerInputError {
      PlannerInputError("pricing '\(name)': \(field) \(why)")
    }
    guard format == 1 else { throw fail("format", "must be 1 (got \(format))") }
    for (field, value) in [
      ("vcpu_second", vcpuSecond), ("memory_gb_second", memoryGBSecond),
      ("gpu_memory_gb_second", gpuMemoryGBSecond), ("invocation", invocation),
      ("cpu.billing_step_s", cpu.billingStepS),
    ] where !(value >= 0 && value.isFinite) {
      throw fail(field, "must be a finite number ≥ 0 (got \(value))")
    }
    guard memoryStepMB > 0 else { throw fail("memory_step_mb", "must be > 0") }
    guard cpu.memoryGBPerVCPU.min > 0, cpu.memoryGBPerVCPU.max >= cpu.memoryGBPerVCPU.min else {
      throw fail("cpu.memory_gb_per_vcpu", "needs 0 < min ≤ max")
    }
    if let gpu {
      guard gpu.billingStepS >= 0 else { throw fail("gpu.billing_step_s", "must be ≥ 0") }
      guard gpu.vcpuPerGPUGB > 0 else { throw fail("gpu.vcpu_per_gpu_gb", "must be > 0") }
    }
    return self
  }

  /// Rounds a duration up to the billing step (a small tolerance keeps exact multiples exact).
  static func billed(_ seconds: Double, step: Double) -> Double {
    guard step > 0 else { return seconds }
    return (seconds / step - 1e-9).rounded(.up) * step
  }
}

extension PricingPreset {
  public static let builtInNames = ["alibaba-cny", "paper-usd", "aws-lambda"]
  public static let defaultName = "alibaba-cny"

  public static func builtIn(named name: String) throws(PlannerInputError) -> PricingPreset {
    guard let canonical = builtInNames.first(where: { $0 == name.lowercased() }) else {
      throw PlannerInputError(
        "unknown pricing preset '\(name)'; presets: \(builtInNames.joined(separator: ", "))"
          + " (or give a pricing file)")
    }
    return try PlannerResources.decode(PricingPreset.self, resource: canonical, in: "pricing")
      .validated()
  }

  /// A preset name, or a path to a pricing file (anything with a `/` or ending in `.json`).
  public static func named(orPath value: String) throws(PlannerInputError) -> PricingPreset {
    if value.contains("/") || value.hasSuffix(".json") {
      return try PlannerResources.decodeFile(PricingPreset.self, path: value, what: "pricing")
        .validated()
    }
    return try builtIn(named: value)
  }
}
