import Foundation
import Kafka
import Logging
import PipelineCore

/// The services' own log lines: one per event, with its time, level, service and message, in the
/// process's format (`LogOutput`: `--log-format text|json`), so that an operator sees what
/// happened (plans applied, batches, rejections, shutdown) without a debugger.
public struct PipelineLog: Sendable {
  public typealias Level = LogLevel

  public let service: String
  public let minimumLevel: Level
  /// Where formatted lines go instead of standard error (tests, the demo's console).
  private let sink: (@Sendable (String) -> Void)?

  /// `minimumLevel`: by default the process's (`--log-level`).
  public init(
    service: String, minimumLevel: Level = LogOutput.level,
    sink: (@Sendable (String) -> Void)? = nil
  ) {
    self.service = service
    self.minimumLevel = minimumLevel
    self.sink = sink
  }

  public static func silent(_ service: String) -> PipelineLog {
    PipelineLog(service: service, minimumLevel: .error, sink: { _ in })
  }

  public func named(_ service: String) -> PipelineLog {
    PipelineLog(service: service, minimumLevel: minimumLevel, sink: sink)
  }

  public func log(_ level: Level, _ message: @autoclosure () -> String) {
    guard level <= minimumLevel else { return }
    if let sink {
      sink(
        LogOutput.format.line(
          time: LogTime.now(), level: level.name, component: service, message: message()))
    } else {
      LogOutput.write(level: level.name, component: service, message: message())
    }
  }

  public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
  public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
  public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
  public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
}
