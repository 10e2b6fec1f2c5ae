import KafkaMessages

/// What the router reads from a request's headers, found in one pass over them (it used to walk
/// them five times per request: reply topic, request id, limits, SLO, sizes).
struct RequestHeaderScan {
  /// The last `hb-reply-topic`, `hb-request-id` and `hb-slo-ms`.
  private(set) var replyTopic: KafkaHeader?
  private(set) var requestID: KafkaHeader?
  private(set) var slo: KafkaHeader?
  /// Names and values together, in bytes.
  private(set) var bytes = 0
  /// What the carried headers take in a batch (`RecordLimits.carriedHeaderBytes`).
  private(set) var carriedBytes = 0
  /// Whether a name is empty or longer than `RequestLimits.maxHeaderNameBytes`.
  private var badName = false
  private let count: Int

  init(_ headers: [KafkaHeader]) {
    count = headers.count
    for header in headers {
      let nameBytes = header.key.utf8.count
      let valueBytes = header.value?.count ?? 0
      bytes += nameBytes + valueBytes
      if nameBytes == 0 || nameBytes > RequestLimits.maxHeaderNameBytes { badName = true }
      if HeaderName.isReserved(header.key) {
        switch header.key {
        case HeaderName.replyTopic:
          replyTopic = header
          carriedBytes += RecordLimits.carriedBytes(name: nameBytes, value: valueBytes)
        case HeaderName.requestID: requestID = header
        case HeaderName.slo: slo = header
        default: break
        }
      } else {
        carriedBytes += RecordLimits.carriedBytes(name: nameBytes, value: valueBytes)
      }
    }
  }

  /// The reply topic named (`Reply.topic(in:)`): "" when it is not UTF-8 text.
  var replyTopicName: String? {
    replyTopic.map { header in header.value.flatMap { String(validating: $0, as: UTF8.self) } ?? ""
    }
  }

  /// The producer's request id (`RequestRouter.givenRequestID`): nil when none or empty.
  var givenRequestID: String? {
    guard let value = requestID?.value, !value.isEmpty else { return nil }
    return String(decoding: value, as: UTF8.self)
  }

  /// `RequestLimits.headersProblem` of the names, worked out only when one is broken.
  func namesProblem(_ headers: [KafkaHeader]) -> RequestLimits.Problem? {
    guard badName || count > RequestLimits.maxHeaders else { return nil }
    return RequestLimits.headersProblem(headers.map(\.key))
  }
}
