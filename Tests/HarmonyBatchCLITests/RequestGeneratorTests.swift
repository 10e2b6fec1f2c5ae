import Foundation
import Operations
import Planner
import Simulator
import Testing

@Suite struct RequestGeneratorTests {
  static let apps = [
    App(id: "fast", slo: 0.5, rate: 400), App(id: "slow", slo: 1, rate: 40),
  ]

  /// Each app's arrival times up to `seconds`, in order, from a generator like the one sent.
  static func arrivals(upTo seconds: Double) -> [String: [Double]] {
    var generator = RequestGenerator(apps: apps, seed: 7, idPrefix: "x")
    var times: [String: [Double]] = [:]
    while generator.nextArrival <= seconds {
      let time = generator.nextArrival
      for request in generator.due(by: time) { times[request.app, default: []].append(time) }
    }
    return times
  }

  @Test func sendingPacesEveryArrivalUpToTheEndAndNoneEarly() {
    let duration = 0.4
    let expected = Self.arrivals(upTo: duration)
    var generator = RequestGenerator(apps: Self.apps, seed: 7, idPrefix: "x")
    var sent: [String: [Double]] = [:]
    let start = ContinuousClock.now
    generator.send(
      for: .seconds(duration), from: start, isStopping: { false },
      { request in sent[request.app, default: []].append((ContinuousClock.now - start).seconds) })
    // Every arrival up to the end was sent, none after it, and none before its time.
    #expect(sent.mapValues(\.count) == expected.mapValues(\.count))
    for (app, times) in sent {
      for (time, due) in zip(times, expected[app] ?? []) {
        #expect(time >= due, "\(app): a request due at \(due) s went at \(time) s")
      }
    }
    #expect((expected["fast"]?.count ?? 0) > 100)
  }

  /// With a diurnal shape the arrivals follow it: the first half of each day (1× → 1.7× → 1×)
  /// brings 1 + 0.7 · 2/π ≈ 1.45 times the mean rate, the second (→ 0.3× → 1×) ≈ 0.55 times.
  @Test func aShapedWorkloadFollowsItsShapeSecondBySecond() {
    let day = 240.0
    var generator = RequestGenerator(
      apps: [App(id: "a", slo: 1, rate: 50)],
      shape: RateShape(.diurnal, day: .seconds(day), seed: 1),
      seed: 3, idPrefix: "x")
    var halves = [0.0, 0.0]
    while generator.nextArrival < 2 * day {
      let time = generator.nextArrival
      let half = Int(time.truncatingRemainder(dividingBy: day) / (day / 2))
      halves[half] += Double(generator.due(by: time).count)
    }
    // Two days: each kind of half-day gets a day's worth of the mean rate, times its factor.
    let dayAtTheMean = 50 * day
    let swing = 0.7 * 2 / Double.pi
    #expect(abs(halves[0] / dayAtTheMean - (1 + swing)) < 0.03, "\(halves)")
    #expect(abs(halves[1] / dayAtTheMean - (1 - swing)) < 0.03, "\(halves)")
  }

  @Test func sendingStopsWhenAskedWithoutWaitingForTheEnd() {
    var generator = RequestGenerator(apps: Self.apps, seed: 7, idPrefix: "x")
    var sent = 0
    let start = ContinuousClock.now
    generator.send(
      for: .seconds(600), from: start, isStopping: { sent >= 10 }, { _ in sent += 1 })
    #expect(sent >= 10)
    #expect(ContinuousClock.now - start < .seconds(60))
  }
}
