/// Header names of the pipeline's records (`Schemas/headers.md`).
public enum HeaderName {
  /// Request: the SLO in milliseconds.
  public static let slo = "hb-slo-ms"
  /// Request: an id chosen by the producer; default `topic/partition/offset`.
  public static let requestID = "hb-request-id"
  // Added by the router on hb.grouped:
  public static let app = "hb-app"
  /// What the batcher needs, packed: `version|batch size|timeout ms|max latency ms|arrival
  /// ms|function|group`.
  public static let route = "hb-route"
  /// On a worker's dead letters: the group of the batch the request was in.
  public static let group = "hb-group"
  // Dead letters and late records:
  public static let error = "hb-error"
  public static let errorDetail = "hb-error-detail"
  public static let source = "hb-source"
  /// On a worker's dead letter for one request: `topic/partition/offset` of the batch record.
  public static let batchSource = "hb-batch-source"
  public static let lateReason = "hb-late-reason"
  public static let lateBy = "hb-late-by-ms"
  /// A dead letter or late record too large for the broker: the value was left out; its size.
  public static let valueDroppedBytes = "hb-value-dropped-bytes"
  /// ... and, when even that was too large, how many of the original headers were left out.
  public static let headersDropped = "hb-headers-dropped"
  /// Request: a topic where the request's outcome is also produced, keyed by request id.
  public static let replyTopic = "hb-reply-topic"
  /// On a reply: `result`, `dead-letter` or `late`.
  public static let outcome = "hb-outcome"

  /// Whether a request's header travels with it to its result and reply: every header but the
  /// pipeline's own (`hb-` names are reserved), except `hb-reply-topic`. A W3C `traceparent`
  /// travels; an `hb-source` a producer set does not (it would mislead recovery).
  public static func isCarried(_ name: String) -> Bool {
    !isReserved(name) || name == replyTopic
  }

  /// Whether `name` starts with the pipeline's `hb-`, byte for byte (cheaper than
  /// `String.hasPrefix`, which compares characters; this runs on every header of every request).
  public static func isReserved(_ name: String) -> Bool {
    var bytes = name.utf8.makeIterator()
    return bytes.next() == UInt8(ascii: "h") && bytes.next() == UInt8(ascii: "b")
      && bytes.next() == UInt8(ascii: "-")
  }
}
