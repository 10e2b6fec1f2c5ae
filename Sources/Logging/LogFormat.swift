/// How a log line is written (`--log-format`): for people, or one JSON object per line for a
/// collector (Loki, Elasticsearch, CloudWatch).
public enum LogFormat: String, Sendable, CaseIterable {
  /// `2026-11-30T14:05:09.123Z info batcher: plan v3 applied`
  case text
  /// `{"time":"2026-11-30T14:05:09.123Z","level":"info","component":"batcher","message":"plan v3 applied"}`
  case json

  /// One line (without its newline). `fields`: more name–value pairs (the JSON object's extra
  /// members; in text, `[value]` before the message).
  public func line(
    time: String, level: String, component: String, message: String,
    fields: KeyValuePairs<String, String> = [:]
  ) -> String {
    switch self {
    case .text:
      let tags = fields.map { "[\($0.value)] " }.joined()
      return "\(time) \(level) \(component): \(tags)\(message)"
    case .json:
      var line = "{\"time\":\"\(time)\",\"level\":\"\(level)\",\"component\":"
      Self.appendString(component, to: &line)
      for (name, value) in fields {
        line += ","
        Self.appendString(name, to: &line)
        line += ":"
        Self.appendString(value, to: &line)
      }
      line += ",\"message\":"
      Self.appendString(message, to: &line)
      return line + "}"
    }
  }

  /// `text` as a JSON string: quotes, backslashes and control characters escaped, so a message
  /// with a newline stays one line.
  static func appendString(_ text: String, to line: inout String) {
    line += "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": line += "\\\""
      case "\\": line += "\\\\"
      case "\n": line += "\\n"
      case "\r": line += "\\r"
      case "\t": line += "\\t"
      case let c where c.value < 0x20:
        let hex = String(c.value, radix: 16)
        line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: line.unicodeScalars.append(scalar)
      }
    }
    line += "\""
  }
}
