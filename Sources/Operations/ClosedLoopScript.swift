import Arguments
import Planner
import Simulator

/// The worker pools and scripted events of a closed-loop run as `simulate --closed-loop` takes
/// them (`--pool cpu=16`, `--burst 60:3:30`, ...): each text parsed into the scenario's own
/// types, or a usage error that shows the form wanted and what was given.
public enum ClosedLoopScript {
  /// `KIND=N[xS]`: a pool of N replicas with S slots each (default 1), N and S at least 1.
  public static func pool(_ text: String) throws(UsageError) -> (
    FunctionConfig.Kind, ClosedLoopScenario.Pool
  ) {
    let fields = text.split(separator: "=", maxSplits: 1).map(String.init)
    guard fields.count == 2, let kind = FunctionConfig.Kind(rawValue: fields[0]) else {
      throw UsageError("--pool wants cpu=N[xS] or gpu=N[xS], got '\(text)'")
    }
    let sizes = fields[1].split(separator: "x").map { Int($0) }
    guard (1...2).contains(sizes.count), sizes.allSatisfy({ ($0 ?? 0) >= 1 }) else {
      throw UsageError("--pool wants cpu=N[xS] or gpu=N[xS] with N, S ≥ 1, got '\(text)'")
    }
    return (kind, .init(replicas: sizes[0]!, slotsPerReplica: sizes.count == 2 ? sizes[1]! : 1))
  }

  /// `AT:FACTOR:SECONDS`: every rate × FACTOR from AT for SECONDS.
  public static func burst(_ text: String) throws(UsageError) -> ClosedLoopScenario.Event {
    let parts = try numbers(text, count: 3, flag: "burst", form: "AT:FACTOR:SECONDS")
    return .burst(at: parts[0], factor: parts[1], duration: parts[2])
  }

  /// `AT:FACTOR`: every function × FACTOR slower from AT.
  public static func slowdown(_ text: String) throws(UsageError) -> ClosedLoopScenario.Event {
    let parts = try numbers(text, count: 2, flag: "slowdown", form: "AT:FACTOR")
    return .slowdown(at: parts[0], factor: parts[1])
  }

  /// `AT:KIND:FACTOR`: the KIND pool keeps FACTOR (in 0 exclusive...1) of its replicas from AT.
  public static func poolCut(_ text: String) throws(UsageError) -> ClosedLoopScenario.Event {
    let fields = text.split(separator: ":").map(String.init)
    guard fields.count == 3, let at = Double(fields[0]), let factor = Double(fields[2]),
      let kind = FunctionConfig.Kind(rawValue: fields[1]), at >= 0, factor > 0, factor <= 1
    else {
      throw UsageError("--pool-cut wants AT:KIND:FACTOR (e.g. 220:cpu:0.5), got '\(text)'")
    }
    return .poolCut(at: at, kind: kind, factor: factor)
  }

  /// `count` non-negative numbers separated by colons.
  private static func numbers(_ text: String, count: Int, flag: String, form: String)
    throws(UsageError) -> [Double]
  {
    let parts = text.split(separator: ":").map { Double($0) }
    guard parts.count == count, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else {
      throw UsageError("--\(flag) wants \(form) (non-negative numbers), got '\(text)'")
    }
    return parts.map { $0! }
  }
}
