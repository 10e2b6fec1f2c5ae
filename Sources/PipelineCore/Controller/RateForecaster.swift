import Foundation

/// One app's expected rate over one bucket ahead, with its band (requests per second).
public struct ForecastPoint: Sendable, Equatable {
  /// How a point was forecast.
  public enum Method: String, Sendable, Codable {
    /// The seasonal profile of the periods kept, corrected by the recent level.
    case seasonal
    /// The seasonal profile where it expects more than the current estimator, while it has too
    /// few buckets scored to be judged (the first buckets after the history covers a period):
    /// until the profile is proven, a rise it expects is looked ahead to (the controller sizes
    /// its pools for it), a fall is not.
    case cautious
    /// The current estimator's rate held flat (`RateEstimator`'s steady window).
    case current

    /// Whether the forecast looks ahead of the current estimator (the seasonal profile leads it).
    public var looksAhead: Bool { self != .current }
  }

  /// When its bucket starts, on the clock the counts were recorded on.
  public var start: Duration
  /// How many buckets ahead: 1 is the bucket open now, 2 the one after it, and so on.
  public var step: Int
  /// The expected rate.
  public var mean: Double
  /// The band's lower and upper quantile (`RateForecaster.Settings.quantile` and its mirror).
  public var lower: Double
  public var upper: Double
  public var method: Method

  public init(
    start: Duration, step: Int, mean: Double, lower: Double, upper: Double, method: Method
  ) {
    self.start = start
    self.step = step
    self.mean = mean
    self.lower = lower
    self.upper = upper
    self.method = method
  }
}

/// How far the forecasts made `step` buckets ahead were from what was then counted, over the
/// forecaster's sliding window of buckets (`RateForecaster.Settings.errorWindow`).
public struct ForecastError: Sendable, Equatable {
  public var step: Int
  /// `step` buckets.
  public var ahead: Duration
  /// Buckets scored.
  public var samples: Int
  /// Mean absolute error (requests per second).
  public var meanAbsolute: Double
  /// Σ |error| / Σ counted (WAPE): a percentage that stays defined when some buckets count
  /// nothing, unlike MAPE; nil when nothing was counted at all.
  public var weightedPercentage: Double?
  /// The mean absolute error over the mean absolute error of the current estimator held flat,
  /// on the same buckets (a scaled error: under 1, the forecast did better than the reactive
  /// estimate); nil when the current estimator made no error.
  public var relativeToCurrent: Double?
  /// The share of the buckets whose count fell within the forecast's band.
  public var coverage: Double
  /// The method the latest forecast uses at this step.
  public var method: ForecastPoint.Method
}

/// Whether a measurement is beyond a forecast's band (`RateForecaster.disagreement`).
public enum ForecastDisagreement: String, Sendable {
  case above, below
}

/// Per-app rate forecasts from the counts the controller receives, pure (no I/O, times as
/// `Duration` on the caller's clock), with bounded memory.
///
/// **What it keeps.** Counts per app in buckets (`bucket`, a minute by default), the last
/// `periodsKept` periods of them (`period`, a day by default) in a ring per app, and for each of
/// the next `horizon` buckets the errors of the forecasts made for it over the last
/// `errorWindow`. Nothing grows with time: per app, at most `storedValuesBound` numbers (with the
/// defaults 3 × 1,440 + 2 counts and 3,410 numbers of forecasts and errors: about 62 KB).
///
/// **The method: seasonal medians with a level correction, chosen by measured error.** Two
/// forecasts are made at every bucket closed, and both are scored on what is counted next:
/// - *current*: the current estimator held flat, the mean count of the last `currentWindow`
///   (60 s: `RateEstimator`'s steady window) — what the controller plans on without a forecast;
/// - *seasonal*: for a bucket ahead, the mean count of the buckets around the same phase
///   (± `phaseSmoothing`) in each of the previous periods kept, the **median** of those per-period
///   means, plus a **level** `ℓ`: an exponentially smoothed (`levelSmoothing`) difference between
///   the counts and the seasonal profile over the last buckets.
///
/// The medians make one unusual day (a burst, an outage) no part of the next day's profile, which
/// a mean or a Holt–Winters seasonal state would replay; the additive level follows a day busier
/// or quieter than the ones kept, and a step, and stays defined at zero counts, where a
/// multiplicative correction does not. No smoothing constants are fitted, so nothing can diverge.
/// The forecast for each step ahead uses the seasonal method only once the history covers a period
/// before it, it has been scored on at least `minimumErrorSamples` buckets, and its mean absolute
/// error over the window is below the current estimator's on the same buckets by more than
/// `selectionMargin`: a series with no period, or one whose period differs from `period`, keeps
/// the current estimator. Between the history covering a period and that many buckets scored, a
/// step beyond the open bucket whose seasonal forecast is above the current estimator's is
/// *cautious*: the profile's mean with the wider of the two bands. The controller sizes its pools
/// for a cautious rise — the next period's first rise is met before the profile can be judged on
/// it — and plans on it only once it is proven; a fall it expects is not acted on until then.
///
/// A count beyond the seasonal forecast's band by more than Poisson noise (`disagreement`) moves
/// the level only as far as the band's edge; two such counts in a row on the same side reset the
/// level to the last difference instead: a step is followed within two buckets, a single burst is
/// not taken for a new level.
///
/// **Uncertainty.** The band of a forecast `s` steps ahead is the forecast plus the quantiles
/// (`quantile`, 95 % by default, and its mirror) of the errors its method made `s` steps ahead
/// over the window — never narrower than the Poisson noise of the count it forecasts and of the
/// counts the forecast rests on (± z·√(mean · (1 + 1/n)), n the counts the current estimator
/// averages, or the level's equivalent), which is the band alone until enough errors were
/// measured. So the band widens
/// where the method has been wrong and the coverage it reports (`error(of:)`) can be checked.
///
/// **The measurement wins.** `disagreement(count:over:with:)` says when a count just measured is
/// beyond a forecast's band by more than its own Poisson noise; the caller then plans on the
/// measurement at once (`rateToPlan`).
///
/// Buckets are closed by `advance(to:)` (and by a count recorded for a later bucket); a bucket in
/// which an app counted nothing closes at zero. A count recorded for a bucket already closed joins
/// the open one. The bucket the forecaster starts in is not observed whole and is not kept. A gap
/// longer than the history kept starts every app's history over.
public struct RateForecaster: Sendable {
  public struct Settings: Sendable {
    /// The span of one count. Default: `defaultBucket` (60 s).
    public var bucket: Duration = defaultBucket
    /// The season learnt. Default: `defaultPeriod` (one day).
    public var period: Duration = defaultPeriod
    /// Periods of counts kept per app. Default: `defaultPeriodsKept` (3).
    public var periodsKept: Int = defaultPeriodsKept
    /// How far ahead forecasts are made (and scored), rounded up to buckets, at most half a
    /// period. Default: `defaultHorizon` (10 minutes).
    public var horizon: Duration = defaultHorizon
    /// The sliding window over which forecast errors are measured, bands drawn and methods
    /// chosen. Default: `defaultErrorWindow` (one hour).
    public var errorWindow: Duration = defaultErrorWindow
    /// The weight of the newest difference in the seasonal method's level. Default:
    /// `defaultLevelSmoothing` (0.2).
    public var levelSmoothing: Double = defaultLevelSmoothing
    /// The seasonal profile averages the buckets this far on either side of a phase. Default:
    /// `defaultPhaseSmoothing` (2 minutes).
    public var phaseSmoothing: Duration = defaultPhaseSmoothing
    /// The band's upper quantile (its lower one is 1 − this). Default: `defaultQuantile` (0.95).
    public var quantile: Double = defaultQuantile
    /// Errors measured at a step before the seasonal method may be chosen there and before
    /// they draw the band. Default: `defaultMinimumErrorSamples` (10).
    public var minimumErrorSamples: Int = defaultMinimumErrorSamples
    /// The span the current estimator is counted over. Default: `defaultCurrentWindow` (60 s).
    public var currentWindow: Duration = defaultCurrentWindow
    /// How much lower (a share) the seasonal method's error must be than the current
    /// estimator's for it to be chosen: where the two do about as well, switching between them
    /// would follow noise. Default: `defaultSelectionMargin` (0.2).
    public var selectionMargin: Double = defaultSelectionMargin
    /// Standard deviations of Poisson noise beyond the band before a measurement disagrees.
    /// Default: `defaultDisagreementSigmas` (4).
    public var disagreementSigmas: Double = defaultDisagreementSigmas

    public static let defaultBucket = Duration.seconds(60)
    public static let defaultPeriod = Duration.seconds(86_400)
    public static let defaultPeriodsKept = 3
    public static let defaultHorizon = Duration.seconds(600)
    public static let defaultErrorWindow = Duration.seconds(3_600)
    public static let defaultLevelSmoothing = 0.2
    public static let defaultPhaseSmoothing = Duration.seconds(120)
    public static let defaultQuantile = 0.95
    public static let defaultMinimumErrorSamples = 10
    public static let defaultCurrentWindow = Duration.seconds(60)
    public static let defaultDisagreementSigmas = 4.0
    public static let defaultSelectionMargin = 0.2

    public init() {}

    /// A period of `period` in buckets of a minute, or of a sixtieth of it when that is shorter
    /// (a compressed day, as `controller --forecast-period` takes one): a day gives the defaults.
    public init(period: Duration) {
      let buckets = RateForecaster.buckets(period, of: Self.defaultBucket, rounding: .down)
      self.init(period: period, buckets: max(60, buckets))
    }

    /// A period of `period` in `buckets` buckets (a compressed day, as `simulate --closed-loop
    /// --day-seconds` runs one, in fewer buckets than a day's 1,440 minutes): the horizon, the
    /// error window and the phase smoothing keep as many buckets as the defaults give them (10,
    /// 60 and 2); the current estimator keeps its 60 s (at least a bucket).
    public init(period: Duration, buckets: Int) {
      let bucket = period / max(4, buckets)
      func inBuckets(_ span: Duration) -> Duration {
        bucket * RateForecaster.buckets(span, of: Self.defaultBucket, rounding: .up)
      }
      self.period = period
      self.bucket = bucket
      horizon = inBuckets(Self.defaultHorizon)
      errorWindow = inBuckets(Self.defaultErrorWindow)
      phaseSmoothing = inBuckets(Self.defaultPhaseSmoothing)
      currentWindow = max(bucket, Self.defaultCurrentWindow)
    }
  }

  public let settings: Settings
  /// Buckets per period, per forecast (the steps), per error window, either side of a phase, and
  /// in the current estimator's window.
  public let bucketsPerPeriod: Int
  public let steps: Int
  let window: Int
  let phaseBuckets: Int
  let currentBuckets: Int
  /// Counts kept per app: the periods kept and the buckets either side of the oldest phase.
  public let historyCapacity: Int
  /// The normal quantile of `settings.quantile`.
  let z: Double

  /// The open bucket's index (buckets since the clock's zero), and the first bucket observed
  /// whole; nil before any call.
  private var next: Int?
  private var origin = 0
  private var open: [String: Double] = [:]
  private var series: [String: Series] = [:]

  public init(settings: Settings = Settings()) {
    self.settings = settings
    let bucket = max(settings.bucket, .milliseconds(1))
    func buckets(_ span: Duration) -> Int {
      Self.buckets(span, of: bucket, rounding: .toNearestOrAwayFromZero)
    }
    bucketsPerPeriod = max(4, buckets(settings.period))
    phaseBuckets = min(max(0, buckets(settings.phaseSmoothing)), bucketsPerPeriod / 4)
    steps = max(
      1,
      min(
        Self.buckets(settings.horizon, of: bucket, rounding: .up),
        bucketsPerPeriod / 2, bucketsPerPeriod - phaseBuckets - 1))
    window = max(1, buckets(settings.errorWindow))
    currentBuckets = max(1, buckets(settings.currentWindow))
    historyCapacity =
      max(1, settings.periodsKept) * bucketsPerPeriod + max(phaseBuckets, currentBuckets)
    z = Self.normalQuantile(min(max(settings.quantile, 0.5), 0.9999))
  }

  private var bucketSeconds: Double { max(settings.bucket, .milliseconds(1)).seconds }

  /// The bucket `time` falls in. Exact: `Duration / Duration` divides in floating point, which
  /// put 21,960 s in bucket 365 of a minute's buckets.
  private func index(of time: Duration) -> Int {
    Self.buckets(time, of: max(settings.bucket, .milliseconds(1)), rounding: .down)
  }

  /// How many `bucket`s make `span`, rounded as `rule` says (in attoseconds, exactly).
  static func buckets(
    _ span: Duration, of bucket: Duration, rounding rule: FloatingPointRoundingRule
  ) -> Int {
    func attoseconds(_ duration: Duration) -> Int128 {
      Int128(duration.components.seconds) * 1_000_000_000_000_000_000
        + Int128(duration.components.attoseconds)
    }
    let (whole, remainder) = attoseconds(span).quotientAndRemainder(
      dividingBy: attoseconds(bucket))
    guard remainder != 0 else { return Int(clamping: whole) }
    // The quotient was truncated toward zero; the remainder has the sign of `span`.
    let below = remainder < 0 ? whole - 1 : whole
    let twice = 2 * (remainder < 0 ? remainder + attoseconds(bucket) : remainder)
    switch rule {
    case .down: return Int(clamping: below)
    case .up: return Int(clamping: below + 1)
    case .towardZero: return Int(clamping: whole)
    case .awayFromZero: return Int(clamping: remainder < 0 ? below : below + 1)
    default: return Int(clamping: twice >= attoseconds(bucket) ? below + 1 : below)
    }
  }

  private func start(of index: Int) -> Duration { max(settings.bucket, .milliseconds(1)) * index }

  // MARK: What it is told

  /// `count` requests of `app` counted at `time` (the middle of the span they were counted in).
  public mutating func record(app: String, count: Double, at time: Duration) {
    guard count.isFinite, count > 0 else { return }
    advance(to: time)
    let bucket = index(of: time)
    guard bucket >= origin else { return }  // the first bucket is not observed whole
    open[app, default: 0] += count
  }

  /// Closes every bucket that ended at or before `now`.
  public mutating func advance(to now: Duration) {
    let current = index(of: now)
    guard let next else {
      // The first bucket is observed whole only from its start.
      origin = now == start(of: current) ? current : current + 1
      self.next = current
      return
    }
    guard current > next else { return }
    if next < origin {
      // The partial first bucket closes unkept.
      open = [:]
      self.next = origin
      return advance(to: now)
    }
    if current - next > historyCapacity + steps {
      // A gap longer than the history kept: every app starts over from the bucket open now.
      series = [:]
      open = [:]
      self.next = current
      origin = current
      return
    }
    for closing in next..<current {
      for app in Set(series.keys).union(open.keys) {
        // In place: a copy of the series would copy its history at every bucket.
        close(
          &series[
            app,
            default: Series(first: closing, capacity: historyCapacity, steps: steps, window: window)
          ], at: closing, count: open[app] ?? 0)
      }
      open = [:]
    }
    self.next = current
  }

  /// Forgets an app.
  public mutating func forget(app: String) {
    series[app] = nil
    open[app] = nil
  }

  /// The apps with a history.
  public var apps: [String] { series.keys.sorted() }

  // MARK: What it says

  /// The forecast for the buckets from the one open now up to `horizon` ahead (the forecast's
  /// steps at most), made when the last bucket closed; empty before one has closed for `app`.
  public func forecast(of app: String, horizon: Duration? = nil) -> [ForecastPoint] {
    guard let item = series[app], let made = item.made.newest else { return [] }
    let wanted =
      horizon.map { Self.buckets($0, of: max(settings.bucket, .milliseconds(1)), rounding: .up) }
      ?? steps
    let rate = 1 / bucketSeconds
    return made.chosen.prefix(max(0, min(wanted, steps))).enumerated().map { offset, point in
      ForecastPoint(
        start: start(of: made.at + 1 + offset), step: offset + 1, mean: point.mean * rate,
        lower: point.lower * rate, upper: point.upper * rate, method: point.method)
    }
  }

  /// The forecast errors of `app`, one per step ahead that has been scored.
  public func error(of app: String) -> [ForecastError] {
    guard let item = series[app], let made = item.made.newest else { return [] }
    let rate = 1 / bucketSeconds
    return (0..<steps).compactMap { step in
      let errors = item.chosenErrors[step].values
      guard !errors.isEmpty else { return nil }
      let absolute = errors.reduce(0) { $0 + abs($1) }
      let counted = item.chosenCounts[step].values.reduce(0, +)
      let current = item.currentErrors[step].newest(errors.count).reduce(0) { $0 + abs($1) }
      let inside = item.chosenInside[step].values.filter { $0 }.count
      return ForecastError(
        step: step + 1, ahead: max(settings.bucket, .milliseconds(1)) * (step + 1),
        samples: errors.count, meanAbsolute: absolute / Double(errors.count) * rate,
        weightedPercentage: counted > 0 ? absolute / counted : nil,
        relativeToCurrent: current > 0 ? absolute / current : nil,
        coverage: Double(inside) / Double(errors.count), method: made.chosen[step].method)
    }
  }

  /// The forecast error of every app.
  public var errors: [String: [ForecastError]] {
    Dictionary(uniqueKeysWithValues: apps.map { ($0, error(of: $0)) })
  }

  /// One line for a log: the error one step and the most steps ahead.
  public func summary(of app: String) -> String? {
    let errors = error(of: app)
    guard let first = errors.first else { return nil }
    let last = errors.last ?? first
    func words(_ error: ForecastError) -> String {
      var text = String(format: "%.0f s ahead (%@) ", error.ahead.seconds, error.method.rawValue)
      if let wape = error.weightedPercentage {
        text += String(format: "%.1f %% off", wape * 100)
      } else {
        text += String(format: "%.3g/s off", error.meanAbsolute)
      }
      if let relative = error.relativeToCurrent {
        text += String(format: ", %.2f of the current estimator's error", relative)
      }
      return text + String(format: ", %.0f %% in its band", error.coverage * 100)
    }
    return "app \(app): forecast over \(first.samples) buckets: " + words(first)
      + (last.step == first.step ? "" : "; " + words(last))
  }

  /// The last bucket closed for `app`: what was counted in it, over what span, and the forecast
  /// made for it one bucket ahead (nil when none was) — a measurement and a forecast of the same
  /// span, for `rateToPlan`. Nil before a bucket has closed for `app`.
  public func lastBucket(of app: String) -> (
    count: Double, span: Duration, forecast: ForecastPoint?
  )? {
    guard let item = series[app], let made = item.made.newest, let count = item.counts.newest
    else { return nil }
    let rate = 1 / bucketSeconds
    var point: ForecastPoint?
    if item.made.count >= 2, item.made[back: 1].at == made.at - 1,
      let chosen = item.made[back: 1].chosen.first
    {
      point = ForecastPoint(
        start: start(of: made.at), step: 1, mean: chosen.mean * rate, lower: chosen.lower * rate,
        upper: chosen.upper * rate, method: chosen.method)
    }
    return (count, max(settings.bucket, .milliseconds(1)), point)
  }

  /// Counts kept for `app` (at most `historyCapacity`).
  public func historyCount(of app: String) -> Int { series[app]?.counts.count ?? 0 }

  /// Numbers kept for `app`: counts, forecasts made and errors measured.
  public func storedValues(of app: String) -> Int { series[app]?.storedValues ?? 0 }

  /// The most numbers kept per app.
  public var storedValuesBound: Int {
    historyCapacity + steps * (4 * steps + 1) + 5 * steps * window
  }

  // MARK: The measurement wins

  /// Whether `count` requests counted over `span` are beyond `point`'s band by more than the
  /// Poisson noise of such a count (`sigmas` standard deviations and 3 requests, as
  /// `RateEstimator` judges a burst): nil when they agree.
  public static func disagreement(
    count: Double, over span: Duration, with point: ForecastPoint,
    sigmas: Double = Settings.defaultDisagreementSigmas
  ) -> ForecastDisagreement? {
    let seconds = span.seconds
    guard seconds > 0, count.isFinite else { return nil }
    let high = max(0, point.upper) * seconds
    let low = max(0, point.lower) * seconds
    if count > high + sigmas * high.squareRoot() + 3 { return .above }
    if count < low - sigmas * low.squareRoot() - 3 { return .below }
    return nil
  }

  /// The rate to plan on: the forecast's upper quantile (`upper`, where an SLO is at stake) or its
  /// mean, unless the measurement disagrees with it, when the measured rate wins at once.
  public static func rateToPlan(
    forecast point: ForecastPoint, measured count: Double, over span: Duration,
    upper: Bool = true, sigmas: Double = Settings.defaultDisagreementSigmas
  ) -> (rate: Double, measurementWins: Bool) {
    if disagreement(count: count, over: span, with: point, sigmas: sigmas) != nil {
      return (count / span.seconds, true)
    }
    return (upper ? point.upper : point.mean, false)
  }

  // MARK: One app's history

  /// A forecast made in counts per bucket.
  struct Point: Sendable {
    var mean: Double
    var lower: Double
    var upper: Double
    var method: ForecastPoint.Method
  }

  /// The forecasts made when bucket `at` closed, for the buckets `at + 1 ...`.
  struct Made: Sendable {
    var at: Int
    var seasonal: [Double?]
    var current: Double
    var chosen: [Point]
  }

  struct Series: Sendable {
    /// The first bucket of this app's history.
    var first: Int
    /// Its counts, the newest last.
    var counts: Ring<Double>
    var level = 0.0
    /// Buckets in a row beyond the seasonal forecast's band: positive above, negative below.
    var streak = 0
    var made: Ring<Made>
    /// Per step ahead, over the window: the errors (counted − forecast) of each method, and the
    /// chosen forecast's counts and whether they fell in its band.
    var seasonalErrors: [Ring<Double>]
    var currentErrors: [Ring<Double>]
    var chosenErrors: [Ring<Double>]
    var chosenCounts: [Ring<Double>]
    var chosenInside: [Ring<Bool>]

    init(first: Int, capacity: Int, steps: Int, window: Int) {
      self.first = first
      counts = Ring(capacity: capacity)
      made = Ring(capacity: steps)
      seasonalErrors = Array(repeating: Ring(capacity: window), count: steps)
      currentErrors = seasonalErrors
      chosenErrors = seasonalErrors
      chosenCounts = seasonalErrors
      chosenInside = Array(repeating: Ring(capacity: window), count: steps)
    }

    var storedValues: Int {
      counts.count + made.values.reduce(0) { $0 + 1 + $1.seasonal.count + $1.chosen.count * 3 }
        + [seasonalErrors, currentErrors, chosenErrors, chosenCounts].joined().reduce(0) {
          $0 + $1.count
        } + chosenInside.reduce(0) { $0 + $1.count }
    }

    /// The count of bucket `index` when the last closed is `last`, if kept.
    func count(_ index: Int, last: Int) -> Double? {
      guard index >= first, index <= last, last - index < counts.count else { return nil }
      return counts[back: last - index]
    }
  }

  /// The seasonal profile at bucket `target` from the periods before it, the last bucket closed
  /// being `last`: the median over the periods kept of the mean count around the same phase.
  private func profile(_ item: Series, target: Int, last: Int) -> Double? {
    var means: [Double] = []
    for periods in 1...max(1, settings.periodsKept) {
      let center = target - periods * bucketsPerPeriod
      guard item.count(center, last: last) != nil else { continue }
      var sum = 0.0
      var n = 0
      for index in (center - phaseBuckets)...(center + phaseBuckets) {
        if let count = item.count(index, last: last) {
          sum += count
          n += 1
        }
      }
      means.append(sum / Double(n))
    }
    return means.isEmpty ? nil : Self.quantile(means.sorted(), 0.5)
  }

  /// The band of a forecast `mean` (counts) by `method` from its errors at one step, never
  /// narrower than the Poisson noise of the count forecast plus that of the forecast itself: the
  /// current estimator's mean of `currentBuckets` counts, or the seasonal level's smoothing
  /// (an exponential mean of weight α has α / (2 − α) of the variance of one count).
  private func band(mean: Double, errors: Ring<Double>, method: ForecastPoint.Method) -> (
    lower: Double, upper: Double
  ) {
    let alpha = min(max(settings.levelSmoothing, 0), 1)
    let own = method == .current ? 1 / Double(currentBuckets) : alpha / (2 - alpha)
    let noise = z * (max(mean, 1) * (1 + own)).squareRoot()
    var lower = mean - noise
    var upper = mean + noise
    if errors.count >= settings.minimumErrorSamples {
      let sorted = errors.values.sorted()
      lower = min(lower, mean + Self.quantile(sorted, 1 - settings.quantile))
      upper = max(upper, mean + Self.quantile(sorted, settings.quantile))
    }
    return (max(0, lower), upper)
  }

  private static func meanAbsolute(_ errors: ArraySlice<Double>) -> Double {
    errors.reduce(0) { $0 + abs($1) } / Double(max(1, errors.count))
  }

  /// Closes bucket `at` of one app with `count`: updates the level, scores the forecasts made for
  /// it, and makes the next.
  private func close(_ item: inout Series, at index: Int, count: Double) {
    let seasonalNow = profile(item, target: index, last: index - 1)
    item.counts.append(count)

    // The level, against the profile. A count that disagrees with the forecast made for it moves
    // the level only as far as the band's edge (one burst is not a new level); two in a row on
    // the same side reset the level to the last difference (a step is).
    if let seasonalNow {
      var observed = count
      var miss: ForecastDisagreement?
      if let made = item.made.newest, made.at == index - 1, let forecast = made.seasonal[0] {
        let (lower, upper) = band(
          mean: forecast, errors: item.seasonalErrors[0], method: .seasonal)
        miss = Self.disagreement(
          count: count, over: .seconds(1),
          with: ForecastPoint(
            start: .zero, step: 1, mean: forecast, lower: lower, upper: upper, method: .seasonal),
          sigmas: settings.disagreementSigmas)
        if miss != nil { observed = min(max(count, lower), upper) }
      }
      switch miss {
      case .above: item.streak = max(0, item.streak) + 1
      case .below: item.streak = min(0, item.streak) - 1
      case nil: item.streak = 0
      }
      if abs(item.streak) >= 2 {
        item.level = count - seasonalNow
        item.streak = 0
      } else {
        item.level += settings.levelSmoothing * (observed - seasonalNow - item.level)
      }
    } else {
      item.level = 0
      item.streak = 0
    }

    // Score what was forecast for this bucket.
    for made in item.made.values where made.at < index && index - made.at <= steps {
      let step = index - made.at - 1
      if let forecast = made.seasonal[step] {
        item.seasonalErrors[step].append(count - forecast)
      }
      item.currentErrors[step].append(count - made.current)
      let chosen = made.chosen[step]
      item.chosenErrors[step].append(count - chosen.mean)
      item.chosenCounts[step].append(count)
      item.chosenInside[step].append(count >= chosen.lower && count <= chosen.upper)
    }

    // Forecast the next buckets.
    let recent = (0..<currentBuckets).compactMap { item.count(index - $0, last: index) }
    let current = recent.reduce(0, +) / Double(max(1, recent.count))
    let level = item.level
    let seasonal = (1...steps).map { step in
      profile(item, target: index + step, last: index).map { max(0, $0 + level) }
    }
    let chosen = (0..<steps).map { step -> Point in
      let held = band(mean: current, errors: item.currentErrors[step], method: .current)
      let flat = Point(mean: current, lower: held.lower, upper: held.upper, method: .current)
      guard let forecast = seasonal[step] else { return flat }
      let profiled = band(mean: forecast, errors: item.seasonalErrors[step], method: .seasonal)
      guard item.seasonalErrors[step].count >= settings.minimumErrorSamples else {
        // Not yet judged: a rise the profile expects is looked ahead to (the next day's first
        // ramp comes before the profile can be scored on it), a fall is not; nor in the bucket
        // open now, which the current estimator is counting.
        guard step > 0, forecast > current else { return flat }
        return Point(
          mean: forecast, lower: min(held.lower, profiled.lower),
          upper: max(held.upper, profiled.upper), method: .cautious)
      }
      let n = min(item.seasonalErrors[step].count, item.currentErrors[step].count)
      guard
        Self.meanAbsolute(item.seasonalErrors[step].newest(n))
          < (1 - settings.selectionMargin) * Self.meanAbsolute(item.currentErrors[step].newest(n))
      else { return flat }
      return Point(
        mean: forecast, lower: profiled.lower, upper: profiled.upper, method: .seasonal)
    }
    item.made.append(Made(at: index, seasonal: seasonal, current: current, chosen: chosen))
  }

  // MARK: Numbers

  /// The `p` quantile of sorted values, interpolated.
  static func quantile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let position = min(max(p, 0), 1) * Double(sorted.count - 1)
    let below = Int(position.rounded(.down))
    let above = min(below + 1, sorted.count - 1)
    return sorted[below] + (sorted[above] - sorted[below]) * (position - Double(below))
  }

  /// The standard normal quantile of `p` (bisection on erfc, to 1e-9).
  static func normalQuantile(_ p: Double) -> Double {
    var low = -10.0
    var high = 10.0
    for _ in 0..<80 {
      let middle = (low + high) / 2
      if 0.5 * erfc(-middle / 2.0.squareRoot()) < p { low = middle } else { high = middle }
    }
    return (low + high) / 2
  }
}

/// A fixed number of the newest values: appending past the capacity drops the oldest.
struct Ring<Element: Sendable>: Sendable {
  let capacity: Int
  private var storage: [Element] = []
  /// Where the oldest is once full.
  private var head = 0

  init(capacity: Int) {
    self.capacity = max(1, capacity)
    storage.reserveCapacity(min(self.capacity, 1_024))
  }

  var count: Int { storage.count }
  var isEmpty: Bool { storage.isEmpty }

  mutating func append(_ value: Element) {
    if storage.count < capacity {
      storage.append(value)
    } else {
      storage[head] = value
      head = (head + 1) % capacity
    }
  }

  /// The value `offset` places before the newest (0: the newest).
  subscript(back offset: Int) -> Element {
    storage[(head + storage.count - 1 - offset) % storage.count]
  }

  var newest: Element? { storage.isEmpty ? nil : self[back: 0] }

  /// Oldest first.
  var values: [Element] { Array(storage[head...] + storage[..<head]) }

  /// The newest `n`, oldest first.
  func newest(_ n: Int) -> ArraySlice<Element> {
    let all = values
    return all[max(0, all.count - n)...]
  }
}
