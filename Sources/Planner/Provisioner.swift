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

  /// Which cost a choice is the cheapest by.
  public enum Objective: String, Sendable {
    /// The paper's (Eq. 6): every batch full, billed on its average latency. `harmony` and the
    /// baselines plan on it, so that they reproduce the paper.
    case predicted
    /// The expected billed cost (`BilledCost`): batches filled as Poisson arrivals fill them
    /// within the group's equivalent timeout, latency varying, each invocation rounded up to the
    /// billing step. `optimal` plans on it. Every feasible function and batch size is ranked
    /// (whatever the `Search`), pruned by lower bounds (`FunctionCatalog.cpuFloor`, `gpuFloor`)
    /// that never cut the cheapest.
    case billed
  }

  /// A function, batch size and its predicted latency and cost per request.
  public struct Choice: Sendable, Equatable {
    public let function: FunctionConfig
    public let batch: Int
    public let latency: Latency
    /// The paper's cost per request (every batch full).
    public let costPerRequest: Double
    /// The cost per request the choice was ranked by: `costPerRequest` under `.predicted`, the
    /// expected billed cost under `.billed`.
    public let objectiveCost: Double
  }

  let catalog: FunctionCatalog
  public let latencyModel: LatencyModel
  public let costModel: CostModel
  public private(set) var objective: Objective

  public init(latency: LatencyModel, cost: CostModel, objective: Objective = .predicted) {
    latencyModel = latency
    costModel = cost
    self.objective = objective
    catalog = FunctionCatalog(latency: latency, cost: cost)
  }

  /// The same functions, ranked by `objective` (the tables are shared, not rebuilt).
  public func ranking(by objective: Objective) -> Provisioner {
    var copy = self
    copy.objective = objective
    return copy
  }

  /// The cheapest choice for the group by `objective`, or nil when no function meets its
  /// tightest SLO. CPU wins ties with GPU, and smaller GPU memory wins ties.
  public func provision(_ load: GroupLoad, search: Search) -> Choice? {
    let cpu = cheapestCPU(load, search: search)
    let gpu = cheapestGPU(load, search: search)
    switch (cpu, gpu) {
    case (let cpu?, let gpu?): return gpu.cost < cpu.cost ? gpu.choice : cpu.choice
    case (let cpu?, nil): return cpu.choice
    case (nil, let gpu?): return gpu.choice
    case (nil, nil): return nil
    }
  }

  public func provision(_ apps: [App], search: Search) -> Choice? {
    provision(GroupLoad(apps), search: search)
  }

  /// An option and the cost it is ranked by.
  private struct Ranked {
    let choice: Choice
    var cost: Double { choice.objectiveCost }
  }

  private func ranked(_ option: FunctionCatalog.Option, objectiveCost: Double) -> Ranked {
    Ranked(
      choice: Choice(
        function: option.function, batch: option.batch, latency: option.latency,
        costPerRequest: option.cost, objectiveCost: objectiveCost))
  }

  /// The expected billed cost per request of `option` for the group, its batches waiting the
  /// equivalent timeout of `t_w = s_w − L_max`; `invocation(k)` is the expected cost of one
  /// invocation holding k requests.
  @inline(__always)
  private func billed(
    _ option: FunctionCatalog.Option, _ load: GroupLoad, invocation: (Int) -> Double
  ) -> Double {
    let window = max(0, load.equivalentTimeout(minus: option.latency.max))
    return BatchFill.expectedPerRequest(
      mean: load.rate * window, capacity: option.batch, invocationCost: invocation)
  }

  private func cheapestCPU(_ load: GroupLoad, search: Search) -> Ranked? {
    var best: Ranked?
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
      switch objective {
      case .predicted:
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
        if option.cost.isFinite, option.cost < (best?.cost ?? .infinity) {
          best = ranked(option, objectiveCost: option.cost)
        }
      case .billed:
        // Every vCPU size from `lower`, lowest floor first, until the floor reaches the best.
        for v in catalog.cpuByFloor[batch - 1] where v >= lower {
          if catalog.cpuFloor[v][batch - 1] >= (best?.cost ?? .infinity) { break }
          let option = options[v]
          guard option.cost.isFinite else { continue }
          let cost = billed(option, load) { catalog.cpuInvocation[v][$0 - 1] }
          if cost < (best?.cost ?? .infinity) { best = ranked(option, objectiveCost: cost) }
        }
      }
    }
    return best
  }

  private func cheapestGPU(_ load: GroupLoad, search: Search) -> Ranked? {
    var best: Ranked?
    // Subscripts straight into the catalog's tables (no local copies or closures over them):
    // this runs for every subset and segment the algorithms look at.
    for index in catalog.gpu.indices {
      guard catalog.gpu[index][0].cost.isFinite else { continue }
      // Feasibility falls with b (Theorem 2's search space): memory, the tightest SLO, and
      // whether the group fills the batch within its equivalent timeout. Binary search for the
      // last feasible batch.
      var low = 0
      var high = catalog.gpu[index].count
      while low < high {
        let mid = (low + high) / 2
        if gpuFeasible(index, mid, load) { low = mid + 1 } else { high = mid }
      }
      guard low > 0 else { continue }
      let largest = low - 1
      switch objective {
      case .predicted:
        let picked = search == .paper ? largest : catalog.gpuCheapestUpTo[index][largest]
        let option = catalog.gpu[index][picked]
        if option.cost < (best?.cost ?? .infinity) {
          best = ranked(option, objectiveCost: option.cost)
        }
      case .billed:
        // Largest batch first; no smaller batch can beat the best once the floor reaches it.
        for picked in stride(from: largest, through: 0, by: -1) {
          if catalog.gpuFloor[index][picked] >= (best?.cost ?? .infinity) { break }
          let option = catalog.gpu[index][picked]
          guard option.cost.isFinite else { continue }
          let cost = billed(option, load) { catalog.gpuInvocation[index][$0 - 1] }
          if cost < (best?.cost ?? .infinity) { best = ranked(option, objectiveCost: cost) }
        }
      }
    }
    return best
  }

  /// Whether the `index`-th GPU size can run batch `b + 1` for the group.
  @inline(__always)
  private func gpuFeasible(_ index: Int, _ b: Int, _ load: GroupLoad) -> Bool {
    let option = catalog.gpu[index][b]
    guard option.cost.isFinite, option.latency.max <= load.tightestSLO else { return false }
    let window = load.equivalentTimeout(minus: option.latency.max)
    return EquivalentTimeout.reachableBatch(rate: load.rate, timeout: window) >= b + 1
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
