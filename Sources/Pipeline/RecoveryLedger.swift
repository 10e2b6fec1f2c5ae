import Foundation
import Kafka
import PipelineCore

/// What a stage already produced from input records it had not committed when it stopped — read
/// back from its own output topics when it is given input partitions, so that a record read
/// again after a crash is not produced twice (a request late *and* served, or served twice).
/// Kafka Streams restores its state from a changelog the same way.
///
/// Every output record names its input: `hb-source` (topic/partition/offset) on grouped records,
/// late records, dead letters and results (`hb-batch-source` on a worker's per-request dead
/// letters); a batch names each request's source in its JSON. Outputs are read from a little
/// before the first uncommitted input arrived (their CreateTime) to the end of each topic.
struct RecoveryLedger {
  /// Input coordinates (`topic/partition/offset`) → request ids an output names for it.
  private(set) var done: [String: Set<String>] = [:]

  var isEmpty: Bool { done.isEmpty }
  var count: Int { done.count }

  /// Takes out what was done for `coordinates`, if anything was.
  mutating func take(_ coordinates: String) -> Set<String>? {
    done.removeValue(forKey: coordinates)
  }

  /// Adds what another read found.
  mutating func merge(_ other: RecoveryLedger) {
    done.merge(other.done) { $0.union($1) }
  }

  /// Forgets what was done for partitions the stage no longer holds.
  mutating func forget(_ partitions: [KafkaTopicPartition]) {
    let prefixes = partitions.map { "\($0.topic)/\($0.partition)/" }
    done = done.filter { key, _ in !prefixes.contains { key.hasPrefix($0) } }
  }

  /// One output record's inputs: (input coordinates, request id or nil).
  typealias Sources = @Sendable (KafkaRecord) -> [(source: String, id: String?)]

  /// Reads `outputs` for what was produced from the records of `inputs` at or after the group's
  /// committed offsets.
  static func read(
    common: KafkaConfiguration, group consumer: KafkaConsumer, inputs: [KafkaTopicPartition],
    outputs: [String], sources: Sources, log: PipelineLog, timeout: Duration = .seconds(30)
  ) throws(KafkaError) -> RecoveryLedger {
    guard !inputs.isEmpty else { return RecoveryLedger() }
    var configuration = KafkaConsumerConfiguration(common: common, groupID: nil)
    configuration.reportPartitionEOF = true
    configuration.fetchWaitMax = .milliseconds(10)
    let reader = try KafkaConsumer(configuration: configuration)
    defer { reader.close() }
    let deadline = ContinuousClock.now + timeout

    // Where each input partition's uncommitted records start, and when the first of them arrived.
    let committed = try consumer.committed(inputs)
    var firstUncommitted: [KafkaTopicPartition: Int64] = [:]
    for partition in inputs {
      let (low, high) = try reader.watermarks(partition)
      let next = max(low, committed[partition] ?? -1)
      if next < high { firstUncommitted[partition] = next }
    }
    guard !firstUncommitted.isEmpty else {
      log.info(
        "recovery: every record committed ("
          + committed.sorted { $0.key.description < $1.key.description }
          .map { "\($0.key)@\($0.value)" }.joined(separator: ", ") + ")")
      return RecoveryLedger()
    }
    try reader.assign(firstUncommitted.map { ($0.key, .exact($0.value)) })
    var arrivals: [KafkaTopicPartition: Int64] = [:]
    while arrivals.count < firstUncommitted.count, ContinuousClock.now < deadline {
      guard case .record(let record) = try reader.poll(timeoutMs: 100) else { continue }
      if arrivals[record.topicPartition] == nil {
        arrivals[record.topicPartition] = record.timestampMs ?? 0
      }
    }
    // Producers' clocks differ: start a little before.
    let since = (arrivals.values.min() ?? 0) - 10_000

    // The outputs from then to their end now.
    let counts = try KafkaAdmin(configuration: common).topics()
    let partitions = outputs.flatMap { topic in
      (0..<Int32(counts[topic] ?? 0)).map { KafkaTopicPartition(topic: topic, partition: $0) }
    }
    var ends: [KafkaTopicPartition: Int64] = [:]
    var starts: [(KafkaTopicPartition, KafkaOffset)] = []
    let byTime = try reader.offsets(for: partitions, atOrAfter: since)
    // A broker that cannot look offsets up by time (librdkafka's mock cluster answers "the end"
    // even for time 0) is read from its first record: CreateTimes do not rise with offsets (dead
    // letters and late records keep their request's time; a producer that lost the broker
    // appends what it queued behind newer records), so no search by time is safe there, and the
    // mock keeps at most 5 MiB a partition. One partition that answers so is enough to distrust
    // every answer of this broker (a scan found 2,970 records where the one before found 10,764).
    let byTimeZero = try reader.offsets(for: partitions, atOrAfter: 0)
    var watermarks: [KafkaTopicPartition: (low: Int64, high: Int64)] = [:]
    for partition in partitions { watermarks[partition] = try reader.watermarks(partition) }
    let searchable = !partitions.contains { partition in
      guard let (low, end) = watermarks[partition], low < end else { return false }
      return (byTimeZero[partition] ?? end) >= end
    }
    for partition in partitions {
      guard let (low, end) = watermarks[partition], low < end else { continue }
      let start = searchable ? (byTime[partition] ?? end) : low
      if start < end {
        ends[partition] = end
        starts.append((partition, .exact(start)))
      }
    }
    var ledger = RecoveryLedger()
    guard !starts.isEmpty else { return ledger }
    try reader.assign(starts)
    var progress = ScanProgress(ends: ends)
    var read = 0
    while !progress.isComplete, ContinuousClock.now < deadline {
      for event in try reader.poll(maxEvents: 1024, timeoutMs: 100) {
        switch event {
        case .record(let record):
          // Records of the input partitions read above may still arrive: not outputs.
          guard progress.read(record.topicPartition, offset: record.offset) else { continue }
          read += 1
          for (source, id) in sources(record) {
            guard let coordinates = Coordinates(source),
              let first = firstUncommitted[coordinates.partition], coordinates.offset >= first
            else { continue }
            ledger.done[source, default: []].formUnion(id.map { [$0] } ?? [])
          }
        case .partitionEOF(let partition, _):
          progress.reachedEnd(partition)
        default: break
        }
      }
    }
    // Once per assignment: enough to tell afterwards why a record was (not) found done.
    log.info(
      "recovery: uncommitted from "
        + firstUncommitted.sorted { $0.key.description < $1.key.description }
        .map { "\($0.key)@\($0.value)" }.joined(separator: ", ")
        + "; read \(read) output records of \(starts.count) partitions ("
        + (searchable ? "found by time from \(since) ms" : "from the first record kept")
        + ", offsets "
        + starts.map { start in
          if case .exact(let offset) = start.1 {
            return "\(start.0)@\(offset)..\(ends[start.0] ?? -1)"
          }
          return "\(start.0)"
        }.joined(separator: ", ") + "); \(ledger.count) inputs done already"
        + (ledger.isEmpty ? "" : " (" + ledger.done.keys.sorted().joined(separator: ", ") + ")"))
    if !progress.isComplete {
      log.warning(
        "recovery read \(read) output records in \(timeout) without reaching the end of "
          + "\(progress.unfinished) partitions; some records may be produced twice")
    }
    return ledger
  }
}

/// How far the scan of the output partitions has come: done when every one of them has been
/// read to the end it had when the scan began. Records and end-of-partition events of other
/// partitions (the inputs the same reader read first) do not count.
struct ScanProgress {
  let ends: [KafkaTopicPartition: Int64]
  private var finished = Set<KafkaTopicPartition>()

  init(ends: [KafkaTopicPartition: Int64]) { self.ends = ends }

  var isComplete: Bool { finished.count == ends.count }
  var unfinished: Int { ends.count - finished.count }

  /// A record was read; false when it is not of an output partition (ignore it).
  mutating func read(_ partition: KafkaTopicPartition, offset: Int64) -> Bool {
    guard let end = ends[partition] else { return false }
    if offset + 1 >= end { finished.insert(partition) }
    return true
  }

  mutating func reachedEnd(_ partition: KafkaTopicPartition) {
    if ends[partition] != nil { finished.insert(partition) }
  }
}

/// `topic/partition/offset` parsed.
struct Coordinates {
  var partition: KafkaTopicPartition
  var offset: Int64

  init?(_ text: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count >= 3, let partition = Int32(parts[parts.count - 2]),
      let offset = Int64(parts[parts.count - 1])
    else { return nil }
    self.partition = KafkaTopicPartition(
      topic: parts[0..<(parts.count - 2)].joined(separator: "/"), partition: partition)
    self.offset = offset
  }
}

extension KafkaRecord {
  /// The last header `key` as text.
  func headerText(_ key: String) -> String? {
    headers.last(where: { $0.key == key })?.value.map { String(decoding: $0, as: UTF8.self) }
  }
}

extension RecoveryLedger {
  /// Grouped records and dead letters name their request in `hb-source`.
  static let sourceHeader: Sources = { record in
    record.headerText(HeaderName.source).map { [($0, record.headerText(HeaderName.requestID))] }
      ?? []
  }
}
