import Foundation
import Operations
import Planner
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
