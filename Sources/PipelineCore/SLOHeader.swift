/// The `hb-slo-ms` header, strictly: decimal digits with an optional fraction (`500`, `250.5`),
/// nothing else — no sign, exponent, hexadecimal, spaces or digit groups — within `range`.
public enum SLOHeader {
  /// 1 ms to one hour.
  public static let range: ClosedRange<Double> = 1...3_600_000

  public static func milliseconds(_ bytes: [UInt8]) -> Double? {
    guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
    var dot = false
    var digitsAfterDot = 0
    for (index, byte) in bytes.enumerated() {
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"):
        if dot { digitsAfterDot += 1 }
      case UInt8(ascii: ".") where !dot && index > 0:
        dot = true
      default:
        return nil
      }
    }
    if !dot, bytes.count < 16 {
      // Whole milliseconds, the usual form: summed as digits, no string made and parsed (at
      // most 15 digits, exact in a Double).
      var whole: Int64 = 0
      for byte in bytes { whole = whole &* 10 &+ Int64(byte &- UInt8(ascii: "0")) }
      let value = Double(whole)
      return range.contains(value) ? value : nil
    }
    guard !dot || digitsAfterDot > 0,
      let value = Double(String(decoding: bytes, as: UTF8.self)), range.contains(value)
    else { return nil }
    return value
  }
}
