import Planner

/// Writes `hb-route` values (`GroupedRecord.headers`), remembering for each group and wait the
/// bytes before and after the arrival time: every request of an app in one group and plan version
/// carries the same fields apart from that one, so the router formats each group's numbers,
/// function and name once instead of per request (the counterpart of `RouteParser`).
public struct RouteEncoder: Sendable {
  private struct Key: Hashable {
    var group: GroupKey
    var timeoutBits: UInt64
  }

  private struct Parts {
    var spec: GroupSpec
    /// `version|batch size|timeout ms|max latency ms|`
    var head: [UInt8]
    /// `|function|group`
    var tail: [UInt8]
  }

  private var known: [Key: Parts] = [:]
  private let capacity: Int

  /// `capacity`: at most this many remembered groups and waits (all are forgotten when it is
  /// reached; 0 remembers nothing).
  public init(capacity: Int = 4096) {
    self.capacity = capacity
  }

  /// `version|batch size|timeout ms|max latency ms|arrival ms|function|group`.
  public mutating func value(spec: GroupSpec, timeoutMs: Double, arrivalMs: Int64) -> [UInt8] {
    let key = Key(group: spec.key, timeoutBits: timeoutMs.bitPattern)
    let parts: Parts
    if let known = known[key], known.spec == spec {
      parts = known
    } else {
      parts = Self.parts(spec: spec, timeoutMs: timeoutMs)
      if capacity > 0 {
        if known.count >= capacity { known.removeAll(keepingCapacity: true) }
        known[key] = parts
      }
    }
    var value: [UInt8] = []
    value.reserveCapacity(parts.head.count + parts.tail.count + 20)
    value.append(contentsOf: parts.head)
    DecimalText.append(arrivalMs, to: &value)
    value.append(contentsOf: parts.tail)
    return value
  }

  private static func parts(spec: GroupSpec, timeoutMs: Double) -> Parts {
    var head: [UInt8] = []
    DecimalText.append(Int64(spec.key.planVersion), to: &head)
    head.append(UInt8(ascii: "|"))
    DecimalText.append(Int64(spec.capacity), to: &head)
    head.append(UInt8(ascii: "|"))
    DecimalText.append(timeoutMs, to: &head)
    head.append(UInt8(ascii: "|"))
    DecimalText.append(spec.latencyMax * 1000, to: &head)
    head.append(UInt8(ascii: "|"))
    var tail: [UInt8] = [UInt8(ascii: "|")]
    tail.append(contentsOf: GroupedRecord.functionText(spec.function).utf8)
    tail.append(UInt8(ascii: "|"))
    tail.append(contentsOf: spec.key.group.utf8)
    return Parts(spec: spec, head: head, tail: tail)
  }
}
