import Foundation
import Planner
import Testing
import WaitSupport

@testable import PipelineCore

/// Plans and scaling on the rate forecast (issue 31, item 2), on a virtual clock: a compressed
/// day of 300 s in buckets of 10 s, the apps' rates rising and falling with it.
@Suite(.serialized, .computesLong) struct ForecastPlanningTests {
  static let apps = ControllerCoreTests.apps
  static let day = 300.0

  /// The forecaster's settings for a day of `day` seconds in 30 buckets.
  static func configure(_ settings: inout ControllerCore.Settings) {
    settings.forecast = true
    settings.forecaster.bucket = .seconds(10)
    settings.forecaster.period = .seconds(day)
    settings.forecaster.horizon = .seconds(60)
    settings.forecaster.errorWindow = .seconds(day)
    settings.forecaster.phaseSmoothing = .seconds(20)
    settings.replicaStart = .seconds(30)
  }

  /// A core fed each second Poisson counts of the apps' rates times `shape(now)`, with no worker
  /// reports: each recommendation's desired replicas are then the need itself, unsmoothed.
  struct Feed {
    var core: ControllerCore
    var random = SeededRandom(seed: 11)

    init(configure: (inout ControllerCore.Settings) -> Void) throws {
      var settings = ControllerCore.Settings(
        prior: try ModelProfile.builtIn(named: "VGG19"),
        pricing: try PricingPreset.builtIn(named: "alibaba-cny"))
      settings.apps = ForecastPlanningTests.apps
      configure(&settings)
      core = ControllerCore(settings: settings)
    }

    mutating func second(_ now: Double, factor: Double) -> [ControllerCore.Directive] {
      let counts = ControllerCoreTests.counts(
        ForecastPlanningTests.apps, factor: factor, random: &random)
      let directives = core.receive(
        rates: RatesMessage(
          router: "r", planVersion: core.version, windowStartMs: (now - 1) * 1000,
          windowEndMs: now * 1000, apps: counts, rejected: [:]))
      return directives + core.tick(now: now)
    }
  }

  static func diurnal(_ now: Double) -> Double { 1 + 0.7 * sin(2 * .pi * now / day) }

  /// The busy slots each recommendation asked for, summed over the pools, by second.
  static func demand(_ directives: [ControllerCore.Directive]) -> Double? {
    var latest: Double?
    for case .publishScaling(let recommendations) in directives {
      latest = recommendations.reduce(0) { $0 + $1.offeredSlots }
    }
    return latest
  }

  static func run(
    forecast: Bool, seconds: Int, factor: (Double) -> Double = diurnal
  ) throws -> (feed: Feed, demand: [Double: Double], logs: [String], plans: [Plan]) {
    var feed = try Feed { if forecast { configure(&$0) } }
    var demand: [Double: Double] = [:]
    var logs: [String] = []
    var plans: [Plan] = []
    var last = 0.0
    for second in 1...seconds {
      let now = Double(second)
      let directives = feed.second(now, factor: factor(now))
      last = Self.demand(directives) ?? last
      demand[now] = last
      logs += directives.compactMap { if case .log(_, let line) = $0 { line } else { nil } }
      plans += ControllerCoreTests.plans(directives)
    }
    return (feed, demand, logs, plans)
  }

  /// Once the history covers a day, the pools are sized for the ramp a replica's start-up time
  /// (30 s) before it comes: on the fourth day's rise, the demand recommended with the forecast
  /// reaches 80 % of the reactive controller's peak at least 20 s earlier than the reactive one
  /// does. Before the history covers a day the forecast is the current estimator's.
  @Test func thePoolsAreSizedAStartUpTimeAheadOfTheRamp() throws {
    let seconds = Int(3.6 * Self.day)
    let reactive = try Self.run(forecast: false, seconds: seconds)
    let ahead = try Self.run(forecast: true, seconds: seconds)
    // The fourth day's rise: from its trough (225 s into the third day) to its peak.
    let rise = stride(from: 2 * Self.day + 225, through: 3 * Self.day + 90, by: 1)
    let peak = rise.compactMap { reactive.demand[$0] }.max() ?? 0
    #expect(peak > 0)
    func crossing(_ demand: [Double: Double]) -> Double? {
      rise.first { (demand[$0] ?? 0) >= 0.8 * peak }
    }
    let early = try #require(crossing(ahead.demand))
    let late = try #require(crossing(reactive.demand))
    #expect(early <= late - 20, "forecast at \(early) s, reactive at \(late) s")
    // It planned on the seasonal forecast by then, and says how far off it was.
    for app in Self.apps {
      let forecast = ahead.feed.core.rateForecast(of: app.id)
      #expect(
        forecast.first?.method == .seasonal, "\(app.id): \(forecast.first.map { "\($0)" } ?? "")")
      let error = try #require(ahead.feed.core.forecastErrors[app.id]?.first)
      #expect((error.relativeToCurrent ?? 1) < 0.8, "\(app.id): \(error)")
      // What /metrics shows: the error 30 s (three buckets) ahead, the replicas' start-up.
      let shown = try #require(ahead.feed.core.forecastErrorsAhead[app.id])
      #expect(shown.step == 3 && shown.ahead == .seconds(30), "\(app.id): \(shown)")
      #expect((shown.weightedPercentage ?? 1) < 0.25, "\(app.id): \(shown)")
      // What hb.scaling carries for watch: the same error, with the app's pool.
      let carried = ahead.feed.core.scaling.values.compactMap {
        $0.forecast?.first { $0.app == app.id }
      }
      #expect(carried.count == 1, "\(app.id) in \(carried.count) pools' forecasts")
      if let carried = carried.first {
        #expect(carried.method == .seasonal && carried.errorRatio == shown.weightedPercentage)
        #expect(carried.coverage == shown.coverage)
        #expect(carried.plannedRate == ahead.feed.core.plannedRates[app.id])
        #expect(carried.scaledRate == ahead.feed.core.scaledRates[app.id])
        #expect(carried.measuredRate > 0)
      }
    }
    // The trough is not over-provisioned for long: at the day's lowest, the demand asked for
    // with the forecast is within 35 % of the reactive one's.
    let trough = 2 * Self.day + 225
    let low = try #require(ahead.demand[trough])
    let reactiveLow = try #require(reactive.demand[trough])
    #expect(low <= reactiveLow * 1.35 + 0.05, "\(low) vs \(reactiveLow)")
  }

  /// A step no day before had (the rates tripled on the third day): the measurement disagrees
  /// with the forecast beyond its band and wins at once — planned on within seconds, said in the
  /// log — and the forecast follows within two buckets.
  @Test func aStepTheForecastDidNotExpectIsPlannedOnAsMeasuredAtOnce() throws {
    let step = 2 * Self.day + 100
    let seconds = Int(step) + 40
    let run = try Self.run(forecast: true, seconds: seconds) { now in
      Self.diurnal(now) * (now > step ? 3 : 1)
    }
    let replanned = run.feed.core.history.filter { $0.at > step }
    let first = try #require(replanned.first)
    #expect(first.at <= step + 6, "\(replanned)")
    #expect(first.trigger == .rateChange)
    #expect(run.logs.contains { $0.hasPrefix("measured rates beyond the forecast's band") })
    // By now (40 s on) the forecast itself expects the new level.
    for app in Self.apps {
      let expected = app.rate * Self.diurnal(Double(seconds)) * 3
      let forecast = try #require(run.feed.core.rateForecast(of: app.id).first)
      #expect(forecast.upper >= expected * 0.8, "\(app.id): \(forecast) for \(expected)")
      #expect(
        (run.feed.core.scaledRates[app.id] ?? 0) >= expected * 0.8,
        "\(app.id): \(run.feed.core.scaledRates[app.id] ?? 0) for \(expected)")
    }
  }

  /// Bursts (×3 for 20 s) at random times on steady rates, no period to learn: the forecast
  /// adds little and takes nothing away — while a burst lasts the pools are sized for at least
  /// 90 % of what the reactive controller sizes them for, and over the run for at most 15 %
  /// more. (On the first day, with no history, it sizes exactly as the reactive one.)
  @Test func burstsWithNoPeriodAreSizedForAsReactively() throws {
    var random = SeededRandom(seed: 3)
    let bursts = (0..<12).map { _ in random.unit() * 2 * Self.day }
    func factor(_ now: Double) -> Double {
      bursts.contains { now >= $0 && now < $0 + 20 } ? 3 : 1
    }
    let reactive = try Self.run(forecast: false, seconds: Int(2.5 * Self.day), factor: factor)
    let forecast = try Self.run(forecast: true, seconds: Int(2.5 * Self.day), factor: factor)
    let total = (forecast.demand.values.reduce(0, +), reactive.demand.values.reduce(0, +))
    var worst = Double.infinity
    for burst in bursts {
      for second in stride(from: (burst + 5).rounded(.up), to: burst + 20, by: 1) {
        worst = min(worst, (forecast.demand[second] ?? 0) / max(reactive.demand[second] ?? 0, 1e-9))
      }
    }
    // Never much below the reactive need while a burst lasts (the measurement wins), and not
    // much above it in all: a burst over two buckets reads as a step, and the forecast keeps its
    // level until two buckets below it.
    #expect(worst >= 0.9, "\(worst)")
    #expect(total.0 <= total.1 * 1.15, "\(total)")
    #expect(forecast.feed.core.forecastErrors.count == Self.apps.count)
    // Until a replica's start-up before the day ends, when the first day's profile covers the
    // need ahead (and a rise it expects is sized for, cautiously), exactly as reactively.
    let firstDay = reactive.demand.keys.filter { $0 <= Self.day - 30 }
    #expect(firstDay.allSatisfy { forecast.demand[$0] == reactive.demand[$0] })
  }

  /// With the forecast off nothing of it counts: another start-up time or forecaster makes no
  /// difference to any plan, version or recommendation, and the pools are sized for the rates in
  /// force.
  @Test func withTheForecastOffItsSettingsChangeNothing() throws {
    func run(_ configure: @escaping (inout ControllerCore.Settings) -> Void) throws -> (
      [String], ControllerCore
    ) {
      var feed = try Feed(configure: configure)
      var out: [String] = []
      for second in 1...Int(1.5 * Self.day) {
        for directive in feed.second(Double(second), factor: Self.diurnal(Double(second))) {
          switch directive {
          case .publishPlan(var plan):
            plan.planningMs = 0
            out.append(String(decoding: try plan.jsonData(pretty: false), as: UTF8.self))
          case .publishScaling(let recommendations):
            out += try recommendations.map {
              String(decoding: try $0.messageJSON(), as: UTF8.self)
            }
          case .log(let level, let line): out.append("\(level): \(line)")
          }
        }
      }
      return (out, feed.core)
    }
    let plain = try run { _ in }
    let other = try run { settings in
      settings.replicaStart = .seconds(600)
      settings.forecaster.bucket = .seconds(5)
      settings.forecaster.period = .seconds(Self.day)
    }
    #expect(plain.0.count > 100)
    #expect(plain.0 == other.0)
    #expect(plain.1.history == other.1.history)
    #expect(plain.1.scaledRates == plain.1.plannedRates)
    #expect(plain.1.measuredOverForecast.isEmpty && plain.1.forecastErrors.isEmpty)
    #expect(plain.1.scaling.values.allSatisfy { $0.forecast == nil })
  }
}
