import KafkaMessages

/// The sizes the pipeline's records keep to, so that no produce ever fails for size (a record the
/// broker refuses would stop its stage and be read again on restart — a poison record).
/// librdkafka refuses a record over `message.max.bytes` (1,000,000 bytes by default).
public enum RecordLimits {
  /// The most a record may take, key, value and headers together (with room for the framing).
  public static let maxRecordBytes = 1_000_000 - 4_096

  /// What a batch's JSON takes around its requests.
  public static let batchOverheadBytes = 1_024

  /// What one request takes in a batch's JSON: its payload in base64, its id, app and source
  /// (JSON escaping makes a byte at most six), and the fixed fields.
  /// `headers`: what its carried headers take (`carriedHeaderBytes`).
  public static func batchBytes(payload: Int, id: Int, app: Int, source: Int, headers: Int = 0)
    -> Int
  {
    (payload + 2) / 3 * 4 + 6 * (id + app + source) + 256 + headers
  }

  /// What a request's carried headers (`HeaderName.isCarried`) take in a batch's JSON, at most.
  public static func carriedHeaderBytes(_ headers: [KafkaHeader]) -> Int {
    headers.reduce(0) { total, header in
      guard HeaderName.isCarried(header.key) else { return total }
      return total + carriedBytes(name: header.key.utf8.count, value: header.value?.count ?? 0)
    }
  }

  /// What one carried header of `name` and `value` bytes takes in a batch's JSON, at most.
  static func carriedBytes(name: Int, value: Int) -> Int { 6 * (name + value) + 40 }

  /// The largest payload a request may have: alone in a batch, with an id, app and source of up
  /// to 256 bytes each, its batch fits a record.
  public static let maxPayloadBytes =
    (maxRecordBytes - batchOverheadBytes - 256 - 6 * 3 * 256) / 4 * 3

  /// The bytes a message takes on the wire, near enough (key, value, headers, their lengths).
  public static func size(of message: KafkaProducerMessage) -> Int {
    (message.key?.count ?? 0) + (message.value?.count ?? 0)
      + message.headers.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) + 16 } + 64
  }

  /// `message` as it can be produced: whole when it fits; else without its value (the size and
  /// why in `hb-value-dropped-bytes`); else without the original headers too, only the
  /// pipeline's own (`hb-error…`, `hb-source`, `hb-request-id`, `hb-app`). A dead letter or late
  /// record is never lost for being large: it loses its payload and says so.
  public static func fitting(_ message: KafkaProducerMessage) -> KafkaProducerMessage {
    guard size(of: message) > maxRecordBytes else { return message }
    var trimmed = message
    if let value = message.value, !value.isEmpty {
      trimmed.value = nil
      trimmed.headers.append(
        KafkaHeader(key: HeaderName.valueDroppedBytes, value: Array(String(value.count).utf8)))
    }
    if size(of: trimmed) > maxRecordBytes {
      let kept: Set<String> = [
        HeaderName.error, HeaderName.errorDetail, HeaderName.source, HeaderName.requestID,
        HeaderName.app, HeaderName.lateReason, HeaderName.lateBy, HeaderName.valueDroppedBytes,
      ]
      trimmed.headers = trimmed.headers.filter {
        kept.contains($0.key) && ($0.value?.count ?? 0) <= 4_096
      }
      trimmed.headers.append(
        KafkaHeader(
          key: HeaderName.headersDropped, value: Array(String(message.headers.count).utf8)))
    }
    if let key = trimmed.key, key.count > 4_096 { trimmed.key = Array(key.prefix(4_096)) }
    return trimmed
  }
}
