import Arguments
import Foundation
import Inference
import Operations

/// `harmonybatch profile --backend minilm`: measure MiniLM here and write a planner profile;
/// `harmonybatch profile --measurements FILE`: fit one from measurements made elsewhere (a
/// Python worker's `harmonybatch-worker profile`).
enum ProfileCommand: Command {
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
    let fit: ProfileFit
    if let path = options.string("measurements") {
      guard options.string("backend") == nil else {
        throw UsageError("give --backend or --measurements, not both")
      }
      fit = try ProfileFit.fitting(file: path, name: options.string("name"))
      Console.err(
        "profile: no GPU part in \(path): plans with this profile use CPU functions only")
    } else {
      let backend = try options.choice("backend", default: "", from: ["minilm"])
      guard backend == "minilm" else {
        throw UsageError("'profile' needs --backend minilm or --measurements FILE")
      }
      let runs = try options.int("runs", default: 40, in: 5...10_000)
      let threads = try options.int(
        "threads", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...256)
      fit = try await ProfileFit.measuringMiniLM(
        directory: try ModelLocator.directory(explicit: options.string("model-dir")), runs: runs,
        threads: threads, name: options.string("name") ?? "minilm", progress: Console.err)
    }
    Console.err(fit.errorTable)
    let data = try fit.json()
    if let path = options.string("out") {
      try data.write(to: URL(fileURLWithPath: path))
      Console.err("profile: wrote \(path)")
    } else {
      Console.out(String(decoding: data, as: UTF8.self))
    }
    return 0
  }
}
