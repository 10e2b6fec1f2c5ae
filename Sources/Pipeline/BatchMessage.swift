import Foundation
import Kafka
import Planner

/// A batch on hb.batches.cpu / hb.batches.gpu (`Schemas/batch.schema.json`): the group's function
/// and its requests in arrival order. Workers run it as one invocation.
public struct BatchMessage: Codable, Sendable, Equatable {
  public var batchID: String
  public var group: String
  public var planVersion: Int
  public var function: FunctionConfig
  /// The group's batch size (the buffer's capacity); `requests` may hold fewer.
  public var batchSize: Int
  public var flushReason: FlushReason
  /// Milliseconds since the epoch, with fractions.
  public var flushedAtMs: Double
  /// The plan's predicted maximum latency of this batch.
  public var latencyMaxMs: Double
  /// The batcher instance that made it.
  public var batcher: String
  public var requests: [Request]

  public struct Request: Codable, Sendable, Equatable {
    public var id: String
    public var app: String
    public var sloMs: Double
    public var arrivalMs: Int64
    /// The latest flush time the plan allowed this request.
    public var deadlineMs: Double
    /// True when it is forwarded although its SLO cannot be met (`--late-policy forward`).
    public var late: Bool
    /// Where the request was read: `topic/partition/offset` of hb.grouped.
    public var source: String
    /// The model input, base64.
    public var payload: String

    enum CodingKeys: String, CodingKey {
      case id, app
      case sloMs = "slo_ms"
      case arrivalMs = "arrival_ms"
      case deadlineMs = "deadline_ms"
      case late, source, payload
    }
  }

  enum CodingKeys: String, CodingKey {
    case batchID = "batch_id"
    case group
    case planVersion = "plan_version"
    case function
    case batchSize = "batch_size"
    case flushReason = "flush_reason"
    case flushedAtMs = "flushed_at_ms"
    case latencyMaxMs = "latency_max_ms"
    case batcher, requests
  }

  public func jsonData() -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? Array(encoder.encode(self))) ?? []
  }

  /// Reads a batch and refuses one whose numbers no batcher makes (`checks`): a worker must not
  /// start work it cannot do (a GPU function of 0 GB, a batch of −3).
  public static func decode(_ bytes: [UInt8]) throws -> BatchMessage {
    let batch = try JSONDecoder().decode(BatchMessage.self, from: Data(bytes))
    let checks = batch.checks
    guard checks.isValid else { throw InvalidBatch(detail: checks.summary) }
    return batch
  }

  /// A batch that decodes but whose numbers cannot be run.
  public struct InvalidBatch: Error, CustomStringConvertible {
    public let detail: String
    public var description: String { "its numbers cannot be run: \(detail)" }
  }
}

/// What the batcher keeps of a request while it waits in a buffer.
public struct BatchItem: Sendable {
  public var source: KafkaTopicPartition
  public var offset: Int64
  public var value: [UInt8]?
  public var headers: [KafkaHeader]

  public init(source: KafkaTopicPartition, offset: Int64, value: [UInt8]?, headers: [KafkaHeader]) {
    self.source = source
    self.offset = offset
    self.value = value
    self.headers = headers
  }

  var coordinates: String { "\(source.topic)/\(source.partition)/\(offset)" }
}

extension ReadyBatch where Item == BatchItem {
  /// The batch as a message for its function's topic, keyed by group. Written by hand (the same
  /// object `BatchMessage` decodes): this runs once per batch on the hot path.
  public func message(id: String, batcher: String, topics: PipelineTopics) -> KafkaProducerMessage {
    var json = JSONBytes(
      capacity: 320 + requests.reduce(0) { $0 + 160 + ($1.item.value?.count ?? 0) * 4 / 3 })
    json.raw("{")
    json.key("batch_id")
    json.string(id)
    json.raw(",")
    json.key("batch_size")
    json.integer(Int64(spec.capacity))
    json.raw(",")
    json.key("batcher")
    json.string(batcher)
    json.raw(",")
    json.key("flush_reason")
    json.string(reason.rawValue)
    json.raw(",")
    json.key("flushed_at_ms")
    json.number(flushedAt * 1000)
    json.raw(",")
    json.key("function")
    json.raw("{")
    json.key("gpu_mem_gb")
    json.integer(Int64(spec.function.gpuMemoryGB))
    json.raw(",")
    json.key("kind")
    json.string(spec.function.kind.rawValue)
    json.raw(",")
    json.key("vcpu")
    json.number(spec.function.vcpu)
    json.raw("},")
    json.key("group")
    json.string(spec.key.group)
    json.raw(",")
    json.key("latency_max_ms")
    json.number(spec.latencyMax * 1000)
    json.raw(",")
    json.key("plan_version")
    json.integer(Int64(spec.key.planVersion))
    json.raw(",")
    json.key("requests")
    json.raw("[")
    for (index, request) in requests.enumerated() {
      if index > 0 { json.raw(",") }
      json.raw("{")
      json.key("app")
      json.string(request.app)
      json.raw(",")
      json.key("arrival_ms")
      json.integer(Int64((request.arrival * 1000).rounded()))
      json.raw(",")
      json.key("deadline_ms")
      json.number(request.deadline * 1000)
      json.raw(",")
      json.key("id")
      json.string(request.id)
      json.raw(",")
      json.key("late")
      json.bool(!lateIDs.isEmpty && lateIDs.contains(request.id))
      json.raw(",")
      json.key("payload")
      json.base64(request.item.value ?? [])
      json.raw(",")
      json.key("slo_ms")
      json.number(request.slo * 1000)
      json.raw(",")
      json.key("source")
      json.coordinates(
        request.item.source.topic, request.item.source.partition, request.item.offset)
      json.raw("}")
    }
    json.raw("]}")
    return KafkaProducerMessage(
      topic: topics.batches(for: spec.function.kind), key: Array(spec.key.group.utf8),
      value: json.bytes, headers: [], timestampMs: Int64((flushedAt * 1000).rounded()))
  }
}

/// Late records on hb.late: the request as it came from the router, plus why it is late, by
/// how much, and where it was read.
public enum LateRecord {
  public static let sloUnreachable = "slo-unreachable"

  public static func message(
    for request: BufferedRequest<BatchItem>, lateBy: Double, topic: String
  ) -> KafkaProducerMessage {
    var headers = request.item.headers
    headers.append(KafkaHeader(key: HeaderName.lateReason, value: Array(sloUnreachable.utf8)))
    headers.append(
      KafkaHeader(
        key: HeaderName.lateBy,
        value: Array(GroupedRecord.number((lateBy * 1_000_000).rounded() / 1000).utf8)))
    headers.append(
      KafkaHeader(key: HeaderName.source, value: Array(request.item.coordinates.utf8)))
    return RecordLimits.fitting(
      KafkaProducerMessage(
        topic: topic, key: Array(request.app.utf8), value: request.item.value, headers: headers,
        timestampMs: Int64((request.arrival * 1000).rounded())))
  }
}
