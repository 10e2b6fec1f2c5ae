import Foundation
import Kafka
import PipelineCore

/// The services' own log lines on standard error: `harmonybatch <service>: message`, so that an
/// operator sees what happened (plans applied, batches, rejections, shutdown) without a debugger.
public struct PipelineLog: Sendable {
  public typealias Level = LogLevel

  public let service: String
  public let minimumLevel: Level
  private let sink: @Sendable (String) -> Void

  public init(
    service: String, minimumLevel: Level = .info,
    sink: @escaping @Sendable (String) -> Void = {
      FileHandle.standardError.write(Data(($0 + "\n").utf8))
    }
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
    let prefix = level == .error ? "error: " : level == .warning ? "warning: " : ""
    sink("\(LogTime.prefix())harmonybatch \(service): \(prefix)\(message())")
  }

  public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
  public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
  public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
}
