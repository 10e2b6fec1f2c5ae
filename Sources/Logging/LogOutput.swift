import Foundation
import Synchronization

/// Where and how the process writes its log lines: set once at start from `--log-format` and
/// `--log-level` (like a logging system's bootstrap), read by every logger that is not given its
/// own settings. Lines go to standard error, one write per line, so lines of different threads
/// never interleave.
public enum LogOutput {
  private static let settings = Atomic<Int>(Self.pack(.text, .info))

  /// Sets the format and the minimum level of our own lines for the whole process.
  public static func configure(format: LogFormat, level: LogLevel) {
    settings.store(pack(format, level), ordering: .relaxed)
  }

  public static var format: LogFormat {
    let format = settings.load(ordering: .relaxed) >> 8
    return format == 1 ? .json : .text
  }

  /// Lines less important than this are not written (`--log-level`; default info).
  public static var level: LogLevel {
    LogLevel(rawValue: settings.load(ordering: .relaxed) & 0xff) ?? .info
  }

  /// Writes one line, formatted now, to standard error.
  public static func write(
    level: String, component: String, message: String,
    fields: KeyValuePairs<String, String> = [:]
  ) {
    let line = format.line(
      time: LogTime.now(), level: level, component: component, message: message, fields: fields)
    FileHandle.standardError.write(Data((line + "\n").utf8))
  }

  private static func pack(_ format: LogFormat, _ level: LogLevel) -> Int {
    (format == .json ? 1 << 8 : 0) | level.rawValue
  }
}
