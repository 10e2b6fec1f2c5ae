import Pipeline
import PipelineCore
import Synchronization

extension FaultSuite {
  /// How `harmonybatch faults` ended: the report's table (nil when the suite could not run,
  /// the group's log says why) and the exit code, 0 only when the suite ran to its end and
  /// passed.
  public struct Outcome: Sendable {
    public let table: String?
    public let code: Int32
  }

  /// Runs the suite with `settings` as a service that SIGINT/SIGTERM interrupt (an interrupted
  /// suite still reports what it saw, and fails); `progress` gets its lines as they come.
  public static func run(
    settings: Settings, progress: @escaping @Sendable (String) -> Void
  ) async -> Outcome {
    let report = Mutex<Report?>(nil)
    let interrupted = Atomic<Bool>(false)
    let running = ClosureService("faults") { context in
      let suite = try FaultSuite(settings: settings, interrupt: context.stop)
      let made = try suite.run(progress: progress)
      interrupted.store(context.isStopping, ordering: .relaxed)
      report.withLock { $0 = made }
    }
    let code = await ServiceGroup([running], log: PipelineLog(service: "faults")).run()
    guard let made = report.withLock({ $0 }) else { return Outcome(table: nil, code: code) }
    return Outcome(
      table: table(made), code: made.passed && !interrupted.load(ordering: .relaxed) ? 0 : 1)
  }
}
