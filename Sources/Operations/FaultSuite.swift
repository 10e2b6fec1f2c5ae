import Foundation
import Kafka
import Pipeline
import PipelineCore
import Planner
import Synchronization

/// The fault suite: the services as processes (controller, router and batcher, CPU and GPU
/// workers) on an embedded broker this process owns, a steady stream of requests, and — for the
/// fault phase — a fault every few seconds in turn: SIGKILL of each process kind and a restart,
/// the broker down and up, request errors, a slow network; bad records on every topic all along.
/// Then a soak with steady load and no faults. It accounts for every request id (one result, dead
/// letter or late record — exactly one), checks every service is running or exited saying why,
/// watches for stalls, and samples memory.
// @unchecked: driven from one thread; the state other threads touch is locked.
public final class FaultSuite: @unchecked Sendable {
  public struct Settings: Sendable {
    /// The length of the fault phase (`faults --fault-seconds`).
    /// Default: `defaultFaultPhase`.
    public var faultPhase = defaultFaultPhase
    /// The length of the soak after it, load and no faults (`faults --soak-seconds`).
    /// Default: `defaultSoak`.
    public var soak = defaultSoak
    public var rate = 30.0
    /// The time between faults (`faults --fault-every`).
    /// Default: `defaultFaultEvery`.
    public var faultEvery = defaultFaultEvery
    public var seed: UInt64 = 1
    /// `faultPhase` when none is given.
    /// Default: 1500 s (25 minutes).
    public static let defaultFaultPhase: Duration = .seconds(1_500)
    /// `soak` when none is given.
    /// Default: 300 s.
    public static let defaultSoak: Duration = .seconds(300)
    /// `faultEvery` when none is given.
    /// Default: 20 s.
    public static let defaultFaultEvery: Duration = .seconds(20)

    public init() {}
  }

  public struct Report: Sendable {
    public var faults: [String: Int] = [:]
    public var sent = 0
    /// Requests the suite's producer would not take (its queue full): never sent.
    public var notSent = 0
    /// Requests sent again after the suite's producer failed to deliver them.
    public var resent = 0
    public var firstDeliveryError: String?
    public var poisonSent = 0
    public var lost: [String] = []
    public var duplicated: [String] = []
    /// Requests whose one result the broker stored twice: the same record, byte for byte, from
    /// one produce its producer retried when the broker went away. The suite's producers are not
    /// idempotent (librdkafka 2.0.2's mock broker loses an idempotent producer's messages after
    /// an injected error); an idempotent producer on a real broker stores it once. Reported, not
    /// a failure: the request ran once.
    public var storedTwice: [String] = []
    public var poisonWrong: [String] = []
    public var byOutcome: [String: Int] = [:]
    /// Requests sent during the soak, and how many of them ended as results within their SLO.
    public var soakSent = 0
    public var soakResults = 0
    public var stalls: [String] = []
    /// Who wrote the plan in force at the end (a hostile tenant published plans of its own).
    public var planWriter: String?
    /// Reply topics a hostile tenant invented that came to exist (none may).
    public var inventedTopics: [String] = []
    public var unexpectedExits: [String] = []
    public var silentExits: [String] = []
    public var memory: [(service: String, growthKB: Int, seconds: Double, lastKB: Int)] = []
    /// When each fault was injected (seconds since the start), to place a failure.
    public var timeline: [String] = []
    /// Where the first lost requests were last seen.
    public var traces: [String] = []
    public var seconds = 0.0

    public var passed: Bool {
      lost.isEmpty && duplicated.isEmpty && poisonWrong.isEmpty && stalls.isEmpty
        && unexpectedExits.isEmpty && inventedTopics.isEmpty
        && (planWriter?.hasPrefix("controller@") ?? false)
        && memory.allSatisfy { $0.growthKB <= FaultSuite.memoryBudgetKB }
    }
  }

  /// Requests sent this long after the last fault count as the soak's (a killed stage is back
  /// after its group's session timeout, 10 s).
  /// Default: 15 s.
  public static let settle: Duration = .seconds(15)

  /// Growth of resident memory over the soak that still counts as flat.
  public static let memoryBudgetKB = 32 * 1024

  public let settings: Settings
  private let broker: EmbeddedBroker
  private let topics = PipelineTopics()
  private let directory: String
  private var services: [ServiceProcess] = []
  private let sent = Mutex<[String: Double]>([:])
  private let poison = Mutex<[String: String]>([:])
  private let poisonSentAt = Mutex<[String: Double]>([:])
  private let outcomes = Mutex<[String: [String]]>([:])
  /// Each outcome's value, hashed (a result's value holds its times to the microsecond: two
  /// runs never write the same bytes).
  private let fingerprints = Mutex<[String: [Int]]>([:])
  /// Where each outcome was read and the input it names (to explain a duplicate).
  private let places = Mutex<[String: [String]]>([:])
  private let lastOutcome = Mutex<Double>(0)
  private let producing = Atomic<Bool>(true)
  /// Requests the suite's own producer would not take (never sent, so never owed an outcome).
  private let refusedByProducer = Atomic<Int>(0)
  private let resent = Atomic<Int>(0)
  private let firstDeliveryError = Mutex<String?>(nil)
  /// Where the broker put each request (its delivery report), for tracing lost ones.
  private let delivered = Mutex<[String: String]>([:])
  private let interrupt: StopFlag
  private var report = Report()
  private var random: SeededRandom
  private var brokerDownUntil: Double?
  private var quietUntil = 0.0

  public init(settings: Settings, interrupt: StopFlag) throws {
    self.settings = settings
    self.interrupt = interrupt
    random = SeededRandom(seed: settings.seed)
    broker = try EmbeddedBroker(brokers: 1, logger: .silent)
    try broker.createTopics(topics.specs(partitions: 4))
    directory =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-faults-\(getpid())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  }

  /// The paper's Table I apps on VGG19, scaled to the suite's rate.
  public var apps: [App] {
    let base = [
      App(id: "a1", slo: 0.5, rate: 5), App(id: "a2", slo: 0.8, rate: 10),
      App(id: "a3", slo: 1.0, rate: 20),
    ]
    let scale = settings.rate / 35
    return base.map { App(id: $0.id, slo: $0.slo, rate: $0.rate * scale) }
  }

  /// When the suite started; every time it keeps is seconds since.
  private let started = ContinuousClock.now

  public func run(progress: (String) -> Void) throws -> Report {
    func elapsed() -> Double { (ContinuousClock.now - started).seconds }
    let appsPath = directory + "/apps.json"
    let appsJSON =
      "{\"apps\":["
      + apps.map { "{\"id\":\"\($0.id)\",\"slo_ms\":\(Int($0.slo * 1000)),\"rate\":\($0.rate)}" }
      .joined(separator: ",") + "]}"
    try Data(appsJSON.utf8).write(to: URL(fileURLWithPath: appsPath))
    let bootstrap = broker.bootstrapServers
    // Not idempotent: librdkafka 2.0.2's mock broker acknowledges an idempotent producer's
    // message that it did not store after an injected produce error (a delivery report without
    // an offset; 2 of 600 messages in a probe, every kind of produce error). A real broker does
    // not; here the suite would count those messages lost.
    let common = [
      "--bootstrap", bootstrap, "--unreachable-timeout", "300", "--property",
      "enable.idempotence=false",
    ]
    // The services run a copy of this binary: a rebuild while the suite runs (it replaces the
    // file) must not leave the restarts without a program, or mix two versions.
    let executable = directory + "/harmonybatch"
    try? FileManager.default.removeItem(atPath: executable)
    try FileManager.default.copyItem(atPath: ServiceProcess.current, toPath: executable)
    services = [
      ServiceProcess(
        name: "controller",
        arguments: ["controller", "--model", "VGG19", "--apps", appsPath, "--period", "20"]
          + common,
        directory: directory, executable: executable),
      ServiceProcess(
        name: "batcher", arguments: ["batcher", "--model", "VGG19"] + common, directory: directory,
        executable: executable),
      ServiceProcess(
        name: "worker-cpu",
        arguments: [
          "worker", "--kind", "cpu", "--backend", "emulated-cpu", "--model", "VGG19",
          "--concurrency", "16",
        ] + common, directory: directory, executable: executable),
      ServiceProcess(
        name: "worker-gpu",
        arguments: ["worker", "--kind", "gpu", "--model", "VGG19", "--concurrency", "16"] + common,
        directory: directory, executable: executable),
    ]
    for service in services { try service.start() }
    defer {
      for service in services { service.stop(timeout: 5) }
      try? FileManager.default.removeItem(atPath: executable)
    }
    progress(
      "fault suite: broker at \(bootstrap); services started; logs in \(directory); "
        + "times are seconds since \(ISO8601DateFormatter().string(from: Date()))")
    // The first plan and every stage holding partitions before requests count.
    Thread.sleep(forTimeInterval: 8)

    let reader = try startReading(bootstrap: bootstrap)
    let producer = try startProducing(bootstrap: bootstrap)
    var poisonRecords = PoisonRecords(
      topics: topics, random: SeededRandom(seed: settings.seed &+ 7))
    let injector = try KafkaProducer(
      configuration: {
        var configuration = KafkaProducerConfiguration(
          common: KafkaConfiguration(bootstrapServers: bootstrap))
        configuration.common.logger = .silent
        configuration.common.properties["message.max.bytes"] = "3000000"
        return configuration
      }())
    defer { _ = injector.close(timeoutMs: 5000) }

    let faultEnd = settings.faultPhase.seconds
    let end = faultEnd + settings.soak.seconds
    var nextFault = settings.faultEvery.seconds
    var nextPoison = 1.0
    var nextSample = 0.0
    var poisonCount = 0
    var faultIndex = 0
    var soakStarted = false
    var lastReport = 0.0
    while elapsed() < end, !interrupt.isSet {
      let now = elapsed()
      // Services that ended on their own: noted (with whether they said why) and restarted.
      for service in services where service.checkExited() {
        let exit = service.exits.last!
        report.unexpectedExits.append("\(service.name) exited \(exit.status) at \(Int(now)) s")
        if !exit.said { report.silentExits.append("\(service.name) at \(Int(now)) s") }
        try? service.start()
      }
      if let until = brokerDownUntil, now >= until {
        try broker.setBrokerUp(1)
        brokerDownUntil = nil
      }
      if now >= nextPoison {
        nextPoison += 1
        poisonCount += 1
        if poisonCount % 2 == 0 {
          let id = "p-\(poisonCount)"
          let (message, code) = poisonRecords.request(poisonCount / 2, id: id)
          poison.withLock { $0[id] = code }
          poisonSentAt.withLock { $0[id] = now }
          try? injector.enqueue(message)
        } else {
          let kind = poisonCount / 2
          // A bad plan is the last good one made invalid, so it needs the plan in force.
          let plan =
            PoisonRecords.needsPlan(kind)
            ? try? PlanFollower(common: quiet(bootstrap), topic: topics.plans, log: .silent(""))
              .catchUp(timeout: .seconds(2)) : nil
          // Like a record the broker does not take, one that cannot be made is not sent.
          try? injector.enqueue(try poisonRecords.internalRecord(kind, plan: plan).0)
        }
      }
      if now < faultEnd, now >= nextFault {
        nextFault += settings.faultEvery.seconds
        inject(faultIndex, now: now)
        faultIndex += 1
      }
      if now >= faultEnd, !soakStarted {
        soakStarted = true
        if brokerDownUntil != nil { try broker.setBrokerUp(1) }
        brokerDownUntil = nil
        try broker.setRoundTripTime(broker: 1, milliseconds: 0)
        progress("fault suite: soak from \(Int(now)) s")
      }
      if soakStarted, now >= nextSample {
        nextSample = now + 5
        for service in services { service.sampleMemory(warmUp: 0) }
      }
      checkStall(now: now)
      if now - lastReport >= 60 {
        lastReport = now
        let counts = sent.withLock { $0.count }
        let ended = outcomes.withLock { $0.count }
        progress(
          "fault suite: \(Int(now)) s, \(counts) requests sent, \(ended) ended, "
            + "\(report.faults.values.reduce(0, +)) faults")
      }
      Thread.sleep(forTimeInterval: 0.25)
    }
    producing.store(false, ordering: .releasing)
    producer.wait()
    try injector.flush(timeoutMs: 10_000)
    if brokerDownUntil != nil { try broker.setBrokerUp(1) }

    // Drain: every request sent gets its outcome, then a little longer for any second one.
    let expected = Set(sent.withLock { Array($0.keys) }).union(poison.withLock { $0.keys })
    let drainDeadline = ContinuousClock.now + .seconds(120)
    while ContinuousClock.now < drainDeadline,
      !expected.isSubset(of: outcomes.withLock { Set($0.keys) })
    {
      for service in services where service.checkExited() { try? service.start() }
      Thread.sleep(forTimeInterval: 0.5)
    }
    Thread.sleep(forTimeInterval: 5)
    reader.stop()
    // The controller is the author of the plan in force, and no invented reply topic exists.
    report.planWriter =
      (try? PlanFollower(common: quiet(bootstrap), topic: topics.plans, log: .silent("")))?
      .catchUp(timeout: .seconds(5))?.writer
    report.inventedTopics =
      ((try? KafkaAdmin(configuration: quiet(bootstrap)).topics()) ?? [:]).keys
      .filter { $0.hasPrefix(PoisonRecords.inventedReplies) }.sorted()
    let ended = outcomes.withLock { Set($0.keys) }
    report.traces = trace(
      Array(expected.subtracting(ended).sorted().prefix(12)), bootstrap: bootstrap)
    for service in services {
      service.stop()
      if let exit = service.exits.last, exit.status != 0, !exit.killed {
        report.unexpectedExits.append("\(service.name) stopped with \(exit.status)")
        if !exit.said { report.silentExits.append("\(service.name) on stop") }
      }
    }
    return finish(seconds: elapsed())
  }

  private func quiet(_ bootstrap: String) -> KafkaConfiguration {
    var configuration = KafkaConfiguration(bootstrapServers: bootstrap)
    configuration.logger = .silent
    return configuration
  }

  // MARK: Faults

  public static let faultNames = [
    "kill batcher", "kill cpu worker", "broker down 5 s", "kill gpu worker", "produce errors",
    "kill controller", "network 300 ms slower for 10 s",
  ]

  private func inject(_ index: Int, now: Double) {
    let name = Self.faultNames[index % Self.faultNames.count]
    report.faults[name, default: 0] += 1
    report.timeline.append(String(format: "%.0f s %@", now, name))
    switch index % Self.faultNames.count {
    case 0: kill("batcher")
    case 1: kill("worker-cpu")
    case 2:
      try? broker.setBrokerDown(1)
      brokerDownUntil = now + 5
      quietUntil = now + 5 + 30
    case 3: kill("worker-gpu")
    case 4:
      broker.failNextRequests(
        .produce,
        with: Array(repeating: .requestTimedOut, count: 5)
          + Array(repeating: .notLeaderForPartition, count: 5))
    case 5: kill("controller")
    default:
      try? broker.setRoundTripTime(broker: 1, milliseconds: 300)
      let broker = self.broker
      DispatchQueue.global().asyncAfter(deadline: .now() + 10) {
        try? broker.setRoundTripTime(broker: 1, milliseconds: 0)
      }
    }
  }

  private func kill(_ name: String) {
    guard let service = services.first(where: { $0.name == name }) else { return }
    service.kill()
    Thread.sleep(forTimeInterval: 1)
    try? service.start()
  }

  // MARK: Requests and outcomes

  public final class Running: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    public func finished() { done.signal() }
    public func wait() { done.wait() }
    public func stop() {
      stopped.store(true, ordering: .releasing)
      done.wait()
    }
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }
  }

  private func startProducing(bootstrap: String) throws -> Running {
    var configuration = KafkaProducerConfiguration(common: quiet(bootstrap))
    configuration.linger = .milliseconds(2)
    // Not idempotent, as the services here (see where they are started).
    configuration.idempotence = false
    let producer = try KafkaProducer(configuration: configuration)
    let running = Running()
    let apps = self.apps
    let topics = self.topics
    let start = started
    let seed = settings.seed
    let thread = Thread { [self] in
      var random = SeededRandom(seed: seed &+ 1)
      var next = apps.map { random.exponential(rate: $0.rate) }
      var count = 0
      // A request whose delivery failed (the suite's own producer meets the injected produce
      // errors too) is sent again with the same id, as a caller would: the pipeline still owes
      // it exactly one outcome.
      let failed = Mutex<[RequestRecord]>([])
      func send(_ request: RequestRecord) throws {
        try producer.enqueue(request.message(topic: topics.requests)) { [self] result in
          if case .success(let report) = result {
            delivered.withLock {
              $0[request.id] = "\(report.topic)/\(report.partition)/\(report.offset)"
            }
          }
          guard case .failure(let error) = result else { return }
          firstDeliveryError.withLock { $0 = $0 ?? error.message }
          failed.withLock { $0.append(request) }
          resent.add(1, ordering: .relaxed)
        }
      }
      while producing.load(ordering: .acquiring) {
        let now = (ContinuousClock.now - start).seconds
        for request in failed.withLock({ list in
          defer { list.removeAll() }
          return list
        }) {
          do { try send(request) } catch { failed.withLock { $0.append(request) } }
        }
        for index in apps.indices where next[index] <= now {
          let id = "f-\(count)"
          count += 1
          next[index] += random.exponential(rate: apps[index].rate)
          // A request counts as sent once the producer has it; one it cannot take (its queue
          // full) is counted apart and owed no outcome.
          do {
            try send(
              RequestRecord(
                app: apps[index].id, id: id, sloMs: RequestGenerator.sloMs(of: apps[index]),
                payload: Array("x".utf8)))
            sent.withLock { $0[id] = now }
          } catch {
            refusedByProducer.add(1, ordering: .relaxed)
          }
        }
        Thread.sleep(forTimeInterval: 0.002)
      }
      _ = producer.close(timeoutMs: 60_000)
      running.finished()
    }
    thread.name = "hb-faults-producer"
    thread.start()
    return running
  }

  private func startReading(bootstrap: String) throws -> Running {
    var configuration = KafkaConsumerConfiguration(common: quiet(bootstrap), groupID: nil)
    configuration.fetchWaitMax = .milliseconds(10)
    let consumer = try KafkaConsumer(configuration: configuration)
    var partitions: [(KafkaTopicPartition, KafkaOffset)] = []
    for topic in [topics.results, topics.late, topics.deadLetter] {
      for partition in 0..<Int32(4) {
        partitions.append((KafkaTopicPartition(topic: topic, partition: partition), .beginning))
      }
    }
    try consumer.assign(partitions)
    let running = Running()
    let topics = self.topics
    let start = started
    let thread = Thread { [self] in
      while !running.isStopped {
        guard let events = try? consumer.poll(maxEvents: 1024, timeoutMs: 100) else { continue }
        for case .record(let record) in events {
          let kind =
            record.topic == topics.results
            ? "result" : record.topic == topics.late ? "late" : "dead letter"
          let id =
            kind == "result"
            ? record.keyString
            : record.headers.last(where: { $0.key == HeaderName.requestID })?.value.map {
              String(decoding: $0, as: UTF8.self)
            }
          guard let id, id.hasPrefix("f-") || id.hasPrefix("p-") else { continue }
          let code =
            record.headers.last(where: { $0.key == HeaderName.error })?.value.map {
              String(decoding: $0, as: UTF8.self)
            } ?? kind
          outcomes.withLock { $0[id, default: []].append(kind == "dead letter" ? code : kind) }
          fingerprints.withLock { $0[id, default: []].append((record.value ?? []).hashValue) }
          let source =
            record.headers.last(where: {
              $0.key == HeaderName.source || $0.key == HeaderName.batchSource
            })?.value.map { String(decoding: $0, as: UTF8.self) } ?? "?"
          places.withLock {
            $0[id, default: []].append(
              "\(record.topic)/\(record.partition)/\(record.offset) from \(source)")
          }
          lastOutcome.withLock { $0 = (ContinuousClock.now - start).seconds }
        }
      }
      consumer.close()
      running.finished()
    }
    thread.name = "hb-faults-reader"
    thread.start()
    return running
  }

  /// A stall: 30 s with requests sent more than 10 s before and no outcome at all — unless the
  /// broker was down on purpose in that time.
  private func checkStall(now: Double) {
    guard now > 40, now > quietUntil, brokerDownUntil == nil else { return }
    let last = lastOutcome.withLock { $0 }
    let waiting = sent.withLock { $0.values.contains { $0 < now - 10 && $0 > last } }
    if waiting, now - last > 30, report.stalls.last.map({ !$0.hasPrefix("\(Int(last))") }) ?? true {
      report.stalls.append("\(Int(last)) s to \(Int(now)) s: no outcome")
    }
  }

  private func finish(seconds: Double) -> Report {
    report.seconds = seconds
    let all = outcomes.withLock { $0 }
    let requests = sent.withLock { $0 }
    let bad = poison.withLock { $0 }
    report.sent = requests.count
    report.notSent = refusedByProducer.load(ordering: .relaxed)
    report.resent = resent.load(ordering: .relaxed)
    report.firstDeliveryError = firstDeliveryError.withLock { $0 }
    report.poisonSent = bad.count
    for id in requests.keys {
      let ended = all[id] ?? []
      if ended.isEmpty { report.lost.append(id) }
      let values = fingerprints.withLock { $0[id] ?? [] }
      if ended.count > 1, ended.allSatisfy({ $0 == "result" }), Set(values).count == 1 {
        report.storedTwice.append(id)
      } else if ended.count > 1 {
        let seenAt = places.withLock { $0[id] ?? [] }
        report.duplicated.append(
          "\(id) (sent at \(String(format: "%.1f", requests[id] ?? 0)) s): "
            + zip(ended, seenAt).map { "\($0) at \($1)" }.joined(separator: ", "))
      }
      if let first = ended.first { report.byOutcome[first, default: 0] += 1 }
      if let at = requests[id], at >= (settings.faultPhase + Self.settle).seconds {
        report.soakSent += 1
        if ended == ["result"] { report.soakResults += 1 }
      }
    }
    for (id, code) in bad {
      let ended = all[id] ?? []
      // A hostile request that must be served ends once, as a result — or, like any request
      // that waited out a fault past its SLO, as a late record: served, not refused.
      let expected = code == PoisonRecords.served ? [["result"], ["late"]] : [[code]]
      if !expected.contains(ended) {
        let sentAt = poisonSentAt.withLock { $0[id] ?? 0 }
        report.poisonWrong.append(
          "\(id) (sent at \(String(format: "%.1f", sentAt)) s): expected \(code), got \(ended)")
      }
    }
    report.memory = services.map { service in
      let growth = service.memoryGrowth ?? (0, 0)
      return (service.name, growth.kilobytes, growth.seconds, service.samples.last?.kilobytes ?? 0)
    }
    return report
  }

  /// Where the first lost requests went: their records on each topic before their outcome
  /// (coordinates and CreateTime in suite seconds), and the groups' committed offsets there.
  private func trace(_ ids: [String], bootstrap: String) -> [String] {
    guard !ids.isEmpty else { return [] }
    let wanted = Set(ids)
    var seen: [String: [String]] = [:]
    let inputs = [
      topics.requests, topics.grouped, topics.batchesCPU, topics.batchesGPU, topics.results,
      topics.late, topics.deadLetter,
    ]
    guard
      let reader = try? KafkaConsumer(
        configuration: {
          var configuration = KafkaConsumerConfiguration(common: quiet(bootstrap), groupID: nil)
          configuration.reportPartitionEOF = true
          return configuration
        }())
    else { return [] }
    defer { reader.close() }
    var partitions: [(KafkaTopicPartition, KafkaOffset)] = []
    for topic in inputs {
      for partition in 0..<Int32(4) {
        partitions.append((KafkaTopicPartition(topic: topic, partition: partition), .beginning))
      }
    }
    guard (try? reader.assign(partitions)) != nil else { return [] }
    let startMs =
      Date().timeIntervalSince1970 * 1000 - (ContinuousClock.now - started).seconds * 1000
    var ended = 0
    let deadline = ContinuousClock.now + .seconds(60)
    while ended < partitions.count, ContinuousClock.now < deadline {
      guard let events = try? reader.poll(maxEvents: 1024, timeoutMs: 200) else { break }
      for event in events {
        switch event {
        case .partitionEOF: ended += 1
        case .record(let record):
          let at = String(
            format: "%@/%d/%lld (%.1f s)", record.topic, record.partition, record.offset,
            (Double(record.timestampMs ?? 0) - startMs) / 1000)
          if record.topic.contains("batches") {
            guard let batch = try? BatchMessage.decode(record.value ?? []) else { continue }
            for request in batch.requests where wanted.contains(request.id) {
              seen[request.id, default: []].append(at)
            }
          } else if let id = record.topic == topics.results
            ? record.keyString
            : record.headers.last(where: { $0.key == HeaderName.requestID })?.value
              .map({ String(decoding: $0, as: UTF8.self) }), wanted.contains(id)
          {
            seen[id, default: []].append(at)
          }
        default: break
        }
      }
    }
    let deliveries = delivered.withLock { $0 }
    var lines = ids.map {
      "\($0): "
        + (deliveries[$0].map { "delivered to \($0)" } ?? "no delivery report")
        + "; seen at "
        + (seen[$0] ?? ["no topic now (deleted by retention?)"]).joined(separator: " → ")
    }
    // Where each topic starts now: below it, records were deleted by retention.
    lines.append(
      "first offsets now: "
        + partitions.compactMap { partition, _ in
          guard let (low, _) = try? reader.watermarks(partition), low > 0 else { return nil }
          return "\(partition)@\(low)"
        }.joined(separator: ", "))
    for (group, topic) in [
      ("hb-router", topics.requests), ("hb-batcher", topics.grouped),
      ("hb-workers-cpu", topics.batchesCPU), ("hb-workers-gpu", topics.batchesGPU),
    ] {
      var configuration = KafkaConsumerConfiguration(common: quiet(bootstrap), groupID: group)
      configuration.commitPolicy = .manual
      guard let consumer = try? KafkaConsumer(configuration: configuration),
        let committed = try? consumer.committed(
          (0..<Int32(4)).map { KafkaTopicPartition(topic: topic, partition: $0) })
      else { continue }
      lines.append(
        "\(group) committed: "
          + committed.sorted { $0.key < $1.key }.map { "\($0.key)@\($0.value)" }.joined(
            separator: ", "))
      consumer.close()
    }
    return lines
  }

  public static func table(_ report: Report) -> String {
    var lines: [String] = []
    var faults = TextTable([("fault", .left), ("injected", .right)])
    for name in faultNames where report.faults[name] != nil {
      faults.append([name, String(report.faults[name]!)])
    }
    lines.append(faults.rendered)
    lines.append("")
    var summary = TextTable([("", .left), ("", .right)])
    summary.append(["requests sent", String(report.sent)])
    if report.resent > 0 {
      summary.append(["  sent again after a failed delivery", String(report.resent)])
      if let first = report.firstDeliveryError { summary.append(["    the first failure", first]) }
    }
    if report.notSent > 0 {
      summary.append(["  not taken by the suite's producer (not sent)", String(report.notSent)])
    }
    summary.append(["  ended as results", String(report.byOutcome["result"] ?? 0)])
    summary.append(["  ended late", String(report.byOutcome["late"] ?? 0)])
    summary.append([
      "  ended as dead letters",
      String(
        report.sent - (report.byOutcome["result"] ?? 0) - (report.byOutcome["late"] ?? 0)
          - report.lost.count),
    ])
    if report.soakSent > 0 {
      summary.append([
        "sent during the soak: results within SLO",
        String(
          format: "%d of %d (%.2f %%)", report.soakResults, report.soakSent,
          100 * Double(report.soakResults) / Double(report.soakSent)),
      ])
    }
    summary.append(["lost", String(report.lost.count)])
    summary.append(["duplicated outcomes", String(report.duplicated.count)])
    if !report.storedTwice.isEmpty {
      summary.append([
        "  one result stored twice by a producer's retry (not idempotent here)",
        String(report.storedTwice.count),
      ])
    }
    summary.append([
      "bad and hostile requests sent (each one expected outcome)", String(report.poisonSent),
    ])
    summary.append(["  not ended as expected", String(report.poisonWrong.count)])
    summary.append(["stalls", String(report.stalls.count)])
    summary.append(["plan in force written by", report.planWriter ?? "(none read)"])
    summary.append(["reply topics invented that exist", String(report.inventedTopics.count)])
    summary.append(["services that exited on their own", String(report.unexpectedExits.count)])
    summary.append(["  without saying why", String(report.silentExits.count)])
    lines.append(summary.rendered)
    lines.append("")
    var memory = TextTable([
      ("service", .left), ("RSS at the end MB", .right), ("growth over the soak MB", .right),
    ])
    for entry in report.memory {
      memory.append([
        entry.service, String(format: "%.1f", Double(entry.lastKB) / 1024),
        String(format: "%+.1f over %.0f s", Double(entry.growthKB) / 1024, entry.seconds),
      ])
    }
    lines.append(memory.rendered)
    for (title, items) in [
      ("lost", report.lost), ("duplicated", report.duplicated),
      ("bad requests", report.poisonWrong),
      ("stalls", report.stalls), ("exits", report.unexpectedExits),
      ("invented reply topics", report.inventedTopics),
    ] where !items.isEmpty {
      lines.append("\(title): " + items.sorted().prefix(10).joined(separator: "; "))
    }
    if !report.passed { lines.append("faults at: " + report.timeline.joined(separator: "; ")) }
    if !report.traces.isEmpty {
      lines.append("where lost requests were seen:")
      lines += report.traces.map { "  " + $0 }
    }
    lines.append("")
    lines.append(report.passed ? "fault suite: passed" : "fault suite: FAILED")
    return lines.joined(separator: "\n")
  }
}
