import KafkaMessages
import Planner

/// What the batcher keeps of a request while it waits in a buffer.
public struct BatchItem: Sendable {
  public var source: KafkaTopicPartition
  public var offset: Int64
  public var value: [UInt8]?
  public var headers: [KafkaHeader]
  /// When the batcher read it (seconds since the epoch; 0: not known): its time before the
  /// batcher (producer → broker → router → hb.grouped → batcher) is this less its arrival.
  public var received: Double

  public init(
    source: KafkaTopicPartition, offset: Int64, value: [UInt8]?, headers: [KafkaHeader],
    received: Double = 0
  ) {
    self.source = source
    self.offset = offset
    self.value = value
    self.headers = headers
    self.received = received
  }

  var coordinates: String { source.coordinates(offset: offset) }
}

extension ReadyBatch where Item == BatchItem {
  /// The batch as a message for its function's topic, keyed by its own batch id: batches need no
  /// order, so the key's hash spreads one group's batches over every partition of the topic and
  /// every member of the worker group shares every group's load (keyed by group, a hot group's
  /// batches would all sit on one partition, read by one replica however many there are).
  /// Written by hand (the same object `BatchMessage` decodes, equal to its Codable encoding:
  /// `BatchEncodingTests`): this runs once per batch on the hot path. A number that is not finite
  /// throws, as `messageJSON()` does; the batcher's numbers are finite by construction (its clock's,
  /// and those of the grouped record, each checked where it is read: `GroupedRecord.parse`), so
  /// this does not happen to a batch it made.
  public func message(id: String, batcher: String, topics: PipelineTopics) throws(EncodingError)
    -> KafkaProducerMessage
  {
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
    try json.number(flushedAt * 1000)
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
    try json.number(spec.function.vcpu)
    json.raw("},")
    json.key("group")
    json.string(spec.key.group)
    json.raw(",")
    let intake = requests.reduce(-1.0) {
      $1.item.received > 0 ? max($0, $1.item.received - $1.arrival) : $0
    }
    if intake >= 0 {
      json.key("intake_ms")
      try json.number((intake * 1000 * 1000).rounded() / 1000)
      json.raw(",")
    }
    json.key("latency_max_ms")
    try json.number(spec.latencyMax * 1000)
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
      try json.number(request.deadline * 1000)
      json.raw(",")
      if request.item.headers.contains(where: { HeaderName.isCarried($0.key) }) {
        json.key("headers")
        json.raw("[")
        var first = true
        for header in request.item.headers where HeaderName.isCarried(header.key) {
          if !first { json.raw(",") }
          first = false
          json.raw("{")
          json.key("name")
          json.string(header.key)
          if let bytes = header.value {
            json.raw(",")
            if let text = String(validating: bytes, as: UTF8.self) {
              json.key("value")
              json.string(text)
            } else {
              json.key("base64")
              json.base64(bytes)
            }
          }
          json.raw("}")
        }
        json.raw("],")
      }
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
      try json.number(request.slo * 1000)
      json.raw(",")
      json.key("source")
      json.coordinates(
        request.item.source.topic, request.item.source.partition, request.item.offset)
      json.raw("}")
    }
    json.raw("]}")
    return KafkaProducerMessage(
      topic: topics.batches(for: spec.function.kind), key: Array(id.utf8),
      value: json.bytes, headers: [], timestampMs: Int64((flushedAt * 1000).rounded()))
  }
}
