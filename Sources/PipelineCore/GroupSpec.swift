import Planner

/// Identifies a batch buffer: a group of one plan version. Requests tagged with a newer version
/// go to a new buffer, so a plan change never mixes configurations or strands a request: the old
/// buffer still flushes when full or at its deadline.
public struct GroupKey: Hashable, Sendable, CustomStringConvertible {
  public var planVersion: Int
  public var group: String

  public init(planVersion: Int, group: String) {
    self.planVersion = planVersion
    self.group = group
  }

  public var description: String { "\(group)@v\(planVersion)" }
}

/// What a buffer needs to know about its group: where its batches run, how many requests fill
/// one, and the batch's predicted maximum latency (to tell when a request can no longer make its
/// SLO).
public struct GroupSpec: Hashable, Sendable {
  public var key: GroupKey
  public var function: FunctionConfig
  public var capacity: Int
  /// Seconds.
  public var latencyMax: Double

  public init(key: GroupKey, function: FunctionConfig, capacity: Int, latencyMax: Double) {
    self.key = key
    self.function = function
    self.capacity = max(1, capacity)
    self.latencyMax = latencyMax
  }
}
