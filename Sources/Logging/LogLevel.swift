/// How much a log line matters; services show lines up to a minimum level (`--log-level`).
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
  case error, warning, info, debug

  public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

  /// The name on a log line and on the command line.
  public var name: String {
    switch self {
    case .error: "error"
    case .warning: "warning"
    case .info: "info"
    case .debug: "debug"
    }
  }

  public init?(name: String) {
    guard let level = Self.allCases.first(where: { $0.name == name }) else { return nil }
    self = level
  }
}
