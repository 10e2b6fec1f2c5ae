/// What provisioning needs to know about a group: its total rate, its tightest SLO, and the
/// equivalent timeout of its SLOs (the fold of `t_w = s_w`; any common shift of the timeouts
/// shifts it by the same amount). Built by adding apps in SLO order.
public struct GroupLoad: Sendable, Equatable {
  public private(set) var slos = EquivalentTimeout()
  public private(set) var tightestSLO: Double = .infinity

  public init() {}

  public init<S: Sequence>(_ apps: S) where S.Element == App {
    for app in apps.sorted(by: App.ordered) { add(app) }
  }

  public var rate: Double { slos.rate }
  public var count: Int { slos.count }

  /// Adds the next app; its SLO must be at least every SLO added before.
  public mutating func add(_ app: App) {
    tightestSLO = min(tightestSLO, app.slo)
    slos.add(timeout: app.slo, rate: app.rate)
  }

  /// The equivalent timeout when every app's timeout is its SLO minus `latency`.
  func equivalentTimeout(minus latency: Double) -> Double { slos.timeout - latency }
}
