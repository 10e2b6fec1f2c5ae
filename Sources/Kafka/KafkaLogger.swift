import Foundation
import Logging

/// Severity of a log line, in syslog order (lower is more severe), as librdkafka reports it.
public enum KafkaLogLevel: Int, Sendable, Comparable {
  case emergency = 0
  case alert, critical, error, warning, notice, info, debug

  public static func < (lhs: KafkaLogLevel, rhs: KafkaLogLevel) -> Bool {
    lhs.rawValue < rhs.rawValue
  }

  /// The level's name on our log lines: librdkafka's eight folded into ours (`LogLevel`).
  public var name: String {
    switch self {
    case .emergency, .alert, .critical, .error: "error"
    case .warning: "warning"
    case .notice, .info: "info"
    case .debug: "debug"
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

  /// Writes lines to standard error in the process's format (`LogOutput`), component `kafka`,
  /// librdkafka's facility beside the message.
  public static func standardError(minimumLevel: KafkaLogLevel = .warning) -> KafkaLogger {
    KafkaLogger(minimumLevel: minimumLevel) { level, facility, message in
      LogOutput.write(
        level: level.name, component: "kafka", message: message, fields: ["facility": facility])
    }
  }

  /// Drops everything: for tests that provoke broker failures on purpose.
  public static let silent = KafkaLogger(minimumLevel: .emergency) { _, _, _ in }
}
