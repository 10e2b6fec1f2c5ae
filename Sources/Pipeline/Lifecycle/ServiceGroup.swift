import Foundation
import Logging
import PipelineCore

#if canImport(Glibc)
  import Glibc
#endif

/// Runs the services of one process, each on a thread of its own, and ends them together.
///
/// - SIGINT or SIGTERM shuts the group down gracefully; a second one exits at once.
/// - A service that fails (throws) or returns shuts the others down gracefully; the group then
///   exits 1 if any failed.
/// - A graceful shutdown asks the services to stop one at a time, the last started first (list
///   a pipeline downstream first: its upstream stops first and the stages below it drain what it
///   sent); after `gracePeriod` the group stops waiting for those still running and fails.
/// - Services say when they are ready (`ServiceContext.ready()`); others may wait for that, and
///   the group logs "ready" once all are.
/// - Whatever `run(keepingAlive:)` is given (an embedded broker) outlives every service.
// @unchecked: the mutable state is read and written under `condition` only.
public final class ServiceGroup: @unchecked Sendable {
  public struct Settings: Sendable {
    /// How long a graceful shutdown may take before the group gives up on the services still
    /// running (a stage may wait out a broker outage before it can commit).
    /// Default: `defaultGracePeriod`.
    public var gracePeriod = defaultGracePeriod
    /// Whether SIGINT and SIGTERM shut the group down. Off for groups run inside tests and
    /// benchmarks, which must not take a process's signals.
    public var handlesSignals = true
    /// Serve `GET /metrics`, `/healthz` and `/readyz` on this port (nil: no endpoint; 0: any
    /// free port, see `endpointPort`).
    public var metricsPort: Int?
    /// The address the endpoint listens on: this host only by default (`--metrics-address`;
    /// `0.0.0.0` where a scraper or probe reaches it from outside, as in a pod).
    public var metricsAddress = "127.0.0.1"
    /// What `/metrics` shows (the services count into it).
    public var telemetry = MetricsRegistry()
    /// `gracePeriod` when none is given.
    /// Default: 60 s.
    public static let defaultGracePeriod: Duration = .seconds(60)

    public init() {}
  }

  public struct Outcome: Sendable {
    /// 0, or 1 when a service failed or did not stop within the grace period.
    public var exitCode: Int32
    /// "name: error" of each service that failed.
    public var failures: [String]
    /// Services still running when the grace period ended.
    public var abandoned: [String]
  }

  private struct Member {
    let service: any PipelineService
    let stop = StopFlag()
    var finished = false
  }

  public let settings: Settings
  private let log: PipelineLog
  private let board: ReadinessBoard
  private let condition = NSCondition()
  private var members: [Member]
  private var shutdownDeadline: ContinuousClock.Instant?
  private var failureList: [String] = []
  private var started = false
  private var endpoint: HTTPEndpoint?

  public init(_ services: [any PipelineService], settings: Settings = Settings(), log: PipelineLog)
  {
    precondition(
      Set(services.map(\.name)).count == services.count, "service names must be unique")
    self.settings = settings
    self.log = log
    members = services.map { Member(service: $0) }
    let names = services.map(\.name)
    board = ReadinessBoard(names: names) { [log] in
      log.info(names.count > 1 ? "ready: \(names.joined(separator: ", "))" : "ready")
    }
  }

  /// "name: error" of each service that has failed so far.
  public var failures: [String] {
    condition.lock()
    defer { condition.unlock() }
    return failureList
  }

  /// Each service and whether it has said it is ready.
  public var readiness: [(name: String, ready: Bool)] { board.snapshot }

  /// The port of the metrics endpoint once the group runs with one.
  public var endpointPort: Int? {
    condition.lock()
    defer { condition.unlock() }
    return endpoint?.port
  }

  /// `/healthz`: alive (503 once shutting down); `/readyz`: every service ready (503 naming those
  /// that are not); `/metrics`: the registry, with each service's readiness.
  private func respond(to path: String) -> HTTPEndpoint.Response {
    let states = readiness
    switch path {
    case "/healthz":
      condition.lock()
      let stopping = shutdownDeadline != nil
      condition.unlock()
      return stopping
        ? HTTPEndpoint.Response(status: 503, body: "stopping\n")
        : HTTPEndpoint.Response(status: 200, body: "ok\n")
    case "/readyz":
      let waiting = states.filter { !$0.ready }.map(\.name)
      return waiting.isEmpty
        ? HTTPEndpoint.Response(status: 200, body: "ready\n")
        : HTTPEndpoint.Response(
          status: 503, body: "not ready: \(waiting.joined(separator: ", "))\n")
    case "/metrics":
      for state in states {
        settings.telemetry.set(.ready, state.ready ? 1 : 0, labels: ["service": state.name])
      }
      return HTTPEndpoint.Response(
        status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
        body: settings.telemetry.render())
    default:
      return HTTPEndpoint.Response(
        status: 404, body: "not found: try /metrics, /healthz, /readyz\n")
    }
  }

  /// Asks every service to stop, the last started first (as a signal does).
  public func shutdown(because reason: String? = nil) {
    condition.lock()
    defer { condition.unlock() }
    beginShutdown(because: reason)
  }

  /// Runs the group to its end on a thread of its own (service loops never occupy Swift's
  /// cooperative pool) and returns its exit code.
  public func run(keepingAlive resource: (any AnyObject & Sendable)? = nil) async -> Int32 {
    await withCheckedContinuation { continuation in
      let thread = Thread { [self] in
        continuation.resume(returning: runBlocking(keepingAlive: resource).exitCode)
      }
      thread.name = "hb-service-group"
      thread.start()
    }
  }

  /// Runs the group to its end on the calling thread.
  @discardableResult
  public func runBlocking(keepingAlive resource: (any AnyObject & Sendable)? = nil) -> Outcome {
    condition.lock()
    precondition(!started, "a service group runs once")
    started = true
    condition.unlock()
    if let port = settings.metricsPort {
      do {
        let endpoint = try HTTPEndpoint(address: settings.metricsAddress, port: port) {
          [self] in respond(to: $0)
        }
        condition.lock()
        self.endpoint = endpoint
        condition.unlock()
        log.info(
          "metrics and health on port \(endpoint.port) of \(settings.metricsAddress): /metrics, "
            + "/healthz, /readyz")
      } catch {
        log.error("\(error)")
        return Outcome(exitCode: 1, failures: ["metrics endpoint: \(error)"], abandoned: [])
      }
    }
    defer { endpoint?.stop() }
    let trap = settings.handlesSignals ? SignalTrap { [self] in received($0, count: $1) } : nil
    defer { trap?.cancel() }
    for index in members.indices { start(index) }
    let abandoned = waitForAll()
    withExtendedLifetime(resource) {}
    condition.lock()
    defer { condition.unlock() }
    if !abandoned.isEmpty {
      log.error(
        "\(abandoned.joined(separator: ", ")) did not stop within "
          + "\(Int(settings.gracePeriod.seconds)) s; leaving without them")
    }
    return Outcome(
      exitCode: failureList.isEmpty && abandoned.isEmpty ? 0 : 1, failures: failureList,
      abandoned: abandoned)
  }

  private func start(_ index: Int) {
    let service = members[index].service
    let context = ServiceContext(name: service.name, stop: members[index].stop, board: board)
    let threadName = "hb-\(service.name)"
    let thread = Thread { [self] in
      KernelThreadName.set(threadName)
      var failure: (any Error)?
      do { try service.run(context) } catch { failure = error }
      finished(index, failure: failure)
    }
    thread.name = threadName
    thread.start()
  }

  private func finished(_ index: Int, failure: (any Error)?) {
    condition.lock()
    defer { condition.unlock() }
    members[index].finished = true
    let name = members[index].service.name
    if let failure {
      log.error("\(name) failed: \(failure)")
      failureList.append("\(name): \(failure)")
      beginShutdown(because: members.count > 1 ? "stopping the others" : nil)
    } else if shutdownDeadline == nil, members.count > 1 {
      beginShutdown(because: "\(name) finished: stopping the others")
    } else {
      beginShutdown(because: nil)
    }
    condition.broadcast()
  }

  private func received(_ signal: Int32, count: Int) {
    let name = SignalTrap.name(signal)
    if count > 1 {
      log.warning("\(name) again: exiting at once")
      _exit(128 + signal)
    }
    shutdown(because: "\(name) received: stopping gracefully (send it again to exit at once)")
  }

  /// Called with `condition` locked.
  private func beginShutdown(because reason: String?) {
    guard shutdownDeadline == nil else { return }
    if let reason { log.info(reason) }
    shutdownDeadline = .now + settings.gracePeriod
    condition.broadcast()
  }

  /// Waits until every service has returned, stopping them one at a time once a shutdown has
  /// begun; returns the names of those still running when the grace period ran out.
  private func waitForAll() -> [String] {
    condition.lock()
    defer { condition.unlock() }
    while true {
      let running = members.filter { !$0.finished }
      if running.isEmpty { return [] }
      if let deadline = shutdownDeadline {
        if let last = running.last, !last.stop.isSet {
          last.stop.set()
          board.poke()
        }
        if ContinuousClock.now >= deadline { return running.map(\.service.name) }
      }
      _ = condition.wait(until: Date(timeIntervalSinceNow: 0.2))
    }
  }
}
