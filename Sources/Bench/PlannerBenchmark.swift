import Foundation
import Operations
import PipelineCore
import Planner

/// `harmonybatch bench planner`: how long each algorithm takes to plan 1 to 1,000 apps, and how
/// far `optimal` and the paper's two-stage merge are, by the expected billed cost, from the best
/// of all partitions on random small workloads (the yardstick being an exhaustive search in the
/// same run).
public struct PlannerBenchmark {
  public struct Settings: Sendable {
    public var model = "VGG19"
    public var sizes = [1, 6, 12, 14, 100, 1000]
    public var gapWorkloads = 200
    /// App counts of the gap workloads: 6 (where `optimal` searches every partition) and 14
    /// (where it improves the contiguous optimum by local search); the larger count gets a
    /// quarter of the workloads (its yardstick takes 3¹⁴ steps each).
    public var gapApps = [6, 14]
    public var seed: UInt64 = 1
    public var minimumSeconds = 0.3

    public init() {}
  }

  public struct Timing: Codable {
    public let apps: Int
    public let algorithm: String
    public let medianMs: Double
    public let runs: Int
    public let groups: Int
  }

  public struct Gap: Codable {
    public let model: String
    public let workloads: Int
    public let apps: Int
    public let optimalMeanPercent: Double
    public let optimalWorstPercent: Double
    public let harmonyMeanPercent: Double
    public let harmonyWorstPercent: Double
    public let harmonyAboveOptimalShare: Double
  }

  public struct Report: Codable {
    public let model: String
    public let catalogMs: Double
    public let timings: [Timing]
    public let gaps: [Gap]
  }

  public let settings: Settings

  public init(settings: Settings) { self.settings = settings }

  public func run() throws -> Report {
    let pricing = try PricingPreset.builtIn(named: PricingPreset.defaultName)
    let profile = try ModelProfile.builtIn(named: settings.model)
    let clock = ContinuousClock()
    let catalogStart = clock.now
    let planner = Planner(profile: profile, pricing: pricing)
    let catalogMs = (clock.now - catalogStart).seconds * 1000

    var random = SeededRandom(seed: settings.seed)
    // Mostly slow apps with a few busy ones, like the Azure Functions trace.
    let generator = WorkloadGenerator(
      sloRange: WorkloadGenerator.paperSLORange(model: profile.name), rateRange: 0.01...20)
    var timings: [Timing] = []
    for size in settings.sizes {
      let apps = generator.apps(count: size, using: &random)
      for algorithm in Planner.Algorithm.allCases {
        var samples: [Double] = []
        var groups = 0
        let started = clock.now
        repeat {
          let plan = try planner.plan(apps, algorithm: algorithm)
          samples.append(plan.planningMs)
          groups = plan.groups.count
        } while samples.count < 5
          || (clock.now - started < .seconds(settings.minimumSeconds)
            && samples.count < 1000)
        samples.sort()
        timings.append(
          Timing(
            apps: size, algorithm: algorithm.rawValue, medianMs: Quantile.median(samples),
            runs: samples.count, groups: groups))
      }
    }

    var gaps: [Gap] = []
    for appCount in settings.gapApps {
      let workloads = appCount <= 8 ? settings.gapWorkloads : max(1, settings.gapWorkloads / 4)
      for name in ModelProfile.paperModelNames {
        gaps.append(
          try gap(model: name, pricing: pricing, apps: appCount, workloads: workloads))
      }
    }
    return Report(model: profile.name, catalogMs: catalogMs, timings: timings, gaps: gaps)
  }

  /// How far `optimal` and `harmony` are from the best of all partitions on random workloads of
  /// `apps` apps of one model.
  private func gap(model name: String, pricing: PricingPreset, apps appCount: Int, workloads: Int)
    throws -> Gap
  {
    let planner = Planner(profile: try ModelProfile.builtIn(named: name), pricing: pricing)
    let generator = WorkloadGenerator(sloRange: WorkloadGenerator.paperSLORange(model: name))
    var random = SeededRandom(seed: settings.seed)
    var optimalGaps: [Double] = []
    var harmonyGaps: [Double] = []
    var harmonyAbove = 0
    for _ in 0..<workloads {
      let apps = generator.apps(count: appCount, using: &random)
      guard let best = planner.bestPartitionBilled(apps), best > 0 else { continue }
      let optimal = try planner.plan(apps, algorithm: .optimal).billedObjective ?? .infinity
      let harmony = try planner.plan(apps, algorithm: .harmony).billedObjective ?? .infinity
      // Never below the best of all partitions; a last-digit difference is rounding.
      optimalGaps.append(max(0, (optimal / best - 1) * 100))
      harmonyGaps.append(max(0, (harmony / best - 1) * 100))
      if harmony > optimal * (1 + 1e-9) { harmonyAbove += 1 }
    }
    let count = Double(max(1, optimalGaps.count))
    return Gap(
      model: name, workloads: optimalGaps.count, apps: appCount,
      optimalMeanPercent: optimalGaps.reduce(0, +) / count,
      optimalWorstPercent: optimalGaps.max() ?? 0,
      harmonyMeanPercent: harmonyGaps.reduce(0, +) / count,
      harmonyWorstPercent: harmonyGaps.max() ?? 0,
      harmonyAboveOptimalShare: Double(harmonyAbove) / count)
  }
}

extension PlannerBenchmark.Report {
  /// The paper's Table IV (Python, their machine), milliseconds, for 1 / 6 / 12 apps.
  public static let paperTableIV: [String: [Int: Double]] = [
    "harmony": [1: 2, 6: 23, 12: 38],
    "batch": [1: 34, 6: 222, 12: 393],
    "mbs": [1: 176, 6: 3497, 12: 8156],
  ]

  public var table: String {
    var lines = [
      "bench planner: model \(model); building the function catalog (once per profile and"
        + String(format: " pricing) took %.2f ms", catalogMs),
      "",
      "planning time, median ms (paper's Table IV, Python, in brackets)",
    ]
    let sizes = Array(Set(timings.map(\.apps))).sorted()
    let algorithms = Planner.Algorithm.allCases.map(\.rawValue)
    var table = TextTable(
      [("algorithm", .left)] + sizes.map { ("\($0) apps", TextTable.Alignment.right) })
    for algorithm in algorithms {
      table.append(
        [algorithm]
          + sizes.map { size in
            guard
              let timing = timings.first(where: { $0.apps == size && $0.algorithm == algorithm })
            else { return "-" }
            let paper = Self.paperTableIV[algorithm]?[size].map { String(format: " [%.0f]", $0) }
            return String(format: "%.3f", timing.medianMs) + (paper ?? "")
          })
    }
    lines.append(table.rendered)
    lines.append("")
    lines.append(
      "expected billed cost above that of the best of all partitions (exhaustive search on "
        + "optimal's search objective), random workloads")
    var gapTable = TextTable([
      ("model", .left), ("workloads", .right), ("apps", .right), ("optimal mean", .right),
      ("optimal worst", .right), ("harmony mean", .right), ("harmony worst", .right),
      ("harmony > optimal", .right),
    ])
    for gap in gaps {
      gapTable.append([
        gap.model, String(gap.workloads), String(gap.apps),
        String(format: "%.3f %%", gap.optimalMeanPercent),
        String(format: "%.3f %%", gap.optimalWorstPercent),
        String(format: "%.2f %%", gap.harmonyMeanPercent),
        String(format: "%.2f %%", gap.harmonyWorstPercent),
        String(format: "%.0f %%", gap.harmonyAboveOptimalShare * 100),
      ])
    }
    lines.append(gapTable.rendered)
    return lines.joined(separator: "\n")
  }

  public var json: Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return (try? encoder.encode(self)) ?? Data()
  }
}
