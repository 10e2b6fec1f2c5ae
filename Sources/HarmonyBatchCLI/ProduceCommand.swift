import Foundation
import Kafka
import Pipeline
import Planner

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
      try options.double("duration", default: 0, in: 0.001...604_800)
    }
    if duration != nil && apps.isEmpty { throw UsageError("--duration needs --apps FILE") }
    if duration != nil && options.string("file") != nil {
      throw UsageError("give --file or --duration, not both")
    }
    let trace = try options.string("trace").map { try RateTrace.load(path: $0) }
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
        headers.append(KafkaHeader(key: HeaderName.slo, value: Array(GroupedNumber.text(slo).utf8)))
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
        trace?.rate(app: apps[index].id, minute: Int(time / 60)) ?? apps[index].rate
      }
      for index in apps.indices {
        next[index] = DemoRun.exponential(rate: rate(index, at: 0), &random)
      }
      target = apps.indices.reduce(0) { $0 + rate($1, at: 0) }
      while !signals.isRequested {
        let elapsed = DemoRun.seconds(ContinuousClock.now - started)
        if elapsed >= duration { break }
        for index in apps.indices where next[index] <= elapsed {
          try send(app: apps[index].id, payload: Array(sentences[count % sentences.count].utf8))
          let current = rate(index, at: next[index])
          next[index] += current > 0 ? DemoRun.exponential(rate: current, &random) : 60
        }
        usleep(1000)
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
    let seconds = max(DemoRun.seconds(ContinuousClock.now - started), 1e-9)
    Console.out(
      String(
        format: "produce: %d requests acknowledged in %.2f s (%.1f req/s", count, seconds,
        Double(count) / seconds)
        + (target.map { String(format: "; target %.1f req/s)", $0) } ?? ")"))
    withExtendedLifetime(cluster) {}
    return 0
  }
}

/// Per-minute rates from a CSV file: `minute,app,rate` lines (a header line is allowed).
struct RateTrace {
  var rates: [String: [Int: Double]] = [:]

  static func load(path: String) throws -> RateTrace {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw UsageError("cannot read the trace '\(path)'")
    }
    var trace = RateTrace()
    for (number, line) in text.split(separator: "\n").enumerated() {
      let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      if number == 0, fields.first.map({ Int($0) == nil }) == true { continue }
      guard fields.count == 3, let minute = Int(fields[0]), minute >= 0,
        let rate = Double(fields[2]), rate >= 0
      else {
        throw UsageError("trace '\(path)' line \(number + 1): expected minute,app,rate")
      }
      trace.rates[fields[1], default: [:]][minute] = rate
    }
    return trace
  }

  func rate(app: String, minute: Int) -> Double? { rates[app]?[minute] }
}

enum GroupedNumber {
  static func text(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
  }
}
