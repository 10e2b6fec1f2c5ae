import Foundation
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
  /// The longest time one of its requests took from its arrival (CreateTime) to the batcher
  /// reading it: the delay before batching, which plans reserve beside the transport after the
  /// flush. Absent from batchers that do not measure it.
  public var intakeMs: Double?
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
    /// The request's own headers that travel to its result and reply (`HeaderName.isCarried`:
    /// a `traceparent`, `hb-reply-topic`); absent when it has none.
    public var headers: [Header]?

    enum CodingKeys: String, CodingKey {
      case id, app
      case sloMs = "slo_ms"
      case arrivalMs = "arrival_ms"
      case deadlineMs = "deadline_ms"
      case late, source, payload, headers
    }
  }

  /// One Kafka header of a request: its value as text when it is UTF-8, else in base64.
  public struct Header: Codable, Sendable, Equatable {
    public var name: String
    public var value: String?
    public var base64: String?

    /// The value's bytes (nil for a header without a value, or a `base64` that does not decode).
    public var bytes: [UInt8]? {
      if let value { return Array(value.utf8) }
      return base64.flatMap { Data(base64Encoded: $0) }.map(Array.init)
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
    case intakeMs = "intake_ms"
  }

  /// Reads a batch and refuses one whose numbers no batcher makes (`checks`): a worker must not
  /// start work it cannot do (a GPU function of 0 GB, a batch of −3).
  public static func decode(_ bytes: [UInt8]) throws -> BatchMessage {
    let batch = try JSONDecoder().decode(BatchMessage.self, from: Data(bytes))
    let checks = batch.checks
    guard checks.isValid else { throw InvalidBatch(detail: checks.summary) }
    return batch
  }

  /// What can still be read of a batch record that `decode` refuses: its group and the requests
  /// that name an id (each with what it has of app, source, payload and carried headers), so
  /// that each ends with a dead letter and a reply of its own. Empty when the record is not a
  /// JSON object with a `requests` array.
  public static func salvage(_ bytes: [UInt8]) -> (group: String?, requests: [Request]) {
    guard
      let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
      let requests = object["requests"] as? [Any]
    else { return (nil, []) }
    let salvaged = requests.prefix(FieldBounds.batchSize.upperBound).compactMap {
      entry -> Request? in
      guard let fields = entry as? [String: Any], let id = fields["id"] as? String, !id.isEmpty
      else { return nil }
      let headers = (fields["headers"] as? [Any])?.prefix(RequestLimits.maxHeaders).compactMap {
        header -> Header? in
        guard let header = header as? [String: Any], let name = header["name"] as? String,
          !name.isEmpty
        else { return nil }
        return Header(
          name: name, value: header["value"] as? String, base64: header["base64"] as? String)
      }
      return Request(
        id: id, app: fields["app"] as? String ?? "", sloMs: 0, arrivalMs: 0, deadlineMs: 0,
        late: false, source: fields["source"] as? String ?? "",
        payload: fields["payload"] as? String ?? "", headers: headers)
    }
    var seen = Set<String>()
    return (object["group"] as? String, salvaged.filter { seen.insert($0.id).inserted })
  }

  /// A batch that decodes but whose numbers cannot be run.
  public struct InvalidBatch: Error, CustomStringConvertible {
    public let detail: String
    public var description: String { "its numbers cannot be run: \(detail)" }
  }
}
