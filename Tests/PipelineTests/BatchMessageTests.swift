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
    let message = batch.message(id: "b-1", batcher: "host-1", topics: PipelineTopics())
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
      ready.message(id: "b", batcher: "t", topics: PipelineTopics()).value ?? [])
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
