import Foundation
import PipelineCore
import Planner

/// What a closed-loop simulation runs: the apps and their true rates, the functions' true
/// latencies, the worker pools, the pipeline's transport, scripted events, and whether an
/// autoscaler acts on the controller's recommendations.
public struct ClosedLoopScenario: Sendable {
  /// A worker pool: replicas of a worker with some slots each.
  public struct Pool: Sendable, Equatable {
    public var replicas: Int
    public var slotsPerReplica: Int

    public init(replicas: Int, slotsPerReplica: Int) {
      self.replicas = replicas
      self.slotsPerReplica = slotsPerReplica
    }

    public var slots: Int { replicas * slotsPerReplica }
  }

  /// The pipeline's own delays (seconds): flush → a worker read the batch is `base` plus an
  /// exponential jitter of mean `jitter`; finish → published is `publish`.
  public struct Transport: Sendable, Equatable {
    public var base: Double
    public var jitter: Double
    public var publish: Double

    public init(base: Double = 0.004, jitter: Double = 0.002, publish: Double = 0.001) {
      self.base = base
      self.jitter = jitter
      self.publish = publish
    }
  }

  public enum Event: Sendable, Equatable, CustomStringConvertible {
    /// Every app's rate times `factor` from `at` for `duration` seconds.
    case burst(at: Double, factor: Double, duration: Double)
    /// Every function's latency times `factor` from `at` on.
    case slowdown(at: Double, factor: Double)
    /// The pool of `kind` keeps `factor` of its replicas (at least one) from `at` on.
    case poolCut(at: Double, kind: FunctionConfig.Kind, factor: Double)

    public var time: Double {
      switch self {
      case .burst(let at, _, _), .slowdown(let at, _), .poolCut(let at, _, _): at
      }
    }

    public var description: String {
      switch self {
      case .burst(let at, let factor, let duration):
        String(format: "×%g burst at %.0f s for %.0f s", factor, at, duration)
      case .slowdown(let at, let factor):
        String(format: "every function ×%g slower at %.0f s", factor, at)
      case .poolCut(let at, let kind, let factor):
        String(format: "%@ pool cut to %g of its replicas at %.0f s", kind.rawValue, factor, at)
      }
    }
  }

  /// The apps with their true SLOs and base rates.
  public var apps: [App]
  /// What the controller is told before traffic (nil: the true apps).
  public var knownApps: [App]?
  /// Seconds of arrivals.
  public var duration: Double
  /// The functions' true latencies (before any slowdown).
  public var truth: ModelProfile
  /// What the controller and routers start from (nil: the truth).
  public var prior: ModelProfile?
  public var pricing: PricingPreset
  public var pools: [FunctionConfig.Kind: Pool]
  public var transport = Transport()
  public var events: [Event] = []
  /// Seconds from a recommendation to the replicas it asks for being up; nil: nobody acts on
  /// recommendations.
  public var autoscaleDelay: Double?
  /// The batch topics' partitions (nil: every slot of a pool takes any batch, as one worker with
  /// all the slots would). With a count, each replica reads the partitions a consumer group
  /// gives it (round-robin at first, then moved as a sticky assignor moves them; see
  /// `PartitionAssignment`) into its own queue, and runs them with its own slots only; replicas
  /// beyond the partitions idle.
  public var partitions: Int?
  /// With `partitions`: seconds a partition is not read after a change of replicas moved it to
  /// another replica (the group's rebalance; measured on the embedded broker: about 2.3 s with a
  /// 3 s session timeout, 8–17 s with librdkafka's defaults). 0: at once.
  public var rebalanceSeconds = 0.0
  /// With `partitions`: batches keyed by group, as before batch ids were the key — all of a
  /// group's batches on one partition (the skew that left replicas idle). Off: spread by batch.
  public var keyedBatches = false
  /// Workers shed the requests of a batch whose SLO passed before the start plus the fastest run
  /// seen on its function (`worker --late-policy shed`, the default); off: they run them.
  public var shedLate = true
  /// How the apps' rates vary over the run, times their base rates (`factor(at:)`): constant;
  /// `diurnal`, a sine between 0.3× and 1.7× with a period of `day`, rising from 1× at 0; or
  /// `bursty`, 4× in 5 % of the slots of `day / 60` (drawn from the seed), else 1× — as
  /// `simulate --shape` varies them per minute. Scripted bursts multiply on top.
  public var shape = Workload.Shape.constant
  /// The day of `shape` (a compressed one puts a day's rise and fall in a short run).
  /// Default: `defaultDay`.
  public var day = defaultDay
  /// `day` when none is given.
  /// Default: 86,400 s (one day).
  public static let defaultDay: Duration = .seconds(86_400)
  /// A replica's cold start: from the autoscaler starting it to it serving (scheduling, image
  /// pull, model load), after `autoscaleDelay`.
  /// Default: `defaultReplicaStart`.
  public var replicaStart = defaultReplicaStart
  /// `replicaStart` when none is given.
  /// Default: 0 s (a replica serves as soon as it is started).
  public static let defaultReplicaStart: Duration = .zero
  /// Whether the controller plans on its rate forecast (`ControllerCore.Settings.forecast`), with
  /// these forecaster settings; it is told that a replica takes `autoscaleDelay` plus
  /// `replicaStart` to serve.
  public var forecast = false
  public var forecaster = RateForecaster.Settings()
  /// The controller's settings beyond the profile, pricing and apps (the service's defaults
  /// unless changed).
  public var policy = ReplanPolicy()
  public var rateWindow = RateEstimator.defaultWindow
  public var targetUtilisation = 0.7
  public var seed: UInt64 = 1

  /// The shape the rates follow (`shape` over `day`, bursts drawn from `seed`).
  public var rateShape: RateShape { RateShape(shape, day: day, seed: seed) }

  /// The shape's factor at `time` (seconds from the start).
  public func factor(at time: Double) -> Double { rateShape.factor(at: time) }

  /// The spans in which the rates rise (seconds, within the run): the rising half of each day
  /// (trough to peak) of `diurnal`, the bursts of `bursty`, and the scripted bursts.
  public var ramps: [(from: Double, to: Double)] {
    var spans = rateShape.ramps(over: duration)
    for case .burst(let at, _, let length) in events where at < duration {
      spans.append((at, min(duration, at + length)))
    }
    return spans.filter { $0.to > $0.from }
  }

  public init(
    apps: [App], duration: Double, truth: ModelProfile, pricing: PricingPreset,
    pools: [FunctionConfig.Kind: Pool]
  ) {
    self.apps = apps
    self.duration = duration
    self.truth = truth
    self.pricing = pricing
    self.pools = pools
  }
}
