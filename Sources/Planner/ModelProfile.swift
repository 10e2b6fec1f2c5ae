import Foundation

/// What one DNN model costs in time and memory on each kind of function: the latency and memory
/// models the planner works from (model reference §3, §5, §8). Profiles are data: the paper's four
/// ship as resources, and `harmonybatch profile` writes the same format (`Schemas/profile.schema.json`).
public struct ModelProfile: Codable, Sendable, Equatable {
  public var format: Int = 1
  public var name: String
  /// Where the numbers come from (a paper, a measurement run).
  public var source: String
  /// True when a part of the profile was derived rather than measured; shown wherever it is used.
  public var estimated: Bool
  public var cpu: CPUProfile
  /// Absent when the model has no GPU profile; the planner then uses CPU functions only.
  public var gpu: GPUProfile?

  public init(
    name: String, source: String, estimated: Bool, cpu: CPUProfile, gpu: GPUProfile?
  ) {
    self.name = name
    self.source = source
    self.estimated = estimated
    self.cpu = cpu
    self.gpu = gpu
  }

  /// `L(c) = α·exp(−c/β) + γ`, one triple per batch size (Eq. 1).
  public struct ExponentialLatency: Codable, Sendable, Equatable {
    public var alpha: Double
    public var beta: Double
    public var gamma: Double

    public init(alpha: Double, beta: Double, gamma: Double) {
      self.alpha = alpha
      self.beta = beta
      self.gamma = gamma
    }

    public func callAsFunction(vcpu: Double) -> Double { alpha * exp(-vcpu / beta) + gamma }
  }

  public struct Range: Codable, Sendable, Equatable {
    public var min: Double
    public var max: Double
    public var step: Double?

    public init(min: Double, max: Double, step: Double? = nil) {
      self.min = min
      self.max = max
      self.step = step
    }
  }

  public struct CPUProfile: Codable, Sendable, Equatable {
    /// The vCPU a CPU function may be given, and the step between sizes.
    public var vcpu: Range
    public var maxBatch: Int
    /// Memory demand in MB for a batch of b: `per_request · b + base`.
    public var memoryMB: MemoryModel
    /// Average and maximum latency, index `b − 1`.
    public var latencyAvg: [ExponentialLatency]
    public var latencyMax: [ExponentialLatency]

    public struct MemoryModel: Codable, Sendable, Equatable {
      public var perRequest: Double
      public var base: Double

      public init(perRequest: Double, base: Double) {
        self.perRequest = perRequest
        self.base = base
      }
      enum CodingKeys: String, CodingKey {
        case perRequest = "per_request"
        case base
      }
    }

    public init(
      vcpu: Range, maxBatch: Int, memoryMB: MemoryModel, latencyAvg: [ExponentialLatency],
      latencyMax: [ExponentialLatency]
    ) {
      self.vcpu = vcpu
      self.maxBatch = maxBatch
      self.memoryMB = memoryMB
      self.latencyAvg = latencyAvg
      self.latencyMax = latencyMax
    }

    enum CodingKeys: String, CodingKey {
      case vcpu
      case maxBatch = "max_batch"
      case memoryMB = "memory_mb"
      case latencyAvg = "latency_avg"
      case latencyMax = "latency_max"
    }
  }

  public struct GPUProfile: Codable, Sendable, Equatable {
    public var hardware: String
    /// GPU memory a function may hold, in whole GB; `max` is the whole GPU (M_max).
    public var memoryGB: Range
    public var maxBatch: Int
    /// Latency on the whole GPU: `L0(b) = xi1·b + xi2` seconds (Eq. 2).
    public var xi1: Double
    public var xi2: Double
    /// The time-slicing period τ (seconds).
    public var timeSliceS: Double
    /// GPU memory demand: `1 + #{k < b}` GB.
    public var memoryThresholds: [Int]
    public var hostMemoryMB: Double
    /// Share of L0 spent on the function's host CPU rather than the GPU (0.57 for BERT, else 0).
    public var hostCPUShare: Double

    enum CodingKeys: String, CodingKey {
      case hardware
      case memoryGB = "memory_gb"
      case maxBatch = "max_batch"
      case xi1, xi2
      case timeSliceS = "time_slice_s"
      case memoryThresholds = "memory_thresholds"
      case hostMemoryMB = "host_memory_mb"
      case hostCPUShare = "host_cpu_share"
    }
  }

  /// The profile as pretty JSON with sorted keys (the format `harmonybatch profile` writes). A
  /// number JSON cannot hold (a NaN coefficient of a failed fit, say) throws `EncodingError`: no
  /// profile is ever written empty.
  public func jsonData() throws(EncodingError) -> Data {
    try JSONEncoding.encode(self, [.prettyPrinted, .sortedKeys])
  }

  /// Checks what decoding cannot: ranges, one triple per batch size, positive coefficients.
  public func validated() throws(PlannerInputError) -> ModelProfile {
    func fail(_ field: String, _ why: String) -> PlannerInputError {
      PlannerInputError("profile '\(name)': \(field) \(why)")
    }
    guard format == 1 else { throw fail("format", "must be 1 (got \(format))") }
    guard cpu.maxBatch >= 1 else { throw fail("cpu.max_batch", "must be ≥ 1") }
    guard cpu.latencyAvg.count == cpu.maxBatch, cpu.latencyMax.count == cpu.maxBatch else {
      throw fail(
        "cpu.latency_avg/latency_max", "need one triple per batch size 1...\(cpu.maxBatch)")
    }
    for triple in cpu.latencyAvg + cpu.latencyMax
    where !(triple.beta > 0 && triple.alpha >= 0 && triple.alpha.isFinite && triple.gamma.isFinite)
    {
      throw fail("cpu latency", "needs alpha ≥ 0, beta > 0 and finite values in every triple")
    }
    guard cpu.vcpu.min > 0, cpu.vcpu.max >= cpu.vcpu.min, (cpu.vcpu.step ?? 0) > 0 else {
      throw fail("cpu.vcpu", "needs 0 < min ≤ max and a positive step")
    }
    if let gpu {
      guard gpu.maxBatch >= 1 else { throw fail("gpu.max_batch", "must be ≥ 1") }
      guard gpu.memoryGB.min >= 1, gpu.memoryGB.max >= gpu.memoryGB.min else {
        throw fail("gpu.memory_gb", "needs 1 ≤ min ≤ max")
      }
      guard gpu.timeSliceS > 0 else { throw fail("gpu.time_slice_s", "must be > 0") }
      guard (0...1).contains(gpu.hostCPUShare) else {
        throw fail("gpu.host_cpu_share", "must be within 0...1")
      }
      guard gpu.xi1 >= 0, gpu.xi1 + gpu.xi2 > 0 else {
        throw fail("gpu.xi1/xi2", "must give a positive latency for b = 1")
      }
    }
    return self
  }
}

extension ModelProfile {
  /// The paper's published profiles.
  public static let paperModelNames = ["VGG19", "Bert", "GPT-2", "VideoMAE"]
  /// Every profile shipped with the planner: the paper's four and `minilm`, measured here.
  public static let builtInNames = paperModelNames + ["minilm"]

  /// A built-in profile by name (case-insensitive).
  public static func builtIn(named name: String) throws(PlannerInputError) -> ModelProfile {
    guard let canonical = builtInNames.first(where: { $0.lowercased() == name.lowercased() })
    else {
      throw PlannerInputError(
        "unknown model '\(name)'; built-in models: \(builtInNames.joined(separator: ", "))"
          + " (or give a profile file with --profile)")
    }
    return try PlannerResources.decode(ModelProfile.self, resource: canonical, in: "profiles")
      .validated()
  }

  /// A profile from a JSON file in the documented format.
  public static func load(path: String) throws(PlannerInputError) -> ModelProfile {
    try PlannerResources.decodeFile(ModelProfile.self, path: path, what: "profile").validated()
  }
}

extension ModelProfile {
  /// The same profile with every CPU latency (average and maximum, every batch size) multiplied
  /// by `factor`: a machine uniformly faster or slower than the one profiled.
  public func scaledCPU(by factor: Double) -> ModelProfile {
    var scaled = self
    func scale(_ curve: ExponentialLatency) -> ExponentialLatency {
      ExponentialLatency(alpha: curve.alpha * factor, beta: curve.beta, gamma: curve.gamma * factor)
    }
    scaled.cpu.latencyAvg = cpu.latencyAvg.map(scale)
    scaled.cpu.latencyMax = cpu.latencyMax.map(scale)
    return scaled
  }
}

extension ModelProfile {
  /// Every latency, CPU and GPU, times `factor`: the same functions uniformly slower or faster.
  public func scaled(by factor: Double) -> ModelProfile {
    var scaled = scaledCPU(by: factor)
    scaled.gpu?.xi1 *= factor
    scaled.gpu?.xi2 *= factor
    return scaled
  }
}
