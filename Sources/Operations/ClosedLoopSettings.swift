import Arguments
import PipelineCore
import Planner
import Simulator

/// What `simulate --closed-loop` is asked to run, option by option, before it becomes a
/// `ClosedLoopScenario` (`scenario(planner:)`), as `DemoRun.Settings` is for the demo.
public struct ClosedLoopSettings: Sendable {
  /// The apps with their true SLOs and base rates (nil: the demo's eight apps at twice their
  /// rates), every rate times `rateScale`.
  public var apps: [App]?
  public var rateScale = 1.0
  /// Default: `defaultDuration`.
  public var duration = defaultDuration
  /// The arrivals' span when none is given (virtual time).
  /// Default: 300 s.
  public static let defaultDuration: Duration = .seconds(300)
  /// Default: `defaultPools`.
  public var pools = defaultPools
  /// Sixteen CPU replicas of one slot, eight GPU replicas of four.
  public static let defaultPools: [FunctionConfig.Kind: ClosedLoopScenario.Pool] = [
    .cpu: .init(replicas: 16, slotsPerReplica: 1), .gpu: .init(replicas: 8, slotsPerReplica: 4),
  ]
  /// The controller is told `told` × each app's rate beforehand.
  public var told = 1.0
  /// The batch topics' partitions (nil: any slot takes any batch), batches keyed by group, and
  /// how long a moved partition is not read; the last two need partitions.
  public var partitions: Int?
  public var keyedBatches = false
  public var rebalance: Duration?
  /// How long after it is asked for an autoscaler's replica comes up (nil: no autoscaler).
  public var autoscale: Duration?
  public var shape = Workload.Shape.constant
  /// The day of `shape`, compressed (nil: a real day); the forecast's period follows it, in
  /// `forecastBuckets` buckets.
  public var day: Duration?
  /// Buckets per day of the forecast when the day is compressed.
  public static let forecastBuckets = 60
  /// A new replica's cold start (nil: none); given without an autoscaler, one that starts
  /// replicas as soon as they are recommended.
  public var replicaStart: Duration?
  public var forecast = false
  public var events: [ClosedLoopScenario.Event] = []
  public var seed: UInt64 = 1

  public init() {}

  /// The scenario these settings describe for `planner`'s profile (the truth) and pricing; a
  /// setting that needs another one missing is a usage error naming both options.
  public func scenario(planner: Planner) throws(UsageError) -> ClosedLoopScenario {
    if keyedBatches, partitions == nil { throw UsageError("--keyed-batches needs --partitions") }
    if rebalance != nil, partitions == nil {
      throw UsageError("--rebalance-seconds needs --partitions")
    }
    let apps = (apps ?? Self.demoApps).map {
      App(id: $0.id, slo: $0.slo, rate: $0.rate * rateScale)
    }
    var scenario = ClosedLoopScenario(
      apps: apps, duration: duration.seconds, truth: planner.profile, pricing: planner.pricing,
      pools: pools)
    scenario.seed = seed
    scenario.knownApps = apps.map { App(id: $0.id, slo: $0.slo, rate: $0.rate * told) }
    scenario.partitions = partitions
    scenario.keyedBatches = keyedBatches
    scenario.rebalanceSeconds = rebalance?.seconds ?? 0
    scenario.autoscaleDelay = autoscale?.seconds
    scenario.shape = shape
    if let day {
      scenario.day = day
      scenario.forecaster = RateForecaster.Settings(period: day, buckets: Self.forecastBuckets)
    }
    if let replicaStart {
      scenario.replicaStart = replicaStart
      scenario.autoscaleDelay = scenario.autoscaleDelay ?? 0
    }
    scenario.forecast = forecast
    scenario.events = events
    return scenario
  }

  /// The demo's mix of SLOs and rates, twice over.
  static var demoApps: [App] {
    DemoRun.rateMix.enumerated().map { index, rate in
      App(id: "app-\(index + 1)", slo: 0.3 + 0.1 * Double(index), rate: rate * 2)
    }
  }
}
