import KafkaMessages

/// Dead-letter records: the original key, value and headers, plus why and where from.
public enum DeadLetter {
  public static func message(
    for record: KafkaRecord, code: ReasonCode, detail: String, topic: String
  ) -> KafkaProducerMessage {
    var headers = record.headers + saying(code, detail)
    headers.append(KafkaHeader(key: HeaderName.source, value: Array(record.coordinates.utf8)))
    return RecordLimits.fitting(
      KafkaProducerMessage(
        topic: topic, key: record.key, value: record.value, headers: headers,
        timestampMs: record.timestampMs))
  }

  /// The headers that say why: `hb-error` (the code) and `hb-error-detail`.
  public static func saying(_ code: ReasonCode, _ detail: String) -> [KafkaHeader] {
    [
      KafkaHeader(key: HeaderName.error, value: Array(code.rawValue.utf8)),
      KafkaHeader(key: HeaderName.errorDetail, value: Array(detail.utf8)),
    ]
  }
}
