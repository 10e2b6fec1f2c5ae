import Foundation
import Kafka
import Pipeline
import Planner
import Simulator

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
    // Producing paces itself with short sleeps: a thread of its own, not the cooperative pool.
    try await onThread("hb-produce") { try produce(options) }
  }

  static func produce(_ options: ParsedOptions) throws -> Int32 {
    let topics = PipelineTopics(prefix: options.string("topic-prefix") ?? "hb.")
    let apps = try options.string("apps").map { try AppsFile.load(path: $0) } ?? []
    let fixedSLO = try options.string("slo-ms").map { _ in
      try options.double("slo-ms", default: 0, in: 0.001...86_400_000)
    }
    let duration = try options.string("duration").map { _ in
      try options.double("duration", default: 0, in: 0.001...604_800)
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
      let minutes = Int(((duration ?? 60) / 60).rounded(.up))
      return try Workload.trace(apps: apps, minutes: max(1, minutes), csv: text)
    }
    let seed = UInt64(try options.int("seed", default: 1, in: 0...Int.max))
    let cluster = try ClusterSetup.connect(options, topics: topics)
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: cluster.common))
    let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    let slos = Dictionary(
      apps.map { ($0.id, $0.slo * 1000) }, uniquingKeysWith: { first, _ in first })
    let signals = TerminationSignal()
    var count = 0
    func send(app: String, payload: [UInt8]) throws {
      var headers = [KafkaHeader(key: HeaderName.requestID, value: Array("\(run)-\(count)".utf8))]
      if let slo = fixedSLO ?? slos[app] {
        headers.append(
          KafkaHeader(key: HeaderName.slo, value: Array(GroupedRecord.number(slo).utf8)))
      }
      try producer.enqueue(
        KafkaProducerMessage(
          topic: topics.requests, key: Array(app.utf8), value: payload, headers: headers))
      count += 1
    }
    let started = ContinuousClock.now
    var target: Double?
    if let duration {
      var random = SeededRandom(seed: seed)
      let sentences = DemoRun.sentences
      var next = apps.map { _ in 0.0 }
      func rate(_ index: Int, at time: Double) -> Double {
        guard let trace else { return apps[index].rate }
        return trace.rates[min(trace.minutes - 1, Int(time / 60))][index]
      }
      for index in apps.indices {
        next[index] = random.exponential(rate: rate(index, at: 0))
      }
      target = apps.indices.reduce(0) { $0 + rate($1, at: 0) }
      while !signals.isRequested {
        let elapsed = (ContinuousClock.now - started).seconds
        if elapsed >= duration { break }
        for index in apps.indices where next[index] <= elapsed {
          try send(app: apps[index].id, payload: Array(sentences[count % sentences.count].utf8))
          let current = rate(index, at: next[index])
          next[index] += current > 0 ? random.exponential(rate: current) : 60
        }
        Thread.sleep(forTimeInterval: 0.001)
      }
    } else {
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
      for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true)
        .enumerated()
      {
        if let app = options.string("app") {
          try send(app: app, payload: Array(line.utf8))
          continue
        }
        guard let cut = line.firstIndex(of: "\t") ?? line.firstIndex(of: ","), cut > line.startIndex
        else {
          throw UsageError(
            "line \(number + 1): expected APP<TAB>PAYLOAD or APP,PAYLOAD (or give --app ID)")
        }
        try send(app: String(line[..<cut]), payload: Array(line[line.index(after: cut)...].utf8))
      }
    }
    try producer.flush(timeoutMs: 60_000)
    _ = producer.close()
    let seconds = max((ContinuousClock.now - started).seconds, 1e-9)
    Console.out(
      String(
        format: "produce: %d requests acknowledged in %.2f s (%.1f req/s", count, seconds,
        Double(count) / seconds)
        + (target.map { String(format: "; target %.1f req/s)", $0) } ?? ")"))
    withExtendedLifetime(cluster) {}
    return 0
  }
}
