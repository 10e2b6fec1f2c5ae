import Foundation

/// Every function configuration the platform offers for one model, with latency and cost worked
/// out once. Latency and cost do not depend on the group, so provisioning a group is a few table
/// look-ups and binary searches instead of a search over resources.
struct FunctionCatalog: Sendable {
  struct Option: Sendable {
    let function: FunctionConfig
    let batch: Int
    let latency: Latency
    /// Cost per request; `.infinity` where memory rules forbid the configuration.
    let cost: Double
  }

  /// `cpu[b − 1]`: every vCPU size in ascending order.
  let cpu: [[Option]]
  /// `cpuCheapestFrom[b − 1][k]`: index of the cheapest option among `k...` (first on ties).
  let cpuCheapestFrom: [[Int]]
  /// `cpuFirstWithMemory[b − 1]`: the first vCPU size whose memory can hold the batch.
  let cpuFirstWithMemory: [Int]
  /// `cpuInteriorMinimum[b − 1]`: the grid index of Theorem 1's interior cost minimum, if any.
  let cpuInteriorMinimum: [Int?]
  /// `gpu[i][b − 1]` for the i-th GPU memory size, ascending.
  let gpu: [[Option]]
  /// `gpuCheapestUpTo[i][b − 1]`: index (b − 1) of the cheapest batch among 1...b (first on ties).
  let gpuCheapestUpTo: [[Int]]
  /// `cpuInvocation[v][k − 1]`: the expected billed cost of one invocation holding k requests on
  /// the v-th vCPU size (`ExpectedBilling`); `.infinity` where memory rules forbid it.
  let cpuInvocation: [[Double]]
  /// `cpuFloor[v][b − 1]`: a lower bound of the expected billed cost per request of the v-th vCPU
  /// size with batch size b (`floors`); `cpuByFloor[b − 1]` lists the vCPU sizes by it, lowest
  /// first.
  let cpuFloor: [[Double]]
  let cpuByFloor: [[Int]]
  /// `gpuInvocation[i][k − 1]` and `gpuFloor[i][b − 1]`: the same on the i-th GPU memory size.
  let gpuInvocation: [[Double]]
  let gpuFloor: [[Double]]

  init(latency: LatencyModel, cost: CostModel) {
    let profile = latency.profile
    let step = profile.cpu.vcpu.step ?? 0.05
    let ceiling = min(profile.cpu.vcpu.max, cost.pricing.cpu.maxVCPU ?? .infinity)
    let firstStep = (profile.cpu.vcpu.min / step - 1e-9).rounded(.up)
    let lastStep = (ceiling / step + 1e-9).rounded(.down)
    let sizes =
      firstStep <= lastStep
      ? (Int(firstStep)...Int(lastStep)).map { (Double($0) * step * 1e6).rounded() / 1e6 } : []

    var cpu: [[Option]] = []
    var cheapestFrom: [[Int]] = []
    var firstWithMemory: [Int] = []
    var interior: [Int?] = []
    for batch in 1...profile.cpu.maxBatch {
      let options = sizes.map { vcpu -> Option in
        let predicted = latency.cpu(vcpu: vcpu, batch: batch)
        let price =
          cost.cpuCostPerRequest(vcpu: vcpu, batch: batch, avgLatency: predicted.avg) ?? .infinity
        return Option(function: .cpu(vcpu: vcpu), batch: batch, latency: predicted, cost: price)
      }
      cpu.append(options)
      cheapestFrom.append(Self.cheapestSuffix(options.map(\.cost)))
      firstWithMemory.append(options.firstIndex(where: { $0.cost.isFinite }) ?? options.count)
      interior.append(
        Self.interiorMinimum(profile.cpu.latencyAvg[batch - 1]).flatMap { root in
          sizes.firstIndex(where: { $0 >= root - 1e-9 })
        })
    }
    self.cpu = cpu
    // Options by vCPU size, each with its batch sizes in order.
    let byVCPU = sizes.indices.map { v in cpu.map { $0[v] } }
    cpuInvocation = byVCPU.map { Self.expectedInvocations($0, cost: cost) }
    let cpuFloor = cpuInvocation.map(Self.floors)
    self.cpuFloor = cpuFloor
    cpuByFloor = cpu.indices.map { b in
      sizes.indices.sorted { cpuFloor[$0][b] < cpuFloor[$1][b] }
    }
    self.cpuCheapestFrom = cheapestFrom
    self.cpuFirstWithMemory = firstWithMemory
    self.cpuInteriorMinimum = interior

    var gpu: [[Option]] = []
    var cheapestUpTo: [[Int]] = []
    if let gpuProfile = profile.gpu, cost.pricing.gpu != nil {
      let low = Int(gpuProfile.memoryGB.min.rounded(.up))
      let high = Int(gpuProfile.memoryGB.max.rounded(.down))
      for memory in low...max(low, high) where memory <= high {
        let vcpu = cost.gpuVCPU(memoryGB: memory) ?? 0
        let options = (1...gpuProfile.maxBatch).map { batch -> Option in
          let predicted = latency.gpu(memoryGB: memory, vcpu: vcpu, batch: batch)
          let fits = cost.gpuDemandGB(batch: batch) <= memory
          let price =
            fits
            ? cost.gpuCostPerRequest(memoryGB: memory, batch: batch, avgLatency: predicted.avg)
              ?? .infinity : .infinity
          return Option(
            function: .gpu(memoryGB: memory, vcpu: vcpu), batch: batch, latency: predicted,
            cost: price)
        }
        gpu.append(options)
        var best = 0
        cheapestUpTo.append(
          options.indices.map { index in
            if options[index].cost < options[best].cost { best = index }
            return best
          })
      }
    }
    self.gpu = gpu
    self.gpuCheapestUpTo = cheapestUpTo
    gpuInvocation = gpu.map { Self.expectedInvocations($0, cost: cost) }
    gpuFloor = gpuInvocation.map(Self.floors)
  }

  /// The expected billed cost of one invocation of each option, holding its batch size.
  private static func expectedInvocations(_ options: [Option], cost: CostModel) -> [Double] {
    options.map { option in
      guard option.cost.isFinite else { return .infinity }
      return cost.expectedInvocationCost(
        of: option.function, requests: option.batch, latency: option.latency) ?? .infinity
    }
  }

  /// `floors(c)[b − 1]`: the least `c[k − 1] / k` over k in 1...b. A lower bound of the expected
  /// billed cost per request with batch size b, whatever the fill: a mean of costs over a mean of
  /// requests is at least the least ratio.
  private static func floors(_ invocations: [Double]) -> [Double] {
    var least = Double.infinity
    return invocations.enumerated().map { index, invocation in
      least = min(least, invocation / Double(index + 1))
      return least
    }
  }

  private static func cheapestSuffix(_ costs: [Double]) -> [Int] {
    var result = Array(repeating: 0, count: costs.count)
    var best = costs.count - 1
    for index in costs.indices.reversed() {
      if costs[index] <= costs[best] { best = index }
      result[index] = best
    }
    return result
  }

  /// Theorem 1: with memory proportional to vCPU, cost ∝ c·L(c), whose derivative
  /// `α(1 − c/β)e^{−c/β} + γ` has its minimum at c = 2β. When it is negative there, cost has one
  /// interior minimum at the larger root, found by bisection.
  static func interiorMinimum(_ triple: ModelProfile.ExponentialLatency) -> Double? {
    let derivative = { (c: Double) in
      let x = c / triple.beta
      return triple.alpha * (1 - x) * exp(-x) + triple.gamma
    }
    var low = 2 * triple.beta
    guard derivative(low) < 0 else { return nil }
    var high = low
    repeat {
      high *= 2
      if high > 1e6 { return nil }
    } while derivative(high) < 0
    for _ in 0..<100 {
      let mid = (low + high) / 2
      if derivative(mid) < 0 { low = mid } else { high = mid }
    }
    return high
  }
}
