import Foundation
import Planner
import Testing
import WaitSupport

@testable import PipelineCore

/// The rate forecaster on synthetic series, a bucket at a time on a virtual clock: a sine with
/// noise, a step, series with no period (or not the one configured), and its bounds.
@Suite(.serialized, .computesLong) struct RateForecasterTests {
  static let minute = Duration.seconds(60)

  /// A day compressed to two hours of one-minute buckets.
  static var shortDay: RateForecaster.Settings {
    var settings = RateForecaster.Settings()
    settings.period = .seconds(2 * 3_600)
    return settings
  }

  /// A Poisson draw of `mean`.
  static func poisson(_ mean: Double, _ random: inout SeededRandom) -> Double {
    guard mean > 0 else { return 0 }
    guard mean < 50 else { return max(0, (mean + mean.squareRoot() * random.normal()).rounded()) }
    let limit = exp(-mean)
    var product = random.unit()
    var count = 0.0
    while product > limit {
      product *= random.unit()
      count += 1
    }
    return count
  }

  /// A forecaster started at zero, on `settings`.
  static func started(_ settings: RateForecaster.Settings) -> RateForecaster {
    var forecaster = RateForecaster(settings: settings)
    forecaster.advance(to: .zero)
    return forecaster
  }

  /// Counts bucket `index` of `app` and closes it.
  static func feed(
    _ forecaster: inout RateForecaster, app: String = "a", count: Double, bucket index: Int
  ) {
    let bucket = forecaster.settings.bucket
    forecaster.record(app: app, count: count, at: bucket * index + bucket / 2)
    forecaster.advance(to: bucket * (index + 1))
  }

  @Test func aSineWithNoiseIsForecastWithinItsBandOnceTheHistoryCoversAPeriod() {
    var forecaster = Self.started(Self.shortDay)
    let period = forecaster.bucketsPerPeriod
    #expect(period == 120 && forecaster.steps == 10)
    var random = SeededRandom(seed: 31)
    func truth(_ index: Int) -> Double { 600 + 400 * sin(2 * .pi * Double(index) / Double(period)) }
    var firstPeriod: [ForecastError] = []
    var truthInBand = 0
    var truthScored = 0
    var made: [Int: [ForecastPoint]] = [:]
    for index in 0..<(4 * period) {
      let count = Self.poisson(truth(index) * (1 + 0.03 * random.normal()), &random)
      Self.feed(&forecaster, count: count, bucket: index)
      let points = forecaster.forecast(of: "a")
      #expect(points.count == forecaster.steps)
      if index < period {
        // No period covered yet: the current estimator alone, but where the history covers a
        // period before a step (the last buckets of the first period), a rise the profile
        // expects is cautious.
        for point in points where point.method != .current {
          #expect(point.method == .cautious && index + point.step >= period && point.step > 1)
        }
      }
      if index == period - 1 { firstPeriod = forecaster.error(of: "a") }
      if index >= 3 * period {
        // The noise-free rate lies within the band of the forecasts made for it.
        for (ahead, points) in made where index + 1 - ahead <= forecaster.steps {
          let point = points[index - ahead]
          let rate = truth(index) / 60
          truthScored += 1
          if rate >= point.lower && rate <= point.upper { truthInBand += 1 }
        }
      }
      made[index + 1] = points
      made[index + 1 - forecaster.steps] = nil
    }
    let last = forecaster.error(of: "a")
    let (one, ten) = (last[0], last[forecaster.steps - 1])
    #expect(one.method == .seasonal && ten.method == .seasonal)
    #expect(one.samples == 60 && ten.samples == 60)
    // 90 % bands hold about 90 % of the counts.
    #expect(one.coverage >= 0.8 && ten.coverage >= 0.8, "\(one.coverage) \(ten.coverage)")
    #expect(Double(truthInBand) / Double(truthScored) >= 0.95, "\(truthInBand)/\(truthScored)")
    // The error drops once the season is learnt, most where the current estimator lags most.
    let before = firstPeriod[forecaster.steps - 1]
    #expect(before.relativeToCurrent == 1)
    #expect(ten.weightedPercentage! < before.weightedPercentage! / 3, "\(ten) \(before)")
    #expect(ten.relativeToCurrent! < 0.4, "\(ten)")
    #expect(one.relativeToCurrent! < 1, "\(one)")
    #expect(forecaster.summary(of: "a")?.contains("600 s ahead (seasonal)") == true)
  }

  @Test(arguments: [1.0, -1.0])
  func theNextPeriodsRiseIsForecastBeforeTheProfileIsScoredAndItsFallIsNot(sign: Double) {
    var forecaster = Self.started(Self.shortDay)
    let period = forecaster.bucketsPerPeriod
    var random = SeededRandom(seed: 5)
    // Rising (sign 1) or falling (-1) at the turn of the period.
    func truth(_ index: Int) -> Double {
      600 + sign * 400 * sin(2 * .pi * Double(index) / Double(period))
    }
    for index in 0...period {
      Self.feed(&forecaster, count: Self.poisson(truth(index), &random), bucket: index)
    }
    // One bucket of the second period closed: the profile has been scored on nothing yet.
    let points = forecaster.forecast(of: "a")
    if sign > 0 {
      // Every step beyond the open bucket expects more than now: planned for, from the
      // profile, before it is judged; the open bucket is the current estimator's.
      #expect(points[0].method == .current)
      #expect(
        points.dropFirst().allSatisfy { $0.method == .cautious }, "\(points.map(\.method))")
      let last = points[forecaster.steps - 1]
      let expected = truth(period + forecaster.steps) / 60
      #expect(abs(last.mean - expected) < 0.1 * expected, "\(last.mean) vs \(expected)")
      #expect(last.upper >= last.mean && last.mean > points[0].upper)
    } else {
      // A fall the profile expects is not acted on until the profile is proven.
      #expect(points.allSatisfy { $0.method == .current }, "\(points.map(\.method))")
    }
    // Once scored on enough buckets, the profile is judged as usual (and here it wins ten
    // buckets ahead, where the current estimator lags most).
    for index in (period + 1)...(period + 3 * forecaster.steps) {
      Self.feed(&forecaster, count: Self.poisson(truth(index), &random), bucket: index)
    }
    let judged = forecaster.forecast(of: "a")
    #expect(!judged.contains { $0.method == .cautious })
    #expect(judged[forecaster.steps - 1].method == .seasonal)
  }

  @Test func aStepIsFollowedWithinTwoBucketsAndTheMeasurementWinsAtOnce() {
    var forecaster = Self.started(Self.shortDay)
    let period = forecaster.bucketsPerPeriod
    var random = SeededRandom(seed: 5)
    var index = 0
    for _ in 0..<(3 * period) {
      Self.feed(&forecaster, count: Self.poisson(300, &random), bucket: index)
      index += 1
    }
    let before = forecaster.forecast(of: "a")
    #expect(abs(before[0].mean - 5) < 0.5 && before[0].upper < 7)

    // 5 → 15 requests per second: a minute's count, and ten seconds of it, disagree at once, and
    // the measured rate is the one to plan on.
    #expect(RateForecaster.disagreement(count: 900, over: Self.minute, with: before[0]) == .above)
    #expect(RateForecaster.disagreement(count: 150, over: .seconds(10), with: before[0]) == .above)
    let plan = RateForecaster.rateToPlan(forecast: before[0], measured: 150, over: .seconds(10))
    #expect(plan.measurementWins && plan.rate == 15)
    // Noise agrees: the forecast's upper quantile is planned on.
    let steady = RateForecaster.rateToPlan(forecast: before[0], measured: 310, over: Self.minute)
    #expect(!steady.measurementWins && steady.rate == before[0].upper)

    for _ in 0..<2 {
      Self.feed(&forecaster, count: Self.poisson(900, &random), bucket: index)
      index += 1
    }
    // Two buckets later every step ahead expects the new rate, within its band.
    for point in forecaster.forecast(of: "a") {
      #expect(abs(point.mean - 15) < 1.5, "\(point)")
      #expect(point.lower <= 15 && point.upper >= 15, "\(point)")
    }
    // A single burst is not a new level: one bucket at 3×, then the old rate again.
    for count in [2_700.0, 900] {
      Self.feed(&forecaster, count: count, bucket: index)
      index += 1
    }
    #expect(
      forecaster.forecast(of: "a").allSatisfy { $0.mean < 17 }, "\(forecaster.forecast(of: "a"))")

    // And down: the app stops.
    let high = forecaster.forecast(of: "a")[0]
    #expect(RateForecaster.disagreement(count: 0, over: .seconds(10), with: high) == .below)
    for _ in 0..<2 {
      Self.feed(&forecaster, count: 0, bucket: index)
      index += 1
    }
    #expect(
      forecaster.forecast(of: "a").allSatisfy { $0.mean < 1 }, "\(forecaster.forecast(of: "a"))")
  }

  /// Scores step 1 and step `steps` of the forecaster against `RateEstimator` (the controller's
  /// estimate at each bucket's end, held flat), both fed the same one-second counts.
  static func scoreAgainstTheEstimator(
    rates: (Int) -> Double, buckets: Int, settings: RateForecaster.Settings, seed: UInt64
  ) -> (forecast: [Double], estimator: [Double]) {
    var forecaster = Self.started(settings)
    var estimator = RateEstimator()
    var random = SeededRandom(seed: seed)
    let steps = forecaster.steps
    var forecasts: [Int: [Double]] = [:]
    var estimates: [Int: Double] = [:]
    var forecastErrors = [0.0, 0.0]
    var estimatorErrors = [0.0, 0.0]
    for index in 0..<buckets {
      var count = 0.0
      for second in 0..<60 {
        let n = Self.poisson(rates(index) / 60, &random)
        count += n
        let start = Double(index * 60 + second)
        estimator.record(app: "a", count: Int(n), from: start, to: start + 1)
        if n > 0 { forecaster.record(app: "a", count: n, at: .seconds(start + 0.5)) }
      }
      let end = Double((index + 1) * 60)
      forecaster.advance(to: .seconds(end))
      estimator.prune(now: end)
      if index >= buckets / 5 {
        for (slot, step) in [1, steps].enumerated() {
          if let forecast = forecasts[index - step + 1]?[step - 1],
            let estimate = estimates[index - step + 1]
          {
            forecastErrors[slot] += abs(count - forecast)
            estimatorErrors[slot] += abs(count - estimate)
          }
        }
      }
      forecasts[index + 1] = forecaster.forecast(of: "a").map { $0.mean * 60 }
      estimates[index + 1] = estimator.rate(of: "a", now: end) * 60
    }
    return (forecastErrors, estimatorErrors)
  }

  @Test func withNoPeriodTheForecastIsNoWorseThanTheCurrentEstimator() {
    // A random walk of the log rate around 5 requests per second: nothing repeats.
    var walk = SeededRandom(seed: 77)
    var level = log(300.0)
    var rates: [Double] = []
    for _ in 0..<600 {
      level += 0.05 * walk.normal() - 0.02 * (level - log(300))
      rates.append(exp(level))
    }
    let noPeriod = Self.scoreAgainstTheEstimator(
      rates: { rates[$0] }, buckets: 600, settings: Self.shortDay, seed: 3)
    // A sine of 77 minutes where a period of 120 is configured: the profile is out of phase.
    let otherPeriod = Self.scoreAgainstTheEstimator(
      rates: { 600 + 400 * sin(2 * .pi * Double($0) / 77) }, buckets: 600,
      settings: Self.shortDay, seed: 4)
    for (name, run) in [("no period", noPeriod), ("another period", otherPeriod)] {
      for slot in 0..<2 {
        #expect(
          run.forecast[slot] <= 1.05 * run.estimator[slot],
          "\(name), step \(slot == 0 ? 1 : 10): \(run.forecast[slot]) vs \(run.estimator[slot])")
      }
    }
  }

  @Test func memoryIsBoundedWhateverTheHistory() {
    // The defaults: a day of one-minute buckets, three days kept; four and a half days fed.
    var forecaster = Self.started(RateForecaster.Settings())
    #expect(forecaster.bucketsPerPeriod == 1_440)
    #expect(forecaster.historyCapacity == 3 * 1_440 + 2)
    var random = SeededRandom(seed: 11)
    let buckets = 4 * 1_440 + 720
    for index in 0..<buckets {
      let rate = 100 + 80 * sin(2 * .pi * Double(index) / 1_440)
      Self.feed(&forecaster, count: Self.poisson(rate, &random), bucket: index)
      if index % 97 == 0 || index == buckets - 1 {
        #expect(forecaster.historyCount(of: "a") <= forecaster.historyCapacity)
        #expect(forecaster.storedValues(of: "a") <= forecaster.storedValuesBound)
      }
    }
    #expect(forecaster.historyCount(of: "a") == forecaster.historyCapacity)
    #expect(forecaster.storedValues(of: "a") == forecaster.storedValuesBound)
    #expect(forecaster.forecast(of: "a").first?.method == .seasonal)
    // A gap longer than the history kept starts it over.
    forecaster.advance(to: Self.minute * (buckets + 5 * 1_440))
    #expect(forecaster.apps.isEmpty)
  }

  @Test func bucketsCloseOnTheClockAndLateCountsJoinTheOpenOne() {
    var forecaster = RateForecaster(settings: Self.shortDay)
    // Started mid-bucket: that bucket is not observed whole and is not kept.
    forecaster.record(app: "a", count: 30, at: .seconds(30))
    forecaster.advance(to: .seconds(60))
    #expect(forecaster.historyCount(of: "a") == 0 && forecaster.forecast(of: "a").isEmpty)
    forecaster.record(app: "a", count: 50, at: .seconds(90))
    forecaster.record(app: "b", count: 10, at: .seconds(100))
    // A count for the next bucket closes this one.
    forecaster.record(app: "a", count: 70, at: .seconds(130))
    #expect(forecaster.historyCount(of: "a") == 1 && forecaster.apps == ["a", "b"])
    #expect(abs(forecaster.forecast(of: "a")[0].mean - 50.0 / 60) < 1e-12)
    #expect(forecaster.forecast(of: "a", horizon: .seconds(90)).count == 2)
    #expect(forecaster.forecast(of: "a")[0].start == .seconds(120))
    // Late: counted at 100 s, after the bucket [60, 120) closed.
    forecaster.record(app: "b", count: 5, at: .seconds(100))
    forecaster.advance(to: .seconds(240))
    // Two buckets closed: b counted 5 in the first, nothing in the second (a silent bucket is 0).
    #expect(forecaster.historyCount(of: "b") == 3)
    #expect(forecaster.forecast(of: "b")[0].mean == 0)
    #expect(forecaster.forecast(of: "a")[0].mean == 0)
  }

  @Test func bucketsAreCountedExactly() {
    // 21,960 s / 60 s is 365.99999999999994 in floating point.
    #expect(RateForecaster.buckets(.seconds(21_960), of: Self.minute, rounding: .down) == 366)
    #expect(RateForecaster.buckets(.seconds(21_959), of: Self.minute, rounding: .down) == 365)
    #expect(RateForecaster.buckets(.seconds(21_930), of: Self.minute, rounding: .up) == 366)
    #expect(RateForecaster.buckets(.seconds(-1), of: Self.minute, rounding: .down) == -1)
    #expect(
      RateForecaster.buckets(.seconds(90), of: Self.minute, rounding: .toNearestOrAwayFromZero) == 2
    )
    #expect(
      RateForecaster.buckets(.seconds(89), of: Self.minute, rounding: .toNearestOrAwayFromZero) == 1
    )
    #expect(RateForecaster.buckets(.seconds(-61), of: Self.minute, rounding: .up) == -1)
  }

  @Test func theRingKeepsTheNewestInOrder() {
    var ring = Ring<Int>(capacity: 3)
    for value in 1...5 { ring.append(value) }
    #expect(ring.values == [3, 4, 5] && ring[back: 0] == 5 && ring[back: 2] == 3)
    #expect(Array(ring.newest(2)) == [4, 5])
    #expect(abs(RateForecaster.normalQuantile(0.95) - 1.644_854) < 1e-5)
    #expect(RateForecaster.quantile([1, 2, 3, 4, 5], 0.5) == 3)
  }
}
