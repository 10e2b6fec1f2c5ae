import Arguments
import Operations
import Planner
import Simulator

/// `harmonybatch produce`: send requests from stdin, a file, or a Poisson generator.
enum ProduceCommand: Command {
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
      TopicOptions.prefix,
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
    let topics = TopicOptions.topics(options)
    let apps = try options.string("apps").map { try AppsFile.load(path: $0) } ?? []
    let fixedSLO = try options.double("slo-ms", in: 0.001...86_400_000)
    let duration = try options.duration("duration", range: .milliseconds(1) ... .seconds(604_800))
    if duration != nil && apps.isEmpty { throw UsageError("--duration needs --apps FILE") }
    if duration != nil && options.string("file") != nil {
      throw UsageError("give --file or --duration, not both")
    }
    // The same trace format as 'simulate --trace': minute,app,rate lines.
    let trace = try options.string("trace").map { path in
      let minutes = Int(((duration?.seconds ?? 60) / 60).rounded(.up))
      return try Workload.trace(path: path, apps: apps, minutes: max(1, minutes))
    }
    let seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
    let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    let requests: RequestProducer.Requests
    if let duration {
      requests = .generated(
        RequestGenerator(apps: apps, trace: trace, seed: seed, idPrefix: run, sloMs: fixedSLO),
        for: duration)
    } else {
      let slos = Dictionary(
        apps.map { ($0.id, $0.slo * 1000) }, uniquingKeysWith: { first, _ in first })
      // Lines are read and checked before anything is sent.
      requests = .given(
        try RequestLines.requests(
          RequestLines.read(path: options.string("file")), app: options.string("app"),
          idPrefix: run, sloMs: { fixedSLO ?? slos[$0] }))
    }
    let cluster = try KafkaOptions.cluster(options, topics: topics)
    let report = try await RequestProducer.run(
      requests, topic: topics.requests, common: cluster.common, keepingAlive: cluster.embedded)
    Console.out(report.text)
    return report.code
  }
}
