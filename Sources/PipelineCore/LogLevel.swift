/// How much a log line matters; services show lines up to a minimum level.
public enum LogLevel: Int, Sendable, Comparable {
  case error, warning, info, debug
  public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}
