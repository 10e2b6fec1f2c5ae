import Foundation
import Planner
import Testing

@testable import PipelineCore

/// The controller's decisions on a virtual clock, without a broker: what it plans on, when it
/// publishes, what it recommends.
@Suite struct ControllerCoreTests {
  /// The paper's Table I apps on VGG19.
  static let apps = [
    App(id: "a1", slo: 0.5, rate: 5), App(id: "a2", slo: 0.8, rate: 10),
    App(id: "a3", slo: 1.0, rate: 20),
  ]

  /// A core and a way to feed it what the services would send.
  struct Harness {
    var core: ControllerCore
    var random = SeededRandom(seed: 5)
    let latency: LatencyModel
    var batch = 0

    init(
      apps: [App] = ControllerCoreTests.apps,
      configure: (inout ControllerCore.Settings) -> Void = { _ in }
    ) throws {
      let profile = try ModelProfile.builtIn(named: "VGG19")
      var settings = ControllerCore.Settings(
        prior: profile, pricing: try PricingPreset.builtIn(named: "alibaba-cny"))
      settings.apps = apps
      configure(&settings)
      core = ControllerCore(settings: settings)
      latency = LatencyModel(profile: profile)
    }

    /// One second of the pipeline at `now`: a router report with Poisson counts, one feedback
    /// record per batch of every group of the plan in force (with the given delays, inference
    /// drawn from the profile times `slower`), one worker report per pool; then a tick.
    mutating func second(
      _ now: Double, transport: Double = 0.008, queueing: Double = 0, slower: Double = 1,
      slots: [FunctionConfig.Kind: Int] = [.cpu: 64, .gpu: 64], busy: Double = 0.3
    ) -> [ControllerCore.Directive] {
      let counts = ControllerCoreTests.counts(core.settings.apps, random: &random)
      var directives = core.receive(
        rates: RatesMessage(
          router: "r", planVersion: core.version, windowStartMs: (now - 1) * 1000,
          windowEndMs: now * 1000, apps: counts, rejected: [:]))
      for group in core.current?.groups ?? [] {
        let batches = max(1, Int((group.rate / Double(group.batchSize)).rounded()))
        for _ in 0..<batches {
          batch += 1
          let function = group.function
          let predicted =
            function.kind == .cpu
            ? latency.cpu(vcpu: function.vcpu, batch: min(group.batchSize, 4))
            : latency.gpu(
              memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: group.batchSize)
          let spread = (predicted.max - predicted.avg) / 2.326
          let seconds = max(0.2 * predicted.avg, predicted.avg + spread * random.normal()) * slower
          let flushed = (now - 1) * 1000
          let received = flushed + transport * 1000
          let started = received + queueing * 1000
          core.receive(
            feedback: FeedbackMessage(
              batchID: "b\(batch)", group: group.id, planVersion: core.version, function: function,
              backend: "emulated-\(function.kind.rawValue)", emulated: true,
              batchSize: group.batchSize, inferenceSeconds: seconds,
              predictedMaxMs: group.latencyMaxMs, endToEndMs: [], worker: "w",
              workerGroup: "hb-workers-\(function.kind.rawValue)", flushedMs: flushed,
              receivedMs: received, startedMs: started, finishedMs: started + seconds * 1000,
              publishedMs: started + seconds * 1000 + 1, billedCost: nil))
        }
      }
      for (kind, count) in slots {
        core.receive(
          workers: WorkerReport(
            worker: "\(kind.rawValue)-worker", group: "hb-workers-\(kind.rawValue)", kind: kind,
            backend: "emulated-\(kind.rawValue)", emulated: true, slots: count, cores: nil,
            windowStartMs: (now - 1) * 1000, windowEndMs: now * 1000,
            busySlots: busy * Double(count), batches: 10, requests: 10,
            queueWaitMs: Percentiles.of([queueing * 1000]), backlog: queueing > 0.1 ? count * 2 : 0,
            lag: 0),
          at: now)
      }
      directives += core.tick(now: now)
      return directives
    }
  }

  /// One second of Poisson arrivals of `apps` at their rates times `factor`, as a router counts
  /// them.
  static func counts(
    _ apps: [App], factor: Double = 1, random: inout SeededRandom
  ) -> [String: RouterReport.AppCount] {
    var counts: [String: RouterReport.AppCount] = [:]
    for app in apps {
      var count = 0
      var time = random.exponential(rate: app.rate * factor)
      while time < 1 {
        count += 1
        time += random.exponential(rate: app.rate * factor)
      }
      if count > 0 {
        counts[app.id] = .init(requests: count, sloMs: app.slo * 1000, planned: true)
      }
    }
    return counts
  }

  static func plans(_ directives: [ControllerCore.Directive]) -> [Plan] {
    directives.compactMap { if case .publishPlan(let plan) = $0 { plan } else { nil } }
  }

  static func warnings(_ directives: [ControllerCore.Directive]) -> [String] {
    directives.compactMap {
      if case .log(.warning, let line) = $0 { line } else { nil }
    }
  }

  /// Batches that wait seconds for a slot do not make the controller shrink the SLOs it plans
  /// with: it keeps the plan, reserves only the transport it measured, and says the pool is short.
  @Test func queueingForASlotNeverTightensTheSLOs() throws {
    var harness = try Harness()
    var published: [Plan] = []
    var scaling: [ScalingRecommendation] = []
    for second in 1...120 {
      // Queueing grows to 5 s, as it does when a pool is far too small.
      let directives = harness.second(
        Double(second), transport: 0.008, queueing: min(5, Double(second) * 0.05),
        slots: [.cpu: 1, .gpu: 1], busy: 1)
      published += Self.plans(directives)
      for case .publishScaling(let batch) in directives { scaling += batch }
    }
    #expect(published.count <= 2, "\(published.map { $0.reason ?? "" })")
    for plan in published {
      #expect((plan.transportReserveMs ?? .infinity) <= 31, "\(plan.reason ?? "")")
    }
    #expect(harness.core.transportEstimate.seconds < 0.01)
    #expect(scaling.contains { $0.status == .scaleUp && $0.replicasToAdd >= 1 })
  }

  /// A transport of 400 ms is not the pipeline's normal delay: what the plan reserves for it is
  /// capped at a fifth of each SLO, and the operator is told once, not every tick.
  @Test func transportBeyondItsShareIsCappedAndReportedOnce() throws {
    var harness = try Harness()
    var warnings: [String] = []
    var published: [Plan] = []
    for second in 1...60 {
      let directives = harness.second(Double(second), transport: 0.4)
      warnings += Self.warnings(directives).filter { $0.contains("transport") }
      published += Self.plans(directives)
    }
    #expect(warnings.count == 1, "\(warnings)")
    let last = try #require(published.last)
    for group in last.groups {
      for app in group.apps {
        let slo = Self.apps.first { $0.id == app }!.slo * 1000
        // What the batch may take plus its wait: at least 80 % of the SLO is still planned on.
        let planned = group.timeoutsMs[app]! + group.latencyMaxMs
        #expect(planned >= 0.8 * slo - 1 && planned <= slo, "\(app): \(planned) of \(slo)")
      }
    }
  }

  /// An app no function can serve is reported once and left to the routers (served alone or
  /// dead-lettered), not re-planned every tick.
  @Test func anInfeasibleAppIsReportedOnce() throws {
    var harness = try Harness(apps: Self.apps + [App(id: "never", slo: 0.002, rate: 1)])
    var warnings: [String] = []
    var published: [Plan] = []
    for second in 1...90 {
      let directives = harness.second(Double(second))
      warnings += Self.warnings(directives).filter { $0.contains("no function serves") }
      published += Self.plans(directives)
    }
    #expect(warnings.count == 1, "\(warnings.joined(separator: "\n"))")
    #expect(published.count <= 2, "\(published.map { $0.reason ?? "" })")
    #expect(
      published.first?.infeasible.map(\.app) == ["never"],
      "\(published.first?.infeasible ?? []) \(published.first?.groups.map(\.apps) ?? [])")
  }

  /// Ten minutes of a steady workload on a noisy machine (latencies spread as the profile says,
  /// Poisson counts): the plan in force stays; at most the first plan on measured transport joins
  /// the first.
  @Test func aSteadyNoisyWorkloadKeepsItsPlan() throws {
    var harness = try Harness()
    var published: [Plan] = []
    for second in 1...600 {
      published += Self.plans(harness.second(Double(second)))
    }
    #expect(published.count <= 2, "\(published.map { $0.reason ?? "" })")
    #expect(harness.core.history.allSatisfy { $0.at <= 30 })
  }

  /// Every function 40 % slower: the controller publishes a plan for it within seconds, and the
  /// next plans keep the SLOs on the slower functions without a spiral of versions.
  @Test func aSlowdownIsPlannedForWithoutASpiral() throws {
    var harness = try Harness()
    for second in 1...60 { _ = harness.second(Double(second)) }
    let before = harness.core.version
    var published: [Plan] = []
    for second in 61...180 {
      published += Self.plans(harness.second(Double(second), slower: 1.4))
    }
    #expect(!published.isEmpty)
    let first = try #require(harness.core.history.first { $0.version > before })
    #expect(first.at <= 70 && first.trigger == .sloAtRisk, "\(first)")
    #expect(published.count <= 3, "\(published.map { $0.reason ?? "" })")
    // The plan in force at the end fits the slower functions' maximum.
    let slower = LatencyModel(profile: try ModelProfile.builtIn(named: "VGG19").scaled(by: 1.4))
    for group in try #require(harness.core.current).groups {
      let function = group.function
      let max =
        function.kind == .cpu
        ? slower.cpu(vcpu: function.vcpu, batch: min(group.batchSize, 4)).max
        : slower.gpu(memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: group.batchSize)
          .max
      #expect(group.latencyMaxMs >= max * 1000 * 0.95, "\(group.id): \(group.latencyMaxMs)")
    }
  }

  /// The rate forecast is off unless asked for. On, with steady rates (no period to learn), the
  /// same plans are published — its upper quantile stays within the hysteresis of the rates
  /// measured — and the forecast and its error are there to read and in the log. (Planning on
  /// it: `ForecastPlanningTests`.)
  @Test func theRateForecastIsOffByDefaultAndOnSteadyRatesChangesNoPlan() throws {
    func run(forecast: Bool) throws -> (ControllerCore, plans: [Data], logs: [String]) {
      var harness = try Harness { settings in
        guard forecast else { return }
        settings.forecast = true
        settings.forecaster.bucket = .seconds(10)
        settings.forecaster.period = .seconds(120)
        settings.forecaster.horizon = .seconds(30)
        settings.forecaster.errorWindow = .seconds(120)
        settings.forecastReportInterval = .seconds(60)
      }
      var plans: [Data] = []
      var logs: [String] = []
      for second in 1...300 {
        let directives = harness.second(Double(second))
        // Every field but the time planning took.
        plans += try Self.plans(directives).map { plan in
          var plan = plan
          plan.planningMs = 0
          return try plan.jsonData(pretty: false)
        }
        logs += directives.compactMap { if case .log(_, let line) = $0 { line } else { nil } }
      }
      return (harness.core, plans, logs)
    }
    let off = try run(forecast: false)
    let on = try run(forecast: true)

    #expect(!off.0.settings.forecast && off.0.rateForecast(of: "a1").isEmpty)
    #expect(off.0.forecastErrors.isEmpty)
    #expect(!off.plans.isEmpty && on.plans == off.plans)
    #expect(on.0.history == off.0.history)
    #expect(!off.logs.contains { $0.hasPrefix("rate forecast error") })
    #expect(on.logs.filter { $0.hasPrefix("rate forecast error") }.count == 4)
    for app in Self.apps {
      let forecast = on.0.rateForecast(of: app.id)
      #expect(forecast.count == 3)
      #expect(abs(forecast[0].mean / app.rate - 1) < 0.4, "\(app.id): \(forecast[0])")
      #expect(forecast[0].upper >= forecast[0].mean && forecast[0].lower <= forecast[0].mean)
      #expect((on.0.forecastErrors[app.id]?.first?.samples ?? 0) == 12)
    }
  }
}

extension ControllerCoreTests {
  /// Feedback with a negative inference time or a flush an hour old, a rates report with an SLO
  /// of 1e308 (it crashed the controller) or NaN counts, a worker report with more busy slots
  /// than slots: refused, counted, reported — and the plan does not move.
  @Test func numbersThatCannotBeTrustedAreRefused() throws {
    var harness = try Harness()
    for second in 1...30 { _ = harness.second(Double(second)) }
    let before = harness.core.version
    let reserve = harness.core.transportEstimate.seconds
    let good = FeedbackMessage(
      batchID: "b", group: "g1", planVersion: before, function: .cpu(vcpu: 1), backend: "x",
      emulated: true, batchSize: 1, inferenceSeconds: 0.2, predictedMaxMs: 300, endToEndMs: [250],
      worker: "w", workerGroup: "hb-workers-cpu", flushedMs: 30_000, receivedMs: 30_005,
      startedMs: 30_005, finishedMs: 30_205, publishedMs: 30_206, billedCost: 1e-6)
    #expect(good.checks.isValid, "\(good.checks.summary)")
    var warnings: [String] = []
    for second in 31...90 {
      var negative = good
      negative.inferenceSeconds = -3
      var stale = good
      stale.flushedMs = 30_000 - 7_200_000
      var notANumber = good
      notANumber.inferenceSeconds = .nan
      for feedback in [negative, stale, notANumber] { harness.core.receive(feedback: feedback) }
      _ = harness.core.receive(
        rates: RatesMessage(
          router: "r", planVersion: 1, windowStartMs: 0, windowEndMs: 1000,
          apps: ["huge": .init(requests: 1, sloMs: 1e308, planned: false)], rejected: [:]))
      harness.core.receive(
        workers: WorkerReport(
          worker: "w", group: "hb-workers-cpu", kind: .cpu, backend: "x", emulated: true,
          slots: 2, cores: nil, windowStartMs: 0, windowEndMs: 1000, busySlots: 50, batches: 1,
          requests: 1, queueWaitMs: nil, backlog: 0, lag: nil),
        at: Double(second))
      warnings += Self.warnings(harness.second(Double(second))).filter { $0.contains("ignored") }
    }
    #expect(harness.core.refused["feedback"] == 180)
    // The rates report's one bad entry is dropped; the report stands.
    #expect(harness.core.refused["rates entry"] == 60)
    #expect(harness.core.refused["workers"] == 60)
    #expect(harness.core.version == before)
    #expect(abs(harness.core.transportEstimate.seconds - reserve) < 0.005)
    // At most one warning every 30 s, naming what was wrong.
    #expect((1...2).contains(warnings.count), "\(warnings)")
    #expect(warnings.first?.contains("180 feedback") == false)
    #expect(warnings.allSatisfy { $0.contains("feedback") && $0.contains("rates") })
  }
}

/// The pure pieces the controller decides with.
@Suite struct ControlLoopPartsTests {
  @Test func batchFillFollowsPoissonArrivals() {
    // Capacity 1, or no time to wait: one request per batch.
    #expect(BatchFill(rate: 50, window: 1, capacity: 1).expected == 1)
    #expect(BatchFill(rate: 50, window: 0, capacity: 8).expected == 1)
    // b = 2, mean 1 arrival in the window: 1 with e^-1, else 2.
    #expect(abs(BatchFill(rate: 10, window: 0.1, capacity: 2).expected - (2 - exp(-1))) < 1e-12)
    // Many arrivals: full.
    #expect(abs(BatchFill(rate: 1000, window: 1, capacity: 16).expected - 16) < 1e-9)
    let fill = BatchFill(rate: 20, window: 0.3, capacity: 8)
    #expect(abs(fill.probabilities.reduce(0, +) - 1) < 1e-12)
    #expect(fill.expected > 5 && fill.expected < 8)
  }

  @Test func poolDemandIsBatchesTimesTheirLatency() throws {
    let planner = try Planner(model: "VGG19")
    let plan = try planner.plan([App(id: "a", slo: 0.5, rate: 4)])
    let group = plan.groups[0]
    #expect(group.function.kind == .cpu && group.batchSize == 1)
    let demand = PoolDemand.of(plan, rates: [:], latency: planner.provisioner.latencyModel)
    let expected = 4 * planner.provisioner.latencyModel.cpu(vcpu: group.function.vcpu, batch: 1).avg
    #expect(abs(demand[.cpu]!.offeredSlots - expected) < 1e-9)
    #expect(demand[.gpu]!.offeredSlots == 0)
    #expect(demand[.cpu]!.slotsNeeded(target: 0.7) == Int((expected / 0.7).rounded(.up)))
    // Twice the rate, twice the load.
    let twice = PoolDemand.of(plan, rates: ["a": 8], latency: planner.provisioner.latencyModel)
    #expect(abs(twice[.cpu]!.offeredSlots - 2 * expected) < 1e-9)
  }

  @Test func transportIsAHighQuantileWithHeadroomCappedPerSLO() {
    var transport = TransportEstimate()
    #expect(transport.value == transport.prior.seconds)
    for index in 0..<200 { transport.observe(index % 50 == 0 ? 2.0 : 0.010) }
    // Four stragglers of two seconds in 200 batches: the 95th percentile is still 10 ms.
    #expect(abs(transport.value - 0.010) < 1e-12)
    #expect(abs(transport.reserve - 0.015) < 1e-12)
    #expect(transport.reserve(0.3, for: 0.5) == (0.1, true))
    #expect(transport.reserve(0.05, for: 0.5) == (0.05, false))
  }

  /// Batches that waited out an outage (seconds between flush and worker) are a backlog, not
  /// transport: the estimate stays, where it used to jump to seconds, squeeze every SLO to its
  /// cap and re-plan twice per outage. A pipeline that stays that slow is planned on.
  @Test func aBacklogAfterAnOutageIsNotTransportButLastingSlownessIs() {
    var transport = TransportEstimate()
    for _ in 0..<100 { transport.observe(0.015) }
    for index in 0..<40 { transport.observe(1.5 + Double(index) * 0.2) }
    #expect(abs(transport.value - 0.015) < 1e-12)
    #expect(transport.backlogBatches == 40)
    #expect(abs(transport.longestBacklog - 9.3) < 1e-9)
    for _ in 0..<100 { transport.observe(0.015) }
    #expect(abs(transport.value - 0.015) < 1e-12)
    // Slow for good: once most recent batches are that slow, they count.
    for _ in 0..<300 { transport.observe(1.2) }
    #expect(transport.value >= 1.2 - 1e-12)
  }

  @Test func slotUsageCountsWhatFellInEachWindow() {
    var usage = SlotUsage(slots: 2, start: 0)
    usage.started(1, at: 0.5, waited: 0.1)
    usage.finished(1, at: 1.0, requests: 4)
    usage.started(2, at: 1.5, waited: 0)
    let first = usage.close(at: 2)
    #expect(abs(first.busySlots - 0.5) < 1e-12)  // 0.5 + 0.5 slot-seconds over 2 s
    #expect(first.batches == 1 && first.requests == 4 && first.queueWaits == [0.1, 0])
    usage.finished(2, at: 3, requests: 1)
    let second = usage.close(at: 4)
    #expect(abs(second.busySlots - 0.5) < 1e-12)  // the second batch's last second of two
    #expect(second.batches == 1)
  }

  @Test func aScalerAddsAtOnceAndRemovesOnlyAfterAWholeWindow() {
    var scaler = PoolScaler(targetUtilisation: 0.5, scaleDownWindow: .seconds(60))
    func pool(slots: Int, busy: Double) -> [String: WorkerPools.Pool] {
      [
        "hb-workers-cpu": .init(
          group: "hb-workers-cpu", kind: .cpu, replicas: slots, slots: slots, slotsPerReplica: 1,
          busySlots: busy, queueWaitP95Ms: 0, backlog: 0, lag: 0)
      ]
    }
    func demand(_ offered: Double) -> [FunctionConfig.Kind: PoolDemand] {
      [.cpu: PoolDemand(kind: .cpu, batchesPerSecond: offered * 10, offeredSlots: offered)]
    }
    // 3 busy slots at 50 % with the 10 % margin: 6.6 wanted, 4 there.
    var up = scaler.recommend(
      demand: demand(3), pools: pool(slots: 4, busy: 3), planVersion: 1,
      topics: PipelineTopics(), now: 0)
    #expect(up[0].status == .scaleUp && up[0].desiredReplicas == 7)
    // The load drops to 1 slot: held (not a scale-down) until the need stayed low for 60 s.
    for second in 1...59 {
      up = scaler.recommend(
        demand: demand(1), pools: pool(slots: 7, busy: 1), planVersion: 1,
        topics: PipelineTopics(), now: Double(second))
      #expect(up[0].status == .ok, "second \(second): \(up[0].status)")
    }
    for second in 60...70 {
      up = scaler.recommend(
        demand: demand(1), pools: pool(slots: 7, busy: 1), planVersion: 1,
        topics: PipelineTopics(), now: Double(second))
    }
    // 1 busy slot × 1.1 / 0.5 = 2.2: three replicas.
    #expect(up[0].status == .scaleDown && up[0].desiredReplicas == 3)
  }

  /// A worker back from a restart drains the batches that waited for it: slot waits and a
  /// backlog, but most of its 16 slots idle. That asked for another replica after every restart;
  /// a pool whose slots are all busy while batches wait still gets one at once.
  @Test func aBacklogDrainedWithSlotsToSpareIsNotSaturation() {
    func pool(busy: Double) -> [String: WorkerPools.Pool] {
      [
        "hb-workers-gpu": .init(
          group: "hb-workers-gpu", kind: .gpu, replicas: 1, slots: 16, slotsPerReplica: 16,
          busySlots: busy, queueWaitP95Ms: 700, backlog: 40, lag: 40)
      ]
    }
    let demand: [FunctionConfig.Kind: PoolDemand] = [
      .gpu: PoolDemand(kind: .gpu, batchesPerSecond: 5, offeredSlots: 1.4)
    ]
    var scaler = PoolScaler()
    let draining = scaler.recommend(
      demand: demand, pools: pool(busy: 1.5), planVersion: 1, topics: PipelineTopics(), now: 0)
    #expect(draining[0].status == .ok, "\(draining[0].reason)")
    var full = PoolScaler()
    let atLimit = full.recommend(
      demand: demand, pools: pool(busy: 15.5), planVersion: 1, topics: PipelineTopics(), now: 0)
    #expect(atLimit[0].status == .scaleUp && atLimit[0].desiredReplicas == 2)
  }

  @Test func theTailTestToleratesTheOnePercentAMaximumAllows() {
    // Of 100 batches, 1 % may pass a 99th percentile; 7 of 100 is not chance (p < 1e-4).
    #expect(PlanRisk.binomialTail(1, of: 100, p: 0.01) > 0.5)
    #expect(PlanRisk.binomialTail(4, of: 100, p: 0.01) > 1e-3)
    #expect(PlanRisk.binomialTail(7, of: 100, p: 0.01) < 1e-4)
    #expect(PlanRisk.binomialTail(0, of: 100, p: 0.01) == 1)
  }
}
