/// An app's rate as the controller sees it with the forecast on: measured now, planned on, and
/// sized for, with the forecast's error so far. Sent with each pool's scaling recommendation for
/// the apps whose groups the pool serves (`forecast` on hb.scaling), so that `watch` and an
/// operator see what a recommendation rests on and how far the forecast can be trusted.
public struct AppRateForecast: Codable, Sendable, Equatable {
  public var app: String
  /// The rate estimated from the routers' counts now (requests per second).
  public var measuredRate: Double
  /// The rate the plan in force is made for (the forecast's upper quantile over the next
  /// re-plan period, or the measurement where it won).
  public var plannedRate: Double
  /// The rate the pool is sized for (the forecast's mean up to a replica's start-up time ahead,
  /// never below the measurement).
  public var scaledRate: Double
  /// `seasonal` once a period is learnt and proven; `cautious` while a learnt profile that expects
  /// a rise is not yet scored; `current` while the forecast is the estimate held flat.
  public var method: ForecastPoint.Method
  /// The measurement disagreed with the forecast beyond its band at the last tick, and was
  /// planned on instead.
  public var measurementWins: Bool
  /// Σ |error| / Σ counted over the buckets scored at the pools' horizon (nil before any).
  public var errorRatio: Double?
  /// The forecast's mean absolute error over that of the estimate held flat (under 1: the
  /// forecast does better than reacting).
  public var relativeToCurrent: Double?
  /// The share of buckets whose count fell within the forecast's band.
  public var coverage: Double?

  public init(
    app: String, measuredRate: Double, plannedRate: Double, scaledRate: Double,
    method: ForecastPoint.Method,
    measurementWins: Bool, errorRatio: Double?, relativeToCurrent: Double?, coverage: Double?
  ) {
    self.app = app
    self.measuredRate = measuredRate
    self.plannedRate = plannedRate
    self.scaledRate = scaledRate
    self.method = method
    self.measurementWins = measurementWins
    self.errorRatio = errorRatio
    self.relativeToCurrent = relativeToCurrent
    self.coverage = coverage
  }

  enum CodingKeys: String, CodingKey {
    case app
    case measuredRate = "measured_rate"
    case plannedRate = "planned_rate"
    case scaledRate = "scaled_rate"
    case method
    case measurementWins = "measurement_wins"
    case errorRatio = "error_ratio"
    case relativeToCurrent = "relative_to_current"
    case coverage
  }
}
