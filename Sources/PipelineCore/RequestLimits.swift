import Planner

/// What a request may carry, in one place (pure): the router refuses a request past these limits
/// with a dead letter of its own, and a worker applies the same limits to each request of a batch
/// — so nothing the router forwards is refused later for what it carried, and a request that is
/// refused is refused alone (`Schemas/headers.md`, "Limits").
public enum RequestLimits {
  // An app id (the request's key) is an `AppID`: 1 to 128 bytes of letters, digits, `._-:@/+`.

  /// A request id (`hb-request-id`): 1 to 256 bytes of UTF-8 text without control characters.
  public static let maxRequestIDBytes = 256
  /// Headers on one request, the pipeline's own included.
  public static let maxHeaders = 64
  /// A header name: 1 to 256 bytes.
  public static let maxHeaderNameBytes = 256

  /// Why a request breaks a limit: the dead letter's code and detail.
  public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: ReasonCode
    public var detail: String
    public var description: String { "\(code.rawValue): \(detail)" }
  }

  /// The first limit `app`, `requestID` (nil: none given) and the header names break, or nil.
  public static func problem(app: String, requestID: String?, headerNames: [String]) -> Problem? {
    if let problem = appIDProblem(app) { return problem }
    if let requestID, let problem = requestIDProblem(requestID) { return problem }
    return headersProblem(headerNames)
  }

  public static func appIDProblem(_ app: String) -> Problem? {
    guard !app.isEmpty else {
      return Problem(code: .missingApp, detail: "the record has no key (the app id)")
    }
    return AppID.problem(app).map { Problem(code: .badKey, detail: $0 + " (the key)") }
  }

  public static func requestIDProblem(_ id: String) -> Problem? {
    let bytes = id.utf8
    guard !bytes.isEmpty, bytes.count <= maxRequestIDBytes else {
      return Problem(
        code: .badRequestID,
        detail: "the request id is \(bytes.count) bytes; 1 to \(maxRequestIDBytes)")
    }
    guard !bytes.contains(where: isControl) else {
      return Problem(
        code: .badRequestID, detail: "the request id '\(printable(id))' has control characters")
    }
    return nil
  }

  public static func headersProblem(_ names: [String]) -> Problem? {
    guard names.count <= maxHeaders else {
      return Problem(
        code: .badHeaders, detail: "\(names.count) headers; at most \(maxHeaders)")
    }
    for name in names {
      let count = name.utf8.count
      guard count >= 1, count <= maxHeaderNameBytes else {
        return Problem(
          code: .badHeaders,
          detail: "a header name of \(count) bytes; names are 1 to \(maxHeaderNameBytes)")
      }
    }
    return nil
  }

  static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

  /// At most 40 bytes of `text`, control characters as `?`, for a detail or log line.
  public static func printable(_ text: String) -> String { AppID.shown(text) }
}
