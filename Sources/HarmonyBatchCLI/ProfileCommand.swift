import Arguments
import Foundation
import Inference
import Operations
import Planner

/// `harmonybatch profile --backend minilm`: measure MiniLM here and write a planner profile.
enum ProfileCommand {
  static let spec = CommandSpec(
    name: "profile",
    summary: "Measure a backend and fit the planner's latency model; write a profile file.",
    usage: "--backend minilm [--out FILE] [--runs N] [--model-dir DIR]",
    options: [
      .option("backend", "B", "minilm (the only measurable backend here)."),
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
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let backend = try options.choice("backend", default: "", from: ["minilm"])
    guard backend == "minilm" else { throw UsageError("'profile' needs --backend minilm") }
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
      return LatencyProfiler.profile(from: measurements, name: name, bert: bert)
    }.value
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
    let data = profile.jsonData()
    if let path = options.string("out") {
      try data.write(to: URL(fileURLWithPath: path))
      Console.err("profile: wrote \(path)")
    } else {
      Console.out(String(decoding: data, as: UTF8.self))
    }
    return 0
  }
}
