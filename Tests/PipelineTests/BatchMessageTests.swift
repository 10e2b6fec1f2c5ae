import Foundation
import Kafka
import Planner
import Testing

@testable import Pipeline
@testable import PipelineCore

/// The hand-written batch JSON reads back, through Codable, as exactly what was batched.
@Suite struct BatchMessageTests {
  @Test func aBatchReadsBackAsWritten() throws {
    let spec = GroupSpec(
      key: GroupKey(planVersion: 7, group: "solo:ap\"p\\1:250"),
      function: .gpu(memoryGB: 3, vcpu: 1),
      capacity: 8, latencyMax: 0.0425)
    let payloads: [[UInt8]] = [
      [], [0], [1, 2], [0xff, 0xfe, 0xfd], Array("héllo, wörld — 日本".utf8), Array(0...255),
    ]
    let requests = payloads.enumerated().map { index, payload in
      BufferedRequest(
        id: "id-\(index)\n\t\u{1}", app: "app \"\(index)\"",
        arrival: 1_795_000_000.123 + Double(index),
        slo: 0.25, timeout: 0.1,
        item: BatchItem(
          source: KafkaTopicPartition(topic: "hb.grouped", partition: 2), offset: Int64(index),
          value: payload, headers: []))
    }
    let batch = ReadyBatch(
      spec: spec, requests: requests, reason: .deadline, flushedAt: 1_795_000_000.5,
      dueAt: 1_795_000_000.4, lateIDs: ["id-1\n\t\u{1}"])
    let message = try batch.message(id: "b-1", batcher: "host-1", topics: PipelineTopics())
    #expect(message.topic == "hb.batches.gpu")
    // Keyed by its own id, so one group's batches spread over every partition.
    #expect(message.key == Array("b-1".utf8))
    let decoded = try BatchMessage.decode(message.value ?? [])
    #expect(decoded.batchID == "b-1")
    #expect(decoded.group == spec.key.group)
    #expect(decoded.planVersion == 7)
    #expect(decoded.function == spec.function)
    #expect(decoded.batchSize == 8)
    #expect(decoded.flushReason == .deadline)
    #expect(abs(decoded.flushedAtMs - 1_795_000_000_500) < 0.01)
    #expect(abs(decoded.latencyMaxMs - 42.5) < 1e-9)
    #expect(decoded.batcher == "host-1")
    #expect(decoded.requests.count == payloads.count)
    for (index, request) in decoded.requests.enumerated() {
      #expect(request.id == requests[index].id)
      #expect(request.app == requests[index].app)
      #expect(request.sloMs == 250)
      #expect(request.arrivalMs == Int64((requests[index].arrival * 1000).rounded()))
      #expect(abs(request.deadlineMs - requests[index].deadline * 1000) < 0.01)
      #expect(request.late == (index == 1))
      #expect(request.source == "hb.grouped/2/\(index)")
      #expect(request.payload == Data(payloads[index]).base64EncodedString())
      #expect(Data(base64Encoded: request.payload).map(Array.init) == payloads[index])
    }
  }

  /// A message that cannot be written throws: no record is ever sent with an empty value.
  @Test func aMessageThatCannotBeWrittenThrowsInsteadOfBecomingEmpty() throws {
    var result = ResultMessage(
      requestID: "r", app: "a", batchID: "b", group: "g", backend: "minilm", emulated: false,
      output: [0.5, 0.25], sloMs: 500, arrivalMs: 0, flushedMs: 1, startedMs: 2, finishedMs: 3,
      publishedMs: 4, latencyMs: 4, sloMet: true, late: false)
    let written = String(decoding: try result.messageJSON(), as: UTF8.self)
    #expect(written.hasPrefix("{\"app\":\"a\",\"arrival_ms\":0,\"backend\":\"minilm\""))
    result.output = [Float.nan]
    #expect(throws: EncodingError.self) { try result.messageJSON() }
  }

  @Test func groupedHeadersReadBack() throws {
    let spec = GroupSpec(
      key: GroupKey(planVersion: 3, group: "g2"), function: .cpu(vcpu: 1.55), capacity: 2,
      latencyMax: 0.3643)
    let grouped = GroupedRecord(
      requestID: "r-1", app: "a1", arrivalMs: 1_795_000_000_000, sloMs: 500, timeoutMs: 135.7,
      spec: spec)
    let original = [
      KafkaHeader(key: "trace", value: Array("x".utf8)),
      KafkaHeader(key: HeaderName.slo, value: Array("900".utf8)),
    ]
    let headers = grouped.headers(keeping: original)
    #expect(headers.first?.key == "trace")
    #expect(headers.filter { $0.key == HeaderName.slo }.count == 1)
    #expect(try GroupedRecord.parse(headers).get() == grouped)
    for missing in GroupedRecord.routingHeaders {
      guard case .failure(let error) = GroupedRecord.parse(headers.filter { $0.key != missing })
      else {
        Issue.record("parsed without \(missing)")
        continue
      }
      #expect(error.header == missing)
    }
  }
}

/// Batches whose numbers cannot be run are refused before any work.
@Suite struct BatchValidationTests {
  static func batch(_ change: (inout BatchMessage) -> Void) throws -> [UInt8] {
    let spec = GroupSpec(
      key: GroupKey(planVersion: 1, group: "g1"), function: .gpu(memoryGB: 2, vcpu: 0.67),
      capacity: 4, latencyMax: 0.3)
    let requests = (0..<2).map { index in
      BufferedRequest(
        id: "r\(index)", app: "a", arrival: 1_795_000_000, slo: 0.5, timeout: 0.1,
        item: BatchItem(
          source: KafkaTopicPartition(topic: "hb.grouped", partition: 0), offset: Int64(index),
          value: [1], headers: []))
    }
    let ready = ReadyBatch(
      spec: spec, requests: requests, reason: .full, flushedAt: 1_795_000_000.1,
      dueAt: 1_795_000_000.1, lateIDs: [])
    var batch = try BatchMessage.decode(
      try ready.message(id: "b", batcher: "t", topics: PipelineTopics()).value ?? [])
    change(&batch)
    let encoder = JSONEncoder()
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return Array(try encoder.encode(batch))
  }

  @Test func absurdNumbersAreRefused() throws {
    _ = try BatchMessage.decode(try Self.batch { _ in })
    let cases: [(String, (inout BatchMessage) -> Void)] = [
      ("gpu_mem_gb 0", { $0.function = .gpu(memoryGB: 0, vcpu: 1) }),
      ("gpu_mem_gb -2", { $0.function = .gpu(memoryGB: -2, vcpu: 1) }),
      ("vcpu -1.0", { $0.function = .cpu(vcpu: -1) }),
      ("batch_size -3", { $0.batchSize = -3 }),
      ("requests 0", { $0.requests = [] }),
      ("latency_max_ms", { $0.latencyMaxMs = 1e300 }),
    ]
    for (expected, change) in cases {
      let bytes = try Self.batch(change)
      var refusal: String?
      do { _ = try BatchMessage.decode(bytes) } catch { refusal = "\(error)" }
      #expect(refusal?.contains(expected) == true, "\(expected): \(refusal ?? "accepted")")
    }
    // A request's own absurd number costs that request, not its batch.
    let batch = try BatchMessage.decode(try Self.batch { $0.requests[0].sloMs = -5 })
    #expect(batch.requests[0].problem?.detail.contains("slo_ms -5.0") == true)
  }
}

/// The batcher writes batches by hand (`JSONBytes`, for speed); everything else goes through
/// Codable. The two must write the same message: what the hand writer writes reads back as the
/// same value as the Codable encoding of the same batch, field by field, and both refuse a number
/// JSON cannot hold.
@Suite struct BatchEncodingTests {
  /// The batch `message` writes, as a value built from the ready batch field by field (the
  /// meaning of each field, not a reading of the JSON).
  static func expected(_ batch: ReadyBatch<BatchItem>, id: String, batcher: String)
    -> BatchMessage
  {
    let intakes = batch.requests.filter { $0.item.received > 0 }.map {
      $0.item.received - $0.arrival
    }
    return BatchMessage(
      batchID: id, group: batch.spec.key.group, planVersion: batch.spec.key.planVersion,
      function: batch.spec.function, batchSize: batch.spec.capacity, flushReason: batch.reason,
      flushedAtMs: batch.flushedAt * 1000, latencyMaxMs: batch.spec.latencyMax * 1000,
      batcher: batcher,
      intakeMs: intakes.max().map { (max(0, $0) * 1_000_000).rounded() / 1000 },
      requests: batch.requests.map { request in
        let headers = request.item.headers.filter { HeaderName.isCarried($0.key) }.map { header in
          let text = header.value.flatMap { String(validating: $0, as: UTF8.self) }
          return BatchMessage.Header(
            name: header.key, value: text,
            base64: text == nil ? header.value.map { Data($0).base64EncodedString() } : nil)
        }
        return BatchMessage.Request(
          id: request.id, app: request.app, sloMs: request.slo * 1000,
          arrivalMs: Int64((request.arrival * 1000).rounded()),
          deadlineMs: request.deadline * 1000, late: batch.lateIDs.contains(request.id),
          source: "\(request.item.source.topic)/\(request.item.source.partition)/"
            + "\(request.item.offset)",
          payload: Data(request.item.value ?? []).base64EncodedString(),
          headers: headers.isEmpty ? nil : headers)
      })
  }

  static func request(
    _ id: String, app: String, arrival: Double, slo: Double = 0.25, timeout: Double = 0.1,
    topic: String = "hb.grouped", partition: Int32 = 0, offset: Int64, payload: [UInt8]?,
    headers: [KafkaHeader] = [], received: Double = 0
  ) -> BufferedRequest<BatchItem> {
    BufferedRequest(
      id: id, app: app, arrival: arrival, slo: slo, timeout: timeout,
      item: BatchItem(
        source: KafkaTopicPartition(topic: topic, partition: partition), offset: offset,
        value: payload, headers: headers, received: received))
  }

  /// Batches of every shape: GPU and CPU; flushed full, at a deadline, as late; with and without
  /// `intake_ms`, carried headers (text, binary, without a value) and late requests; strings that
  /// need escaping (quotes, backslashes, control characters, slashes, non-ASCII).
  static let batches: [ReadyBatch<BatchItem>] = [
    ReadyBatch(
      spec: GroupSpec(
        key: GroupKey(planVersion: 7, group: "solo:ap\"p\\1/x:250"),
        function: .gpu(memoryGB: 3, vcpu: 1), capacity: 8, latencyMax: 0.0425),
      requests: [
        request(
          "id-0\n\t\u{1}\u{8}\u{c}\r\u{1f}", app: "app \"0\" é/日本", arrival: 1_795_000_000.123,
          offset: 0, payload: [],
          headers: [
            KafkaHeader(key: "traceparent", value: Array("00-abc-def-01".utf8)),
            KafkaHeader(key: HeaderName.replyTopic, value: Array("replies.a/b".utf8)),
            KafkaHeader(key: "binary\"key", value: [0xff, 0xfe, 0x00, 0x80]),
            KafkaHeader(key: "empty", value: nil),
            KafkaHeader(key: HeaderName.slo, value: Array("250".utf8)),
          ], received: 1_795_000_000.2),
        request(
          "id-1", app: "a\\b", arrival: 1_795_000_000.1234567, slo: 0.3333333, timeout: 0.0123,
          topic: "hb.grouped.\"odd\"", partition: 11, offset: 9_000_000_000,
          payload: Array(0...255), received: 1_795_000_000.25),
        request(
          "id-2", app: "a2", arrival: 1_795_000_001, offset: 2, payload: nil,
          headers: [KafkaHeader(key: HeaderName.app, value: Array("not carried".utf8))]),
      ],
      reason: .deadline, flushedAt: 1_795_000_000.5, dueAt: 1_795_000_000.4,
      lateIDs: ["id-1"]),
    ReadyBatch(
      spec: GroupSpec(
        key: GroupKey(planVersion: 1, group: "g1"), function: .cpu(vcpu: 1.55), capacity: 1,
        latencyMax: 0.3643),
      requests: [
        request("r", app: "a", arrival: 1_795_000_000, offset: 0, payload: Array("x".utf8))
      ],
      reason: .full, flushedAt: 1_795_000_000.000_1, dueAt: 1_795_000_000.1, lateIDs: []),
    ReadyBatch(
      spec: GroupSpec(
        key: GroupKey(planVersion: 2_147_483_647, group: "h\u{7f}\u{2028}"),
        function: .gpu(memoryGB: 24, vcpu: 0.67), capacity: 1024, latencyMax: 1e-6),
      requests: (0..<5).map { index in
        request(
          "r\(index)", app: "a\(index % 2)", arrival: 1_795_000_000 + Double(index) / 7,
          slo: 3600, timeout: Double(index) * 0.3, offset: Int64(index),
          payload: Array(repeating: UInt8(index), count: index),
          headers: index % 2 == 0
            ? [KafkaHeader(key: "tracestate", value: Array("k=v,\u{0}".utf8))] : [],
          received: index == 3 ? 1_795_000_000.9 : 0)
      },
      reason: .late, flushedAt: 1_795_000_002.999_999, dueAt: 1_795_000_002,
      lateIDs: ["r0", "r4", "absent"]),
  ]

  @Test func theHandWrittenBatchIsTheCodableEncodingOfTheSameBatch() throws {
    for (index, batch) in Self.batches.enumerated() {
      let id = "b-\(index)\"/\\"
      let expected = Self.expected(batch, id: id, batcher: "host/\(index)")
      let written = try #require(
        try batch.message(id: id, batcher: "host/\(index)", topics: PipelineTopics()).value)
      let codable = try expected.messageJSON()
      // The same value when read back…
      let decoded = try JSONDecoder().decode(BatchMessage.self, from: Data(written))
      #expect(decoded == expected, "batch \(index)")
      #expect(try BatchMessage.decode(written) == expected, "batch \(index)")
      // …and field by field the same JSON, optional fields absent where Codable leaves them out.
      let differences = Self.differences(
        try JSONSerialization.jsonObject(with: Data(written)),
        try JSONSerialization.jsonObject(with: Data(codable)))
      #expect(differences.isEmpty, "batch \(index): \(differences)")
    }
    // Optional fields both present and absent above.
    #expect(Self.batches.contains { Self.expected($0, id: "", batcher: "").intakeMs == nil })
    #expect(Self.batches.contains { Self.expected($0, id: "", batcher: "").intakeMs != nil })
    let requests = Self.batches.flatMap { Self.expected($0, id: "", batcher: "").requests }
    #expect(requests.contains { $0.headers == nil })
    #expect(requests.contains { $0.headers?.contains { $0.base64 != nil } == true })
    #expect(
      requests.contains { $0.headers?.contains { $0.value == nil && $0.base64 == nil } == true })
  }

  /// A number JSON cannot hold: the hand writer throws as `messageJSON()` does, and writes no
  /// `null` (the batch used to carry `"flushed_at_ms":null`, refused whole by every worker).
  @Test func aNumberJSONCannotHoldIsRefusedByBothWriters() throws {
    for change: (inout ReadyBatch<BatchItem>) -> Void in [
      { $0.flushedAt = .nan }, { $0.spec.latencyMax = .infinity },
      { $0.spec.function = .cpu(vcpu: .nan) }, { $0.requests[0].slo = -.infinity },
      { $0.requests[0].timeout = .infinity },
    ] {
      var batch = Self.batches[1]
      change(&batch)
      let expected = Self.expected(batch, id: "b", batcher: "h")
      let codable = #expect(throws: EncodingError.self) { try expected.messageJSON() }
      let handWritten = #expect(throws: EncodingError.self) {
        try batch.message(id: "b", batcher: "h", topics: PipelineTopics())
      }
      #expect(codable != nil && handWritten != nil)
      #expect(handWritten?.summary.contains("Unable to encode Double.") == true)
    }
  }

  /// The batcher's own numbers are finite by construction: a route whose function has an
  /// infinite vCPU is refused when read (it was taken and made a batch with `"vcpu":null`).
  @Test func aRouteWithAnInfiniteVCPUIsRefused() {
    #expect(GroupedRecord.parseRoute(Array("1|4|100|50|1795000000000|cpu:2|g".utf8)) != nil)
    for function in ["cpu:inf", "cpu:nan", "gpu:4:inf", "cpu:-1", "cpu:0"] {
      #expect(
        GroupedRecord.parseRoute(Array("1|4|100|50|1795000000000|\(function)|g".utf8)) == nil,
        "\(function)")
    }
  }

  /// Where two JSON values differ, as paths (`requests[0].headers[1].value: "a" ≠ "b"`).
  static func differences(_ a: Any, _ b: Any, at path: String = "") -> [String] {
    switch (a, b) {
    case (let a as [String: Any], let b as [String: Any]):
      return Set(a.keys).union(b.keys).sorted().flatMap { key -> [String] in
        let here = path.isEmpty ? key : "\(path).\(key)"
        guard let left = a[key], let right = b[key] else {
          return [
            "\(here): \(a[key] == nil ? "absent" : "present") ≠ "
              + "\(b[key] == nil ? "absent" : "present")"
          ]
        }
        return differences(left, right, at: here)
      }
    case (let a as [Any], let b as [Any]):
      guard a.count == b.count else { return ["\(path): \(a.count) ≠ \(b.count) elements"] }
      return zip(a, b).enumerated().flatMap { differences($1.0, $1.1, at: "\(path)[\($0)]") }
    case (let a as String, let b as String):
      return a == b ? [] : ["\(path): \(a.debugDescription) ≠ \(b.debugDescription)"]
    case (let a as NSNumber, let b as NSNumber):
      // Booleans are numbers to JSONSerialization: compare their kind too.
      let aIsBool = "\(type(of: a))".contains("Boolean")
      let bIsBool = "\(type(of: b))".contains("Boolean")
      return aIsBool == bIsBool && a.doubleValue == b.doubleValue
        ? [] : ["\(path): \(a) ≠ \(b)"]
    case (is NSNull, is NSNull):
      return []
    default:
      return ["\(path): \(a) ≠ \(b)"]
    }
  }
}
