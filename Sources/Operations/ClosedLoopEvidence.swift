import Foundation
import Planner
import Simulator

/// What `simulate --closed-loop` says of a run for planning ahead (issue 31): SLO attainment over
/// the run and during its ramps, replica-seconds and the bill; a table comparing runs, the
/// timeline as CSV, and a chart of the offered rate, the forecast, the replicas and the
/// attainment over time.
public enum ClosedLoopEvidence {
  /// A run's figures.
  public struct Figures: Sendable {
    public var requests: Int
    /// Within SLO: over the run, during its ramps (`ClosedLoopScenario.ramps`), and from the
    /// second day on — all of it, and its ramps — when the forecast's history covers a day (nil
    /// when the run is not longer than a day).
    public var attainment: Double
    public var ramps: Double
    public var later: Double?
    public var laterRamps: Double?
    public var shed: Int
    /// Replicas serving or starting, summed over the run's seconds.
    public var replicaSeconds: Double
    public var billed: Double
    public var costPerRequest: Double
  }

  public static func figures(
    _ result: ClosedLoopResult, scenario: ClosedLoopScenario
  ) -> Figures {
    let ramps = scenario.ramps
    let day = scenario.day.seconds
    let later = ramps.compactMap { span -> (from: Double, to: Double)? in
      span.to > day ? (max(span.from, day), span.to) : nil
    }
    return Figures(
      requests: result.requests, attainment: result.attainment,
      ramps: result.attainment(in: ramps),
      later: scenario.duration > day ? result.attainment(from: day, to: scenario.duration) : nil,
      laterRamps: scenario.duration > day && !later.isEmpty ? result.attainment(in: later) : nil,
      shed: result.shed, replicaSeconds: result.totalReplicaSeconds, billed: result.billed,
      costPerRequest: result.costPerRequest)
  }

  /// How the run was set up, and its figures, in lines.
  public static func lines(
    _ result: ClosedLoopResult, scenario: ClosedLoopScenario, currency: String
  ) -> [String] {
    let figures = figures(result, scenario: scenario)
    var lines: [String] = []
    let pools = result.replicaSeconds.sorted { $0.key.rawValue < $1.key.rawValue }.map {
      String(format: "%@ %.0f", $0.key.rawValue, $0.value)
    }
    if scenario.shape != .constant || scenario.forecast || scenario.replicaStart > .zero {
      lines.append(
        "shape \(scenario.shape.rawValue)"
          + (scenario.shape == .constant
            ? "" : String(format: " (a day of %.0f s)", scenario.day.seconds))
          + String(
            format: ", replicas serve %.0f s after the autoscaler starts them",
            scenario.replicaStart.seconds) + ", forecast \(scenario.forecast ? "on" : "off")")
    }
    var within = String(format: "within SLO: %.2f %% over the run", figures.attainment * 100)
    if !scenario.ramps.isEmpty {
      within += String(format: ", %.2f %% in the ramps", figures.ramps * 100)
    }
    if let later = figures.later {
      within += String(format: "; from the second day %.2f %%", later * 100)
    }
    if let later = figures.laterRamps {
      within += String(format: ", %.2f %% in its ramps", later * 100)
    }
    lines.append(within)
    lines.append(
      String(
        format: "replica-seconds %.0f (%@; serving or starting), billed %.4e %@",
        figures.replicaSeconds, pools.joined(separator: ", "), figures.billed, currency))
    return lines
  }

  /// Runs side by side: one row each.
  public static func table(
    _ runs: [(label: String, result: ClosedLoopResult)], scenario: ClosedLoopScenario
  ) -> String {
    var table = TextTable([
      ("controller", .left), ("requests", .right), ("within SLO", .right), ("in ramps", .right),
      ("from day 2", .right), ("its ramps", .right), ("shed", .right), ("replica-s", .right),
      ("vs first", .right), ("billed", .right), ("billed/request", .right),
    ])
    let base = runs.first.map { figures($0.result, scenario: scenario).replicaSeconds } ?? 0
    for run in runs {
      let figures = figures(run.result, scenario: scenario)
      table.append([
        run.label, String(figures.requests), String(format: "%.2f %%", figures.attainment * 100),
        String(format: "%.2f %%", figures.ramps * 100),
        figures.later.map { String(format: "%.2f %%", $0 * 100) } ?? "-",
        figures.laterRamps.map { String(format: "%.2f %%", $0 * 100) } ?? "-",
        String(figures.shed), String(format: "%.0f", figures.replicaSeconds),
        String(format: "%+.1f %%", (figures.replicaSeconds / max(base, 1e-9) - 1) * 100),
        String(format: "%.4e", figures.billed), String(format: "%.4e", figures.costPerRequest),
      ])
    }
    return table.rendered
  }

  /// Every second of a run: the rates offered, planned on and sized for, the forecast, the
  /// replicas per pool, and the requests that arrived and ended within their SLO.
  public static func csv(_ result: ClosedLoopResult) -> String {
    var text =
      "second,offered,planned,sized_for,forecast,cpu,cpu_starting,gpu,gpu_starting,requests,within_slo\n"
    for sample in result.timeline {
      let second = Int(sample.time) - 1
      let known = second >= 0 && second < result.seconds.count
      let requests = known ? result.seconds[second].requests : 0
      let within = known ? result.seconds[second].within : 0
      var fields: [String] = [
        String(format: "%.0f", sample.time), String(format: "%.3f", sample.rate),
        String(format: "%.3f", sample.planned), String(format: "%.3f", sample.scaled),
        sample.forecast.map { String(format: "%.3f", $0) } ?? "",
      ]
      for kind in [FunctionConfig.Kind.cpu, .gpu] {
        fields.append(String(sample.replicas[kind] ?? 0))
        fields.append(String(sample.starting[kind] ?? 0))
      }
      fields += [String(requests), String(within)]
      text += fields.joined(separator: ",") + "\n"
    }
    return text
  }

  /// The runs over time, in three panels — the rate offered with the forecast and the rates the
  /// pools were sized for; the replicas serving or starting per pool; the share of requests
  /// within SLO by when they arrived — each a mean over windows of `step` seconds (about 400 of
  /// them), the ramps shaded.
  public static func chart(
    _ runs: [(label: String, result: ClosedLoopResult)], scenario: ClosedLoopScenario,
    title: String
  ) -> String {
    let step = max(10, Int((scenario.duration / 400).rounded(.up)))
    let windows = stride(from: 0.0, to: scenario.duration, by: Double(step)).map {
      (from: $0, to: min(scenario.duration, $0 + Double(step)))
    }
    func mean(_ result: ClosedLoopResult, _ value: (ClosedLoopResult.Sample) -> Double?) -> [Double]
    {
      windows.map { window in
        let values = result.timeline.filter { $0.time > window.from && $0.time <= window.to }
          .compactMap(value)
        return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
      }
    }
    var rates: [(label: String, values: [Double])] = []
    var replicas: [(label: String, values: [Double])] = []
    var within: [(label: String, values: [Double])] = []
    if let first = runs.first {
      rates.append(("offered", mean(first.result) { $0.rate }))
    }
    for run in runs {
      if run.result.timeline.contains(where: { $0.forecast != nil }) {
        rates.append(("forecast, \(run.label)", mean(run.result) { $0.forecast }))
      }
      rates.append(("sized for, \(run.label)", mean(run.result) { $0.scaled }))
      for kind in [FunctionConfig.Kind.cpu, .gpu]
      where run.result.timeline.contains(where: { ($0.replicas[kind] ?? 0) > 0 }) {
        replicas.append(
          (
            "\(kind.rawValue), \(run.label)",
            mean(run.result) { Double(($0.replicas[kind] ?? 0) + ($0.starting[kind] ?? 0)) }
          ))
      }
      within.append(
        (run.label, windows.map { run.result.attainment(from: $0.from, to: $0.to) * 100 }))
    }
    let lowest = within.flatMap(\.values).filter(\.isFinite).min() ?? 100
    let floor = min(90, (lowest / 10).rounded(.down) * 10)
    return SVGChart.stacked(
      title: title, times: windows.map(\.to),
      panels: [
        .init(unit: "requests/s", series: rates),
        .init(unit: "replicas, serving or starting", series: replicas),
        .init(unit: "% within SLO, by arrival", series: within, range: floor...100),
      ], shaded: scenario.ramps)
  }
}
