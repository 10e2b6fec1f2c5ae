import Arguments
import Foundation
import Kafka
import Operations
import Pipeline
import PipelineCore
import Planner
import Simulator
import Synchronization

/// `harmonybatch produce`: send requests from stdin, a file, or a Poisson generator.
enum ProduceCommand {
  static let spec = CommandSpec(
    name: "produce",
    summary: "Send requests to hb.requests: lines from stdin or a file, or generated arrivals.",
    usage: "[--file FILE | --apps FILE --duration SECONDS [--trace CSV]] [--app ID] [--slo-ms N]",
    options: [
      .option(
        "file", "FILE",
        "Requests, one per line: APP<TAB>PAYLOAD (or APP,PAYLOAD); default: standard input."),
      .option("app", "ID", "Every line is a payload of this app."),
      .option(
        "slo-ms", "N", "The hb-slo-ms header of every request (default: from --apps, else none)."),
      .option(
        "apps", "FILE",
        "Apps (ids, SLOs, rates): their SLOs go in the headers; with --duration, Poisson arrivals "
          + "at their rates."),
      .option("duration", "SECONDS", "Generate arrivals for this long (needs --apps)."),
      .option(
        "trace", "CSV",
        "Per-minute rates overriding the apps file: lines minute,app,rate (minute 0 first)."),
      .option("seed", "N", "Seed of the generated arrivals (default 1)."),
      .option("topic-prefix", "P", "Prefix of the pipeline's topics (default hb.)."),
    ] + KafkaOptions.specs,
    discussion: """
      Each request gets the app as its key, hb-slo-ms when an SLO is known, and hb-request-id
      <run>-<n>. Ends by waiting for the broker to acknowledge every request, and prints how
      many were sent and the rate achieved (with the target rate when generating).
      Examples:
        printf 'app-a\\tHello there\\n' | harmonybatch produce --bootstrap HOST:PORT --slo-ms 500
        harmonybatch produce --bootstrap HOST:PORT --apps apps.json --duration 60
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let topics = PipelineTopics(prefix: options.string("topic-prefix") ?? "hb.")
    let apps = try options.string("apps").map { try AppsFile.load(path: $0) } ?? []
    let fixedSLO = try options.string("slo-ms").map { _ in
      try options.double("slo-ms", default: 0, in: 0.001...86_400_000)
    }
    let duration = try options.string("duration").map { _ in
      try options.duration(
        "duration", default: .zero, range: .milliseconds(1) ... .seconds(604_800))
    }
    if duration != nil && apps.isEmpty { throw UsageError("--duration needs --apps FILE") }
    if duration != nil && options.string("file") != nil {
      throw UsageError("give --file or --duration, not both")
    }
    // The same trace format as 'simulate --trace': minute,app,rate lines.
    let trace = try options.string("trace").map { path -> Workload in
      guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw UsageError("cannot read the trace '\(path)'")
      }
      let minutes = Int(((duration?.seconds ?? 60) / 60).rounded(.up))
      return try Workload.trace(apps: apps, minutes: max(1, minutes), csv: text)
    }
    let seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
    // Lines are read and checked before anything is sent.
    let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    let slos = Dictionary(
      apps.map { ($0.id, $0.slo * 1000) }, uniquingKeysWith: { first, _ in first })
    // Lines are read and checked before anything is sent.
    let lines =
      duration == nil
      ? try readLines(options).enumerated().map { number, line in
        RequestRecord(
          app: line.app, id: "\(run)-\(number)", sloMs: fixedSLO ?? slos[line.app],
          payload: line.payload)
      } : []
    let cluster = try ClusterSetup.connect(options, topics: topics)
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: cluster.common))
    let sent = Mutex(0)
    let started = ContinuousClock.now
    let generator = RequestGenerator(
      apps: apps, trace: trace, seed: seed, idPrefix: run, sloMs: fixedSLO)
    let target = duration.map { _ in generator.totalRate(at: 0) }
    let producing = ClosureService("produce") { context in
      func send(_ request: RequestRecord) throws {
        try producer.enqueue(request.message(topic: topics.requests))
        sent.withLock { $0 += 1 }
      }
      if let duration {
        var generator = generator
        try generator.send(
          for: duration, from: started, isStopping: { context.isStopping }, send)
      } else {
        for request in lines where !context.isStopping { try send(request) }
      }
      try producer.flush(timeoutMs: 60_000)
    }
    let code = await ServiceGroup([producing], log: PipelineLog(service: "produce"))
      .run(keepingAlive: cluster.embedded)
    _ = producer.close()
    let seconds = max((ContinuousClock.now - started).seconds, 1e-9)
    let count = sent.withLock { $0 }
    Console.out(
      String(
        format: "produce: %d requests %@ in %.2f s (%.1f req/s", count,
        code == 0 ? "acknowledged" : "sent", seconds, Double(count) / seconds)
        + (target.map { String(format: "; target %.1f req/s)", $0) } ?? ")"))
    return code
  }

  /// The requests of `--file` or standard input, as (app, payload).
  private static func readLines(_ options: ParsedOptions) throws -> [(
    app: String, payload: [UInt8]
  )] {
    let handle: FileHandle
    if let path = options.string("file") {
      guard let file = FileHandle(forReadingAtPath: path) else {
        throw UsageError("cannot read '\(path)'")
      }
      handle = file
    } else {
      handle = FileHandle.standardInput
    }
    let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    var lines: [(app: String, payload: [UInt8])] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated()
    {
      if let app = options.string("app") {
        lines.append((app, Array(line.utf8)))
        continue
      }
      guard let cut = line.firstIndex(of: "\t") ?? line.firstIndex(of: ","), cut > line.startIndex
      else {
        throw UsageError(
          "line \(number + 1): expected APP<TAB>PAYLOAD or APP,PAYLOAD (or give --app ID)")
      }
      lines.append((String(line[..<cut]), Array(line[line.index(after: cut)...].utf8)))
    }
    return lines
  }
}
