/// BATCH (Ali et al., SC'20), the paper's CPU-only baseline (model reference §7): every app alone,
/// an exhaustive grid over vCPU × batch size, sized on the *average* latency (its model has no
/// tail), timeout `SLO − L_avg` (0 for b = 1), cost at the expected batch `min(b, ⌊r·t⌋ + 1)`; if
/// nothing fits, the largest function with b = 1.
///
/// Its predicted cost is often low because its model is wrong: the plan reports the true maximum
/// latency beside it, and the simulator counts the SLO violations that follow.
struct BatchBaseline: Sendable {
  let provisioner: Provisioner

  func plan(_ apps: [App]) -> [GroupAssignment] {
    apps.map(plan(_:))
  }

  private func plan(_ app: App) -> GroupAssignment {
    let catalog = provisioner.catalog
    var best: GroupAssignment?
    for (index, options) in catalog.cpu.enumerated() {
      let batch = index + 1
      for option in options where option.cost.isFinite && option.latency.avg <= app.slo {
        let timeout = batch == 1 ? 0 : app.slo - option.latency.avg
        let expected = min(
          batch, EquivalentTimeout.reachableBatch(rate: app.rate, timeout: timeout))
        let cost = option.cost * Double(batch) / Double(expected)
        if cost < (best?.costPerRequest ?? .infinity) {
          best = GroupAssignment(
            members: [app], function: option.function, batch: batch, latency: option.latency,
            costPerRequest: cost, timeouts: [app.id: timeout])
        }
      }
    }
    if let best { return best }
    let largest = catalog.cpu[0].last(where: { $0.cost.isFinite }) ?? catalog.cpu[0].last!
    return GroupAssignment(
      members: [app], function: largest.function, batch: 1, latency: largest.latency,
      costPerRequest: largest.cost, timeouts: [app.id: 0])
  }
}
