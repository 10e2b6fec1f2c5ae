import Arguments
import Foundation
import Inference
import Operations
import Planner

/// `harmonybatch profile --backend minilm`: measure MiniLM here and write a planner profile;
/// `harmonybatch profile --measurements FILE`: fit one from measurements made elsewhere (a
/// Python worker's `harmonybatch-worker profile`).
enum ProfileCommand {
  static let spec = CommandSpec(
    name: "profile",
    summary: "Measure a backend and fit the planner's latency model; write a profile file.",
    usage: "--backend minilm [--out FILE] [--runs N] [--model-dir DIR] | --measurements FILE",
    options: [
      .option("backend", "B", "minilm (the only measurable backend here)."),
      .option(
        "measurements", "FILE",
        "Fit measurements made elsewhere instead (Schemas/measurements.schema.json; what "
          + "'harmonybatch-worker profile' writes): a CPU-only profile."),
      .option("out", "FILE", "Where to write the profile (default: standard output)."),
      .option("runs", "N", "Timed runs per batch size and thread count (default 40)."),
      .option("threads", "N", "Largest thread count to measure (default: the machine's cores)."),
      .option("name", "NAME", "The profile's name (default minilm)."),
      .option("model-dir", "DIR", "The MiniLM model directory (default: the set-up cache)."),
    ],
    discussion: """
      Measures batch sizes 1–4 at every thread count up to the cores, adds the points a
      fractional vCPU (0.25, 0.5, 0.75) gives by CPU share, fits L(c) = α·exp(−c/β) + γ per
      batch size to the average and to the 99th percentile, and prints each point's fit error.
      The GPU part is the paper's BERT GPU profile with its per-request slope scaled by the two
      models' FLOPs, so the profile is marked "estimated": true. Use it with
      'plan --profile FILE'.

      With --measurements, the points come from the file (batch sizes 1…B at whole thread
      counts, average and 99th percentile in ms), fitted the same way; the profile has no GPU
      part, so plans from it use CPU functions only.
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    if let path = options.string("measurements") {
      guard options.string("backend") == nil else {
        throw UsageError("give --backend or --measurements, not both")
      }
      return try fitFile(path, options: options)
    }
    let backend = try options.choice("backend", default: "", from: ["minilm"])
    guard backend == "minilm" else {
      throw UsageError("'profile' needs --backend minilm or --measurements FILE")
    }
    let runs = try options.int("runs", default: 40, in: 5...10_000)
    let threads = try options.int(
      "threads", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...256)
    let directory = try ModelLocator.directory(explicit: options.string("model-dir"))
    let name = options.string("name") ?? "minilm"
    let bert = try ModelProfile.builtIn(named: "Bert")
    let (profile, errors) = try await Task.detached {
      let encoder = try MiniLMEncoder(directory: directory)
      let profiler = LatencyProfiler(encoder: encoder, runs: runs, maxThreads: threads)
      let measurements = profiler.measure { point in
        Console.err(
          String(
            format: "profile: batch %d, %.0f thread(s): avg %.2f ms, p99 %.2f ms", point.batch,
            point.vcpu, point.avg * 1000, point.p99 * 1000))
      }
      return try LatencyProfiler.profile(from: measurements, name: name, bert: bert)
    }.value
    try write(profile, errors: errors, options: options)
    return 0
  }

  /// What a measurements file holds (`Schemas/measurements.schema.json`).
  struct MeasurementsFile: Decodable {
    struct Point: Decodable {
      let batch: Int
      let vcpu: Double
      let avgMs: Double
      let p99Ms: Double

      enum CodingKeys: String, CodingKey {
        case batch, vcpu
        case avgMs = "avg_ms"
        case p99Ms = "p99_ms"
      }
    }
    let name: String?
    let source: String?
    let points: [Point]
  }

  static func fitFile(_ path: String, options: ParsedOptions) throws -> Int32 {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw UsageError("cannot read the measurements file '\(path)'")
    }
    let file: MeasurementsFile
    do {
      file = try JSONDecoder().decode(MeasurementsFile.self, from: data)
    } catch {
      throw UsageError("the measurements file '\(path)' is not valid: \(error)")
    }
    let name = options.string("name") ?? file.name ?? "measured"
    let measurements = MeasuredProfile.addingShares(
      file.points.map {
        LatencyMeasurement(
          batch: $0.batch, vcpu: $0.vcpu, avg: $0.avgMs / 1000, p99: $0.p99Ms / 1000)
      })
    let fitted: MeasuredProfile.Fitted
    do {
      fitted = try MeasuredProfile.fit(
        measurements, name: name,
        source: (file.source ?? "measured elsewhere")
          + "; fitted by 'harmonybatch profile --measurements'; points below 1 vCPU are the "
          + "1-thread times divided by the CPU share; no GPU part: plans use CPU functions only",
        estimated: false, gpu: nil)
    } catch {
      throw UsageError("the measurements file '\(path)': \(error.message)")
    }
    do {
      _ = try fitted.profile.validated()
    } catch {
      throw UsageError("the measurements in '\(path)' give no valid profile: \(error.message)")
    }
    Console.err("profile: no GPU part in \(path): plans with this profile use CPU functions only")
    try write(
      fitted.profile, errors: fitted.errors.map { ($0.point, $0.avg, $0.max) }, options: options)
    return 0
  }

  static func write(
    _ profile: ModelProfile, errors: [(LatencyMeasurement, avg: Double, max: Double)],
    options: ParsedOptions
  ) throws {
    var table = TextTable([
      ("batch", .right), ("vCPU", .right), ("source", .left), ("avg ms", .right),
      ("avg fit error", .right), ("p99 ms", .right), ("max fit error", .right),
    ])
    for (point, avgError, maxError) in errors {
      table.append([
        String(point.batch), String(format: "%.2f", point.vcpu),
        point.measured ? "measured" : "by share", String(format: "%.2f", point.avg * 1000),
        String(format: "%+.1f %%", avgError * 100), String(format: "%.2f", point.p99 * 1000),
        String(format: "%+.1f %%", maxError * 100),
      ])
    }
    Console.err(table.rendered)
    let data: Data
    do {
      data = try profile.jsonData()
    } catch {
      throw RunFailure("the profile cannot be written as JSON: \(error.summary)")
    }
    if let path = options.string("out") {
      try data.write(to: URL(fileURLWithPath: path))
      Console.err("profile: wrote \(path)")
    } else {
      Console.out(String(decoding: data, as: UTF8.self))
    }
  }
}
