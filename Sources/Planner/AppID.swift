/// What an app id may be, everywhere it appears (an apps file, a request's key, a rates report):
/// 1 to 128 bytes of ASCII letters, digits and `. _ - : @ / +`. Ids stay short and printable
/// because they name metric series, plan entries and log lines.
public enum AppID {
  public static let maxBytes = 128

  /// Why `id` is not an app id, or nil.
  public static func problem(_ id: String) -> String? {
    let bytes = id.utf8
    guard !bytes.isEmpty else { return "the app id is empty" }
    guard bytes.count <= maxBytes else {
      return "the app id is \(bytes.count) bytes; at most \(maxBytes)"
    }
    guard bytes.allSatisfy(isAllowed) else {
      return "the app id '\(shown(id))' has characters other than letters, digits and . _ - : @ / +"
    }
    return nil
  }

  static func isAllowed(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
      UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "+"):
      return true
    default:
      return false
    }
  }

  /// At most 40 bytes of `text`, control characters as `?`, for a message.
  public static func shown(_ text: String) -> String {
    let bytes = text.utf8.prefix(40).map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "?") : $0 }
    return String(decoding: bytes, as: UTF8.self) + (text.utf8.count > 40 ? "…" : "")
  }
}
