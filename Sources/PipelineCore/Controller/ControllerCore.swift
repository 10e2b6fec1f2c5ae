import Foundation
import Logging
import Planner

/// The controller's decisions, with no I/O (the style of `GroupBuffers`): it is told what the
/// routers, workers and their feedback report, with the time, and `tick(now:)` returns what to do
/// — publish a plan, publish scaling recommendations, say something in the log. The Kafka service
/// (`ControllerService`) and the closed-loop simulator drive the same core.
///
/// What it measures and what it plans on (README, "The control loop"):
/// - rates per app from the routers' counts (`RateEstimator`); the rate a plan is made for moves
///   only when an estimate moved beyond Poisson noise (`ReplanPolicy.moved`), so a steady app
///   never re-plans;
/// - when `forecast` is on, per-app rate forecasts with their error (`RateForecaster`): plans
///   are made for what they expect over the next period and the pools sized for what they expect
///   a replica's start-up ahead, unless a measurement disagrees beyond their band;
/// - the latency model refitted from feedback (`LatencyRefit`);
/// - transport (`TransportEstimate`): the only delay taken off SLOs, bounded;
/// - queueing for worker slots: never planned on; with the worker reports it drives the
///   scaling recommendation per pool (`PoolScaler`).
public struct ControllerCore: Sendable {
  public struct Settings: Sendable {
    public var prior: ModelProfile
    public var pricing: PricingPreset
    public var algorithm = Planner.Algorithm.optimal
    /// Apps known before any traffic (ids, SLOs, expected rates).
    public var apps: [App] = []
    public var policy = ReplanPolicy()
    /// The window of the steady rate estimate (`controller --rate-window`).
    /// Default: `RateEstimator.defaultWindow`.
    public var rateWindow = RateEstimator.defaultWindow
    public var transport = TransportEstimate()
    public var scaler = PoolScaler()
    /// Plans are made with every maximum latency this much higher than the model says (0: as the
    /// model says; risk is judged on measured batches with statistical tests, not on re-costing).
    public var maxMargin = 0.0
    /// A worker silent this long (and for three of its report intervals) has left its pool.
    /// Default: `WorkerPools.defaultStaleAfter`.
    public var workerStaleAfter = WorkerPools.defaultStaleAfter
    /// Worker pools besides `hb-workers-cpu` and `hb-workers-gpu` (`worker --group`) whose
    /// reports count; reports from any other consumer group are refused.
    public var workerGroups: Set<String> = []
    /// The batch topics' partition counts as the controller read them, for pools whose workers
    /// have not said yet (the workers' own count wins).
    public var batchPartitions: [FunctionConfig.Kind: Int] = [:]
    /// The most requests per second one router can count (a rates report claiming more is
    /// bounded to it): far above what a router stage passes on one core.
    public var maxRouterRate = 200_000.0
    /// How long a cheaper plan waits for the pools to have its slots before it is given up (it
    /// is found again at the next re-plan).
    /// Default: `defaultCapacityWait`.
    public var capacityWait = defaultCapacityWait
    /// How often scaling recommendations are published; at once when a pool's status or desired
    /// replicas change.
    /// Default: `defaultScalingInterval`.
    public var scalingInterval = defaultScalingInterval
    /// Apps planned at most (`controller --max-apps`): app ids are the tenants' choice, and a plan
    /// must fit one record. A new app past it is not planned (its requests are still served
    /// alone by the routers, within their own bound) and is counted in the refusals.
    public var maxApps = 1_000
    /// The most bytes a plan record may take on `hb.plans` (the broker's default record limit,
    /// less room for framing): a candidate plan past it is not published.
    public var maxPlanBytes = 1_000_000 - 8_192
    public var topics = PipelineTopics()
    /// Written into every plan published (`Plan.writer`): which controller process wrote it.
    public var writer: String?
    /// Forecast each app's rate from the counts received (`RateForecaster`) and plan on it: plans
    /// are made for the forecast's upper quantile over the next `policy.period`, and the pools
    /// are sized for its mean up to `replicaStart` ahead, neither below the rate estimated now; a
    /// measurement beyond the forecast's band wins at once. Where the forecast is the current
    /// estimator (no period learnt), nothing changes. Its error is reported in the log, by
    /// `forecastErrors` and on `/metrics`. Off, the controller plans on the rates measured, as it
    /// always did. Default: off.
    public var forecast = false
    /// How long a replica takes from being recommended to serving (the autoscaler's reaction,
    /// scheduling, image pull, model load): with `forecast` on, the scaling recommendation is
    /// made for the need this far ahead (unused with it off).
    /// Default: `defaultReplicaStart`.
    public var replicaStart: Duration = defaultReplicaStart
    /// The forecaster's buckets, period, horizon and bands (when `forecast` is on).
    public var forecaster = RateForecaster.Settings()
    /// How often the forecast error is said in the log.
    /// Default: `defaultForecastReportInterval`.
    public var forecastReportInterval = defaultForecastReportInterval
    /// `forecastReportInterval` when none is given.
    /// Default: 600 s.
    public static let defaultForecastReportInterval: Duration = .seconds(600)

    /// `capacityWait` when none is given.
    /// Default: 120 s.
    public static let defaultCapacityWait: Duration = .seconds(120)
    /// `scalingInterval` when none is given.
    /// Default: 5 s.
    public static let defaultScalingInterval: Duration = .seconds(5)
    /// `replicaStart` when none is given.
    /// Default: 30 s.
    public static let defaultReplicaStart: Duration = .seconds(30)

    public init(prior: ModelProfile, pricing: PricingPreset) {
      self.prior = prior
      self.pricing = pricing
    }
  }

  /// How often refusals (reports refused, apps past `maxApps`), shed late requests and backlogs
  /// are summed up in the log, at most.
  /// Default: 30 s.
  public static let reportInterval: Duration = .seconds(30)

  public enum Directive: Sendable {
    case publishPlan(Plan)
    case publishScaling([ScalingRecommendation])
    case log(LogLevel, String)
  }

  /// A version this controller published.
  public struct Version: Sendable, Equatable {
    public var version: Int
    public var at: Double
    public var trigger: ReplanPolicy.Trigger
    public var reason: String
  }

  public let settings: Settings
  /// The plan in force (the last published or found on the plan topic at start).
  public private(set) var current: Plan?
  public private(set) var version = 0
  public private(set) var history: [Version] = []
  /// The latest recommendations, by pool.
  public private(set) var scaling: [String: ScalingRecommendation] = [:]

  private var rates: RateEstimator
  /// Per-app rate forecasts, when `settings.forecast` is on, and when their error was last said.
  private var forecaster: RateForecaster?
  private var lastForecastReport: Double?
  /// With the forecast on: the apps whose measurement disagreed with their forecast at the last
  /// tick (and why), and those last said in the log.
  private var measurementWins: [String: String] = [:]
  private var reportedWins: Set<String> = []
  private var lastTick: Double?
  private var refit: LatencyRefit
  /// The latency model plans are made on: the prior, then the refit when it moved beyond noise.
  private var modelInForce: ModelProfile
  /// The model (with its margins) the plan in force was made on, and what was measured under it.
  private var planModel: LatencyModel
  private var risk: PlanRisk
  private var riskDetail: [String] = []
  /// Late requests per app as hb.late reports them, the slack each app was given beyond the
  /// transport reserve for them (seconds), and when the shed ones were last reported.
  private var late = LateRequests()
  private var lateSlack: [String: Double] = [:]
  private var lastShedReport = -Double.infinity
  private var unservedReported: Set<String> = []
  private var riskLag = 1.0
  private var riskTails: [FunctionConfig.Kind: Double] = [:]
  /// How much wider than the model each kind's maximum is planned (from tails measured).
  private var maxMargins: [FunctionConfig.Kind: Double]
  /// A cheaper plan's demand on the pools, while it waits for them to have the slots, and since
  /// when.
  private var waiting: (demand: [FunctionConfig.Kind: PoolDemand], since: Double)?
  private var policy: ReplanPolicy
  private var transport: TransportEstimate
  private var pools: WorkerPools
  private var scaler: PoolScaler
  private var known: [String: App]
  /// The ids of the apps the controller plans for.
  public var knownApps: Set<String> { Set(known.keys) }
  /// The rate each app's plan is made for: moves only beyond noise.
  private var ratesInForce: [String: Double]
  /// How long each rate in force was counted over (infinite: given in the apps file).
  private var rateSpans: [String: Double] = [:]
  /// The rates and the transport reserve (before the per-SLO cap) the plan in force was made for,
  /// and whether any of those rates was provisional.
  private var ratesAtAdoption: [String: Double] = [:]
  private var adoptedOnProvisionalRates = false
  private var reserveInForce: Double
  /// Whether the plan in force was made before transport had been measured.
  private var currentOnPriors = false
  private var firstTick: Double?
  private var lastScaling: Double?
  private var cappedApps: Set<String> = []
  private var reportedInfeasible: Set<String> = []

  public init(settings: Settings) {
    self.settings = settings
    rates = RateEstimator(window: settings.rateWindow)
    forecaster = settings.forecast ? RateForecaster(settings: settings.forecaster) : nil
    refit = LatencyRefit(prior: settings.prior)
    modelInForce = settings.prior
    maxMargins = [.cpu: max(0, settings.maxMargin), .gpu: max(0, settings.maxMargin)]
    planModel = LatencyModel(profile: settings.prior)
    risk = PlanRisk(tolerance: settings.policy.riskTolerance)
    policy = settings.policy
    transport = settings.transport
    pools = WorkerPools(
      staleAfter: settings.workerStaleAfter, extraGroups: settings.workerGroups)
    scaler = settings.scaler
    known = Dictionary(settings.apps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    ratesInForce = Dictionary(
      settings.apps.map { ($0.id, $0.rate) }, uniquingKeysWith: { first, _ in first })
    reserveInForce = settings.transport.reserve
  }

  /// Takes over the plan found on the plan topic at start (published by an earlier controller):
  /// versions continue from it, and it stays in force until something calls for a new one.
  public mutating func resume(from plan: Plan) {
    current = plan
    version = max(version, plan.version ?? 0)
    planModel = planner.provisioner.latencyModel
    risk.reset(version: plan.version)
    reserveInForce = (plan.transportReserveMs ?? settings.transport.reserve * 1000) / 1000
    for group in plan.groups {
      for app in group.apps where known[app] == nil {
        known[app] = App(id: app, slo: (group.slosMs[app] ?? 0) / 1000, rate: 0)
      }
      for (app, rate) in group.appRates { ratesAtAdoption[app, default: 0] += rate }
    }
    for (app, rate) in ratesAtAdoption where ratesInForce[app] == nil { ratesInForce[app] = rate }
  }

  // MARK: What the controller is told

  /// Messages refused because their numbers could not be trusted (`checks`), by kind, and the
  /// last reason.
  public private(set) var refused: [String: Int] = [:]
  public private(set) var lastRefusal: String?

  private mutating func refuse(_ kind: String, _ checks: FieldChecks) {
    refuse(kind, detail: checks.summary)
  }

  /// A message that could not be read at all (not the JSON of its schema).
  public mutating func refuse(_ kind: String, detail: String) {
    refused[kind, default: 0] += 1
    lastRefusal = "\(kind): \(detail)"
  }

  /// A router's report: requests per app over its window.
  public mutating func receive(rates report: RatesMessage) -> [Directive] {
    let checks = report.checks
    guard checks.isValid else {
      refuse("rates", checks)
      return []
    }
    var directives: [Directive] = []
    // One bad entry costs that entry, not the report: the other apps' counts stand.
    var report = report
    for (app, count) in report.apps {
      guard let problem = RatesMessage.entryProblem(app: app, count: count) else { continue }
      report.apps[app] = nil
      refuse("rates entry", detail: "router \(report.router): \(problem)")
    }
    // A router cannot count more than it can read in its window (a window under a second counts
    // as one): a report claiming more is bounded, not believed.
    let window = max(1, (report.windowEndMs - report.windowStartMs) / 1000)
    let most = Int(min(1e9, settings.maxRouterRate * window))
    let total = report.apps.values.reduce(0) { $0 + $1.requests }
    if total > most {
      directives.append(
        .log(
          .warning,
          "rates report of router \(report.router) claims \(total) requests in \(window) s, more "
            + "than a router counts (\(Int(settings.maxRouterRate))/s); scaled down to \(most)"))
    }
    let scale = total > most ? Double(most) / Double(total) : 1
    for (app, count) in report.apps.sorted(by: { $0.key < $1.key }) {
      if known[app] == nil, known.count >= settings.maxApps {
        // Neither planned nor counted: its rate would be memory kept for an app never planned.
        refuse(
          "new apps past --max-apps", detail: "app \(app): \(settings.maxApps) apps are planned")
        continue
      }
      let requests = scale < 1 ? Int(Double(count.requests) * scale) : count.requests
      rates.record(
        app: app, count: requests, backlog: min(count.backlog ?? 0, requests),
        from: report.windowStartMs / 1000, to: report.windowEndMs / 1000)
      // On the controller's clock: a router's clock ahead of it (or a report claiming a window
      // in the future) must not close the forecaster's buckets early, or skip its history.
      let middle = (report.windowStartMs + report.windowEndMs) / 2000
      forecaster?.record(
        app: app, count: Double(requests), at: .seconds(min(middle, lastTick ?? middle)))
      if known[app] == nil, count.sloMs > 0, count.sloMs.isFinite {
        known[app] = App(id: app, slo: count.sloMs / 1000, rate: 0)
        directives.append(.log(.info, "new app \(app) (SLO \(Int(count.sloMs)) ms)"))
      }
    }
    return directives
  }

  /// A worker's feedback on one batch.
  public mutating func receive(feedback: FeedbackMessage) {
    let checks = feedback.checks
    guard checks.isValid else { return refuse("feedback", checks) }
    guard feedback.batchSize > 0 else { return }
    refit.observe(
      .init(
        function: feedback.function, batch: feedback.batchSize,
        seconds: feedback.inferenceSeconds))
    transport.observe(feedback.delays.transport)
    risk.observe(feedback)
  }

  /// A request that ended on hb.late: diverted by the batcher (`slo-unreachable`) or shed by a
  /// worker (`queued-past-slo`). Apps the controller does not know are ignored (a rogue key
  /// cannot grow what it keeps). `lateBy`: how far past its SLO it was, when the record said.
  public mutating func receive(late app: String, reason: String, lateBy: Duration?, at now: Double)
  {
    guard known[app] != nil else { return }
    late.record(app: app, reason: reason, lateBy: lateBy?.seconds ?? 0, at: now)
  }

  /// A worker's periodic report on its slots.
  public mutating func receive(workers report: WorkerReport, at now: Double) {
    let checks = report.checks
    guard checks.isValid else { return refuse("workers", checks) }
    if let refusal = pools.record(report, at: now) { refuse("workers", detail: refusal) }
  }

  // MARK: Deciding

  /// Looks at everything received so far and decides.
  public mutating func tick(now: Double) -> [Directive] {
    var directives: [Directive] = []
    if firstTick == nil { firstTick = now }
    lastTick = max(lastTick ?? now, now)
    rates.prune(now: now)
    forecaster?.advance(to: .seconds(now))
    pools.prune(now: now)
    let estimates = rates.estimates(now: now)
    let profile = refit.profile(fallback: modelInForce)
    let error = refit.predictionError(of: profile)
    // What plans are made for: the estimates, or with the forecast on what it expects over the
    // next period (the measurement where it disagrees).
    var planning = estimates
    if forecaster != nil {
      planning = forecastRates(estimates, ahead: policy.period, now: now)
      directives += reportMeasurementWins()
    }

    // Rates: an app new to the plan, or whose rate moved beyond noise.
    let newApps = planning.keys.filter { ratesInForce[$0] == nil }.sorted()
    let moved = planning.filter { app, estimate in
      ratesInForce[app].map { policy.moved(from: $0, to: estimate) } ?? false
    }.keys.sorted()

    // Risk of the plan in force under what was measured: its functions' latencies, and the
    // transport now against what it reserved.
    var atRisk: [String] = []
    if let current {
      let risks = risk.groupsAtRisk(current, planned: planModel)
      atRisk = risks.map(\.group)
      riskDetail = risks.map { "\($0.group) \($0.why)" }
      riskLag = risks.map(\.lag).max() ?? 1
      riskTails = Dictionary(risks.map { ($0.kind, $0.tail) }, uniquingKeysWith: max)
      let needed = transport.value
      let squeezed = known.values.filter { app in
        transport.reserve(needed, for: app.slo).seconds
          > transport.reserve(reserveInForce, for: app.slo).seconds + 1e-9
      }
      if !squeezed.isEmpty {
        atRisk.append("transport")
        riskDetail.append(
          String(
            format: "transport p%.0f %.0f ms past the %.0f ms reserved", transport.quantile * 100,
            needed * 1000, reserveInForce * 1000))
      }
    }
    let lateRisk = actOnLateRequests(rates: estimates.mapValues(\.rate), now: now)
    atRisk += lateRisk.atRisk
    directives += lateRisk.directives
    directives += warnAboutTransport()
    directives += reportBacklog(now: now)
    directives += reportRefusals(now: now)
    directives += reportForecastError(now: now)

    var poolReady = false
    if let pending = waiting {
      if now - pending.since > settings.capacityWait.seconds {
        waiting = nil
        directives.append(
          .log(.info, "the pools did not grow for the cheaper plan; keeping plan v\(version)"))
      } else {
        poolReady =
          Self.shortfall(pending.demand, pools: pools.pools(now: now), target: targetUtilisation)
          == nil
      }
    }
    let measured = current != nil && currentOnPriors && transport.count >= transport.minimum
    let drift = refit.significantDrift(from: modelInForce)
    if let trigger = poolReady
      ? .poolReady
      : policy.trigger(
        now: now, newApp: !newApps.isEmpty, rateMoved: !moved.isEmpty, modelDrift: drift,
        atRisk: !atRisk.isEmpty, measured: measured)
    {
      policy.evaluated(now: now)
      if measured { currentOnPriors = false }
      for app in newApps + moved {
        ratesInForce[app] = planning[app]?.rate ?? 0
        rateSpans[app] = planning[app]?.span ?? 0
      }
      // A rate set from a short count is provisional: at the period it is refreshed once it has
      // been counted over half the window (then it moves only beyond noise again).
      if trigger == .period {
        for (app, estimate) in planning
        where (rateSpans[app] ?? .infinity) < settings.rateWindow.seconds / 2
          && estimate.span >= settings.rateWindow.seconds / 2
        {
          ratesInForce[app] = estimate.rate
          rateSpans[app] = estimate.span
        }
      }
      // The model a plan is made on moves only when the refit moved beyond noise, or the plan in
      // force is at risk under it.
      if trigger == .sloAtRisk || (drift ?? 0) > policy.modelChange {
        // At risk, the newest batches lead the refit: plan on the model in force scaled to them,
        // and refit on what comes after the change only.
        modelInForce = trigger == .sloAtRisk ? modelInForce.scaled(by: riskLag) : profile
        if trigger == .sloAtRisk {
          // A tail beyond the maximum: the maximum of that kind is widened by what was measured.
          for (kind, tail) in riskTails where tail > 1 {
            maxMargins[kind] = min(1, (1 + maxMargins[kind, default: 0]) * tail - 1)
          }
        }
        if trigger == .sloAtRisk, riskLag > 1 + policy.riskTolerance / 2 {
          refit.forgetObservations()
        }
      }
      directives += evaluate(trigger: trigger, error: error, now: now, atRisk: atRisk)
    }
    directives += recommendScaling(profile: profile, estimates: estimates, now: now)
    return directives
  }

  /// With the forecast on, the rate of each app to plan on over the next `ahead`: the largest
  /// upper quantile the forecast gives the buckets from the one open now to `ahead`, and no less
  /// than the rate estimated now — unless the measurement disagrees with the forecast beyond its
  /// band (`RateForecaster.rateToPlan`), when the measured rate wins at once: the last bucket's
  /// count against what was forecast for it, or a burst or a drop the rate estimator saw (its
  /// short window) against the bucket open now. An app with no seasonal forecast over that span
  /// (none yet, or the current estimator chosen: no period learnt) keeps its estimate. Spans are
  /// the estimates' (the noise the hysteresis allows for). Remembers which apps the measurement
  /// won for.
  private mutating func forecastRates(
    _ estimates: [String: (rate: Double, span: Double)], ahead: Duration, now: Double
  ) -> [String: (rate: Double, span: Double)] {
    var planning = estimates
    var wins: [String: String] = [:]
    for (app, estimate) in estimates {
      guard let forecast = forecastRate(of: app, estimate: estimate, ahead: ahead, now: now)
      else { continue }
      planning[app] = (forecast.rate, estimate.span)
      if let why = forecast.measured { wins[app] = why }
    }
    measurementWins = wins
    return planning
  }

  /// The forecast's rate of `app` over the next `ahead` — the largest of its upper quantiles, or
  /// of its means when not `upper`, and never below the rate estimated now — (nil when there is
  /// no seasonal forecast over it), and why the measurement won instead, when it did.
  private func forecastRate(
    of app: String, estimate: (rate: Double, span: Double), ahead: Duration, now: Double,
    upper: Bool = true
  ) -> (rate: Double, measured: String?)? {
    guard let forecaster else { return nil }
    let points = forecaster.forecast(of: app).filter {
      $0.step == 1 || $0.start < .seconds(now) + ahead
    }
    // Where the forecast is the current estimator held flat (no period learnt yet, or none to
    // learn), the controller plans as without it: on the estimate, with its own rules. A
    // cautious forecast (a rise a profile not yet scored expects) sizes the pools ahead of it,
    // but plans stay on the estimate until the profile is proven.
    let ahead = points.contains { upper ? $0.method == .seasonal : $0.method.looksAhead }
    guard let open = points.first, ahead else { return nil }
    let sigmas = settings.forecaster.disagreementSigmas
    if let last = forecaster.lastBucket(of: app), let point = last.forecast {
      let measured = RateForecaster.rateToPlan(
        forecast: point, measured: last.count, over: last.span, sigmas: sigmas)
      if measured.measurementWins {
        return (
          measured.rate,
          String(
            format: "%.3g req/s in the last %.0f s, the forecast %.3g-%.3g", measured.rate,
            last.span.seconds, point.lower, point.upper)
        )
      }
    }
    // The estimator's short window took over: a burst or a drop, seconds old.
    if estimate.span <= rates.burstWindow.seconds + 1e-9 {
      let measured = RateForecaster.rateToPlan(
        forecast: open, measured: estimate.rate * estimate.span, over: .seconds(estimate.span),
        sigmas: sigmas)
      if measured.measurementWins {
        return (
          measured.rate,
          String(
            format: "%.3g req/s in the last %.0f s, the forecast %.3g-%.3g", measured.rate,
            estimate.span, open.lower, open.upper)
        )
      }
    }
    // Never below what is measured now: the forecast is of what comes, the need now is at least
    // the estimate (a burst inside a band that earlier bursts widened, the fall of a ramp the
    // forecast is ahead of).
    let forecast = points.map { upper ? $0.upper : $0.mean }.max() ?? open.upper
    return (max(forecast, estimate.rate), nil)
  }

  /// Says which apps the measurement won for, when that set changes.
  private mutating func reportMeasurementWins() -> [Directive] {
    let apps = Set(measurementWins.keys)
    guard apps != reportedWins else { return [] }
    let new = apps.subtracting(reportedWins).sorted()
    reportedWins = apps
    guard !new.isEmpty else { return [] }
    let detail = new.prefix(5).map { "\($0) (\(measurementWins[$0] ?? ""))" }
    return [
      .log(
        .info,
        "measured rates beyond the forecast's band, planned on as measured: "
          + detail.joined(separator: "; ")
          + (new.count > 5 ? " (and \(new.count - 5) apps more)" : ""))
    ]
  }

  /// The rates the pools are sized for: the rates in force, or with the forecast on the most it
  /// expects (its mean) up to a replica's start-up time ahead (`replicaStart`), the measurement
  /// where it disagrees; apps with no seasonal forecast keep their rate in force. The mean, not
  /// the upper quantile: the scaler keeps its own headroom (`PoolScaler.targetUtilisation`, the
  /// slot waits), and the apps' upper quantiles summed overstate a pool's need (on a compressed
  /// diurnal day, 5 % more replica-seconds for the same attainment).
  private func scalingRates(
    estimates: [String: (rate: Double, span: Double)], now: Double
  ) -> [String: Double] {
    guard forecaster != nil else { return ratesInForce }
    var rates = ratesInForce
    for (app, estimate) in estimates {
      if let forecast = forecastRate(
        of: app, estimate: estimate, ahead: settings.replicaStart, now: now, upper: false)
      {
        rates[app] = forecast.rate
      }
    }
    return rates
  }

  /// The forecast of every app whose group runs on `kind` in `plan`, for its pool's
  /// recommendation, with `errors` (`forecastErrorsAhead`, worked out once per tick).
  private func appForecasts(
    on kind: FunctionConfig.Kind, of plan: Plan,
    estimates: [String: (rate: Double, span: Double)], scaled: [String: Double],
    errors: [String: ForecastError]
  ) -> [AppRateForecast] {
    let wins = measuredOverForecast
    let apps = plan.groups.filter { $0.function.kind == kind }.flatMap(\.apps)
    return Set(apps).sorted().map { app in
      let error = errors[app]
      let methods = Set(rateForecast(of: app).map(\.method))
      return AppRateForecast(
        app: app, measuredRate: estimates[app]?.rate ?? 0, plannedRate: ratesInForce[app] ?? 0,
        scaledRate: scaled[app] ?? ratesInForce[app] ?? 0,
        method: [.seasonal, .cautious].first(where: methods.contains) ?? .current,
        measurementWins: wins.contains(app), errorRatio: error?.weightedPercentage,
        relativeToCurrent: error?.relativeToCurrent, coverage: error?.coverage)
    }
  }

  /// Late requests beyond chance: an app the batcher diverts needs more slack than the plan
  /// left it (re-planned with it, bounded as transport is); one whose requests are shed waited
  /// for slots the pool lacks (said; the scaling recommendation is the answer).
  private mutating func actOnLateRequests(rates: [String: Double], now: Double) -> (
    atRisk: [String], directives: [Directive]
  ) {
    var atRisk: [String] = []
    var directives: [Directive] = []
    late.prune(now: now)
    for finding in late.beyondChance(rates: rates, now: now) {
      guard let app = known[finding.app] else { continue }
      if finding.reason == "slo-unreachable" {
        let room = max(
          0, app.slo * transport.maxShare - transport.reserve(reserveInForce, for: app.slo).seconds)
        let wanted = min(room, (lateSlack[app.id] ?? 0) + finding.lateBy + 0.005)
        if wanted > (lateSlack[app.id] ?? 0) + 0.001 {
          lateSlack[app.id] = wanted
          late.forget(app.id, until: now + 5)
          atRisk.append("late")
          riskDetail.append(
            String(
              format: "app %@: %d requests diverted as slo-unreachable in %.0f s (up to %.0f ms "
                + "late); planned with %.0f ms more slack", app.id, finding.count,
              late.window.seconds, finding.lateBy * 1000, wanted * 1000))
        } else if !unservedReported.contains(app.id) {
          unservedReported.insert(app.id)
          directives.append(
            .log(
              .warning,
              String(
                format:
                  "app %@: %d requests diverted as slo-unreachable in %.0f s, and its slack is "
                  + "at the %.0f %% of its SLO that may be reserved: no plan serves it better on "
                  + "this pipeline (its time before the batcher is too long for a %.0f ms SLO)",
                app.id, finding.count, late.window.seconds, transport.maxShare * 100,
                app.slo * 1000)))
        }
      } else if now - lastShedReport >= Self.reportInterval.seconds {
        lastShedReport = now
        directives.append(
          .log(
            .warning,
            String(
              format:
                "app %@: %d requests shed in %.0f s after waiting for a worker slot past their "
                + "SLO: the pool is short (see hb.scaling)", app.id, finding.count,
              late.window.seconds)))
      }
    }
    return (atRisk, directives)
  }

  /// The apps as the planner sees them: each SLO less the transport reserve (capped per SLO), at
  /// the rates in force.
  private func plannedApps(reserve: Double, rates: [String: Double]) -> [App] {
    known.values.map { app in
      // The slack late requests asked for comes on top, within the same share of the SLO.
      let reserved = min(
        app.slo * transport.maxShare,
        transport.reserve(reserve, for: app.slo).seconds + (lateSlack[app.id] ?? 0))
      return App(
        id: app.id, slo: max(0.001, app.slo - reserved), rate: max(0, rates[app.id] ?? app.rate))
    }.sorted { $0.id < $1.id }
  }

  /// A planner on the model in force, with each kind's maximum widened by its margin (the tails
  /// measured beyond what the model says).
  private var planner: Planner {
    let cpu = 1 + maxMargins[.cpu, default: 0]
    var profile = modelInForce
    profile.cpu.latencyMax = profile.cpu.latencyMax.map {
      .init(alpha: $0.alpha * cpu, beta: $0.beta, gamma: $0.gamma * cpu)
    }
    return Planner(
      profile: profile, pricing: settings.pricing,
      gpuMaxMargin: LatencyModel.defaultGPUMaxMargin * (1 + maxMargins[.gpu, default: 0]))
  }

  private mutating func evaluate(
    trigger: ReplanPolicy.Trigger, error: Double?, now: Double, atRisk: [String]
  ) -> [Directive] {
    let planner = self.planner
    let reserve = transport.reserve
    let apps = plannedApps(reserve: reserve, rates: ratesInForce)
    guard !apps.isEmpty else { return [] }
    var candidate: Plan
    do {
      candidate = try planner.plan(apps, algorithm: settings.algorithm)
    } catch {
      return [.log(.warning, "cannot plan: \(error)")]
    }
    var directives = reportInfeasible(candidate)
    let provisioner = planner.provisioner
    let before = apps.map { App(id: $0.id, slo: $0.slo, rate: ratesAtAdoption[$0.id] ?? $0.rate) }
    var currentCost = current.map { PlanCost.of($0, apps: apps, provisioner: provisioner) }
    // Risk is what was measured on the plan in force (`PlanRisk`, transport), not a re-costing.
    currentCost?.atRisk = riskDetail
    guard
      let reason = policy.adopt(
        candidate: candidate, current: current, trigger: trigger, currentCost: currentCost,
        candidateCost: PlanCost.of(candidate, apps: apps, provisioner: provisioner),
        currentCostBefore: current.map {
          PlanCost.of($0, apps: before, provisioner: provisioner)
        },
        candidateCostBefore: PlanCost.of(candidate, apps: before, provisioner: provisioner),
        now: now, provisional: adoptedOnProvisionalRates)
    else {
      directives.append(
        .log(.debug, "re-planned (\(trigger.rawValue)); keeping plan v\(version)"))
      return directives
    }
    if case .cheaper = reason, let short = shortfall(of: candidate, now: now) {
      // A plan change must not outrun its pools: ask for the slots first, adopt when they are up.
      let first = waiting == nil
      waiting = (
        PoolDemand.of(candidate, rates: ratesInForce, latency: planner.provisioner.latencyModel),
        now
      )
      if first {
        directives.append(
          .log(
            .info,
            "a plan \(reason) waits for the worker pools (\(short)); recommending the slots on "
              + "\(settings.topics.scaling)"))
      }
      return directives
    }
    if let current, Self.sameDecisions(current, candidate) {
      // Nothing a router or batcher would do differently: no new version. What was acted on
      // (the model, its margins, the transport reserve) is in force now; the evidence that led
      // here is not counted twice.
      reserveInForce = reserve
      ratesAtAdoption = Dictionary(uniqueKeysWithValues: apps.map { ($0.id, $0.rate) })
      planModel = planner.provisioner.latencyModel
      if trigger == .sloAtRisk { risk.reset(version: version) }
      directives.append(
        .log(
          .debug, "re-planned (\(trigger.rawValue): \(reason)); the same plan, v\(version) stays"))
      return directives
    }
    let next = Plan.version(after: version)
    candidate.version = next
    candidate.writer = settings.writer
    candidate.createdAt = Self.timestamp(now)
    candidate.feedbackBatches = refit.observations
    candidate.predictionError = error
    candidate.transportReserveMs = (reserve * 1000).rounded()
    candidate.baselineObjective = (try? planner.plan(apps, algorithm: .batch)).map {
      $0.billedObjective ?? $0.objective
    }
    let capped = known.values.contains { transport.reserve(reserve, for: $0.slo).capped }
    candidate.reason = String(
      format: "%@: %@; SLOs less %.0f ms of transport%@ (p%.0f of %d batches%@)",
      trigger.rawValue, reason.description, reserve * 1000,
      capped ? String(format: ", at most %.0f %% of each", transport.maxShare * 100) : "",
      transport.quantile * 100, transport.count,
      transport.count < transport.minimum ? ", the prior until there are enough" : "")
    // Written as it will be published: a number JSON cannot hold, or a record the broker would
    // refuse (which would stop the controller), and the plan in force stays.
    let size: Int
    do {
      size = try candidate.jsonData(pretty: false).count
    } catch {
      directives.append(
        .log(
          .error,
          "a plan of \(candidate.groups.count) groups and \(apps.count) apps cannot be written "
            + "as JSON (\(error.summary)); keeping plan "
            + "v\(version)"))
      return directives
    }
    guard size <= settings.maxPlanBytes else {
      directives.append(
        .log(
          .error,
          "a plan of \(candidate.groups.count) groups and \(apps.count) apps takes \(size) bytes, "
            + "more than a record of \(settings.maxPlanBytes); keeping plan v\(version) (lower "
            + "--max-apps)"))
      return directives
    }
    version = next
    current = candidate
    waiting = nil
    adoptedOnProvisionalRates = apps.contains {
      (rateSpans[$0.id] ?? .infinity) < settings.rateWindow.seconds / 2
    }
    planModel = planner.provisioner.latencyModel
    risk.reset(version: version)
    currentOnPriors = transport.count < transport.minimum
    reserveInForce = reserve
    ratesAtAdoption = Dictionary(uniqueKeysWithValues: apps.map { ($0.id, $0.rate) })
    policy.published(now: now)
    history.append(
      Version(version: version, at: now, trigger: trigger, reason: candidate.reason ?? ""))
    directives.append(.publishPlan(candidate))
    directives.append(
      .log(
        .info,
        "published plan v\(version) (\(candidate.groups.count) groups, "
          + String(
            format: "%.4e %@/request expected billed",
            candidate.billedObjective ?? candidate.objective, candidate.currency)
          + "): \(candidate.reason ?? "")"))
    return directives
  }

  /// Publishes the plan in force again, as this controller's, under its next version: when it
  /// takes the lease over, and when a plan it did not write is in force (`reason` says which). The
  /// routers follow the topic's order, so the republished plan replaces the other at once. The
  /// other writer's version is not taken up: the controller's versions are its own count, which
  /// no other writer can move. Nothing to do before any plan exists.
  public mutating func reassert(_ reason: String, now: Double) -> [Directive] {
    guard var plan = current else { return [] }
    version = Plan.version(after: version)
    plan.version = version
    plan.writer = settings.writer
    plan.createdAt = Self.timestamp(now)
    plan.reason = "reasserted: \(reason)"
    current = plan
    risk.reset(version: version)
    history.append(
      Version(version: version, at: now, trigger: .reasserted, reason: plan.reason ?? ""))
    return [
      .publishPlan(plan),
      .log(.info, "published plan v\(version), the plan in force as this controller's: \(reason)"),
    ]
  }

  static func timestamp(_ seconds: Double) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: Date(timeIntervalSince1970: seconds))
  }

  /// Whether two plans route and batch every request alike (groups, functions, batch sizes and
  /// timeouts to the millisecond).
  static func sameDecisions(_ a: Plan, _ b: Plan) -> Bool {
    a.groups.map(\.decisions).sorted() == b.groups.map(\.decisions).sorted()
  }

  /// Says once which apps no function can serve (and again if the set changes).
  private mutating func reportInfeasible(_ plan: Plan) -> [Directive] {
    let apps = Set(plan.infeasible.map(\.app))
    guard apps != reportedInfeasible else { return [] }
    reportedInfeasible = apps
    guard !apps.isEmpty else {
      return [.log(.info, "every app is feasible again")]
    }
    let detail = plan.infeasible.map { "\($0.app) (\($0.reason))" }.joined(separator: "; ")
    return [
      .log(
        .warning,
        "no function serves \(apps.count) app\(apps.count == 1 ? "" : "s") within the SLO less "
          + "transport: \(detail); the routers serve each alone on a function that meets its "
          + "whole SLO, or dead-letter it (impossible-slo)")
    ]
  }

  private var refusalsReported: [String: Int] = [:]
  private var lastRefusalReport: Double?
  private var backlogReported = 0
  private var lastBacklogReport: Double?

  /// Says, at most every `reportInterval`, how many messages were refused since it last said so.
  private mutating func reportRefusals(now: Double) -> [Directive] {
    guard refused != refusalsReported,
      now - (lastRefusalReport ?? -.infinity) >= Self.reportInterval.seconds
    else {
      return []
    }
    let counts = refused.sorted { $0.key < $1.key }.compactMap { kind, count in
      count > refusalsReported[kind, default: 0]
        ? "\(count - refusalsReported[kind, default: 0]) \(kind)" : nil
    }
    refusalsReported = refused
    lastRefusalReport = now
    return [
      .log(
        .warning,
        "ignored messages or entries that cannot be trusted or kept: "
          + counts.joined(separator: ", ")
          + (lastRefusal.map { " (last: \($0))" } ?? ""))
    ]
  }

  /// Says (at most every `reportInterval`) how many batches waited out an outage or a restart
  /// between flush and worker, which transport does not count.
  private mutating func reportBacklog(now: Double) -> [Directive] {
    guard transport.backlogBatches > backlogReported,
      now - (lastBacklogReport ?? -.infinity) >= Self.reportInterval.seconds
    else { return [] }
    let count = transport.backlogBatches - backlogReported
    backlogReported = transport.backlogBatches
    lastBacklogReport = now
    return [
      .log(
        .info,
        String(
          format:
            "%d more batches waited over a second between flush and worker (a backlog after an "
            + "outage or a restart; the longest so far %.1f s): not counted as transport", count,
          transport.longestBacklog))
    ]
  }

  /// Says, every `forecastReportInterval`, how far the rate forecasts were off: the apps whose
  /// forecasts the most steps ahead were worst (WAPE), five at most.
  private mutating func reportForecastError(now: Double) -> [Directive] {
    guard let forecaster,
      now - (lastForecastReport ?? firstTick ?? now) >= settings.forecastReportInterval.seconds
    else { return [] }
    let worst = forecaster.errors.compactMap { app, errors in
      errors.last.map { (app, $0.weightedPercentage ?? 0) }
    }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    guard !worst.isEmpty else { return [] }
    lastForecastReport = now
    let lines = worst.prefix(5).compactMap { forecaster.summary(of: $0.0) }
    let more = worst.count > 5 ? " (and \(worst.count - 5) apps more)" : ""
    return [.log(.info, "rate forecast error: " + lines.joined(separator: "; ") + more)]
  }

  /// Warns when transport needs more than the share of an SLO it may take (once per change).
  private mutating func warnAboutTransport() -> [Directive] {
    let needed = transport.reserve
    let capped = Set(
      known.values.filter { transport.reserve(needed, for: $0.slo).capped }.map(\.id))
    guard capped != cappedApps else { return [] }
    cappedApps = capped
    guard !capped.isEmpty else {
      return [
        .log(
          .info, String(format: "transport is back to %.0f ms (p95)", transport.value * 1000))
      ]
    }
    let slos = capped.sorted().map { app in
      "\(app) (\(Int(((known[app]?.slo ?? 0) * 1000).rounded())) ms)"
    }
    var line = String(
      format:
        "transport p%.0f is %.0f ms, more than %.0f %% of the SLO of %@: planning on that share",
      transport.quantile * 100, transport.value * 1000, transport.maxShare * 100,
      slos.joined(separator: ", "))
    if transport.value > 0.1 {
      line +=
        " — far above a healthy pipeline's tens of milliseconds: a backlog being replayed? a slow "
        + "broker? workers far from the batcher?"
    }
    return [.log(.warning, line)]
  }

  private var targetUtilisation: Double { settings.scaler.targetUtilisation }

  /// What the pools lack for `plan` (at the target utilisation), said in words; nil when they
  /// have it, or when no worker reports at all (nothing is known of the pools).
  private func shortfall(of plan: Plan, now: Double) -> String? {
    Self.shortfall(
      PoolDemand.of(plan, rates: ratesInForce, latency: planner.provisioner.latencyModel),
      pools: pools.pools(now: now), target: targetUtilisation)
  }

  static func shortfall(
    _ demand: [FunctionConfig.Kind: PoolDemand], pools: [String: WorkerPools.Pool], target: Double
  ) -> String? {
    guard !pools.isEmpty else { return nil }
    var missing: [String] = []
    for kind in [FunctionConfig.Kind.cpu, .gpu] {
      let needed = demand[kind]?.slotsNeeded(target: target) ?? 0
      // The slots the replicas can use with the partitions they hold (`PoolCapacity`).
      let available = pools.values.filter { $0.kind == kind }.reduce(0) {
        $0 + min($1.slots, Int(($1.capacity.slots + 1e-9).rounded(.down)))
      }
      if needed > available {
        missing.append("\(kind.rawValue) needs \(needed) slots, \(available) reported")
      }
    }
    return missing.isEmpty ? nil : missing.joined(separator: ", ")
  }

  private mutating func recommendScaling(
    profile: ModelProfile, estimates: [String: (rate: Double, span: Double)], now: Double
  ) -> [Directive] {
    guard let current else { return [] }
    let rates = scalingRates(estimates: estimates, now: now)
    if forecaster != nil { ratesScaledFor = rates }
    var demand = PoolDemand.of(
      current, rates: rates, latency: LatencyModel(profile: profile))
    // A plan waiting for capacity asks for its slots too.
    for (kind, pending) in waiting?.demand ?? [:]
    where pending.offeredSlots > (demand[kind]?.offeredSlots ?? 0) {
      demand[kind] = pending
    }
    var recommendations = scaler.recommend(
      demand: demand, pools: pools.pools(now: now), planVersion: version,
      topics: settings.topics, now: now, partitions: settings.batchPartitions)
    if forecaster != nil {
      let errors = forecastErrorsAhead
      for index in recommendations.indices {
        recommendations[index].forecast = appForecasts(
          on: recommendations[index].kind, of: current, estimates: estimates, scaled: rates,
          errors: errors)
      }
    }
    var directives: [Directive] = []
    var changed = false
    for recommendation in recommendations {
      let previous = scaling[recommendation.group]
      let before = previous?.status
      if previous?.desiredReplicas != recommendation.desiredReplicas { changed = true }
      guard before != recommendation.status else { continue }
      changed = true
      switch recommendation.status {
      case .noWorkers where now - (firstTick ?? now) < settings.workerStaleAfter.seconds:
        // Workers report every second or so: give them the time to before warning.
        break
      case .scaleUp, .noWorkers, .partitionLimit:
        directives.append(
          .log(.warning, "pool \(recommendation.summary): \(recommendation.reason)"))
      case .ok, .idle, .scaleDown:
        if before != nil { directives.append(.log(.info, "pool \(recommendation.summary)")) }
      }
    }
    scaling = Dictionary(
      recommendations.map { ($0.group, $0) }, uniquingKeysWith: { _, last in last })
    if changed || lastScaling.map({ now - $0 >= settings.scalingInterval.seconds }) ?? true {
      lastScaling = now
      directives.append(.publishScaling(recommendations))
    }
    return directives
  }

  // MARK: What it knows

  /// The transport estimate now (seconds) and the batches it rests on.
  public var transportEstimate: (seconds: Double, batches: Int) {
    (transport.value, transport.count)
  }
  /// The profile refitted from feedback so far.
  public var refittedProfile: ModelProfile { refit.profile(fallback: modelInForce) }
  /// The rate each app's plan is made for.
  public var plannedRates: [String: Double] { ratesInForce }
  /// The rates the last scaling recommendation was made for: the rates in force, or with the
  /// forecast on what it expected up to `replicaStart` ahead.
  public var scaledRates: [String: Double] { forecaster == nil ? ratesInForce : ratesScaledFor }
  private var ratesScaledFor: [String: Double] = [:]
  /// The apps whose measurement disagreed with the forecast at the last tick (planned on as
  /// measured); empty when the forecast is off.
  public var measuredOverForecast: Set<String> { Set(measurementWins.keys) }
  /// The rate forecast of `app` from the bucket open now (`RateForecaster.forecast`); empty when
  /// the forecast is off.
  public func rateForecast(of app: String, horizon: Duration? = nil) -> [ForecastPoint] {
    forecaster?.forecast(of: app, horizon: horizon) ?? []
  }
  /// The forecast error of every app, one per step ahead; empty when the forecast is off.
  public var forecastErrors: [String: [ForecastError]] { forecaster?.errors ?? [:] }
  /// The forecast error of every app at the step ahead the pools are sized for (`replicaStart`,
  /// at least the bucket open now; the farthest scored when that one was not yet): what
  /// `/metrics` shows. Empty when the forecast is off.
  public var forecastErrorsAhead: [String: ForecastError] {
    guard let forecaster else { return [:] }
    let step = max(
      1,
      RateForecaster.buckets(
        settings.replicaStart, of: max(forecaster.settings.bucket, .milliseconds(1)),
        rounding: .up))
    return forecaster.errors.compactMapValues { errors in
      errors.first { $0.step >= step } ?? errors.last
    }
  }
}
