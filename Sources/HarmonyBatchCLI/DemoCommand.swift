import Foundation
import Kafka

/// `harmonybatch demo`: the whole system in one command on the embedded broker.
///
/// Today the system is its Kafka layer, so the demo shows that end to end: SLO-tagged requests of
/// several apps go through a real Kafka-protocol broker and back through a consumer group, every
/// request is accounted for, and the round-trip latency is measured against each app's SLO.
/// Planning, batching and workers join this command as they land.
enum DemoCommand {
  static let spec = CommandSpec(
    name: "demo",
    summary: "Run the system end to end on the embedded broker with a generated workload.",
    usage: "[--requests N] [--apps N] [--bootstrap HOST:PORT]",
    options: [
      .option("requests", "N", "Requests to send (default 2000)."),
      .option("apps", "N", "Applications, with SLOs spread over 0.3..1.0 s (default 8)."),
      .option("rate", "R", "Total request rate per second (default 1000)."),
    ] + KafkaOptions.specs,
    discussion: """
      Stage 1 of the demo (the Kafka transport): produces SLO-tagged requests to hb.requests
      with the same headers the pipeline uses, reads them back through the consumer group
      hb-demo, and reports how many came back and the transport latency per app against its
      SLO. Without --bootstrap an embedded broker is started and stopped.
      """)

  static func run(_ options: ParsedOptions) async throws -> Int32 {
    let requests = try options.int("requests", default: 2000, in: 1...10_000_000)
    let appCount = try options.int("apps", default: 8, in: 1...1000)
    let rate = try options.double("rate", default: 1000, in: 1...1_000_000)
    let broker: EmbeddedBroker?
    let bootstrap: String
    if let given = options.string("bootstrap") {
      broker = nil
      bootstrap = given
    } else {
      broker = try EmbeddedBroker(
        brokers: 1, logger: .standardError(minimumLevel: try KafkaOptions.logLevel(options)))
      bootstrap = broker!.bootstrapServers
      try broker!.createTopics([KafkaTopicSpec(name: "hb.requests", partitions: 4)])
      Console.out("demo: embedded broker at \(bootstrap)")
    }
    let common = try KafkaOptions.configuration(options, bootstrap: bootstrap)
    let apps = (0..<appCount).map { index in
      DemoApp(
        id: "app-\(index + 1)", sloMs: appCount == 1 ? 500 : 300 + 700 * index / (appCount - 1))
    }
    let result = try await Task.detached {
      try TransportRoundTrip(common: common, apps: apps, requests: requests, rate: rate).run()
    }.value
    Console.out(result.summary)
    withExtendedLifetime(broker) {}
    return result.missing == 0 ? 0 : 1
  }
}

struct DemoApp: Sendable {
  let id: String
  let sloMs: Int
}

/// Sends SLO-tagged requests through the broker and reads them back through a consumer group.
struct TransportRoundTrip: Sendable {
  let common: KafkaConfiguration
  let apps: [DemoApp]
  let requests: Int
  let rate: Double

  struct Result {
    let apps: [DemoApp]
    let sent: Int
    let received: Int
    let missing: Int
    let latenciesMs: [String: [Double]]
    let seconds: Double

    var summary: String {
      var text =
        "\ndemo summary (transport stage): \(sent) requests sent, \(received) received, \(missing) missing, "
      text += String(format: "%.1f s\n", seconds)
      text +=
        "| app | SLO ms | requests | p50 ms | p99 ms | within SLO |\n|---|---:|---:|---:|---:|---:|\n"
      for app in apps {
        let values = (latenciesMs[app.id] ?? []).sorted()
        guard !values.isEmpty else { continue }
        let within = values.filter { $0 <= Double(app.sloMs) }.count
        text += "| \(app.id) | \(app.sloMs) | \(values.count) | "
        text += String(
          format: "%.1f | %.1f | %.2f %% |\n", percentile(values, 0.5), percentile(values, 0.99),
          100.0 * Double(within) / Double(values.count))
      }
      return text
    }
  }

  func run() throws -> Result {
    var consumerConfiguration = KafkaConsumerConfiguration(common: common, groupID: "hb-demo")
    consumerConfiguration.autoOffsetReset = .earliest
    // Requests of earlier runs on the same cluster may still be there: ids of this run only.
    let run = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let consumer = try KafkaConsumer(configuration: consumerConfiguration)
    defer { consumer.close() }
    try consumer.subscribe(topics: ["hb.requests"])
    // Join the group before sending, so the latency measured is the transport's, not the join's.
    let joinDeadline = ContinuousClock.now + .seconds(30)
    var assigned = false
    while !assigned && ContinuousClock.now < joinDeadline {
      if case .partitionsAssigned(let partitions) = try consumer.poll(timeoutMs: 100),
        !partitions.isEmpty
      {
        assigned = true
      }
    }
    guard assigned else {
      throw KafkaError(.timeout, "demo: the consumer group did not form within 30 s")
    }
    Console.out(
      "demo: consumer group hb-demo joined; sending \(requests) requests of \(apps.count) apps at \(Int(rate))/s"
    )

    let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    let start = ContinuousClock.now
    let interval = 1.0 / rate
    var latencies: [String: [Double]] = [:]
    var pending = Set<String>()
    var sent = 0
    var received = 0
    func drain(timeoutMs: Int) throws {
      while case .record(let record) = try consumer.poll(timeoutMs: timeoutMs) {
        try consumer.storeOffset(for: record)
        guard let id = record.headers.first(named: "hb-request-id")?.stringValue,
          pending.remove(id) != nil,
          let app = record.keyString, let sentMs = record.timestampMs
        else { continue }
        received += 1
        latencies[app, default: []].append(Double(epochMilliseconds() - sentMs))
      }
    }
    while sent < requests {
      let app = apps[sent % apps.count]
      let id = "demo-\(run)-\(sent)"
      pending.insert(id)
      try producer.enqueue(
        KafkaProducerMessage(
          topic: "hb.requests", key: app.id, value: "request \(sent) of \(app.id)",
          headers: [
            KafkaHeader(key: "hb-slo-ms", string: String(app.sloMs)),
            KafkaHeader(key: "hb-request-id", string: id),
          ],
          timestampMs: epochMilliseconds()))
      sent += 1
      let due = start + .seconds(Double(sent) * interval)
      try drain(timeoutMs: 0)
      if ContinuousClock.now < due {
        Thread.sleep(forTimeInterval: (due - ContinuousClock.now).seconds)
      }
    }
    try producer.flush()
    let deadline = ContinuousClock.now + .seconds(30)
    while !pending.isEmpty && ContinuousClock.now < deadline { try drain(timeoutMs: 100) }
    try consumer.commit()
    return Result(
      apps: apps, sent: sent, received: received, missing: pending.count, latenciesMs: latencies,
      seconds: (ContinuousClock.now - start).seconds)
  }
}

func epochMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

/// The q-quantile of sorted values (nearest rank).
func percentile(_ sorted: [Double], _ q: Double) -> Double {
  guard !sorted.isEmpty else { return .nan }
  let rank = Int((Double(sorted.count) * q).rounded(.up))
  return sorted[min(sorted.count, max(rank, 1)) - 1]
}
