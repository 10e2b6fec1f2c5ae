import KafkaMessages

/// Replies to the caller: a request that names a topic in `hb-reply-topic` gets its outcome there
/// too, keyed by its request id, with its own headers (`HeaderName.isCarried`: a `traceparent`
/// among them) and `hb-outcome`. A result's reply holds the result JSON; a dead letter's says
/// why in `hb-error` and `hb-error-detail`, a late request's in `hb-late-reason` and
/// `hb-late-by-ms`, and neither holds the payload. The outcome topics (hb.results,
/// hb.dead-letter, hb.late) stay the record of what happened; a reply is a copy for one caller.
public enum Reply {
  public enum Outcome: String, Sendable {
    case result
    case deadLetter = "dead-letter"
    case late
  }

  /// The reply to a request with `headers` whose outcome is `outcome`; nil when it names no
  /// reply topic, or one it may not (`ReplyTopic`: the router dead-letters such requests).
  /// `details`: headers of the outcome that say why (taken from it when present).
  public static func message(
    headers: [KafkaHeader], requestID: String, outcome: Outcome, value: [UInt8]? = nil,
    details: [KafkaHeader] = [], topics: PipelineTopics
  ) -> KafkaProducerMessage? {
    guard let topic = topic(in: headers), ReplyTopic.problem(topic, topics: topics) == nil else {
      return nil
    }
    var replyHeaders = headers.filter { HeaderName.isCarried($0.key) }
    replyHeaders.append(KafkaHeader(key: HeaderName.requestID, value: Array(requestID.utf8)))
    replyHeaders.append(KafkaHeader(key: HeaderName.outcome, value: Array(outcome.rawValue.utf8)))
    replyHeaders += details
    return RecordLimits.fitting(
      KafkaProducerMessage(
        topic: topic, key: Array(requestID.utf8), value: value, headers: replyHeaders))
  }

  /// The reply to a dead letter or late record (`outcome`), from that record: its carried
  /// headers, its reasons, its request id (`hb-request-id`, else `fallbackID`).
  public static func message(
    for record: KafkaProducerMessage, outcome: Outcome, fallbackID: String,
    topics: PipelineTopics
  ) -> KafkaProducerMessage? {
    guard topic(in: record.headers) != nil else { return nil }
    let reasons: Set<String> = [
      HeaderName.error, HeaderName.errorDetail, HeaderName.lateReason, HeaderName.lateBy,
    ]
    let requestID =
      record.headers.last(where: { $0.key == HeaderName.requestID })?.value
      .map { String(decoding: $0, as: UTF8.self) } ?? fallbackID
    return message(
      headers: record.headers, requestID: requestID, outcome: outcome,
      details: record.headers.filter { reasons.contains($0.key) }, topics: topics)
  }

  /// The reply topic a request names (the last `hb-reply-topic`), if it is UTF-8 text.
  public static func topic(in headers: [KafkaHeader]) -> String? {
    guard let header = headers.last(where: { $0.key == HeaderName.replyTopic }) else {
      return nil
    }
    return header.value.flatMap { String(validating: $0, as: UTF8.self) } ?? ""
  }
}

extension BatchMessage.Request {
  /// The request's carried headers, as Kafka headers again.
  public var kafkaHeaders: [KafkaHeader] {
    (headers ?? []).map { KafkaHeader(key: $0.name, value: $0.bytes) }
  }
}
