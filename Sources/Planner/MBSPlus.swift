/// MBS+ (Ali et al., VLDB'22, extended with GPU functions by the HarmonyBatch authors; model
/// reference §7): for k = 1...n, split the total rate into k equal shares, walking the apps in SLO
/// order (an app's rate may be split across shares), provision every share, and keep the k with
/// the lowest total cost. The original searched each share with 15 steps of Bayesian
/// optimisation; provisioning each share exhaustively makes a stronger, deterministic baseline.
struct MBSPlus: Sendable {
  let provisioner: Provisioner
  let search: Provisioner.Search = .exhaustive

  func plan(_ apps: [App]) -> [GroupAssignment] {
    guard !apps.isEmpty else { return [] }
    let total = apps.reduce(0) { $0 + $1.rate }
    var best: (cost: Double, shares: [[App]])?
    for count in 1...(total > 0 ? apps.count : 1) {
      let shares = split(apps, into: count, total: total)
      var cost = 0.0
      for share in shares {
        guard let choice = provisioner.provision(share, search: search) else {
          cost = .infinity
          break
        }
        cost += share.reduce(0) { $0 + $1.rate } * choice.objectiveCost
      }
      if cost < (best?.cost ?? .infinity) { best = (cost, shares) }
    }
    return (best?.shares ?? [apps]).map { share in
      GroupAssignment(members: share, choice: provisioner.provision(share, search: search)!)
    }
  }

  /// Consecutive shares of `total / count` each; the last takes what rounding leaves.
  private func split(_ apps: [App], into count: Int, total: Double) -> [[App]] {
    guard count > 1 else { return [apps] }
    let quota = total / Double(count)
    var shares: [[App]] = []
    var current: [App] = []
    var room = quota
    for app in apps {
      guard app.rate > 0 else {
        current.append(app)  // no traffic to split; it still belongs to a group
        continue
      }
      var left = app.rate
      while left > 1e-12 * max(1, total) {
        if room <= 1e-12 * max(1, total), shares.count < count - 1 {
          shares.append(current)
          current = []
          room = quota
        }
        let take = shares.count == count - 1 ? left : min(left, room)
        current.append(App(id: app.id, slo: app.slo, rate: take))
        left -= take
        room -= take
      }
    }
    if !current.isEmpty { shares.append(current) }
    return shares
  }
}
