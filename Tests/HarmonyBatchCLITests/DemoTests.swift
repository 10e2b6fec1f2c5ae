import Foundation
import Planner
import Simulator
import TestSupport
import Testing

@testable import HarmonyBatchCLI
@testable import Operations

/// A shortened `harmonybatch demo`: the whole pipeline with real MiniLM inference on the embedded
/// broker; every request accounted for and at least 99.5 % within its SLO.
@Suite(.startsServices(alone: true)) struct DemoTests {
  @Test func aShortDemoServesEveryRequestWithinItsSLO() async throws {
    let (status, stdout, stderr) = try await runToCompletion(
      harmonybatchPath, ["demo", "--duration", "5", "--rate-scale", "0.5"],
      timeout: .seconds(240))
    #expect(status == 0, "\(stderr)")
    let summary = try #require(stdout.first { $0.hasPrefix("demo summary:") }, "\(stdout)")
    #expect(summary.contains(", 0 missing"))
    let attainment = try #require(stdout.first { $0.hasPrefix("SLO attainment:") })
    let percent =
      Double(
        attainment.dropFirst("SLO attainment: ".count).prefix(while: { $0 != " " })) ?? 0
    #expect(percent >= 99.5, "\(attainment)")
    #expect(attainment.contains("minilm"))
    #expect(stdout.contains { $0.hasPrefix("expected billed cost per request:") })
    // The summary says how many plan versions there were and why; the pools as the controller
    // saw them.
    #expect(stdout.contains { $0.hasPrefix("plan versions: ") })
    #expect(stdout.contains { $0.hasPrefix("  v1 at ") && $0.contains("first plan") })
    #expect(stdout.contains { $0.hasPrefix("hb-workers-cpu") })
  }
}

/// How the demo sizes itself to the machine it runs on.
@Suite struct DemoSizingTests {
  /// When every app is back within SLO after the replicas changed: the first second from which on
  /// each app kept 99.5 % of its requests within SLO.
  @Test func theTimeBackWithinSLOIsTheFirstSecondEveryAppHoldsFrom() {
    var arrivals: [(app: String, at: Double, met: Bool)] = []
    for second in 0..<60 {
      for index in 0..<10 {
        let at = 100 + Double(second) + Double(index) / 10
        // a misses everything in its first 12 s, b in its first 3 s.
        arrivals.append(("a", at, second >= 12))
        arrivals.append(("b", at, second >= 3))
      }
    }
    // Seconds before 100 do not count; a decides.
    arrivals.append(("b", 50, false))
    #expect(DemoRun.backWithinSLO(arrivals, from: 100) == 12)
    #expect(DemoRun.backWithinSLO(arrivals.filter { $0.app == "b" }, from: 100) == 3)
    #expect(DemoRun.backWithinSLO([], from: 100) == 0)
    // Missing the last request: never back.
    #expect(DemoRun.backWithinSLO([("a", 101, true), ("a", 102, false)], from: 100) == nil)
  }

  /// A shaped run's summary counts the requests of the ramps (the rising half of each day) and
  /// of the days after the first apart.
  @Test func theShapeLinesCountTheRampsAndTheDaysAfterTheFirst() {
    let shape = RateShape(.diurnal, day: .seconds(100), seed: 1)
    // One request a second for 250 s; those of the second day's ramps (seconds 100-125 and
    // 175-225: rising from −¼ to ¼ of each day) miss their SLO.
    let arrivals = (0..<250).map { second in
      let at = Double(second)
      return (at: at, met: !((100..<125).contains(second) || (175..<225).contains(second)))
    }
    let lines = DemoRun.shapeLines(
      shape, duration: 250, forecast: true, replicaStart: .seconds(30), arrivals: arrivals)
    #expect(lines[0].contains("diurnal (a day of 100 s), forecast on, replicas serving 30 s"))
    // Ramps: 0-25, 75-125, 175-225 = 125 s; 75 of them missed.
    #expect(lines[1].contains("over the run 70.00 % (175 of 250)"), "\(lines[1])")
    #expect(lines[1].contains("in the ramps 40.00 % (50 of 125)"), "\(lines[1])")
    #expect(lines[1].contains("from the second day 50.00 % (75 of 150)"), "\(lines[1])")
    #expect(lines[1].contains("in its ramps 0.00 % (0 of 75)"), "\(lines[1])")
  }

  @Test func aSlowerMachineGetsASmallerDefaultWorkloadThatItsSlotsServe() throws {
    let builtIn = try Planner(model: "minilm")
    let here = DemoSizing(planner: builtIn, appCount: 8, rates: DemoRun.rateMix)
    // MiniLM as measured for the built-in profile: the default workload fits.
    #expect(here.largestScale(upTo: 1) == 1)
    // Fifty times slower (an old CPU, kernels for a narrower vector unit; about what twenty
    // times the profile of the OpenBLAS encoder was) and no GPU functions to move to: the rates
    // shrink until the plan's CPU batches fit the slots at the target utilisation.
    var slower = builtIn.profile.scaledCPU(by: 50)
    slower.gpu = nil
    let slow = DemoSizing(
      planner: Planner(profile: slower, pricing: builtIn.pricing), appCount: 8,
      rates: DemoRun.rateMix)
    let scale = slow.largestScale(upTo: 1)
    #expect(scale < 1 && scale >= 0.02)
    let slots = slow.cpuSlots(for: slow.apps(scale: scale))
    #expect(slots.needed <= slots.count, "\(slots)")
    #expect(
      slow.describe(apps: slow.apps(scale: scale), scale: scale, chosen: true)
        .contains("rates are scaled by"))
    // Asked for the full rates anyway, it says the machine is short.
    #expect(
      slow.describe(apps: slow.apps(scale: 1), scale: 1, chosen: false)
        .contains("recommend more CPU workers"))
  }
}
