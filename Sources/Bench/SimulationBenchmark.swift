import Foundation
import Planner
import Simulator

/// `bench simulate`: the harmony planner and simulator on many Azure-like apps over a diurnal
/// per-minute trace, against the budget of 1,000 apps × 24 h in under 60 s.
public struct SimulationBenchmark {
  public let apps: Int
  public let minutes: Int

  public init(apps: Int, minutes: Int) {
    self.apps = apps
    self.minutes = minutes
  }

  /// Runs once; returns the one-line report.
  public func run() throws -> String {
    let planner = try Planner(model: "VGG19")
    let workload = Workload.generated(
      apps: Workload.azureLikeApps(count: apps, sloRange: 0.3...1.0, seed: 1), minutes: minutes,
      shape: .diurnal, seed: 1)
    let clock = ContinuousClock()
    let started = clock.now
    let result = try Simulation(planner: planner, workload: workload, seed: 1).run(.harmony)
    let elapsed = (clock.now - started).seconds
    return String(
      format:
        "bench simulate: harmony, VGG19, %d Azure-like apps (98 %% under 1 req/s), %d minutes of "
        + "a diurnal per-minute trace: %d requests, %d batches, %d re-plans in %.1f s "
        + "(%.2f M requests/s); budget: 1,000 apps × 24 h in under 60 s",
      apps, minutes, result.requests, result.batches, result.replans, elapsed,
      Double(result.requests) / elapsed / 1e6)
  }
}
