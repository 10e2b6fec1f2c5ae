import Arguments
import Foundation
import Kafka
import Operations
import PipelineCore

/// Producer and consumer throughput of our Kafka layer beside kcat's, on one embedded broker.
///
/// Both sides use the same librdkafka, the same broker, the same producer settings
/// (`sharedProperties`) and topics of the same shape; rounds alternate which side goes first.
public struct KafkaBenchmark {
  public struct Settings: Sendable {
    public var messages: Int
    public var size: Int
    public var rounds: Int
    public var kcat: String

    public init(messages: Int, size: Int, rounds: Int, kcat: String) {
      self.messages = messages
      self.size = size
      self.rounds = rounds
      self.kcat = kcat
    }
  }

  public struct Sample: Sendable {
    public var oursProduce = 0.0
    public var kcatProduce = 0.0
    /// Values only (as kcat's `-f '%s\n'`): our simple-consumer reader without headers.
    public var oursConsume = 0.0
    public var oursConsumeSteady = 0.0
    public var kcatConsume = 0.0
    public var kcatGroupConsume = 0.0
    /// Headers and values (kcat's `-f '%h %s\n'`).
    public var oursConsumeHeaders = 0.0
    public var kcatConsumeHeaders = 0.0
    /// Our group consumer (`poll(maxEvents:)`), after the first message.
    public var oursGroupConsumeSteady = 0.0
    /// CPU seconds of our reading thread in the values run.
    public var oursConsumeThreadCPU = 0.0
  }

  public struct Report: Sendable {
    /// The consumer settings kcat runs with: our consumer's defaults (see
    /// `KafkaConsumerConfiguration.prefetchMessages` and `.fetchWaitMax`).
    public static let sharedConsumerProperties: [(String, String)] = [
      ("queued.min.messages", "1000000"), ("fetch.wait.max.ms", "10"),
    ]

    public let settings: Settings
    public let samples: [Sample]

    public func median(_ key: KeyPath<Sample, Double>) -> Double {
      Self.median(samples.map { $0[keyPath: key] })
    }

    /// The median of the per-round ratios: each round pairs both sides close in time, so this is
    /// steadier on a noisy machine than the ratio of the two medians.
    public func medianRatio(_ ours: KeyPath<Sample, Double>, _ theirs: KeyPath<Sample, Double>)
      -> Double
    {
      Self.median(samples.map { $0[keyPath: ours] / $0[keyPath: theirs] })
    }

    public static func median(_ values: [Double]) -> Double {
      Quantile.median(values.sorted())
    }

    /// The compared paths: a name, our rate, kcat's rate.
    public static var paths: [(String, KeyPath<Sample, Double>, KeyPath<Sample, Double>)] {
      [
        ("produce", \.oursProduce, \.kcatProduce),
        ("consume values vs kcat -C (whole run)", \.oursConsume, \.kcatConsume),
        (
          "consume values vs kcat -G (after the first message)", \.oursConsumeSteady,
          \.kcatGroupConsume
        ),
        (
          "consume headers + values vs kcat -C -f '%h %s' (whole run)", \.oursConsumeHeaders,
          \.kcatConsumeHeaders
        ),
        (
          "group consumer vs kcat -G (after the first message)", \.oursGroupConsumeSteady,
          \.kcatGroupConsume
        ),
      ]
    }

    /// Which allocator kcat runs with: glibc's, unless one is preloaded into the children.
    public static var kcatAllocator: String {
      let preload = ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? ""
      return preload.isEmpty ? "glibc's malloc" : "LD_PRELOAD=\(preload)"
    }

    public var table: String {
      var text =
        "bench kafka: \(settings.messages) messages of \(settings.size) B, 4 partitions (produce), "
      text += "median of \(settings.rounds) round(s), embedded broker; "
      text += "ours allocates with \(Allocator.description), kcat with \(Self.kcatAllocator)\n"
      text +=
        "| path | harmonybatch msg/s | kcat msg/s | ratio (median of rounds) | ratio range |\n"
      text += "|---|---:|---:|---:|---:|\n"
      for (name, ours, theirs) in Self.paths {
        let ratios = samples.map { $0[keyPath: ours] / $0[keyPath: theirs] }
        text += "| \(name) | \(Int(median(ours))) | \(Int(median(theirs))) | "
        text += String(
          format: "%.2f | %.2f–%.2f |\n", medianRatio(ours, theirs), ratios.min() ?? 0,
          ratios.max() ?? 0)
      }
      text += String(
        format:
          "ours, values run: the reading thread used %.3f s of CPU per million records (median; "
          + "librdkafka's fetch thread not counted)\n",
        median(\.oursConsumeThreadCPU) * 1e6 / Double(settings.messages))
      return text
    }

    public var json: Data {
      let object: [String: Any] = [
        "suite": "kafka", "messages": settings.messages, "size": settings.size,
        "rounds": settings.rounds, "allocator": Allocator.description,
        "kcat_allocator": Self.kcatAllocator,
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
          "ours_with_headers_msgs_per_s": median(\.oursConsumeHeaders),
          "kcat_with_headers_msgs_per_s": median(\.kcatConsumeHeaders),
          "ratio_with_headers": medianRatio(\.oursConsumeHeaders, \.kcatConsumeHeaders),
          "ours_group_steady_msgs_per_s": median(\.oursGroupConsumeSteady),
          "ratio_our_group_vs_kcat_group": medianRatio(
            \.oursGroupConsumeSteady, \.kcatGroupConsume),
          "ours_reading_thread_cpu_s": median(\.oursConsumeThreadCPU),
        ],
        "samples": samples.map {
          [
            "ours_produce": $0.oursProduce, "kcat_produce": $0.kcatProduce,
            "ours_consume": $0.oursConsume, "kcat_consume": $0.kcatConsume,
            "ours_consume_steady": $0.oursConsumeSteady,
            "kcat_group_consume_steady": $0.kcatGroupConsume,
            "ours_consume_headers": $0.oursConsumeHeaders,
            "kcat_consume_headers": $0.kcatConsumeHeaders,
            "ours_group_consume_steady": $0.oursGroupConsumeSteady,
            "ours_consume_thread_cpu_s": $0.oursConsumeThreadCPU,
          ]
        },
      ]
      return try! JSONSerialization.data(
        withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
  }

  /// The producer settings both sides run with (our production defaults).
  public static let sharedProperties: [(String, String)] = [
    ("linger.ms", "5"), ("acks", "all"), ("enable.idempotence", "true"),
  ]

  /// The consumer settings kcat runs with: our consumer's defaults (see
  /// `KafkaConsumerConfiguration.prefetchMessages` and `.fetchWaitMax`).
  public static let sharedConsumerProperties: [(String, String)] = [
    ("queued.min.messages", "1000000"), ("fetch.wait.max.ms", "10"),
  ]

  public let settings: Settings

  public init(settings: Settings) { self.settings = settings }

  public static func findKcat() throws -> String {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(
      separator: ":")
    {
      let path = "\(directory)/kcat"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw UsageError(
      "kcat not found on PATH; install it with 'apt-get install kcat' or pass --kcat PATH")
  }

  public func run() throws -> Report {
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
      var sample = Sample()
      let bootstrap = broker.bootstrapServers
      // Each path pairs the two sides back to back, first ours then kcat's or the other way
      // round by round, so each per-round ratio compares runs close in time.
      let pairs: [(ours: () throws -> Void, theirs: () throws -> Void)] = [
        (
          { sample.oursProduce = try produceOurs(bootstrap, topic: ours, value: value) },
          {
            sample.kcatProduce = try produceKcat(bootstrap, topic: theirs, file: payloadFile)
          }
        ),
        (
          {
            (sample.oursConsume, sample.oursConsumeSteady, sample.oursConsumeThreadCPU) =
              try consumeOurs(
                bootstrap, topic: consumeTopic, partitions: consumePartitions,
                readsHeaders: false)
          },
          { sample.kcatConsume = try consumeKcat(bootstrap, topic: consumeTopic, format: "%s\n") }
        ),
        (
          {
            sample.oursConsumeHeaders = try consumeOurs(
              bootstrap, topic: consumeTopic, partitions: consumePartitions, readsHeaders: true
            ).whole
          },
          {
            sample.kcatConsumeHeaders = try consumeKcat(
              bootstrap, topic: consumeTopic, format: "%h %s\n")
          }
        ),
        (
          {
            sample.oursGroupConsumeSteady = try consumeOursInGroup(bootstrap, topic: consumeTopic)
          },
          { sample.kcatGroupConsume = try consumeKcatGroup(bootstrap, topic: consumeTopic) }
        ),
      ]
      for pair in pairs {
        if round % 2 == 0 {
          try pair.ours()
          try pair.theirs()
        } else {
          try pair.theirs()
          try pair.ours()
        }
      }
      Console.err(
        "bench kafka round \(round + 1)/\(settings.rounds), msg/s ours vs kcat: "
          + Report.paths.map {
            "\($0.0) \(Int(sample[keyPath: $0.1])) vs \(Int(sample[keyPath: $0.2]))"
          }
          .joined(separator: "; "))
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

  /// Our reader without a group (librdkafka's simple consumer, as `kcat -C`), taking records in
  /// bulk (`poll(maxEvents:)`). Two rates: over the whole run (from creating the consumer to the
  /// last message, as kcat's process time), and after the first message (the messages after the
  /// first, over the time from the first to the last).
  private func consumeOurs(
    _ bootstrap: String, topic: String, partitions: Int, readsHeaders: Bool
  ) throws -> (whole: Double, steady: Double, threadCPU: Double) {
    let start = ContinuousClock.now
    var configuration = KafkaConsumerConfiguration(bootstrapServers: bootstrap, groupID: nil)
    configuration.common.logger = .standardError(minimumLevel: .error)
    configuration.readsHeaders = readsHeaders
    let consumer = try KafkaConsumer(configuration: configuration)
    defer { consumer.close() }
    try consumer.assign(
      (0..<partitions).map { (KafkaTopicPartition(topic: topic, partition: Int32($0)), .beginning) }
    )
    return try drain(consumer, start: start)
  }

  /// Our group consumer in a fresh group (what the pipeline's stages use), after the first
  /// message, as `consumeKcatGroup`.
  private func consumeOursInGroup(_ bootstrap: String, topic: String) throws -> Double {
    var configuration = KafkaConsumerConfiguration(
      bootstrapServers: bootstrap, groupID: "bench-\(UInt32.random(in: 0...UInt32.max))")
    configuration.common.logger = .standardError(minimumLevel: .error)
    configuration.commitPolicy = .manual
    let consumer = try KafkaConsumer(configuration: configuration)
    defer { consumer.close() }
    try consumer.subscribe(topics: [topic])
    return try drain(consumer, start: .now).steady
  }

  /// Reads `settings.messages` records of `settings.size` bytes.
  private func drain(_ consumer: KafkaConsumer, start: ContinuousClock.Instant) throws -> (
    whole: Double, steady: Double, threadCPU: Double
  ) {
    let cpuBefore = Self.threadCPUSeconds()
    let deadline = ContinuousClock.now + .seconds(600)
    var received = 0
    var bytes = 0
    var first = ContinuousClock.now
    while received < settings.messages {
      let events = try consumer.poll(maxEvents: 10_000, timeoutMs: 1000)
      for case .record(let record) in events {
        if received == 0 { first = .now }
        received += 1
        bytes += record.value?.count ?? 0
      }
      if events.isEmpty && ContinuousClock.now > deadline {
        throw KafkaError(
          .timeout, "bench: consumed only \(received) of \(settings.messages) messages")
      }
    }
    let end = ContinuousClock.now
    guard bytes == received * settings.size else {
      throw KafkaError(.consume, "bench: consumed values of the wrong size")
    }
    return (
      Double(received) / (end - start).seconds, Double(received - 1) / (end - first).seconds,
      Self.threadCPUSeconds() - cpuBefore
    )
  }

  /// CPU time (user + system) of the calling thread: the reading thread, where librdkafka's
  /// per-record work and ours happen (its fetch thread is not counted).
  public static func threadCPUSeconds() -> Double {
    var usage = rusage()
    let thread: Int32 = 1  // RUSAGE_THREAD: Linux's, a GNU extension Swift does not import
    guard getrusage(thread, &usage) == 0 else { return .nan }
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
      + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
  }

  /// kcat's simple consumer over the whole run: its process time, start to exit.
  private func consumeKcat(_ bootstrap: String, topic: String, format: String) throws -> Double {
    // -c: exit after that many messages; -q: no status lines; the output goes to /dev/null.
    let elapsed = try runKcat(
      [
        "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-q", "-f", format, "-c",
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
