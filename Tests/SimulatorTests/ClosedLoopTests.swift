import Foundation
import PipelineCore
import Planner
import Testing
import WaitSupport

@testable import Simulator

/// The controller's own core (`ControllerCore`) driving the closed loop in virtual time: rates,
/// refit, transport and worker reports in; plans and scaling recommendations out; a finite pool
/// of slots in between (DESIGN.md §2, "The control loop").
@Suite(.serialized, .computesLong) struct ClosedLoopTests {
  /// The demo's mix of rates (twice over), SLOs 0.3…1.0 s.
  static let apps = [1.0, 8, 2, 12, 0.5, 6, 3, 10].enumerated().map { index, rate in
    App(id: "app-\(index + 1)", slo: 0.3 + 0.1 * Double(index), rate: rate * 2)
  }

  static func scenario(
    model: String, cpu: Int, gpu: Int, duration: Double = 180
  ) throws -> ClosedLoopScenario {
    ClosedLoopScenario(
      apps: apps, duration: duration, truth: try ModelProfile.builtIn(named: model),
      pricing: try PricingPreset.builtIn(named: "alibaba-cny"),
      pools: [
        .cpu: .init(replicas: cpu, slotsPerReplica: 1),
        .gpu: .init(replicas: gpu, slotsPerReplica: 4),
      ])
  }

  /// With enough slots: every SLO holds, and the bill is within 5 % of the plan made on the
  /// true rates and the true model (run open-loop on the same arrivals with the same transport
  /// reserve) — over the whole run when the controller is told the rates, and once it has learnt
  /// them (from 60 s on) when it is told only half of each.
  @Test(arguments: ["VGG19", "Bert", "minilm"])
  func anAdequatePoolKeepsTheSLOsAtTheCostOfThePlanMadeOnTheTrueRates(model: String) throws {
    var scenario = try Self.scenario(model: model, cpu: 16, gpu: 8)
    for told in [1.0, 0.5] {
      scenario.knownApps = Self.apps.map { App(id: $0.id, slo: $0.slo, rate: $0.rate * told) }
      let result = ClosedLoopSimulation(scenario: scenario).run()
      #expect(result.attainment >= 0.995, "\(model), told ×\(told): \(result.attainment)")
      #expect(result.late == 0 && result.rejected == 0)

      let inForce = result.plans.last { plan in
        result.versions.first { $0.version == plan.version }.map { $0.at <= scenario.duration }
          ?? false
      }!
      let reserve = (inForce.transportReserveMs ?? 0) / 1000
      let oracle = try Planner(profile: scenario.truth, pricing: scenario.pricing).plan(
        Self.apps.map { App(id: $0.id, slo: $0.slo - reserve, rate: $0.rate) })
      let yardstick = ClosedLoopSimulation(scenario: scenario).run(fixedPlan: oracle)
      let from = told == 1 ? 0.0 : 60
      let cost = result.costPerRequest(from: from, to: scenario.duration)
      let target = yardstick.costPerRequest(from: from, to: scenario.duration)
      #expect(
        cost <= target * 1.05,
        "\(model), told ×\(told): \(cost) against \(target) on the true rates")
      // The first plan; one on the rates learnt (and refreshed once counted long enough) or on
      // measured transport.
      let published = result.versions(from: 0, to: scenario.duration)
      #expect(published.count <= 3, "\(published.map(\.reason))")
    }
  }

  /// A CPU pool with 2 of the 7 slots the plan needs: its workers shed what waited too long, the
  /// controller recommends more replicas
  /// within 10 s, keeps the plan (queueing is not the plan's to fix), and never takes the
  /// queueing off the SLOs it plans with.
  @Test func aPoolTooSmallIsReportedWithoutPlanChurnOrShrunkenSLOs() throws {
    let scenario = try Self.scenario(model: "VGG19", cpu: 2, gpu: 1, duration: 120)
    let result = ClosedLoopSimulation(scenario: scenario).run()
    // Short of slots: requests whose batches start too late are shed, so the waits stay about
    // one SLO long instead of growing.
    #expect(result.shed > 500, "the pool is not short: \(result.shed) shed")
    #expect(result.longestQueueWait < 2, "\(result.longestQueueWait) s")
    let first = try #require(result.firstScaleUp(group: "hb-workers-cpu"))
    #expect(first <= 10)
    let asked = result.scaling.filter { $0.group == "hb-workers-cpu" && $0.time <= 60 }
    #expect((asked.map(\.desiredReplicas).max() ?? 0) >= 7, "\(asked)")
    let published = result.versions(from: 0, to: scenario.duration)
    #expect(published.count <= 2, "\(published.map(\.reason))")
    for plan in result.plans {
      #expect(
        (plan.transportReserveMs ?? 0) <= 40,
        "v\(plan.version ?? 0) reserved \(plan.transportReserveMs ?? 0) ms")
    }
    #expect(result.largestReserveShare(apps: Self.apps) <= 0.2)
  }

  /// A ×4 burst for 30 s, every function 30 % slower, the pools cut in half — with an autoscaler
  /// that follows the recommendations (new replicas up 5 s after they are asked for). Within 30 s
  /// of each event the loop is back: the requests outside those 30-second spans keep 99.5 %, no
  /// 10-second window of them falls below 97 %, and the slowdown costs at most three plan
  /// versions (a few seconds apart while the refit catches up), not a spiral. Several seeds.
  @Test(arguments: ["VGG19", "minilm", "Bert"])
  func afterABurstASlowdownAndAPoolCutTheLoopIsBackWithinSLOIn30Seconds(model: String) throws {
    var scenario = try Self.scenario(model: model, cpu: 12, gpu: 2, duration: 300)
    scenario.autoscaleDelay = 5
    scenario.events = [
      .burst(at: 60, factor: 4, duration: 30), .slowdown(at: 150, factor: 1.3),
      .poolCut(at: 220, kind: .cpu, factor: 0.5), .poolCut(at: 220, kind: .gpu, factor: 0.5),
    ]
    for seed in UInt64(1)...3 {
      scenario.seed = seed
      let result = ClosedLoopSimulation(scenario: scenario).run()
      let settled = [(0.0, 60.0), (90, 150), (180, 220), (250, 300)]
      let attainment = result.attainment(in: settled.map { (from: $0.0, to: $0.1) })
      #expect(attainment >= 0.995, "\(model), seed \(seed): \(attainment)")
      for (from, to) in settled {
        let worst = result.worstWindow(from: from, to: to)
        #expect(worst >= 0.97, "\(model), seed \(seed): \(worst) in [\(from), \(to))")
      }
      let forSlowdown = result.versions(from: 150, to: 210)
      #expect(forSlowdown.count <= 3, "\(model), seed \(seed): \(forSlowdown.map(\.reason))")
      #expect(result.largestReserveShare(apps: Self.apps) <= 0.2)
    }
  }

  /// Partitions as a consumer group has them (four; CPU replicas of one slot, from one; an
  /// autoscaler that follows the recommendations): the recommendation never asks for more
  /// replicas than partitions, and says when one slot per replica is not enough. Batches spread
  /// by batch id: 96 % within SLO from 60 s (the 400 ms app cannot take the waits of one-slot
  /// replicas); keyed by group, as they were, the hot group's batches sit on one replica while
  /// others idle, and it sheds what it cannot serve (84 %).
  /// VGG19, the apps at half their rates, four partitions, one one-slot CPU replica to start
  /// and an autoscaler that brings replicas up 5 s after they are asked for.
  static func scaledOut(duration: Double) throws -> ClosedLoopScenario {
    var scenario = try Self.scenario(model: "VGG19", cpu: 1, gpu: 1, duration: duration)
    scenario.apps = Self.apps.map { App(id: $0.id, slo: $0.slo, rate: $0.rate / 2) }
    scenario.partitions = 4
    scenario.autoscaleDelay = 5
    return scenario
  }

  @Test func partitionsBoundReplicasAndKeyedBatchesSkewThem() throws {
    var scenario = try Self.scaledOut(duration: 150)
    let spread = ClosedLoopSimulation(scenario: scenario).run()
    scenario.keyedBatches = true
    let keyed = ClosedLoopSimulation(scenario: scenario).run()
    for result in [spread, keyed] {
      #expect(
        result.scaling.allSatisfy { $0.desiredReplicas <= 4 },
        "\(result.scaling.map(\.desiredReplicas))")
    }
    // Spread: the need past four one-slot replicas is said as a partition limit (more slots per
    // replica), not as more replicas.
    #expect(spread.scaling.contains { $0.status == .partitionLimit })
    // Keyed: the hot group's partition is one replica's, which sheds what it cannot serve.
    #expect(keyed.shed > 3 * spread.shed, "\(keyed.shed) vs \(spread.shed) shed")
    #expect(
      spread.attainment(from: 60, to: 150) > keyed.attainment(from: 60, to: 150) + 0.05,
      "\(spread.attainment(from: 60, to: 150)) vs \(keyed.attainment(from: 60, to: 150))")
  }

  @Test func aRebalancePausesTheMovedPartitionsAndCostsTheRamp() throws {
    var scenario = try Self.scaledOut(duration: 90)
    let atOnce = ClosedLoopSimulation(scenario: scenario).run()
    scenario.rebalanceSeconds = 10
    let paused = ClosedLoopSimulation(scenario: scenario).run()
    // The same recommendations come, but every replica that joins holds its partitions' batches
    // for 10 s: more is shed and fewer meet their SLO while the pool grows.
    #expect(paused.shed > atOnce.shed, "\(paused.shed) vs \(atOnce.shed) shed")
    #expect(
      paused.attainment(from: 0, to: 60) < atOnce.attainment(from: 0, to: 60),
      "\(paused.attainment(from: 0, to: 60)) vs \(atOnce.attainment(from: 0, to: 60))")
  }

  @Test func theSameSeedGivesTheSameRun() throws {
    let scenario = try Self.scenario(model: "Bert", cpu: 4, gpu: 2, duration: 30)
    let first = ClosedLoopSimulation(scenario: scenario).run()
    let second = ClosedLoopSimulation(scenario: scenario).run()
    #expect(first.requests == second.requests && first.billed == second.billed)
    #expect(first.versions == second.versions)
  }
}

extension ClosedLoopTests {
  /// Replicas with a cold start: a pool too small, an autoscaler that starts replicas at once and
  /// replicas that serve 20 s later. None serves before its start delay is over, the requests
  /// shed meanwhile are more than with replicas that serve at once, and a starting replica counts
  /// in the replica-seconds.
  @Test func newReplicasServeOnlyAfterTheirStartDelay() throws {
    var scenario = try Self.scenario(model: "VGG19", cpu: 2, gpu: 1, duration: 90)
    scenario.autoscaleDelay = 0
    let warm = ClosedLoopSimulation(scenario: scenario).run()
    scenario.replicaStart = .seconds(20)
    let cold = ClosedLoopSimulation(scenario: scenario).run()
    let asked = try #require(
      cold.scaling.first { $0.group == "hb-workers-cpu" && $0.desiredReplicas > 2 }?.time)
    let up = try #require(cold.timeline.first { ($0.replicas[.cpu] ?? 0) > 2 })
    #expect(up.time >= asked + 20, "asked at \(asked) s, up at \(up.time) s")
    #expect(up.time <= asked + 22, "asked at \(asked) s, up at \(up.time) s")
    let starting = cold.timeline.filter { $0.time > asked && $0.time < asked + 20 }
    #expect(starting.allSatisfy { ($0.starting[.cpu] ?? 0) > 0 && $0.replicas[.cpu] == 2 })
    let counted = cold.timeline.reduce(0.0) { sum, sample in
      sum + Double(sample.replicas.values.reduce(0, +) + sample.starting.values.reduce(0, +))
    }
    #expect(abs(cold.totalReplicaSeconds - counted) < 1e-9)
    #expect(cold.shed > warm.shed + 100, "\(cold.shed) vs \(warm.shed) shed")
  }

  /// A compressed diurnal day (300 s; 2.5 days) and replicas that take 30 s to serve: the
  /// reactive controller scales when the ramp is measured, too late, and the forecast — its
  /// history covering a day from 300 s on — a start-up time ahead. In the third day's rise the
  /// forecast keeps more requests within SLO than the reactive controller by at least 0.3
  /// points, for at most 10 % more replica-seconds over the run; the first day, with no
  /// history, is the same run.
  @Test func withAStartDelayTheForecastBeatsTheReactiveControllerOnADiurnalDay() throws {
    var scenario = try Self.scenario(model: "VGG19", cpu: 8, gpu: 2, duration: 750)
    scenario.shape = .diurnal
    scenario.day = .seconds(300)
    scenario.forecaster = RateForecaster.Settings(period: scenario.day, buckets: 60)
    scenario.autoscaleDelay = 0
    scenario.replicaStart = .seconds(30)
    let reactive = ClosedLoopSimulation(scenario: scenario).run()
    scenario.forecast = true
    let forecast = ClosedLoopSimulation(scenario: scenario).run()
    let rise = [(from: 525.0, to: 675.0)]
    let ahead = forecast.attainment(in: rise)
    let behind = reactive.attainment(in: rise)
    #expect(ahead >= behind + 0.003, "forecast \(ahead), reactive \(behind)")
    #expect(ahead >= 0.995, "forecast \(ahead)")
    #expect(
      forecast.totalReplicaSeconds <= reactive.totalReplicaSeconds * 1.1,
      "\(forecast.totalReplicaSeconds) vs \(reactive.totalReplicaSeconds) replica-seconds")
    #expect(forecast.attainment(from: 0, to: 250) == reactive.attainment(from: 0, to: 250))
    #expect(forecast.timeline.contains { ($0.forecast ?? 0) > 0 })
    #expect(reactive.timeline.allSatisfy { $0.forecast == nil })
  }
}
