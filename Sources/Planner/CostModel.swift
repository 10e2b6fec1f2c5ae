import Foundation

/// What a request costs on a function (model reference §5): the per-invocation price of the
/// billed duration and the invocation fee, divided by the batch. Also the memory rules that make a
/// configuration possible at all.
public struct CostModel: Sendable {
  public let profile: ModelProfile
  public let pricing: PricingPreset

  public init(profile: ModelProfile, pricing: PricingPreset) {
    self.profile = profile
    self.pricing = pricing
  }

  private var stepGB: Double { pricing.memoryStepMB / 1024 }

  private func roundedUpGB(megabytes: Double) -> Double {
    (megabytes / pricing.memoryStepMB - 1e-9).rounded(.up) * stepGB
  }

  /// The model's memory demand for a CPU batch, rounded up to the memory step (GB).
  public func cpuDemandGB(batch: Int) -> Double {
    roundedUpGB(
      megabytes: profile.cpu.memoryMB.perRequest * Double(batch) + profile.cpu.memoryMB.base)
  }

  /// The memory a CPU function with `vcpu` gets for `batch`, or nil when the platform cannot give
  /// that much memory to so few vCPU.
  public func cpuMemoryGB(vcpu: Double, batch: Int) -> Double? {
    let demand = cpuDemandGB(batch: batch)
    let bounds = pricing.cpu.memoryGBPerVCPU
    guard demand <= bounds.max * vcpu + 1e-9 else { return nil }
    return roundedUpGB(megabytes: Swift.max(demand, bounds.min * vcpu) * 1024)
  }

  /// Cost per request of a batch of `batch` requests on `function` that ran `avgLatency`
  /// seconds; nil when the configuration is infeasible.
  public func costPerRequest(of function: FunctionConfig, batch: Int, avgLatency: Double)
    -> Double?
  {
    switch function.kind {
    case .cpu: cpuCostPerRequest(vcpu: function.vcpu, batch: batch, avgLatency: avgLatency)
    case .gpu:
      gpuCostPerRequest(memoryGB: function.gpuMemoryGB, batch: batch, avgLatency: avgLatency)
    }
  }

  /// Cost per request of a CPU batch with average latency `avgLatency`; nil when infeasible.
  public func cpuCostPerRequest(vcpu: Double, batch: Int, avgLatency: Double) -> Double? {
    let billed = PricingPreset.billed(avgLatency, step: pricing.cpu.billingStepS)
    return cpuInvocationCost(vcpu: vcpu, batch: batch, billedSeconds: billed).map {
      $0 / Double(batch)
    }
  }

  /// The cost of one invocation of a CPU function sized for `batch` and billed `billedSeconds`
  /// (already rounded to the billing step); nil when infeasible.
  func cpuInvocationCost(vcpu: Double, batch: Int, billedSeconds: Double) -> Double? {
    guard let memory = cpuMemoryGB(vcpu: vcpu, batch: batch) else { return nil }
    return pricing.invocation
      + (vcpu * pricing.vcpuSecond + memory * pricing.memoryGBSecond) * billedSeconds
  }

  /// The host vCPU of a GPU function with `memoryGB` GB.
  public func gpuVCPU(memoryGB: Int) -> Double? {
    pricing.gpu.map { Double(memoryGB) * $0.vcpuPerGPUGB }
  }

  /// GPU memory a batch needs: `1 + #{k < b}` GB.
  public func gpuDemandGB(batch: Int) -> Int {
    1 + (profile.gpu?.memoryThresholds.filter { $0 < batch }.count ?? 0)
  }

  /// The host memory of a GPU function (GB), or nil when it exceeds what its vCPU allow.
  public func gpuHostMemoryGB(memoryGB: Int) -> Double? {
    guard let gpu = profile.gpu, let vcpu = gpuVCPU(memoryGB: memoryGB) else { return nil }
    let host = roundedUpGB(megabytes: gpu.hostMemoryMB)
    guard host <= pricing.cpu.memoryGBPerVCPU.max * vcpu + 1e-9 else { return nil }
    return host
  }

  /// Cost per request of a GPU batch; nil when the platform has no GPU or the host memory does
  /// not fit.
  public func gpuCostPerRequest(memoryGB: Int, batch: Int, avgLatency: Double) -> Double? {
    guard let billing = pricing.gpu else { return nil }
    let billed = PricingPreset.billed(avgLatency, step: billing.billingStepS)
    return gpuInvocationCost(memoryGB: memoryGB, billedSeconds: billed).map { $0 / Double(batch) }
  }

  /// The cost of one invocation of a GPU function billed `billedSeconds` (already rounded to the
  /// billing step); nil when the platform has no GPU or the host memory does not fit.
  func gpuInvocationCost(memoryGB: Int, billedSeconds: Double) -> Double? {
    guard let billing = pricing.gpu, let vcpu = gpuVCPU(memoryGB: memoryGB),
      let host = gpuHostMemoryGB(memoryGB: memoryGB)
    else { return nil }
    var rate = Double(memoryGB) * pricing.gpuMemoryGBSecond
    if billing.billsHost {
      rate += vcpu * pricing.vcpuSecond + host * pricing.memoryGBSecond
    }
    return pricing.invocation + rate * billedSeconds
  }

  /// The billing step of `function`'s kind (seconds; 0 bills the exact duration).
  func billingStep(of function: FunctionConfig) -> Double {
    switch function.kind {
    case .cpu: pricing.cpu.billingStepS
    case .gpu: pricing.gpu?.billingStepS ?? 0
    }
  }

  /// The expected cost of one invocation of `function` holding `requests` requests whose latency
  /// varies around `latency` (`ExpectedBilling`); nil when infeasible.
  func expectedInvocationCost(of function: FunctionConfig, requests: Int, latency: Latency)
    -> Double?
  {
    let seconds = ExpectedBilling.seconds(latency, step: billingStep(of: function))
    switch function.kind {
    case .cpu:
      return cpuInvocationCost(vcpu: function.vcpu, batch: requests, billedSeconds: seconds)
    case .gpu: return gpuInvocationCost(memoryGB: function.gpuMemoryGB, billedSeconds: seconds)
    }
  }
}
