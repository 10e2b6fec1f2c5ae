/// funcProvision (Alg. 1): the cheapest function, batch size and timeouts that serve a group
/// within every member's SLO.
public struct Provisioner: Sendable {
  /// How hard to look.
  public enum Search: String, Sendable {
    /// The paper's Theorems 1 and 2: three vCPU candidates per CPU batch size, and the largest
    /// feasible batch per GPU size. Kept to reproduce the paper.
    case paper
    /// Every vCPU size and every feasible GPU batch: never dearer than `paper`, and still only
    /// table look-ups (model reference §11).
    case exhaustive
  }

  /// A function, batch size and its predicted latency and cost per request.
  public struct Choice: Sendable, Equatable {
    public let function: FunctionConfig
    public let batch: Int
    public let latency: Latency
    public let costPerRequest: Double
  }

  let catalog: FunctionCatalog
  public let latencyModel: LatencyModel
  public let costModel: CostModel

  public init(latency: LatencyModel, cost: CostModel) {
    latencyModel = latency
    costModel = cost
    catalog = FunctionCatalog(latency: latency, cost: cost)
  }

  /// The cheapest choice for the group, or nil when no function meets its tightest SLO. CPU wins
  /// ties with GPU, and smaller GPU memory wins ties.
  public func provision(_ load: GroupLoad, search: Search) -> Choice? {
    let cpu = cheapestCPU(load, search: search)
    let gpu = cheapestGPU(load, search: search)
    switch (cpu, gpu) {
    case (let cpu?, let gpu?): return gpu.cost < cpu.cost ? choice(gpu) : choice(cpu)
    case (let cpu?, nil): return choice(cpu)
    case (nil, let gpu?): return choice(gpu)
    case (nil, nil): return nil
    }
  }

  public func provision(_ apps: [App], search: Search) -> Choice? {
    provision(GroupLoad(apps), search: search)
  }

  private func choice(_ option: FunctionCatalog.Option) -> Choice {
    Choice(
      function: option.function, batch: option.batch, latency: option.latency,
      costPerRequest: option.cost)
  }

  private func cheapestCPU(_ load: GroupLoad, search: Search) -> FunctionCatalog.Option? {
    var best: FunctionCatalog.Option?
    for batch in 1...catalog.cpu.count {
      let options = catalog.cpu[batch - 1]
      guard !options.isEmpty else { continue }
      // The tightest app's timeout t1 that makes the equivalent timeout exactly (b − 1)/R; the
      // fold shifts with t1, so it is a subtraction. t1 below 0 means any t1 ≥ 0 fills the batch.
      var tightestTimeout = 0.0
      if batch > 1 {
        guard load.rate > 0 else { break }
        let needed = Double(batch - 1) / load.rate
        tightestTimeout = max(0, load.tightestSLO + needed - load.slos.timeout)
      }
      let budget = load.tightestSLO - tightestTimeout
      guard budget > 0 else { continue }
      // Max latency falls as vCPU grows: the first size within the budget bounds the rest.
      guard let fast = firstIndex(in: options.count, where: { options[$0].latency.max <= budget })
      else { continue }
      let lower = max(fast, catalog.cpuFirstWithMemory[batch - 1])
      guard lower < options.count else { continue }
      let picked: Int
      switch search {
      case .exhaustive:
        picked = catalog.cpuCheapestFrom[batch - 1][lower]
      case .paper:
        var candidates = [lower, options.count - 1]
        if let interior = catalog.cpuInteriorMinimum[batch - 1], interior > lower {
          candidates.insert(interior, at: 1)
        }
        picked = candidates.min(by: { options[$0].cost < options[$1].cost })!
      }
      let option = options[picked]
      if option.cost.isFinite, option.cost < (best?.cost ?? .infinity) { best = option }
    }
    return best
  }

  private func cheapestGPU(_ load: GroupLoad, search: Search) -> FunctionCatalog.Option? {
    var best: FunctionCatalog.Option?
    for (index, options) in catalog.gpu.enumerated() {
      guard options[0].cost.isFinite else { continue }
      // Feasibility falls with b (Theorem 2's search space): memory, the tightest SLO, and
      // whether the group fills the batch within its equivalent timeout.
      let feasible = { (b: Int) -> Bool in
        let option = options[b]
        guard option.cost.isFinite, option.latency.max <= load.tightestSLO else { return false }
        let window = load.equivalentTimeout(minus: option.latency.max)
        return EquivalentTimeout.reachableBatch(rate: load.rate, timeout: window) >= b + 1
      }
      let largest = lastIndex(in: options.count, where: feasible)
      guard let largest else { continue }
      let picked = search == .paper ? largest : catalog.gpuCheapestUpTo[index][largest]
      let option = options[picked]
      if option.cost < (best?.cost ?? .infinity) { best = option }
    }
    return best
  }

  /// The first index in 0..<count where a predicate that turns true and stays true holds.
  private func firstIndex(in count: Int, where holds: (Int) -> Bool) -> Int? {
    var low = 0
    var high = count
    while low < high {
      let mid = (low + high) / 2
      if holds(mid) { high = mid } else { low = mid + 1 }
    }
    return low < count ? low : nil
  }

  /// The last index in 0..<count where a predicate that holds and then stops holding holds.
  private func lastIndex(in count: Int, where holds: (Int) -> Bool) -> Int? {
    var low = 0
    var high = count
    while low < high {
      let mid = (low + high) / 2
      if holds(mid) { low = mid + 1 } else { high = mid }
    }
    return low > 0 ? low - 1 : nil
  }
}
