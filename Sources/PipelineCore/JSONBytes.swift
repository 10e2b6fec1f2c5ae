/// A small JSON writer for the hot path: appends straight into a byte buffer, with none of
/// JSONEncoder's reflection, boxing and key sorting. Used for batches, where it is several times
/// faster; everything else goes through Codable (`messageJSON()`). What it writes must read back
/// as the Codable encoding of the same value does, and it refuses what that refuses: a number
/// that is not finite throws, as `JSONEncoder` does (`BatchEncodingTests` holds the two equal).
public struct JSONBytes {
  public private(set) var bytes: [UInt8] = []

  public init(capacity: Int) { bytes.reserveCapacity(capacity) }

  public mutating func raw(_ text: StaticString) {
    text.withUTF8Buffer { bytes.append(contentsOf: $0) }
  }

  /// `"key":` (the key must need no escaping).
  public mutating func key(_ name: StaticString) {
    bytes.append(UInt8(ascii: "\""))
    raw(name)
    bytes.append(UInt8(ascii: "\""))
    bytes.append(UInt8(ascii: ":"))
  }

  public mutating func string(_ value: String) {
    bytes.append(UInt8(ascii: "\""))
    escaped(value)
    bytes.append(UInt8(ascii: "\""))
  }

  /// `"topic/partition/offset"`: a record's coordinates, written without building the string.
  public mutating func coordinates(_ topic: String, _ partition: Int32, _ offset: Int64) {
    bytes.append(UInt8(ascii: "\""))
    escaped(topic)
    bytes.append(UInt8(ascii: "/"))
    DecimalText.append(Int64(partition), to: &bytes)
    bytes.append(UInt8(ascii: "/"))
    DecimalText.append(offset, to: &bytes)
    bytes.append(UInt8(ascii: "\""))
  }

  /// The string's characters, escaped as JSON needs; most need nothing and are copied at once.
  private mutating func escaped(_ value: String) {
    var value = value
    let plain = value.withUTF8 { utf8 in
      guard
        !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") })
      else { return false }
      bytes.append(contentsOf: utf8)
      return true
    }
    if plain { return }
    for byte in value.utf8 {
      switch byte {
      case UInt8(ascii: "\""): raw("\\\"")
      case UInt8(ascii: "\\"): raw("\\\\")
      case UInt8(ascii: "\n"): raw("\\n")
      case UInt8(ascii: "\r"): raw("\\r")
      case UInt8(ascii: "\t"): raw("\\t")
      case 0..<0x20:
        raw("\\u00")
        bytes.append(Self.hex[Int(byte >> 4)])
        bytes.append(Self.hex[Int(byte & 0xF)])
      default: bytes.append(byte)
      }
    }
  }

  /// A finite number; NaN or an infinity throws `EncodingError.invalidValue`, as
  /// `messageJSON()` does (JSON has no such number, and no record is sent with a `null` for it).
  public mutating func number(_ value: Double) throws(EncodingError) {
    guard value.isFinite else {
      throw EncodingError.invalidValue(
        value,
        EncodingError.Context(
          codingPath: [], debugDescription: "Unable to encode Double.\(value) directly in JSON."))
    }
    DecimalText.append(value, to: &bytes)
  }

  public mutating func integer(_ value: Int64) {
    DecimalText.append(value, to: &bytes)
  }

  public mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

  /// Standard base64 with padding, as a JSON string. Written in place into room made for it at
  /// once (byte by byte appends checked the array's capacity and uniqueness for every byte).
  public mutating func base64(_ data: [UInt8]) {
    let encoded = (data.count + 2) / 3 * 4
    let start = bytes.count
    bytes.append(contentsOf: repeatElement(UInt8(ascii: "\""), count: encoded + 2))
    data.withUnsafeBufferPointer { input in
      bytes.withUnsafeMutableBufferPointer { output in
        Self.alphabet.withUnsafeBufferPointer { alphabet in
          var out = start + 1
          var index = 0
          while index + 3 <= input.count {
            let chunk =
              UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output[out] = alphabet[Int(chunk >> 18 & 63)]
            output[out + 1] = alphabet[Int(chunk >> 12 & 63)]
            output[out + 2] = alphabet[Int(chunk >> 6 & 63)]
            output[out + 3] = alphabet[Int(chunk & 63)]
            out += 4
            index += 3
          }
          let rest = input.count - index
          if rest > 0 {
            let chunk =
              UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
            output[out] = alphabet[Int(chunk >> 18 & 63)]
            output[out + 1] = alphabet[Int(chunk >> 12 & 63)]
            output[out + 2] = rest == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "=")
            output[out + 3] = UInt8(ascii: "=")
          }
        }
      }
    }
  }

  private static let hex = Array("0123456789abcdef".utf8)
  private static let alphabet = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
}
