import Foundation
import Planner

/// Which plan is in force, read from the plan topic in the order the broker keeps its records
/// (pure).
///
/// - **The last valid plan on partition 0 is in force**, whatever its version: the broker's order
///   is the one every reader sees alike, and a version is a label, not a rank. So no record can
///   lock the controller out by taking the highest version (a plan numbered 2,147,483,647), and a
///   plan some other writer slipped in is in force only until the active controller, which
///   watches the topic, publishes its own again (`ControllerService`).
/// - Records on other partitions are refused: partition 0 is the one the controllers' lease is
///   on, and across partitions there is no order.
/// - A record that is not a valid plan (`Plan.validated`: numbers a planner could make, an app in
///   one group unless the plan splits its rate) is refused; the plan in force stays.
public struct PlanLog: Sendable {
  /// The plan in force.
  public private(set) var inForce: Plan?
  /// Records refused (not a plan, or not on partition 0).
  public private(set) var refused = 0

  public enum Verdict: Sendable, Equatable {
    /// The record is the plan in force now.
    case inForce(Plan)
    /// The record is the plan in force again (the same plan written twice).
    case same
    /// The record is not taken; the plan in force (if any) stays.
    case refused(String)
  }

  public init(inForce: Plan? = nil) {
    self.inForce = inForce
  }

  /// Reads the record at `coordinates` (`topic/partition/offset`) of the plan topic.
  public mutating func read(_ value: [UInt8]?, partition: Int32, at coordinates: String) -> Verdict
  {
    let kept = inForce.map { "plan v\($0.version ?? 0) stays in force" } ?? "no plan yet"
    guard partition == 0 else {
      refused += 1
      return .refused(
        "the record at \(coordinates) is on partition \(partition); plans are read from partition "
          + "0 only; \(kept)")
    }
    guard let value else { return .refused("the record at \(coordinates) has no value; \(kept)") }
    let plan: Plan
    do {
      plan = try Plan.decode(Data(value), source: "the plan at \(coordinates)")
    } catch {
      refused += 1
      return .refused("\(error.message); \(kept)")
    }
    if plan == inForce { return .same }
    inForce = plan
    return .inForce(plan)
  }
}

extension Plan {
  /// The version after `version`: plans go 1, 2, … up to the largest a plan may carry
  /// (2,147,483,647), then start at 1 again — readers follow the topic's order, not the numbers,
  /// so nothing is stuck at the top.
  public static func version(after version: Int) -> Int {
    version >= Int(Int32.max) || version < 0 ? 1 : version + 1
  }
}
