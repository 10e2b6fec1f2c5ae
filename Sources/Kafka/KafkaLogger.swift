import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Severity of a log line, in syslog order (lower is more severe), as librdkafka reports it.
public enum KafkaLogLevel: Int, Sendable, Comparable, CustomStringConvertible {
  case emergency = 0
  case alert, critical, error, warning, notice, info, debug

  public static func < (lhs: KafkaLogLevel, rhs: KafkaLogLevel) -> Bool {
    lhs.rawValue < rhs.rawValue
  }

  public var description: String {
    switch self {
    case .emergency: "EMERG"
    case .alert: "ALERT"
    case .critical: "CRIT"
    case .error: "ERROR"
    case .warning: "WARN"
    case .notice: "NOTICE"
    case .info: "INFO"
    case .debug: "DEBUG"
    }
  }
}

/// Where the Kafka layer's log lines (librdkafka's and our own) go. Libraries take one of these
/// rather than printing; the command-line tool decides.
public struct KafkaLogger: Sendable {
  /// Lines less severe than this are dropped before `sink` sees them.
  public var minimumLevel: KafkaLogLevel
  /// Receives level, facility (librdkafka's subsystem, e.g. `FAIL`, `REQTMOUT`) and message.
  public var sink: @Sendable (KafkaLogLevel, String, String) -> Void

  public init(
    minimumLevel: KafkaLogLevel,
    sink: @escaping @Sendable (KafkaLogLevel, String, String) -> Void
  ) {
    self.minimumLevel = minimumLevel
    self.sink = sink
  }

  public func log(_ level: KafkaLogLevel, _ facility: String, _ message: String) {
    if level <= minimumLevel { sink(level, facility, message) }
  }

  /// Writes `LEVEL [facility] message` lines to standard error (after the time, when
  /// `HARMONYBATCH_LOG_TIME` is set: `LogTime`).
  public static func standardError(minimumLevel: KafkaLogLevel = .warning) -> KafkaLogger {
    KafkaLogger(minimumLevel: minimumLevel) { level, facility, message in
      let line = "\(LogTime.prefix())kafka \(level) [\(facility)] \(message)\n"
      FileHandle.standardError.write(Data(line.utf8))
    }
  }

  /// Drops everything: for tests that provoke broker failures on purpose.
  public static let silent = KafkaLogger(minimumLevel: .emergency) { _, _, _ in }
}
