/// The knee rate r*: the smallest arrival rate at which a single app with a given SLO is put on a
/// GPU function rather than a CPU one (found by bisection over 0.01...40 req/s, as the paper).
struct KneeRate: Sendable {
  static let lowest = 0.01
  static let highest = 40.0

  let provisioner: Provisioner
  let search: Provisioner.Search

  func rate(slo: Double) -> Double {
    func onGPU(_ rate: Double) -> Bool {
      provisioner.provision([App(id: "", slo: slo, rate: rate)], search: search)?.function.kind
        == .gpu
    }
    if onGPU(Self.lowest) { return Self.lowest }
    if !onGPU(Self.highest) { return Self.highest }
    var low = Self.lowest
    var high = Self.highest
    while high - low > 1e-4 {
      let mid = (low + high) / 2
      if onGPU(mid) { high = mid } else { low = mid }
    }
    return high
  }
}
