import Arguments
import Logging

/// The options every command takes for its own log lines (librdkafka's have
/// `--kafka-log-level`): the format and the least important level shown.
public enum LogOptions {
  /// `--log-format` and `--log-level`.
  public static let specs: [OptionSpec] = [
    .option(
      "log-format", "FORMAT",
      "Log lines as text (time level component: message) or json, one object per line "
        + "(default text)."),
    .option("log-level", "LEVEL", "Our log lines shown: error|warning|info|debug (default info)."),
  ]

  /// Sets the process's log output from the options (`LogOutput`).
  public static func configure(_ options: ParsedOptions) throws(UsageError) {
    let format = try options.choice("log-format", default: LogFormat.text)
    let level = try options.choice(
      "log-level", default: "info", from: LogLevel.allCases.map(\.name))
    LogOutput.configure(format: format, level: LogLevel(name: level)!)
  }
}
