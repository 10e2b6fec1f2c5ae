import KafkaMessages
import Planner

/// The router stage's decision for one record of hb.requests (pure): validated and tagged for
/// hb.grouped, or a dead letter with a stable reason code.
public struct RequestRouter: Sendable {
  public enum Decision: Sendable {
    case grouped(KafkaProducerMessage, GroupedRecord)
    /// The dead letter, and the reply to the caller when the request asked for one.
    case deadLetter(KafkaProducerMessage, ReasonCode, reply: KafkaProducerMessage?)
  }

  public var table: RoutingTable
  public let topics: PipelineTopics
  public let maxPayloadBytes: Int
  /// Reply topics must start with this (nil: any legal name that is not the pipeline's or the
  /// broker's own).
  public var replyTopicPrefix: String?
  public private(set) var report = RouterReport()
  /// Requests whose CreateTime was ahead of the router's clock (taken as read now): how many, and
  /// the most ahead one's lead, since the last `takeFutureArrivals`.
  public private(set) var futureArrivals = (count: 0, aheadMs: Int64(0))
  /// The `hb-route` values' fixed parts, per group and wait.
  private var routes = RouteEncoder()
  /// `topics.grouped`, made once (the name is built from the prefix on every read).
  private let groupedTopic: String

  /// The largest payload whose batch still fits a record (`RecordLimits.maxPayloadBytes`).
  public static let defaultMaxPayloadBytes = RecordLimits.maxPayloadBytes

  public init(
    table: RoutingTable, topics: PipelineTopics, maxPayloadBytes: Int = defaultMaxPayloadBytes
  ) {
    self.table = table
    self.topics = topics
    self.maxPayloadBytes = maxPayloadBytes
    groupedTopic = topics.grouped
  }

  /// Routes one request; `nowMs` stands in for a record without a timestamp.
  public mutating func route(_ record: KafkaRecord, nowMs: Int64) -> Decision {
    let scan = RequestHeaderScan(record.headers)
    if let topic = scan.replyTopicName,
      let problem = ReplyTopic.problem(topic, topics: topics, requiredPrefix: replyTopicPrefix)
    {
      return reject(record, .badReplyTopic, problem)
    }
    guard let key = record.key, !key.isEmpty else {
      return reject(record, .missingApp, "the record has no key (the app id)")
    }
    guard let app = String(validating: key, as: UTF8.self) else {
      return reject(record, .badKey, "the key (the app id) is not UTF-8 text")
    }
    // Every limit a later stage applies to a request, from the one definition the workers use
    // (`RequestLimits.problem`, in its order).
    let givenID = scan.givenRequestID
    if let problem = RequestLimits.appIDProblem(app)
      ?? givenID.flatMap(RequestLimits.requestIDProblem) ?? scan.namesProblem(record.headers)
    {
      return reject(record, problem.code, problem.detail)
    }
    let size = record.value?.count ?? 0
    guard size <= maxPayloadBytes else {
      return reject(
        record, .payloadTooLarge, "payload of \(size) bytes exceeds the limit of \(maxPayloadBytes)"
      )
    }
    var sloMs: Double?
    if let header = scan.slo {
      guard let value = SLOHeader.milliseconds(header.value ?? []) else {
        let text = String(decoding: (header.value ?? []).prefix(40), as: UTF8.self)
        return reject(
          record, .badSLO,
          "\(HeaderName.slo) '\(text)' is not a decimal number of milliseconds in "
            + "\(Int(SLOHeader.range.lowerBound))...\(Int(SLOHeader.range.upperBound))")
      }
      sloMs = value
    }
    let spread = UInt64(bitPattern: record.offset &* -7_046_029_254_386_353_131)
    switch table.route(app: app, sloMs: sloMs, spread: spread) {
    case .reject(let code, let detail):
      // An app nobody planned yet is still reported, so the controller learns of it and plans it.
      if let sloMs, code == .unplannedApp || code == .impossibleSLO || code == .tooManyUnplanned {
        report.count(
          app: app, sloMs: sloMs, planned: false,
          waitedMs: nowMs - (record.timestampMs ?? nowMs))
      }
      return reject(record, code, detail)
    case .group(let spec, let slo, let timeout, let planned):
      // Built once: the default request id and the `hb-source` header are both these.
      let coordinates = record.coordinates
      let requestID = givenID ?? coordinates
      // Alone in a batch, with its id, app and headers, it must fit a record.
      let alone =
        RecordLimits.batchOverheadBytes
        + RecordLimits.batchBytes(
          payload: size, id: requestID.utf8.count, app: app.utf8.count, source: 128,
          headers: scan.carriedBytes)
      guard alone <= RecordLimits.maxRecordBytes,
        size + scan.bytes <= RecordLimits.maxRecordBytes - 4_096
      else {
        return reject(
          record, .payloadTooLarge,
          "with its id, app and headers the request would not fit a batch record of "
            + "\(RecordLimits.maxRecordBytes) bytes")
      }
      // The producer's clock is not trusted past ours: a CreateTime ahead of now is taken as now
      // (a request cannot arrive before it is read), and counted.
      var arrival = record.timestampMs ?? nowMs
      if arrival > nowMs {
        futureArrivals.count += 1
        futureArrivals.aheadMs = max(futureArrivals.aheadMs, arrival - nowMs)
        arrival = nowMs
      }
      let grouped = GroupedRecord(
        requestID: requestID, app: app, arrivalMs: arrival, sloMs: slo * 1000,
        timeoutMs: timeout * 1000, spec: spec)
      report.count(app: app, sloMs: slo * 1000, planned: planned, waitedMs: nowMs - arrival)
      let message = KafkaProducerMessage(
        topic: groupedTopic, key: Array(spec.key.group.utf8), value: record.value,
        headers: grouped.headers(keeping: record.headers, source: coordinates, routes: &routes),
        timestampMs: arrival)
      return .grouped(message, grouped)
    }
  }

  /// Hands over the future arrivals counted since the last call.
  public mutating func takeFutureArrivals() -> (count: Int, aheadMs: Int64) {
    defer { futureArrivals = (0, 0) }
    return futureArrivals
  }

  /// Hands over the counts since the last call and starts new ones.
  public mutating func takeReport() -> RouterReport {
    defer { report = RouterReport() }
    return report
  }

  private mutating func reject(_ record: KafkaRecord, _ code: ReasonCode, _ detail: String)
    -> Decision
  {
    report.rejected[code.rawValue, default: 0] += 1
    let deadLetter = DeadLetter.message(
      for: record, code: code, detail: detail, topic: topics.deadLetter)
    let reply = Reply.message(
      for: deadLetter, outcome: .deadLetter, fallbackID: Self.requestID(of: record),
      topics: topics)
    return .deadLetter(deadLetter, code, reply: reply)
  }

  /// The producer's `hb-request-id`, else the request's `topic/partition/offset`.
  static func requestID(of record: KafkaRecord) -> String {
    givenRequestID(of: record) ?? record.coordinates
  }

  /// The producer's `hb-request-id` (nil when it gave none, or an empty one).
  static func givenRequestID(of record: KafkaRecord) -> String? {
    record.headers.last(where: { $0.key == HeaderName.requestID })
      .flatMap { $0.value.map { String(decoding: $0, as: UTF8.self) } }
      .flatMap { $0.isEmpty ? nil : $0 }
  }
}
