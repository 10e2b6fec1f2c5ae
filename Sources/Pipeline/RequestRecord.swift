import Kafka
import PipelineCore

/// A request as a caller sends it on hb.requests (`Schemas/headers.md`): keyed by app, the payload
/// as the value, `hb-request-id` and (when known) `hb-slo-ms` as headers. `produce`, the demo and
/// the fault suite all send requests this way.
public struct RequestRecord: Sendable, Equatable {
  public var app: String
  public var id: String
  /// The SLO in milliseconds; nil leaves the header out (the router then dead-letters the request
  /// unless the plan knows the app's SLO).
  public var sloMs: Double?
  public var payload: [UInt8]

  public init(app: String, id: String, sloMs: Double?, payload: [UInt8]) {
    self.app = app
    self.id = id
    self.sloMs = sloMs
    self.payload = payload
  }

  public func message(topic: String) -> KafkaProducerMessage {
    var headers = [KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8))]
    if let sloMs {
      headers.append(
        KafkaHeader(key: HeaderName.slo, value: Array(GroupedRecord.number(sloMs).utf8)))
    }
    return KafkaProducerMessage(
      topic: topic, key: Array(app.utf8), value: payload, headers: headers)
  }
}
