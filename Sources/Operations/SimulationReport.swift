import Arguments
import Foundation
import Planner
import Simulator

/// `simulate`'s comparison of algorithms on one workload, as a table and as files.
public enum SimulationReport {
  /// The algorithms compared when none are named.
  public static let defaultAlgorithms: [Planner.Algorithm] = [.harmony, .batch, .mbs, .optimal]

  /// The algorithms `names` name, in order (none: `defaultAlgorithms`); an unknown name is a
  /// usage error that lists the known ones.
  public static func algorithms(named names: [String]) throws(UsageError) -> [Planner.Algorithm] {
    guard !names.isEmpty else { return defaultAlgorithms }
    return try names.map { (name) throws(UsageError) -> Planner.Algorithm in
      guard let algorithm = Planner.Algorithm(rawValue: name) else {
        throw UsageError("unknown algorithm '\(name)'; algorithms: harmony, batch, mbs, optimal")
      }
      return algorithm
    }
  }

  /// `count` random apps for `model`: SLOs as the paper draws them for it, heavy-tailed rates
  /// of 0.05 to 20 req/s, from `seed`.
  public static func generatedApps(count: Int, model: String, seed: UInt64) -> [App] {
    var random = SeededRandom(seed: seed)
    return WorkloadGenerator(
      sloRange: WorkloadGenerator.paperSLORange(model: model), rateRange: 0.05...20
    ).apps(count: count, using: &random)
  }

  /// Runs each algorithm on `simulation`; returns the results and a table with costs relative
  /// to `batch` (when it ran) and how long each took.
  public static func compare(_ simulation: Simulation, algorithms: [Planner.Algorithm]) throws
    -> ([Simulation.Result], String)
  {
    let clock = ContinuousClock()
    var results: [Simulation.Result] = []
    var table = TextTable([
      ("algorithm", .left), ("requests", .right), ("cost/request", .right), ("vs batch", .right),
      ("SLO violations", .right), ("GPU share", .right), ("batches", .right),
      ("mean batch", .right),
      ("re-plans", .right), ("seconds", .right),
    ])
    for algorithm in algorithms {
      let started = clock.now
      let result = try simulation.run(algorithm)
      let elapsed = (clock.now - started).seconds
      results.append(result)
      table.append([
        result.algorithm, String(result.requests), String(format: "%.4e", result.costPerRequest),
        "",
        String(format: "%.3f %%", result.violationPercent),
        String(format: "%.1f %%", result.gpuShare * 100), String(result.batches),
        String(format: "%.2f", Double(result.requests) / Double(max(result.batches, 1))),
        String(result.replans), String(format: "%.2f", elapsed),
      ])
    }
    if let batch = results.first(where: { $0.algorithm == "batch" }), batch.costPerRequest > 0 {
      for (index, result) in results.enumerated() {
        table.rows[index][3] = String(format: "%.2f", result.costPerRequest / batch.costPerRequest)
      }
    }
    return (results, table.rendered)
  }

  /// results.csv, results.json and three SVG charts in `directory`.
  public static func write(_ results: [Simulation.Result], to directory: String, title: String)
    throws
  {
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true)
    var csv =
      "algorithm,requests,violations,violation_percent,total_cost,cost_per_request,gpu_share,batches,replans\n"
    for result in results {
      csv +=
        "\(result.algorithm),\(result.requests),\(result.violations),\(result.violationPercent),"
      csv +=
        "\(result.totalCost),\(result.costPerRequest),\(result.gpuShare),\(result.batches),\(result.replans)\n"
    }
    try csv.write(toFile: directory + "/results.csv", atomically: true, encoding: .utf8)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(results).write(to: URL(fileURLWithPath: directory + "/results.json"))
    try SVGChart.bars(
      title: "Cost per request — \(title)", unit: "cost per request",
      values: results.map { ($0.algorithm, $0.costPerRequest) }
    ).write(toFile: directory + "/cost.svg", atomically: true, encoding: .utf8)
    try SVGChart.bars(
      title: "SLO violations — \(title)", unit: "% of requests",
      values: results.map { ($0.algorithm, $0.violationPercent) }
    ).write(toFile: directory + "/violations.svg", atomically: true, encoding: .utf8)
    try SVGChart.lines(
      title: "Cost over time — \(title)", unit: "cost per minute",
      series: results.map { ($0.algorithm, $0.costByMinute) }
    ).write(toFile: directory + "/cost-over-time.svg", atomically: true, encoding: .utf8)
  }
}
