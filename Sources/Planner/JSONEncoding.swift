import Foundation

/// The one way the project writes JSON through Codable: messages (`messageJSON()`), plans
/// (`Plan.jsonData`) and profiles (`ModelProfile.jsonData`) differ only in their formatting. A
/// value JSON cannot hold (a NaN, an infinity) throws; nothing is ever written empty.
public enum JSONEncoding {
  /// `value` as JSON; what `JSONEncoder` throws is an `EncodingError`, typed as such.
  public static func encode<T: Encodable>(_ value: T, _ formatting: JSONEncoder.OutputFormatting)
    throws(EncodingError) -> Data
  {
    let encoder = JSONEncoder()
    encoder.outputFormatting = formatting
    do {
      return try encoder.encode(value)
    } catch let error as EncodingError {
      throw error
    } catch {
      throw EncodingError.invalidValue(
        value, EncodingError.Context(codingPath: [], debugDescription: "\(error)"))
    }
  }
}

/// JSON errors in one line, for logs and the command line: the field and why, without the
/// nested contexts their `description` prints.
extension EncodingError {
  /// `groups[0].cost: Unable to encode Double.nan directly in JSON.`
  public var summary: String {
    switch self {
    case .invalidValue(_, let context):
      let path = CodingPathText.of(context.codingPath)
      return (path.isEmpty ? "" : "\(path): ") + context.debugDescription
    @unknown default:
      return "\(self)"
    }
  }
}

extension DecodingError {
  /// `missing field 'requests'`, `not valid JSON`, `function.vcpu should be a number`, …
  public var summary: String { PlannerResources.describe(self) }
}

enum CodingPathText {
  /// `groups[0].cost` (empty for the top level).
  static func of(_ path: [any CodingKey]) -> String {
    let text = path.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }
      .joined()
    return text.hasPrefix(".") ? String(text.dropFirst()) : text
  }
}
