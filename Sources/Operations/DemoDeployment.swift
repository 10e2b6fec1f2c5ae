import Foundation
import PipelineCore
import Planner

/// The demo's services as separate processes, as a deployment runs them (`demo --processes`):
/// the controller, the batcher (router inside), and the CPU and GPU workers, each a
/// `harmonybatch` process on the demo's broker, its log in a file. With `autoscale`, the workers
/// have one slot each and start at one replica per pool; `follow` then does what KEDA does in a
/// cluster: it starts and stops worker processes so that each pool has the replicas `hb.scaling`
/// asks for (within `maxReplicas`), and keeps the history of the replica counts.
public final class DemoDeployment: @unchecked Sendable {  // used from the workload's thread only
  public struct Settings: Sendable {
    public var bootstrap = ""
    public var modelDirectory = ""
    /// Slots of the one CPU worker without autoscaling (the cores' worth for MiniLM).
    public var cpuSlots = 1
    public var autoscale = false
    /// The most replicas the autoscaler runs per pool (the CPU pool runs real inference on this
    /// machine's cores).
    public var maxReplicas: [FunctionConfig.Kind: Int] = [.cpu: 2, .gpu: 4]
    /// CPU workers emulate the profile too, instead of running MiniLM.
    public var emulated = false
    /// The controller plans on its rate forecast, learning this period (nil: it does not).
    public var forecastPeriod: Duration?
    /// A worker added by `follow` serves only this long after it is started (`worker
    /// --start-delay`), and the controller is told so (`--replica-start-seconds`).
    public var replicaStart: Duration = .zero
    /// librdkafka properties every process gets (`--property`).
    public var properties: [String: String] = [:]

    public init() {}
  }

  /// A change of a pool's replica count (seconds since the epoch).
  public struct Change: Sendable {
    public var time: Double
    public var kind: FunctionConfig.Kind
    public var replicas: Int
    public var reason: String
  }

  public let settings: Settings
  public let directory: String
  /// The profile and apps the demo planned with, as files the processes read.
  public var profilePath: String { directory + "/profile.json" }
  public var appsPath: String { directory + "/apps.json" }
  private var stages: [ServiceProcess] = []
  private var workers: [FunctionConfig.Kind: [ServiceProcess]] = [.cpu: [], .gpu: []]
  private var started = 0
  private let stopping = DispatchGroup()
  public private(set) var changes: [Change] = []

  /// Writes the profile and the apps to a directory of its own, where the logs go too.
  public init(settings: Settings, profile: ModelProfile, apps: [App]) throws {
    self.settings = settings
    directory = NSTemporaryDirectory() + "hb-demo-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let json: Data
    do {
      json = try profile.jsonData()
    } catch {
      throw RunFailure("the profile cannot be written as JSON: \(error.summary)")
    }
    try json.write(to: URL(fileURLWithPath: profilePath))
    try AppsFile.encode(apps).write(to: URL(fileURLWithPath: appsPath))
  }

  private var common: [String] {
    // The embedded broker waits the group's session timeout less a second for every member to
    // rejoin at each rebalance (a real broker goes on once they have): a short one keeps a
    // replica's joining to a pause of about two seconds.
    let properties = [
      "consumer.session.timeout.ms": "3000", "consumer.heartbeat.interval.ms": "500",
    ].merging(settings.properties) { _, given in given }
    return ["--bootstrap", settings.bootstrap]
      + properties.sorted { $0.key < $1.key }.flatMap { ["--property", "\($0)=\($1)"] }
  }

  private var forecast: [String] {
    guard let period = settings.forecastPeriod else { return [] }
    return ["--forecast", "on", "--forecast-period", Self.seconds(period)]
  }

  private static func seconds(_ duration: Duration) -> String {
    String(format: "%.3f", duration.seconds)
  }

  /// Starts the controller, the batcher and one worker per pool.
  public func start() throws {
    stages = [
      ServiceProcess(
        name: "controller",
        arguments: [
          "controller", "--profile", profilePath, "--apps", appsPath,
          "--period", "10", "--min-interval", "20", "--rate-window", "20",
          "--replica-start-seconds", Self.seconds(settings.replicaStart),
        ] + forecast + common, directory: directory, executable: ServiceProcess.current),
      ServiceProcess(
        name: "batcher", arguments: ["batcher", "--profile", profilePath] + common,
        directory: directory, executable: ServiceProcess.current),
    ]
    for stage in stages { try stage.start() }
    try addWorker(.cpu, at: Date().timeIntervalSince1970, reason: "start", cold: false)
    try addWorker(.gpu, at: Date().timeIntervalSince1970, reason: "start", cold: false)
  }

  /// `cold`: the worker serves only `replicaStart` after it starts.
  private func addWorker(
    _ kind: FunctionConfig.Kind, at now: Double, reason: String, cold: Bool = true
  ) throws {
    started += 1
    let slots = settings.autoscale ? 1 : (kind == .cpu ? settings.cpuSlots : 16)
    var arguments = [
      "worker", "--kind", kind.rawValue, "--profile", profilePath, "--concurrency",
      String(slots),
    ]
    if kind == .cpu {
      arguments +=
        settings.emulated
        ? ["--backend", "emulated-cpu"]
        : ["--backend", "minilm", "--model-dir", settings.modelDirectory]
    }
    if cold, settings.replicaStart > .zero {
      arguments += ["--start-delay", Self.seconds(settings.replicaStart)]
    }
    let worker = ServiceProcess(
      name: "\(kind.rawValue)-worker-\(started)", arguments: arguments + common,
      directory: directory, executable: ServiceProcess.current)
    try worker.start()
    workers[kind, default: []].append(worker)
    changes.append(Change(time: now, kind: kind, replicas: replicas(kind), reason: reason))
  }

  /// Replicas of a pool now (started and not asked to stop).
  public func replicas(_ kind: FunctionConfig.Kind) -> Int { workers[kind]?.count ?? 0 }

  /// Whether every process has said it is ready (a stage has its plan, a worker has joined its
  /// group).
  public var isReady: Bool {
    (stages + workers.values.flatMap { $0 }).allSatisfy { $0.logContains(": ready") }
  }

  /// Processes that ended on their own, with the last lines of their logs.
  public var failures: [String] {
    (stages + workers.values.flatMap { $0 }).filter { $0.checkExited() }.map {
      "\($0.name) ended: \($0.tail(3))"
    }
  }

  /// Brings each pool to the replicas its latest recommendation asks for (at least one, at most
  /// `maxReplicas`); "no workers" never takes replicas away. Returns whether anything changed.
  @discardableResult
  public func follow(_ scaling: [String: ScalingRecommendation], now: Double) throws -> Bool {
    guard settings.autoscale else { return false }
    var changed = false
    for recommendation in scaling.values {
      let kind = recommendation.kind
      guard recommendation.group == WorkerPools.defaultGroup(kind) else { continue }
      let current = replicas(kind)
      var target = min(
        settings.maxReplicas[kind] ?? 4, max(1, recommendation.desiredReplicas))
      if recommendation.status == .noWorkers { target = max(target, current) }
      let reason = "\(recommendation.status.rawValue), desired \(recommendation.desiredReplicas)"
      if target > current {
        for _ in current..<target { try addWorker(kind, at: now, reason: reason) }
        changed = true
      } else if target < current {
        for _ in target..<current { removeWorker(kind, at: now, reason: reason) }
        changed = true
      }
    }
    return changed
  }

  /// Stops the newest replica of a pool (SIGTERM: it finishes its batches and leaves the group)
  /// without waiting for it.
  private func removeWorker(_ kind: FunctionConfig.Kind, at now: Double, reason: String) {
    guard let worker = workers[kind]?.popLast() else { return }
    changes.append(Change(time: now, kind: kind, replicas: replicas(kind), reason: reason))
    stopping.enter()
    Thread.detachNewThread { [stopping] in
      worker.stop()
      stopping.leave()
    }
  }

  /// Stops everything, workers first (they finish their batches), then the stages.
  public func stop() {
    for worker in workers.values.flatMap({ $0 }) {
      stopping.enter()
      Thread.detachNewThread { [stopping] in
        worker.stop()
        stopping.leave()
      }
    }
    workers = [:]
    stopping.wait()
    for stage in stages.reversed() { stage.stop() }
    stages = []
  }

  /// The replica counts over time, for the summary, in seconds from `start` (negative: before
  /// it): `cpu 1 (-8.0 s) → 2 (-5.1 s)`.
  public func history(since start: Double) -> String {
    [FunctionConfig.Kind.cpu, .gpu].map { kind in
      let steps = changes.filter { $0.kind == kind }.map {
        String(format: "%d (%+.1f s)", $0.replicas, $0.time - start)
      }
      return "\(kind.rawValue) " + steps.joined(separator: " → ")
    }.joined(separator: "; ")
  }
}
