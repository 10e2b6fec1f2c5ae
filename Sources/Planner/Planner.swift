import Foundation

/// Plans a set of apps on one model's functions under one pricing preset. Building a planner
/// works out every function configuration's latency and cost once; each `plan` call then only
/// groups and looks up. Pure: no I/O, no clocks except for `planning_ms`.
public struct Planner: Sendable {
  public enum Algorithm: String, CaseIterable, Sendable {
    /// The cheapest grouping by the expected billed cost (`BilledCost`): exact over all
    /// partitions up to 12 apps (`PartitionSearch`), beyond that a local search (moves, swaps,
    /// exact re-partitions of group pairs, merges) from the cheapest contiguous grouping and from
    /// the paper's merge, so not guaranteed optimal there; the default for real plans.
    case optimal
    /// The paper's two-stage merge, kept to reproduce it.
    case harmony
    /// BATCH: CPU only, one app per function, sized on average latency.
    case batch
    /// MBS+: equal rate shares, CPU or GPU per share.
    case mbs
  }

  public let profile: ModelProfile
  public let pricing: PricingPreset
  /// Ranks functions by the paper's objective (`harmony`, the baselines, feasibility).
  public let provisioner: Provisioner
  /// The same functions ranked by the expected billed cost (`optimal`).
  public let billedProvisioner: Provisioner
  /// The most apps one group may hold in `optimal`; nil lets the planner pick (no cap up to 2,000
  /// apps, then 256).
  public var maxGroupSpan: Int?

  public init(
    profile: ModelProfile, pricing: PricingPreset,
    gpuMaxMargin: Double = LatencyModel.defaultGPUMaxMargin, maxGroupSpan: Int? = nil
  ) {
    self.profile = profile
    self.pricing = pricing
    self.maxGroupSpan = maxGroupSpan
    provisioner = Provisioner(
      latency: LatencyModel(profile: profile, gpuMaxMargin: gpuMaxMargin),
      cost: CostModel(profile: profile, pricing: pricing))
    billedProvisioner = provisioner.ranking(by: .billed)
  }

  /// A planner for a built-in model under a built-in pricing preset.
  public init(model: String, pricing: String = PricingPreset.defaultName) throws(PlannerInputError)
  {
    self.init(
      profile: try ModelProfile.builtIn(named: model),
      pricing: try PricingPreset.builtIn(named: pricing))
  }

  /// A plan for `apps`. Throws for input no plan can come from (SLO ≤ 0, negative or non-finite
  /// rate, duplicate or empty ids); an app no function can serve is listed in `infeasible`.
  public func plan(_ apps: [App], algorithm: Algorithm = .optimal) throws(PlannerInputError)
    -> Plan
  {
    try Self.validate(apps)
    let clock = ContinuousClock()
    let started = clock.now
    var feasible: [App] = []
    var infeasible: [InfeasibleApp] = []
    for app in apps.sorted(by: App.ordered) {
      if provisioner.provision([app], search: .exhaustive) != nil {
        feasible.append(app)
      } else {
        infeasible.append(
          InfeasibleApp(app: app.id, sloMs: app.slo * 1000, rate: app.rate, reason: reason(app)))
      }
    }
    let groups: [GroupAssignment]
    switch algorithm {
    case .optimal:
      groups = optimal(feasible)
    case .harmony: groups = TwoStageMerge(provisioner: provisioner).plan(feasible)
    case .batch: groups = BatchBaseline(provisioner: provisioner).plan(feasible)
    case .mbs: groups = MBSPlus(provisioner: provisioner).plan(feasible)
    }
    let elapsed = clock.now - started
    return assemble(groups, infeasible: infeasible, algorithm: algorithm, elapsed: elapsed)
  }

  /// `optimal`: exact up to `PartitionSearch.maxApps`, else contiguous dynamic programming and
  /// local search, all on the search's objective (`searchObjective`); then, of what the search
  /// found and the paper's merge, the cheaper by the expected billed cost with batches filled
  /// app by app (`expectedBilled`), which the equivalent timeout the search uses only
  /// approximates. Groups in order of their tightest SLO, members in planner order.
  private func optimal(_ feasible: [App]) -> [GroupAssignment] {
    let provisioner = billedProvisioner
    let merge = TwoStageMerge(provisioner: self.provisioner).plan(feasible)
    let searched: [GroupAssignment]
    if let exact = PartitionSearch(provisioner: provisioner).plan(feasible) {
      searched = exact
    } else {
      let span = maxGroupSpan ?? (feasible.count <= 2000 ? max(1, feasible.count) : 256)
      let contiguous = ContiguousOptimum(provisioner: provisioner, maxSpan: max(1, span))
        .plan(feasible)
      let search = LocalSearch(provisioner: provisioner)
      // Two starts, different local optima: the contiguous optimum and the paper's merge.
      searched = [contiguous, merge].map(search.improve).min {
        $0.reduce(0) { $0 + $1.weightedCost } < $1.reduce(0) { $0 + $1.weightedCost }
      }!
    }
    var groups = expectedBilled(merge) < expectedBilled(searched) ? merge : searched
    for index in groups.indices { groups[index].members.sort(by: App.ordered) }
    return groups.sorted { App.ordered($0.members[0], $1.members[0]) }
  }

  /// The expected billed cost of `groups`, summed over their rates (`BilledCost`, batches
  /// filled app by app as the buffer fills them).
  func expectedBilled(_ groups: [GroupAssignment]) -> Double {
    let billed = BilledCost(latency: provisioner.latencyModel, cost: provisioner.costModel)
    return groups.reduce(0) { sum, group in
      let apps = group.members.map { (group.timeouts[$0.id] ?? 0, $0.rate) }
      let perRequest =
        billed.perRequest(function: group.function, batch: group.batch, apps: apps)
        ?? .infinity
      return sum + group.rate * perRequest
    }
  }

  /// The knee rate r* of a single app with this SLO (seconds) under the paper's provisioning.
  public func kneeRate(slo: Double) -> Double {
    KneeRate(provisioner: provisioner, search: .paper).rate(slo: slo)
  }

  /// The lowest `searchObjective` of all partitions (a yardstick for at most
  /// `PartitionSearch.maxYardstickApps` feasible apps), or nil.
  public func bestPartitionObjective(_ apps: [App]) -> Double? {
    PartitionSearch(provisioner: billedProvisioner).objective(apps)
  }

  /// The expected billed cost per request (batches filled app by app, as a plan's
  /// `billedObjective`) of the partition with the lowest `searchObjective` (a yardstick for at
  /// most `PartitionSearch.maxYardstickApps` feasible apps), or nil.
  public func bestPartitionBilled(_ apps: [App]) -> Double? {
    let sorted = apps.sorted(by: App.ordered)
    guard
      let groups = PartitionSearch(provisioner: billedProvisioner)
        .plan(sorted, limit: PartitionSearch.maxYardstickApps)
    else { return nil }
    let total = sorted.reduce(0) { $0 + $1.rate }
    return total > 0 ? expectedBilled(groups) / total : 0
  }

  /// What `optimal` ranks plans by, for any plan's groups as they are: the expected billed cost
  /// per request with each group's batches filled at its equivalent timeout (a Poisson count,
  /// one number per group and function, fast enough for the search). The plan's
  /// `billedObjective` fills them as the buffer does, app by app (`BatchFill(apps:capacity:)`):
  /// the better estimate of the bill, too slow to search with.
  public func searchObjective(_ plan: Plan) -> Double {
    let billed = BilledCost(latency: provisioner.latencyModel, cost: provisioner.costModel)
    var weighted = 0.0
    for group in plan.groups {
      let window = EquivalentTimeout.of(group.waits)
      let perRequest =
        billed.perRequest(
          function: group.function, batch: group.batchSize, rate: group.rate, window: window)
        ?? .infinity
      weighted += group.rate * perRequest
    }
    return plan.rate > 0 ? weighted / plan.rate : 0
  }

  static func validate(_ apps: [App]) throws(PlannerInputError) {
    var seen = Set<String>()
    for app in apps {
      guard !app.id.isEmpty else { throw PlannerInputError("an app has an empty id") }
      guard seen.insert(app.id).inserted else {
        throw PlannerInputError("duplicate app id '\(app.id)'")
      }
      guard app.slo > 0, app.slo.isFinite else {
        throw PlannerInputError("app '\(app.id)': SLO must be > 0 (got \(app.slo * 1000) ms)")
      }
      guard app.rate >= 0, app.rate.isFinite else {
        throw PlannerInputError("app '\(app.id)': rate must be ≥ 0 (got \(app.rate))")
      }
    }
  }

  private func reason(_ app: App) -> String {
    let catalog = provisioner.catalog
    var fastest: FunctionCatalog.Option?
    for option in (catalog.cpu.first ?? []) + catalog.gpu.compactMap(\.first)
    where option.cost.isFinite && option.latency.max < (fastest?.latency.max ?? .infinity) {
      fastest = option
    }
    guard let fastest else { return "no function configuration fits this model's memory" }
    return String(
      format: "SLO %.1f ms is below the fastest function's maximum latency (%.1f ms on %@, b=1)",
      app.slo * 1000, fastest.latency.max * 1000, fastest.function.description)
  }

  private func assemble(
    _ groups: [GroupAssignment], infeasible: [InfeasibleApp], algorithm: Algorithm,
    elapsed: Duration
  ) -> Plan {
    let total = groups.reduce(0) { $0 + $1.rate }
    let objective =
      total > 0
      ? groups.reduce(0) { $0 + $1.rate * $1.costPerRequest } / total
      : (groups.isEmpty
        ? 0 : groups.reduce(0) { $0 + $1.costPerRequest } / Double(groups.count))
    let billed = BilledCost(latency: provisioner.latencyModel, cost: provisioner.costModel)
    var planGroups = groups.enumerated().map { index, group in
      PlanGroup(
        id: "g\(index + 1)",
        apps: group.members.map(\.id),
        appRates: Dictionary(group.members.map { ($0.id, $0.rate) }, uniquingKeysWith: +),
        function: group.function,
        batchSize: group.batch,
        timeoutsMs: group.timeouts.mapValues { $0 * 1000 },
        slosMs: Dictionary(group.members.map { ($0.id, $0.slo * 1000) }, uniquingKeysWith: min),
        latencyAvgMs: group.latency.avg * 1000,
        latencyMaxMs: group.latency.max * 1000,
        costPerRequest: group.costPerRequest,
        rate: group.rate,
        share: total > 0 ? group.rate / total : 0)
    }
    for index in planGroups.indices {
      planGroups[index].billedCostPerRequest = billed.perRequest(planGroups[index])
    }
    let billedCosts = planGroups.map { $0.billedCostPerRequest ?? $0.costPerRequest }
    let billedObjective =
      total > 0
      ? zip(planGroups, billedCosts).reduce(0) { $0 + $1.0.rate * $1.1 } / total
      : (billedCosts.isEmpty ? 0 : billedCosts.reduce(0, +) / Double(billedCosts.count))
    let (seconds, attoseconds) = elapsed.components
    var plan = Plan(
      version: nil, createdAt: nil, algorithm: algorithm.rawValue, model: profile.name,
      modelEstimated: profile.estimated, pricing: pricing.name, currency: pricing.currency,
      objective: objective, planningMs: Double(seconds) * 1000 + Double(attoseconds) / 1e15,
      rate: total, groups: planGroups, infeasible: infeasible)
    plan.billedObjective = billedObjective
    return plan
  }
}
