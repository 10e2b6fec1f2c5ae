import Arguments
import Kafka
import Operations
import Pipeline
import PipelineCore
import Simulator
import Testing

@testable import HarmonyBatchCLI

/// Every time a setting defaults to is written once, as a `Duration` constant; the help of the
/// option that sets it reads that constant, in the option's unit.
@Suite struct TimeDefaultsTests {
  @Test func helpStatesTheDefaultOfEveryTimeOption() {
    let cases: [(CommandSpec, String, Duration, TimeUnit)] = [
      (ControllerCommand.spec, "period", ReplanPolicy.defaultPeriod, .seconds),
      (ControllerCommand.spec, "min-interval", ReplanPolicy.defaultMinInterval, .seconds),
      (ControllerCommand.spec, "rate-window", RateEstimator.defaultWindow, .seconds),
      (ControllerCommand.spec, "scale-down-window", PoolScaler.defaultScaleDownWindow, .seconds),
      (
        ControllerCommand.spec, "forecast-period", RateForecaster.Settings.defaultPeriod, .seconds
      ),
      (
        ControllerCommand.spec, "unreachable-timeout",
        KafkaConfiguration.defaultUnreachableTimeout, .seconds
      ),
      (
        BatcherCommand.spec, "flush-margin-ms", BatcherService.Settings.defaultFlushMargin,
        .milliseconds
      ),
      (
        BatcherCommand.spec, "report-interval-ms", RouterService.Settings.defaultReportInterval,
        .milliseconds
      ),
      (
        WorkerCommand.spec, "report-interval", WorkerService.Settings.defaultReportInterval,
        .seconds
      ),
      (
        ConsumeCommand.spec, "session-timeout-ms",
        KafkaConsumerConfiguration.defaultSessionTimeout, .milliseconds
      ),
      (DemoCommand.spec, "duration", DemoRun.Settings.defaultDuration, .seconds),
      (DemoCommand.spec, "warm-up", DemoRun.Settings.defaultWarmUp, .seconds),
      (FaultsCommand.spec, "fault-seconds", FaultSuite.Settings.defaultFaultPhase, .seconds),
      (FaultsCommand.spec, "soak-seconds", FaultSuite.Settings.defaultSoak, .seconds),
      (FaultsCommand.spec, "fault-every", FaultSuite.Settings.defaultFaultEvery, .seconds),
      (WatchCommand.spec, "interval", WatchCommand.defaultInterval, .seconds),
      (
        ControllerCommand.spec, "replica-start-seconds",
        ControllerCore.Settings.defaultReplicaStart, .seconds
      ),
      (WorkerCommand.spec, "start-delay", WorkerService.Settings.defaultStartDelay, .seconds),
      (
        SimulateCommand.spec, "replica-start-seconds", ClosedLoopScenario.defaultReplicaStart,
        .seconds
      ),
      (SimulateCommand.spec, "day-seconds", ClosedLoopScenario.defaultDay, .seconds),
    ]
    for (spec, name, value, unit) in cases {
      let help = spec.options.first { $0.name == name }?.help ?? ""
      #expect(
        help.contains("(default \(value.number(in: unit))"), "\(spec.name) --\(name): \(help)")
    }
    let closedLoop = ClosedLoopCommand.options.first { $0.name == "duration" }?.help ?? ""
    #expect(closedLoop.contains("(default 300)"), "\(closedLoop)")
    #expect(ControllerCommand.spec.help.contains("Each version says why. Every 5 s,"))
    #expect(ControllerCommand.spec.help.contains("stops answering (6 s session timeout)"))
  }
}
