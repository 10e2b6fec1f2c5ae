import KafkaMessages

/// Late records on hb.late: the request as it came from the router, plus why it is late, by
/// how much, and where it was read.
public enum LateRecord {
  /// The batcher's reason: the predicted end (flush + the plan's maximum latency) passes the SLO.
  public static let sloUnreachable = "slo-unreachable"
  /// A worker's reason: the batch waited for a slot until even its fastest run would end past
  /// the SLO (`WorkerLatePolicy.shed`).
  public static let queuedPastSLO = "queued-past-slo"

  /// `hb-late-by-ms`'s value: milliseconds with at most three decimals.
  public static func milliseconds(_ seconds: Double) -> String {
    GroupedRecord.number((seconds * 1_000_000).rounded() / 1000)
  }

  public static func message(
    for request: BufferedRequest<BatchItem>, lateBy: Double, topic: String
  ) -> KafkaProducerMessage {
    var headers = request.item.headers
    headers.append(KafkaHeader(key: HeaderName.lateReason, value: Array(sloUnreachable.utf8)))
    headers.append(
      KafkaHeader(
        key: HeaderName.lateBy,
        value: Array(milliseconds(lateBy).utf8)))
    headers.append(
      KafkaHeader(key: HeaderName.source, value: Array(request.item.coordinates.utf8)))
    return RecordLimits.fitting(
      KafkaProducerMessage(
        topic: topic, key: Array(request.app.utf8), value: request.item.value, headers: headers,
        timestampMs: Int64((request.arrival * 1000).rounded())))
  }
}
