import Foundation
import Kafka

/// Producer and consumer throughput of our Kafka layer beside kcat's, on one embedded broker.
///
/// Both sides use the same librdkafka, the same broker, the same producer settings
/// (`sharedProperties`) and topics of the same shape; rounds alternate which side goes first.
struct KafkaBenchmark {
  struct Settings {
    var messages: Int
    var size: Int
    var rounds: Int
    var kcat: String
  }

  struct Sample {
    var oursProduce: Double
    var kcatProduce: Double
    var oursConsume: Double
    var oursConsumeSteady: Double
    var kcatConsume: Double
    var kcatGroupConsume: Double
  }

  struct Report {
    /// The consumer settings kcat runs with: our consumer's defaults (see
    /// `KafkaConsumerConfiguration.prefetchMessages` and `.fetchWaitMaxMs`).
    static let sharedConsumerProperties: [(String, String)] = [
      ("queued.min.messages", "1000000"), ("fetch.wait.max.ms", "10"),
    ]

    let settings: Settings
    let samples: [Sample]

    func median(_ key: KeyPath<Sample, Double>) -> Double {
      Self.median(samples.map { $0[keyPath: key] })
    }

    /// The median of the per-round ratios: each round pairs both sides close in time, so this is
    /// steadier on a noisy machine than the ratio of the two medians.
    func medianRatio(_ ours: KeyPath<Sample, Double>, _ theirs: KeyPath<Sample, Double>) -> Double {
      Self.median(samples.map { $0[keyPath: ours] / $0[keyPath: theirs] })
    }

    static func median(_ values: [Double]) -> Double {
      let sorted = values.sorted()
      return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    var table: String {
      let rows: [(String, KeyPath<Sample, Double>, KeyPath<Sample, Double>)] = [
        ("produce", \.oursProduce, \.kcatProduce),
        ("consume vs kcat -C (whole run)", \.oursConsume, \.kcatConsume),
        ("consume vs kcat -G (after the first message)", \.oursConsumeSteady, \.kcatGroupConsume),
      ]
      var text =
        "bench kafka: \(settings.messages) messages of \(settings.size) B, 4 partitions (produce), "
      text += "median of \(settings.rounds) round(s), embedded broker\n"
      text +=
        "| path | harmonybatch msg/s | kcat msg/s | ratio (median of rounds) | ratio range |\n"
      text += "|---|---:|---:|---:|---:|\n"
      for (name, ours, theirs) in rows {
        let ratios = samples.map { $0[keyPath: ours] / $0[keyPath: theirs] }
        text += "| \(name) | \(Int(median(ours))) | \(Int(median(theirs))) | "
        text += String(
          format: "%.2f | %.2f–%.2f |\n", medianRatio(ours, theirs), ratios.min() ?? 0,
          ratios.max() ?? 0)
      }
      return text
    }

    var json: Data {
      let object: [String: Any] = [
        "suite": "kafka", "messages": settings.messages, "size": settings.size,
        "rounds": settings.rounds,
        "produce": [
          "ours_msgs_per_s": median(\.oursProduce), "kcat_msgs_per_s": median(\.kcatProduce),
          "ratio": medianRatio(\.oursProduce, \.kcatProduce),
        ],
        "consume": [
          "ours_msgs_per_s": median(\.oursConsume), "kcat_msgs_per_s": median(\.kcatConsume),
          "ours_steady_msgs_per_s": median(\.oursConsumeSteady),
          "kcat_group_steady_msgs_per_s": median(\.kcatGroupConsume),
          "ratio": medianRatio(\.oursConsume, \.kcatConsume),
          "ratio_group_steady": medianRatio(\.oursConsumeSteady, \.kcatGroupConsume),
        ],
        "samples": samples.map {
          [
            "ours_produce": $0.oursProduce, "kcat_produce": $0.kcatProduce,
            "ours_consume": $0.oursConsume, "kcat_consume": $0.kcatConsume,
            "ours_consume_steady": $0.oursConsumeSteady,
            "kcat_group_consume_steady": $0.kcatGroupConsume,
          ]
        },
      ]
      return try! JSONSerialization.data(
        withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
  }

  /// The producer settings both sides run with (our production defaults).
  static let sharedProperties: [(String, String)] = [
    ("linger.ms", "5"), ("acks", "all"), ("enable.idempotence", "true"),
  ]

  /// The consumer settings kcat runs with: our consumer's defaults (see
  /// `KafkaConsumerConfiguration.prefetchMessages` and `.fetchWaitMaxMs`).
  static let sharedConsumerProperties: [(String, String)] = [
    ("queued.min.messages", "1000000"), ("fetch.wait.max.ms", "10"),
  ]

  let settings: Settings

  static func findKcat() throws -> String {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(
      separator: ":")
    {
      let path = "\(directory)/kcat"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw UsageError(
      "kcat not found on PATH; install it with 'apt-get install kcat' or pass --kcat PATH")
  }

  func run() throws -> Report {
    // The broker runs in a process of its own, as kcat does: a client sharing the broker's
    // process would also share its allocator and threads, and measure that instead.
    let consumeTopic = "bench.consume"
    let consumePartitions = max(4, (settings.messages * (settings.size + 80)) / (4 << 20) + 1)
    let broker = try BrokerProcess(topics: [consumeTopic], partitions: consumePartitions)
    defer { broker.stop() }
    let payloadFile = FileManager.default.temporaryDirectory.appendingPathComponent(
      "harmonybatch-bench-\(getpid()).txt")
    let value = Array(
      String(repeating: "harmonybatch-", count: settings.size / 13 + 1).utf8.prefix(settings.size))
    try writePayloadFile(payloadFile, line: value)
    defer { try? FileManager.default.removeItem(at: payloadFile) }
    // Both consumers read the same prepared topic, spread evenly over enough partitions that
    // the embedded broker (5 MiB retained per partition) keeps every message.
    try fill(
      broker.bootstrapServers, topic: consumeTopic, partitions: consumePartitions, value: value)
    var samples: [Sample] = []
    for round in 0..<settings.rounds {
      let ours = "bench.r\(round).ours"
      let theirs = "bench.r\(round).kcat"
      var sample = Sample(
        oursProduce: 0, kcatProduce: 0, oursConsume: 0, oursConsumeSteady: 0, kcatConsume: 0,
        kcatGroupConsume: 0)
      if round % 2 == 0 {
        sample.oursProduce = try produceOurs(broker.bootstrapServers, topic: ours, value: value)
        sample.kcatProduce = try produceKcat(
          broker.bootstrapServers, topic: theirs, file: payloadFile)
        (sample.oursConsume, sample.oursConsumeSteady) = try consumeOurs(
          broker.bootstrapServers, topic: consumeTopic, partitions: consumePartitions)
        sample.kcatConsume = try consumeKcat(broker.bootstrapServers, topic: consumeTopic)
        sample.kcatGroupConsume = try consumeKcatGroup(broker.bootstrapServers, topic: consumeTopic)
      } else {
        sample.kcatProduce = try produceKcat(
          broker.bootstrapServers, topic: theirs, file: payloadFile)
        sample.oursProduce = try produceOurs(broker.bootstrapServers, topic: ours, value: value)
        sample.kcatConsume = try consumeKcat(broker.bootstrapServers, topic: consumeTopic)
        sample.kcatGroupConsume = try consumeKcatGroup(broker.bootstrapServers, topic: consumeTopic)
        (sample.oursConsume, sample.oursConsumeSteady) = try consumeOurs(
          broker.bootstrapServers, topic: consumeTopic, partitions: consumePartitions)
      }
      Console.err(
        "bench kafka round \(round + 1)/\(settings.rounds): produce \(Int(sample.oursProduce)) vs \(Int(sample.kcatProduce)) msg/s, consume \(Int(sample.oursConsume)) vs \(Int(sample.kcatConsume)) (-C, whole run), \(Int(sample.oursConsumeSteady)) vs \(Int(sample.kcatGroupConsume)) (-G, after the first) msg/s"
      )
      samples.append(sample)
    }
    return Report(settings: settings, samples: samples)
  }

  private func writePayloadFile(_ url: URL, line: [UInt8]) throws {
    var chunk: [UInt8] = []
    chunk.reserveCapacity((line.count + 1) * 10_000)
    guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
      throw UsageError("bench: cannot write \(url.path)")
    }
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    var remaining = settings.messages
    while remaining > 0 {
      chunk.removeAll(keepingCapacity: true)
      for _ in 0..<min(remaining, 10_000) { chunk += line + [10] }
      remaining -= min(remaining, 10_000)
      try handle.write(contentsOf: chunk)
    }
  }

  private func produceOurs(_ bootstrap: String, topic: String, value: [UInt8]) throws -> Double {
    var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
    for (key, v) in Self.sharedProperties { configuration.common.properties[key] = v }
    let producer = try KafkaProducer(configuration: configuration)
    let message = KafkaProducerMessage(topic: topic, value: value)
    let start = ContinuousClock.now
    for _ in 0..<settings.messages { try producer.enqueue(message) }
    try producer.flush(timeoutMs: 600_000)
    let elapsed = ContinuousClock.now - start
    guard producer.delivered == settings.messages, producer.failed == 0 else {
      throw KafkaError(
        .delivery, "bench: \(producer.failed) of \(settings.messages) messages failed")
    }
    return Double(settings.messages) / elapsed.seconds
  }

  private func produceKcat(_ bootstrap: String, topic: String, file: URL) throws -> Double {
    let arguments =
      ["-P", "-b", bootstrap, "-t", topic, "-l"]
      + Self.sharedProperties.flatMap { ["-X", "\($0.0)=\($0.1)"] } + [file.path]
    let elapsed = try runKcat(arguments)
    return Double(settings.messages) / elapsed
  }

  /// Writes the consume benchmark's input: `messages` values, round-robin over the partitions.
  private func fill(_ bootstrap: String, topic: String, partitions: Int, value: [UInt8]) throws {
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(bootstrapServers: bootstrap))
    for i in 0..<settings.messages {
      try producer.enqueue(
        KafkaProducerMessage(topic: topic, partition: Int32(i % partitions), value: value))
    }
    try producer.flush(timeoutMs: 600_000)
    guard producer.delivered == settings.messages else {
      throw KafkaError(
        .delivery, "bench: only \(producer.delivered) of \(settings.messages) messages written")
    }
  }

  /// Two rates: over the whole run (from creating the consumer to the last message, as kcat's
  /// process time), and after the first message (the messages after the first, over the time from
  /// the first to the last).
  private func consumeOurs(_ bootstrap: String, topic: String, partitions: Int) throws -> (
    Double, Double
  ) {
    let start = ContinuousClock.now
    var configuration = KafkaConsumerConfiguration(bootstrapServers: bootstrap, groupID: nil)
    configuration.common.logger = .standardError(minimumLevel: .error)
    let consumer = try KafkaConsumer(configuration: configuration)
    defer { consumer.close() }
    let deadline = ContinuousClock.now + .seconds(600)
    try consumer.assign(
      (0..<partitions).map { (KafkaTopicPartition(topic: topic, partition: Int32($0)), .beginning) }
    )
    var received = 0
    var bytes = 0
    var first = ContinuousClock.now
    while received < settings.messages {
      if case .record(let record) = try consumer.poll(timeoutMs: 1000) {
        if received == 0 { first = .now }
        received += 1
        bytes += record.value?.count ?? 0
      } else if ContinuousClock.now > deadline {
        throw KafkaError(
          .timeout, "bench: consumed only \(received) of \(settings.messages) messages")
      }
    }
    let end = ContinuousClock.now
    guard bytes == received * settings.size else {
      throw KafkaError(.consume, "bench: consumed values of the wrong size")
    }
    return (Double(received) / (end - start).seconds, Double(received - 1) / (end - first).seconds)
  }

  /// kcat's simple consumer over the whole run: its process time, start to exit.
  private func consumeKcat(_ bootstrap: String, topic: String) throws -> Double {
    // -c: exit after that many messages; -q: no status lines; the values go to /dev/null.
    let elapsed = try runKcat(
      [
        "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-q", "-f", "%s\n", "-c",
        String(settings.messages),
      ] + Self.sharedConsumerProperties.flatMap { ["-X", "\($0.0)=\($0.1)"] })
    return Double(settings.messages) / elapsed
  }

  /// kcat as a member of a fresh consumer group (`-G`), librdkafka's high-level consumer, after
  /// the first message: the time to read all messages less the time to read the first (process
  /// start, group join, offset look-ups), for the messages after the first.
  private func consumeKcatGroup(_ bootstrap: String, topic: String) throws -> Double {
    func run(_ count: Int) throws -> Double {
      let group = "bench-\(UInt32.random(in: 0...UInt32.max))"
      return try runKcat(
        [
          "-b", bootstrap, "-G", group, "-X", "auto.offset.reset=earliest", "-q", "-f", "%s\n",
          "-c",
          String(count),
        ] + Self.sharedConsumerProperties.flatMap { ["-X", "\($0.0)=\($0.1)"] } + [topic])
    }
    let startUp = try run(1)
    let all = try run(settings.messages)
    return Double(settings.messages - 1) / max(all - startUp, 1e-6)
  }

  private func runKcat(_ arguments: [String]) throws -> Double {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: settings.kcat)
    process.arguments = arguments
    process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    let start = ContinuousClock.now
    try process.run()
    process.waitUntilExit()
    let elapsed = ContinuousClock.now - start
    guard process.terminationStatus == 0 else {
      throw KafkaError(
        .delivery,
        "bench: kcat \(arguments.prefix(1).joined()) exited with \(process.terminationStatus)")
    }
    return elapsed.seconds
  }
}

/// `harmonybatch broker` as a child process, for benchmarks.
final class BrokerProcess {
  let bootstrapServers: String
  private let process = Process()

  init(topics: [String], partitions: Int) throws {
    // This very binary: `harmonybatch broker`.
    process.executableURL = URL(
      fileURLWithPath: Bundle.main.executablePath ?? ProcessInfo.processInfo.arguments[0])
    process.arguments = [
      "broker", "--topics", topics.joined(separator: ","), "--partitions", String(partitions),
      "--log-level", "error",
    ]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
    var line = Data()
    while true {
      let byte = try out.fileHandleForReading.read(upToCount: 1) ?? Data()
      if byte.isEmpty || byte == Data([10]) { break }
      line.append(byte)
    }
    bootstrapServers = String(decoding: line, as: UTF8.self)
    guard bootstrapServers.contains(":") else {
      throw KafkaError(.broker, "bench: the broker process did not start")
    }
  }

  func stop() {
    process.terminate()
    process.waitUntilExit()
  }
}
