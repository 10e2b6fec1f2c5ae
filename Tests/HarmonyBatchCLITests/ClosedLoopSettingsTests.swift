import Arguments
import Operations
import Planner
import Simulator
import Testing

/// `simulate --closed-loop`'s options as a library: the pools and events it parses, and the
/// scenario its settings make.
@Suite struct ClosedLoopSettingsTests {
  @Test func poolsAndEventsParseOrSayTheFormWanted() throws {
    let (kind, pool) = try ClosedLoopScript.pool("gpu=2x4")
    #expect(kind == .gpu && pool == .init(replicas: 2, slotsPerReplica: 4))
    #expect(try ClosedLoopScript.pool("cpu=16").1 == .init(replicas: 16, slotsPerReplica: 1))
    #expect(try ClosedLoopScript.burst("60:3:30") == .burst(at: 60, factor: 3, duration: 30))
    #expect(try ClosedLoopScript.slowdown("120:1.5") == .slowdown(at: 120, factor: 1.5))
    #expect(
      try ClosedLoopScript.poolCut("220:cpu:0.5") == .poolCut(at: 220, kind: .cpu, factor: 0.5))
    #expect(throws: UsageError("--pool wants cpu=N[xS] or gpu=N[xS] with N, S ≥ 1, got 'cpu=0'")) {
      try ClosedLoopScript.pool("cpu=0")
    }
    #expect(
      throws: UsageError("--burst wants AT:FACTOR:SECONDS (non-negative numbers), got '60:3'")
    ) {
      try ClosedLoopScript.burst("60:3")
    }
    #expect(throws: UsageError("--pool-cut wants AT:KIND:FACTOR (e.g. 220:cpu:0.5), got '1:cpu:2'"))
    {
      try ClosedLoopScript.poolCut("1:cpu:2")
    }
  }

  @Test func theScenarioFollowsTheSettings() throws {
    let planner = try Planner(model: "VGG19")
    var settings = ClosedLoopSettings()
    settings.rateScale = 0.5
    settings.told = 2
    settings.day = .seconds(600)
    settings.replicaStart = .seconds(10)
    let scenario = try settings.scenario(planner: planner)
    // The demo's eight apps at twice their rates, scaled.
    #expect(scenario.apps.map(\.rate) == DemoRun.rateMix)
    #expect(scenario.knownApps?.map(\.rate) == DemoRun.rateMix.map { $0 * 2 })
    #expect(scenario.duration == 300 && scenario.pools == ClosedLoopSettings.defaultPools)
    // A compressed day carries the forecast's period; a cold start, an autoscaler.
    #expect(scenario.forecaster.period == .seconds(600))
    #expect(scenario.replicaStart == .seconds(10) && scenario.autoscaleDelay == 0)
  }

  @Test func settingsThatNeedPartitionsSaySo() throws {
    let planner = try Planner(model: "VGG19")
    var settings = ClosedLoopSettings()
    settings.keyedBatches = true
    #expect(throws: UsageError("--keyed-batches needs --partitions")) {
      try settings.scenario(planner: planner)
    }
    settings.keyedBatches = false
    settings.rebalance = .seconds(2)
    #expect(throws: UsageError("--rebalance-seconds needs --partitions")) {
      try settings.scenario(planner: planner)
    }
    settings.partitions = 4
    #expect(try settings.scenario(planner: planner).rebalanceSeconds == 2)
  }
}
