/// A long-running part of a process — a pipeline stage, the demo's workload, an embedded broker —
/// run by a `ServiceGroup` on a thread of its own. It runs until its context asks it to stop,
/// then finishes what it holds and returns; throwing means it failed, and the group stops the
/// others.
public protocol PipelineService: Sendable {
  /// Names its thread (`hb-<name>`) and its lines in the group's log.
  var name: String { get }
  func run(_ context: ServiceContext) throws
}

extension PipelineService {
  /// Runs alone until `stop` is set (tests, and code with a lifecycle of its own).
  public func run(stop: StopFlag) throws { try run(ServiceContext(name: name, stop: stop)) }
}

/// A service made of a closure: a workload, a measurement, a broker kept up until a signal.
public struct ClosureService: PipelineService {
  public let name: String
  private let body: @Sendable (ServiceContext) throws -> Void

  public init(_ name: String, _ body: @escaping @Sendable (ServiceContext) throws -> Void) {
    self.name = name
    self.body = body
  }

  public func run(_ context: ServiceContext) throws { try body(context) }
}
