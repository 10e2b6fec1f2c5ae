import Foundation
import PipelineCore
import Planner
import Simulator

/// `simulate --closed-loop`'s runs: the scenario as it is or, to compare them, with the
/// controller's forecast off and then on over the same arrivals; the report of each run as it
/// ends, a table comparing them, and the files `--out` writes.
public struct ClosedLoopRuns {
  public let scenario: ClosedLoopScenario
  public let planner: Planner
  /// Each run, labelled `reactive` or `forecast`, in the order run.
  public private(set) var runs: [(label: String, result: ClosedLoopResult)] = []

  /// Runs `scenario` once, or with `bothForecasts` once with the forecast off and once on;
  /// `report` gets each run's report (`ClosedLoopReport`) when it ends, after a heading that
  /// says which run it is when there are two.
  public init(
    _ scenario: ClosedLoopScenario, planner: Planner, bothForecasts: Bool,
    report: (String) -> Void
  ) {
    self.scenario = scenario
    self.planner = planner
    var scenario = scenario
    for on in bothForecasts ? [false, true] : [scenario.forecast] {
      scenario.forecast = on
      let simulation = ClosedLoopSimulation(scenario: scenario)
      let result = simulation.run()
      if bothForecasts { report("\n# forecast \(on ? "on" : "off")\n") }
      report(
        ClosedLoopReport.text(
          result, scenario: scenario, planner: planner, simulation: simulation))
      runs.append((on ? "forecast" : "reactive", result))
    }
  }

  /// The runs side by side (`ClosedLoopEvidence.table`) under a heading; nil for one run.
  public var comparison: String? {
    guard runs.count > 1 else { return nil }
    return "\ncompared (replica-s: replica-seconds, serving or starting):\n"
      + ClosedLoopEvidence.table(runs, scenario: scenario)
  }

  /// Writes each run's timeline (`timeline-<label>.csv`) and the chart of all of them
  /// (`closed-loop.svg`) into `directory`, made if missing; returns what it says it wrote.
  public func write(to directory: String) throws -> String {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for run in runs {
      try ClosedLoopEvidence.csv(run.result).write(
        toFile: "\(directory)/timeline-\(run.label).csv", atomically: true, encoding: .utf8)
    }
    let title =
      "\(planner.profile.name), \(scenario.shape.rawValue)"
      + String(
        format: ", day %.0f s, replicas start %.0f s", scenario.day.seconds,
        scenario.replicaStart.seconds + (scenario.autoscaleDelay ?? 0))
    try ClosedLoopEvidence.chart(runs, scenario: scenario, title: title).write(
      toFile: "\(directory)/closed-loop.svg", atomically: true, encoding: .utf8)
    return "wrote closed-loop.svg and "
      + runs.map { "timeline-\($0.label).csv" }.joined(separator: ", ") + " to \(directory)"
  }
}
