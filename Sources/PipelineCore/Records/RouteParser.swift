import KafkaMessages
import Planner

/// Parses `hb-route` values, remembering the parsed group by everything in the value but the
/// arrival time: every request of a group and plan version carries the same fields apart from that
/// one, so the batcher parses each group's numbers, function and name once instead of per request
/// (parsing was a third of the batcher's time per request).
public struct RouteParser: Sendable {
  private var known: [Key: (spec: GroupSpec, timeout: Double)] = [:]
  private let capacity: Int

  /// `capacity`: at most this many remembered values (all are forgotten when it is reached;
  /// 0 remembers nothing).
  public init(capacity: Int = 4096) {
    self.capacity = capacity
  }

  public mutating func parse(_ bytes: [UInt8]) -> (
    spec: GroupSpec, timeout: Double, arrival: Int64
  )? {
    guard capacity > 0, let (start, end) = Self.arrivalField(bytes),
      let arrival = Self.decimal(bytes[start..<end])
    else { return GroupedRecord.parseRoute(bytes) }
    // The value itself is the key (its storage shared, not copied), its arrival field skipped.
    let key = Key(bytes: bytes, arrivalStart: start, arrivalEnd: end)
    if let hit = known[key] { return (hit.spec, hit.timeout, arrival) }
    guard let parsed = GroupedRecord.parseRoute(bytes) else { return nil }
    if known.count >= capacity { known.removeAll(keepingCapacity: true) }
    known[key] = (parsed.spec, parsed.timeout)
    return parsed
  }

  /// A route value without its arrival time: the bytes before and after it, hashed and compared
  /// as blocks of bytes (an array of bytes hashes byte by byte).
  private struct Key: Hashable {
    let bytes: [UInt8]
    let arrivalStart: Int
    let arrivalEnd: Int

    func hash(into hasher: inout Hasher) {
      bytes.withUnsafeBytes { all in
        hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: all[..<arrivalStart]))
        hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: all[arrivalEnd...]))
      }
    }

    static func == (lhs: Key, rhs: Key) -> Bool {
      lhs.arrivalStart == rhs.arrivalStart
        && lhs.bytes.count - lhs.arrivalEnd == rhs.bytes.count - rhs.arrivalEnd
        && lhs.bytes.withUnsafeBytes { left in
          rhs.bytes.withUnsafeBytes { right in
            left[..<lhs.arrivalStart].elementsEqual(right[..<rhs.arrivalStart])
              && left[lhs.arrivalEnd...].elementsEqual(right[rhs.arrivalEnd...])
          }
        }
    }
  }

  /// The byte range of the fifth field (between the fourth and fifth `|`).
  private static func arrivalField(_ bytes: [UInt8]) -> (Int, Int)? {
    var bars = 0
    var start = 0
    for index in bytes.indices where bytes[index] == UInt8(ascii: "|") {
      bars += 1
      if bars == 4 {
        start = index + 1
      } else if bars == 5 {
        return (start, index)
      }
    }
    return nil
  }

  /// Plain decimal digits (1–18 of them, so no overflow) as a number; nil for anything else (the
  /// full parser then decides).
  private static func decimal(_ digits: ArraySlice<UInt8>) -> Int64? {
    guard (1...18).contains(digits.count) else { return nil }
    var value: Int64 = 0
    for digit in digits {
      guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
      value = value * 10 + Int64(digit - UInt8(ascii: "0"))
    }
    return value
  }
}
