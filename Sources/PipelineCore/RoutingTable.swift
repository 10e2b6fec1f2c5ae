import Foundation
import Planner

/// Where the router sends a request: a group of the current plan, or the reason it cannot be
/// served.
public enum RouteOutcome: Sendable, Equatable {
  /// `planned` is false for an app the plan does not cover, served alone until a plan does.
  case group(GroupSpec, slo: Double, timeout: Double, planned: Bool)
  case reject(ReasonCode, detail: String)
}

/// The router's view of a plan: app → group, with each app's timeout and SLO. Pure.
///
/// - A request's own `hb-slo-ms` wins over the plan's SLO; its wait is cut so the group's maximum
///   latency still fits (`min(t_w, slo − L_max)`).
/// - An app the plan does not cover, or whose request SLO its group cannot meet, is served alone
///   on the cheapest function that meets the SLO at batch size 1 (provisioned by `planner`), in a
///   group named `solo:<app>:<slo ms>`, until a plan covers it.
/// - An app split across groups (the `mbs` baseline) has its requests spread by the groups'
///   shares of its rate.
public struct RoutingTable: Sendable {
  struct Route: Sendable {
    var spec: GroupSpec
    var timeout: Double
    var slo: Double
    var weight: Double
  }

  public let plan: Plan?
  public let version: Int
  private let routes: [String: [Route]]
  private let planner: Planner?
  private var solo: [String: RouteOutcome] = [:]
  private var soloGroups = 0
  /// Groups served alone under one plan at most (apps the plan does not cover, or SLOs its groups
  /// cannot meet): app ids are the tenants' choice, and each such group is a buffer in the
  /// batcher. Beyond it a request is refused (`too-many-unplanned`) until a plan covers its app.
  public let maxUnplanned: Int
  public static let defaultMaxUnplanned = 256

  /// `planner` provisions apps the plan does not cover; without one they are rejected.
  public init(plan: Plan?, planner: Planner?, maxUnplanned: Int = defaultMaxUnplanned) {
    self.plan = plan
    self.planner = planner
    self.maxUnplanned = max(0, maxUnplanned)
    version = plan?.version ?? 0
    var routes: [String: [Route]] = [:]
    for group in plan?.groups ?? [] {
      let spec = GroupSpec(
        key: GroupKey(planVersion: plan?.version ?? 0, group: group.id),
        function: group.function, capacity: group.batchSize,
        latencyMax: group.latencyMaxMs / 1000)
      for app in group.apps {
        routes[app, default: []].append(
          Route(
            spec: spec, timeout: (group.timeoutsMs[app] ?? 0) / 1000,
            slo: (group.slosMs[app] ?? 0) / 1000, weight: group.appRates[app] ?? 1))
      }
    }
    self.routes = routes
  }

  /// Whether the plan covers `app`.
  public func covers(_ app: String) -> Bool { routes[app] != nil }

  /// Decides where a request goes. `sloMs` is its `hb-slo-ms` header, if any; `spread` (any
  /// well-mixed number, e.g. a hash of the offset) picks among the groups of a split app.
  public mutating func route(app: String, sloMs: Double?, spread: UInt64 = 0) -> RouteOutcome {
    let planned = routes[app]
    let slo: Double
    if let sloMs {
      slo = sloMs / 1000
    } else if let known = planned?.first?.slo, known > 0 {
      slo = known
    } else {
      return .reject(
        .missingSLO, detail: "app '\(app)' has no \(HeaderName.slo) header and no SLO in the plan")
    }
    if let planned {
      let route = pick(planned, spread: spread)
      if route.spec.latencyMax <= slo {
        let timeout = max(0, min(route.timeout, slo - route.spec.latencyMax))
        return .group(route.spec, slo: slo, timeout: timeout, planned: true)
      }
    }
    return alone(app: app, slo: slo)
  }

  private func pick(_ routes: [Route], spread: UInt64) -> Route {
    guard routes.count > 1 else { return routes[0] }
    let total = routes.reduce(0) { $0 + $1.weight }
    guard total > 0 else { return routes[Int(spread % UInt64(routes.count))] }
    var point = Double(spread % 1_000_003) / 1_000_003 * total
    for route in routes {
      point -= route.weight
      if point < 0 { return route }
    }
    return routes[routes.count - 1]
  }

  private mutating func alone(app: String, slo: Double) -> RouteOutcome {
    let sloMs = (slo * 1000 * 1000).rounded() / 1000
    let cacheKey = "\(app)\u{0}\(sloMs)"
    if let known = solo[cacheKey] { return known }
    guard soloGroups < maxUnplanned else {
      return .reject(
        .tooManyUnplanned,
        detail: "app '\(app)' with an SLO of \(formatted(sloMs)) ms is not in the plan, and "
          + "\(maxUnplanned) groups are served alone already; it is served once a plan covers it")
    }
    let outcome: RouteOutcome
    if let planner,
      let plan = try? planner.plan([App(id: app, slo: slo, rate: 0)]),
      let group = plan.groups.first
    {
      let spec = GroupSpec(
        key: GroupKey(
          planVersion: version, group: KnownGroups.soloPrefix + "\(app):\(formatted(sloMs))"),
        function: group.function, capacity: group.batchSize,
        latencyMax: group.latencyMaxMs / 1000)
      outcome = .group(
        spec, slo: slo, timeout: max(0, slo - spec.latencyMax), planned: false)
      soloGroups += 1
    } else if planner == nil {
      outcome = .reject(
        .unplannedApp,
        detail: "app '\(app)' is not in the plan and no profile is loaded to serve it alone")
    } else {
      outcome = .reject(
        .impossibleSLO,
        detail: "no function serves app '\(app)' within its SLO of \(formatted(sloMs)) ms")
    }
    solo[cacheKey] = outcome
    return outcome
  }

  private func formatted(_ ms: Double) -> String {
    ms == ms.rounded() ? String(Int(ms)) : String(ms)
  }
}
