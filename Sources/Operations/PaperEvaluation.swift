import Foundation
import Planner
import Simulator

/// `simulate --paper`: the paper's setting — four models × eight apps, SLOs 0.3–1.0 s (VGG19,
/// Bert) or 1.0–2.4 s (GPT-2, VideoMAE), heavy-tailed (Pareto) rates with a diurnal trace —
/// through every algorithm, as one comparison table.
public struct PaperEvaluation {
  public let minutes: Int
  public let seed: UInt64
  public var rateScale = 1.0

  public init(minutes: Int, seed: UInt64) {
    self.minutes = minutes
    self.seed = seed
  }

  public struct Row: Sendable {
    public let model: String
    public let results: [Simulation.Result]

    public func result(_ algorithm: String) -> Simulation.Result? {
      results.first { $0.algorithm == algorithm }
    }
  }

  public func run() throws -> [Row] {
    try ModelProfile.paperModelNames.map { model in
      let planner = try Planner(model: model)
      let apps = Workload.paperApps(
        count: 8, sloRange: WorkloadGenerator.paperSLORange(model: model), seed: seed
      ).map { App(id: $0.id, slo: $0.slo, rate: $0.rate * rateScale) }
      let workload = Workload.generated(apps: apps, minutes: minutes, shape: .diurnal, seed: seed)
      let simulation = Simulation(planner: planner, workload: workload, seed: seed)
      let results = try ["harmony", "batch", "mbs", "optimal"].map {
        try simulation.run(Planner.Algorithm(rawValue: $0)!)
      }
      return Row(model: model, results: results)
    }
  }

  /// What `simulate --paper` prints of `rows`: a line that says the setting, and the tables of
  /// cost per request and of predicted, expected billed and simulated cost.
  public func report(_ rows: [Row]) -> (heading: String, tables: String) {
    let heading =
      "simulate --paper: 8 apps per model (Pareto rates ≥ 0.5 req/s), \(minutes) minutes of a "
      + "diurnal trace, seed \(seed), pricing alibaba-cny; cost per request (CNY)\n"
    let tables =
      Self.table(rows)
      + "\n\npredicted (the plans' objective: every batch full), expected billed (batches as "
      + "they fill, latencies as they vary, rounded up to the billing step) and simulated cost "
      + "per request\n\n" + Self.predictionTable(rows)
    return (heading, tables)
  }

  /// `tables` (`report`) as paper.txt in `directory`, and each model's results beside it
  /// (`SimulationReport.write`, a folder per model).
  public static func write(_ rows: [Row], tables: String, to directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try (tables + "\n").write(toFile: directory + "/paper.txt", atomically: true, encoding: .utf8)
    for row in rows {
      try SimulationReport.write(
        row.results, to: directory + "/" + row.model, title: "\(row.model), 8 apps")
    }
  }

  public static func table(_ rows: [Row]) -> String {
    var table = TextTable([
      ("model", .left), ("harmony", .right), ("batch", .right), ("mbs", .right),
      ("optimal", .right), ("harmony vs BATCH", .right), ("harmony vs MBS+", .right),
      ("violations h / b / m / o", .right), ("requests", .right),
    ])
    for row in rows {
      guard let harmony = row.result("harmony"), let batch = row.result("batch"),
        let mbs = row.result("mbs"), let optimal = row.result("optimal")
      else { continue }
      table.append([
        row.model, String(format: "%.3e", harmony.costPerRequest),
        String(format: "%.3e", batch.costPerRequest), String(format: "%.3e", mbs.costPerRequest),
        String(format: "%.3e", optimal.costPerRequest),
        String(format: "%+.1f %%", (harmony.costPerRequest / batch.costPerRequest - 1) * 100),
        String(format: "%+.1f %%", (harmony.costPerRequest / mbs.costPerRequest - 1) * 100),
        String(
          format: "%.2f / %.2f / %.2f / %.2f %%", harmony.violationPercent, batch.violationPercent,
          mbs.violationPercent, optimal.violationPercent),
        String(harmony.requests),
      ])
    }
    return table.rendered
  }

  /// Per model and algorithm: the plans' predicted cost per request (every batch full), their
  /// expected billed cost (`BilledCost`), and the simulated one, with the simulated against each.
  public static func predictionTable(_ rows: [Row]) -> String {
    var table = TextTable([
      ("model", .left), ("algorithm", .left), ("predicted", .right),
      ("expected billed", .right), ("simulated", .right), ("simulated vs predicted", .right),
      ("simulated vs expected", .right), ("worst group vs expected", .right),
    ])
    for row in rows {
      for result in row.results {
        table.append([
          row.model, result.algorithm, String(format: "%.3e", result.predictedCostPerRequest),
          String(format: "%.3e", result.expectedBilledCostPerRequest),
          String(format: "%.3e", result.costPerRequest),
          String(
            format: "%+.1f %%", (result.costPerRequest / result.predictedCostPerRequest - 1) * 100),
          String(
            format: "%+.1f %%",
            (result.costPerRequest / result.expectedBilledCostPerRequest - 1) * 100),
          worstGroup(result).map { String(format: "%+.1f %%", $0 * 100) } ?? "-",
        ])
      }
    }
    return table.rendered
  }

  /// The groups that ran at least this many batches count in `worstGroup` (fewer are noise).
  public static let groupBatchesCounted = 200

  /// Of the groups with at least `groupBatchesCounted` batches, the simulated cost per request
  /// against the expected billed one, farthest from it (a fraction); nil when no group ran that
  /// many.
  public static func worstGroup(_ result: Simulation.Result) -> Double? {
    result.groups.filter { $0.batches >= groupBatchesCounted && $0.expectedBilledCost > 0 }
      .map { $0.costPerRequest / $0.expectedBilledCostPerRequest - 1 }
      .max { abs($0) < abs($1) }
  }
}
