/// Numbers written as decimal text straight into a byte buffer, without building a `String`
/// first: the router and the batcher write several per request.
public enum DecimalText {
  /// Appends `value` in decimal (`-` and digits).
  public static func append(_ value: Int64, to bytes: inout [UInt8]) {
    if value < 0 { bytes.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    // UInt64 has at most 20 digits; write them backwards into a fixed buffer.
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    withUnsafeMutableBytes(of: &digits) { buffer in
      var index = buffer.count
      repeat {
        index -= 1
        buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
      } while magnitude > 0
      bytes.append(contentsOf: buffer[index...])
    }
  }

  /// Appends `value` as Swift's shortest round-trip form, without a needless `.0` for whole
  /// numbers below 10^15 (`GroupedRecord.number` returns the same as a string).
  public static func append(_ value: Double, to bytes: inout [UInt8]) {
    if value == value.rounded(), abs(value) < 1e15 {
      append(Int64(value), to: &bytes)
    } else {
      bytes.append(contentsOf: value.description.utf8)
    }
  }
}
