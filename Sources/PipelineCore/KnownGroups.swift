import Planner

/// The groups a worker runs batches for (pure): those of the plan in force and of the plans
/// before it (the last `depth`), and groups the routers serve alone (`solo:<app>:<SLO ms>`) when
/// every request in the batch is of that app. A batch for any other group was not made by a
/// batcher following the plans (a replay of a long-gone plan, a writer with no business on the
/// batch topics): its requests are refused with `unknown-group`.
///
/// Before any plan is seen on the plan topic (a pipeline on a fixed `--plan`, or no controller
/// yet) every group is run: there is nothing to check against.
public struct KnownGroups: Sendable {
  public let depth: Int
  private var plans: [(version: Int, groups: Set<String>)] = []

  public init(depth: Int = 64) {
    self.depth = max(1, depth)
  }

  /// Whether a plan was seen at all (else every group is run).
  public var sawPlan: Bool { !plans.isEmpty }

  /// The versions remembered, oldest first.
  public var versions: [Int] { plans.map(\.version) }

  /// Takes a plan that came into force.
  public mutating func adopt(_ plan: Plan) {
    plans.append((plan.version ?? 0, Set(plan.groups.map(\.id))))
    if plans.count > depth { plans.removeFirst(plans.count - depth) }
  }

  /// Whether `version` is one of the plans remembered.
  public func knows(version: Int) -> Bool {
    plans.contains { $0.version == version }
  }

  /// Why the batch's group is not one to run; nil when it is.
  public func problem(group: String, planVersion: Int, apps: [String]) -> String? {
    guard let last = plans.last else { return nil }
    if group.hasPrefix(Self.soloPrefix) {
      // `solo:<app>:<SLO ms>`: app ids may hold ':', the SLO does not.
      let rest = group.dropFirst(Self.soloPrefix.count)
      guard let colon = rest.lastIndex(of: ":") else {
        return "group \(group) is not of the form solo:<app>:<SLO ms>"
      }
      let app = String(rest[..<colon])
      if let other = apps.first(where: { $0 != app }) {
        return "group \(group) serves app \(app) alone, but the batch holds a request of \(other)"
      }
      return nil
    }
    if plans.contains(where: { $0.version == planVersion && $0.groups.contains(group) }) {
      return nil
    }
    return
      "group \(group) of plan v\(planVersion) is in none of the last \(plans.count) plans "
      + "(the plan in force is v\(last.version))"
  }

  /// How a group served alone is named: `solo:<app>:<SLO ms>` (`RoutingTable`).
  public static let soloPrefix = "solo:"
}
