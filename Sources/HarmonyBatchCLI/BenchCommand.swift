import Arguments
import Bench
import Foundation
import Inference
import Operations

/// `harmonybatch bench SUITE`: measurements whose results are ratios against a baseline run in the
/// same process, so they hold on any machine.
enum BenchCommand: Command {
  static let spec = CommandSpec(
    name: "bench",
    summary: "Run a benchmark suite against a baseline measured in the same run.",
    usage: "kafka|planner|pipeline|inference|simulate [options]",
    options: [
      .option("messages", "N", "Messages per measurement (default 1000000)."),
      .option("size", "BYTES", "Value size in bytes (default 100)."),
      .option("rounds", "N", "Rounds; the median of each side is reported (default 5)."),
      .option("json", "FILE", "Also write the results as JSON to FILE."),
      .option("kcat", "PATH", "The kcat binary to compare with (default: kcat on PATH)."),
      .option("model", "NAME", "planner: the model whose timings are measured (default VGG19)."),
      .option("workloads", "N", "planner: random workloads per model for the gaps (default 200)."),
      .option("seed", "N", "planner: seed of the random workloads (default 1)."),
      .option("rate", "R", "pipeline: request rate of the punctuality run (default 10000)."),
      .option("apps", "N", "simulate: apps (default 1000)."),
      .option("minutes", "N", "simulate: minutes (default 1440)."),
      .time(
        "seconds", "inference: seconds per measurement",
        default: InferenceBenchmark.Settings.defaultMeasurement),
      .option("model-dir", "DIR", "inference: the MiniLM model directory (default: the cache)."),
      .option(
        "peers-script", "PATH",
        "inference: the peers script (default Tests/InferenceTests/Reference/minilm_peers.py)."),
      .option(
        "peers", "LIST",
        "inference: peers to compare with, comma-separated (default numpy,torch,onnxruntime)."),
      .option("tokens", "LIST", "inference: sentence lengths in tokens (default 8,32,128)."),
      .option("batches", "LIST", "inference: batch sizes (default 1,8,32)."),
      .option("threads", "LIST", "inference: thread counts (default 1,2)."),
    ],
    discussion: """
      Suites:
        kafka   producer and consumer throughput of our Kafka layer next to kcat's: the same
                librdkafka, one embedded broker in a process of its own, the same producer
                settings; each path runs both sides back to back, alternating which goes
                first. Produce: all messages to a 4-partition topic, until the last is
                acknowledged. Consume: both read one prepared topic in bulk: values only
                (vs kcat -C, whole run, and kcat -G, after the first message), headers and
                values (vs kcat -C -f '%h %s'), and our group consumer (vs kcat -G); also
                the CPU time of our reading thread.
        pipeline router + batcher throughput in one process against a raw consume → produce
                pass-through on the same broker (median ratio of rounds; --messages, --rounds
                3), then flush punctuality: lateness of deadline flushes behind the computed
                deadline at a steady 10,000 req/s.
        simulate the simulator on 1,000 Azure-like apps × 24 h of a diurnal per-minute trace
                (harmony, re-planning every minute); --apps, --minutes.
        inference MiniLM sentences/s of our encoder next to PyTorch (transformers), ONNX
                Runtime (fused BERT operators) and the numpy reference, on the same token ids:
                sentences of about 8, 32 and 128 tokens, batches of 1, 8 and 32, 1 and 2
                threads; the median of --rounds (default 3) rounds of --seconds each, and the
                ratio to the fastest peer. The peers run in Python processes started by
                Tests/InferenceTests/Reference/minilm_peers.py, whose set-up pip-installs what
                they need; a peer that cannot be installed or loaded is reported as missing.
        planner planning time of every algorithm for 1, 6, 12, 14, 100 and 1,000 apps (median
                of repeated runs; the paper's Python timings beside them), and how far `optimal`
                (exact up to 12 apps, local search beyond) and `harmony` (two-stage merge) are,
                by the expected billed cost, from the best of all partitions, found by
                exhaustive search, on random 6- and 14-app workloads of each model.
      """,
    positionals: 1...1)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    switch options.positionals[0] {
    case "kafka":
      let settings = KafkaBenchmark.Settings(
        messages: try options.int("messages", default: 1_000_000, in: 1...100_000_000),
        size: try options.int("size", default: 100, in: 1...1_000_000),
        rounds: try options.int("rounds", default: 5, in: 1...50),
        kcat: try options.string("kcat") ?? KafkaBenchmark.findKcat())
      let report = try await Task.detached { try KafkaBenchmark(settings: settings).run() }.value
      try emit(report.table, json: report.json, options)
    case "planner":
      var settings = PlannerBenchmark.Settings()
      settings.model = options.string("model") ?? settings.model
      settings.gapWorkloads = try options.int("workloads", default: 200, in: 1...100_000)
      settings.seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
      let report = try PlannerBenchmark(settings: settings).run()
      try emit(report.table, json: report.json, options)
    case "pipeline":
      var settings = PipelineBenchmark.Settings()
      settings.messages = try options.int("messages", default: 100_000, in: 1000...130_000)
      settings.rounds = try options.int("rounds", default: 3, in: 1...50)
      settings.punctualityRate = try options.double("rate", default: 10_000, in: 10...1_000_000)
      let report = try await Task.detached { try PipelineBenchmark(settings: settings).run() }.value
      Console.out(report.table)
    case "simulate":
      let apps = try options.int("apps", default: 1000, in: 1...100_000)
      let minutes = try options.int("minutes", default: 1440, in: 1...100_000)
      Console.out(try SimulationBenchmark(apps: apps, minutes: minutes).run())
    case "inference":
      var settings = InferenceBenchmark.Settings(
        modelDirectory: try ModelLocator.directory(explicit: options.string("model-dir")))
      settings.measurement = try options.duration(
        "seconds", default: InferenceBenchmark.Settings.defaultMeasurement,
        range: .milliseconds(100) ... .seconds(600))
      settings.rounds = try options.int("rounds", default: 3, in: 1...50)
      if let script = options.string("peers-script") { settings.peersScript = script }
      let peers = options.list("peers")
      if let unknown = peers.first(where: { !InferenceBenchmark.knownPeers.contains($0) }) {
        throw UsageError(
          "--peers lists '\(unknown)'; the peers are "
            + InferenceBenchmark.knownPeers.joined(separator: ", "))
      }
      if !peers.isEmpty { settings.peers = peers }
      settings.lengths = try options.intList("tokens", default: settings.lengths, in: 3...256)
      settings.batches = try options.intList("batches", default: settings.batches, in: 1...1024)
      settings.threads = try options.intList("threads", default: settings.threads, in: 1...256)
      let report = try await Task.detached { [settings] in
        try InferenceBenchmark(settings: settings).run()
      }.value
      Console.out(InferenceBenchmark.table(report, settings: settings))
    case let other:
      throw UsageError(
        "unknown benchmark suite '\(other)'; suites: kafka, planner, pipeline, inference, simulate")
    }
    return 0
  }

  /// Prints a suite's table and, with `--json FILE`, writes its results there as JSON.
  private static func emit(_ table: String, json: Data, _ options: ParsedOptions) throws {
    Console.out(table)
    if let path = options.string("json") {
      try json.write(to: URL(fileURLWithPath: path))
      Console.err("bench: wrote \(path)")
    }
  }
}
