import Foundation
import Kafka
import Pipeline
import PipelineCore
import Planner

/// Records no stage should be stopped by: oversized and malformed requests (each must end as
/// one dead letter with its reason), and malformed or numerically absurd records on every
/// internal topic (each must be refused and counted, and leave every service running).
public struct PoisonRecords {
  public let topics: PipelineTopics
  public var random: SeededRandom

  /// A bad request, its id, and the dead-letter code it must end with.
  public mutating func request(_ kind: Int, id: String) -> (KafkaProducerMessage, code: String) {
    func message(key: [UInt8]?, value: [UInt8], slo: String?, extra: [KafkaHeader] = [])
      -> KafkaProducerMessage
    {
      var headers = [KafkaHeader(key: HeaderName.requestID, value: Array(id.utf8))]
      if let slo { headers.append(KafkaHeader(key: HeaderName.slo, value: Array(slo.utf8))) }
      return KafkaProducerMessage(
        topic: topics.requests, key: key, value: value, headers: headers + extra)
    }
    switch kind % Self.requestKinds {
    case 0:
      // Over the router's limit; every third one over the producer's 1 MB record limit too
      // (its dead letter must drop the value to be produced at all). Spread over the apps'
      // partitions: the embedded broker keeps only 5 MB of each partition, and large records
      // sent too often would push out requests a stopped stage has not read yet.
      let size = (kind / 6) % 3 == 0 ? 1_200_000 : RecordLimits.maxPayloadBytes + 1024
      let app = ["a1", "a2", "a3"][(kind / 6) % 3]
      return (
        message(key: Array(app.utf8), value: Array(repeating: 1, count: size), slo: "500"),
        ReasonCode.payloadTooLarge.rawValue
      )
    case 1:
      return (message(key: Array("a1".utf8), value: [1], slo: "0x1F4"), ReasonCode.badSLO.rawValue)
    case 2:
      return (message(key: [0xFF, 0xFE, 0x41], value: [1], slo: "500"), ReasonCode.badKey.rawValue)
    case 3:
      return (message(key: nil, value: [1], slo: "500"), ReasonCode.missingApp.rawValue)
    case 4:
      return (
        message(key: Array("nobody".utf8), value: [1], slo: nil), ReasonCode.missingSLO.rawValue
      )
    case 5:
      return (
        message(key: Array("a2".utf8), value: [1], slo: "99999999999999999999"),
        ReasonCode.badSLO.rawValue
      )
    // A tenant's request that a worker would refuse: refused at the router, alone.
    case 6:
      let many = (0..<63).map { KafkaHeader(key: "x-\($0)", value: [1]) }
      return (
        message(key: Array("a1".utf8), value: [1], slo: "500", extra: many),
        ReasonCode.badHeaders.rawValue
      )
    case 7:
      return (
        message(
          key: Array("a2".utf8), value: [1], slo: "500", extra: [KafkaHeader(key: "", value: [1])]),
        ReasonCode.badHeaders.rawValue
      )
    case 8:
      return (
        message(key: Array(repeating: UInt8(ascii: "k"), count: 1_100), value: [1], slo: "500"),
        ReasonCode.badKey.rawValue
      )
    case 9:
      return (
        message(key: Array("a b".utf8), value: [1], slo: "500"), ReasonCode.badKey.rawValue
      )
    // A hostile tenant's requests: each must end once, and cost nobody else anything.
    case 10:
      // A CreateTime an hour ahead: taken as the time it is read, and served.
      var ahead = message(key: Array("a1".utf8), value: [1], slo: "60000")
      ahead.timestampMs = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
      return (ahead, Self.served)
    case 11:
      return (
        message(
          key: Array("a2".utf8), value: [1], slo: "500",
          extra: [KafkaHeader(key: HeaderName.replyTopic, value: Array("__consumer_offsets".utf8))]
        ), ReasonCode.badReplyTopic.rawValue
      )
    case 12:
      // A reply topic nobody created: served, no reply sent, and no topic made for it.
      return (
        message(
          key: Array("a3".utf8), value: [1], slo: "60000",
          extra: [
            KafkaHeader(key: HeaderName.replyTopic, value: Array((Self.inventedReplies + id).utf8))
          ]), Self.served
      )
    case 13:
      // A new app with an id of the longest length: served alone.
      let app = String(("t-" + id + "-" + String(repeating: "x", count: 128)).prefix(128))
      return (message(key: Array(app.utf8), value: [1], slo: "60000"), Self.served)
    default:
      // A batch for a group no plan has, written straight to the batch topic.
      return (unknownGroupBatch(id: id), ReasonCode.unknownGroup.rawValue)
    }
  }

  /// How many kinds of bad request `request` makes.
  public static let requestKinds = 15
  /// The outcome of a hostile request that must still be served (a late record too, when a
  /// fault held it past its SLO, as it may any request).
  public static let served = "result"
  /// The prefix of the reply topics hostile requests invent (none may come to exist).
  public static let inventedReplies = "replies.invented-"

  /// Whether `internalRecord(kind, plan:)` makes its record from the plan in force.
  public static func needsPlan(_ kind: Int) -> Bool { [3, 8].contains(kind % internalKinds) }

  /// How many kinds of bad internal record `internalRecord` makes.
  public static let internalKinds = 9
  /// Who the plans of another writer say they are from.
  public static let rogueWriter = "rogue-tenant"

  /// A bad record for an internal topic, and what it is. Throws when a plan it makes cannot be
  /// written (`Plan.jsonData`).
  public mutating func internalRecord(_ kind: Int, plan: Plan?) throws -> (
    KafkaProducerMessage, String
  ) {
    switch kind % Self.internalKinds {
    case 0:
      return (
        KafkaProducerMessage(
          topic: topics.grouped, key: Array("g1".utf8), value: [1, 2, 3],
          headers: [KafkaHeader(key: HeaderName.route, value: Array("7|x|y".utf8))]),
        "grouped record with a broken hb-route"
      )
    case 1:
      return (
        KafkaProducerMessage(topic: topics.batchesCPU, key: nil, value: Array("{oops".utf8)),
        "batch that is not JSON"
      )
    case 2:
      return (fuzzedBatch(), "batch with an absurd number")
    case 3:
      var bad = plan ?? (try? Planner(model: "VGG19").plan([App(id: "a1", slo: 0.5, rate: 1)]))!
      bad.version = (bad.version ?? 0) + 1000
      if !bad.groups.isEmpty { bad.groups[0].batchSize = 0 }
      return (
        KafkaProducerMessage(
          topic: topics.plans, key: Array("plan".utf8),
          value: Array(try bad.jsonData(pretty: false))),
        "plan with batch size 0"
      )
    case 4:
      return (fuzzed(feedback(), topic: topics.feedback), "feedback with an absurd number")
    case 5:
      return (fuzzed(rates(), topic: topics.rates), "router report with an absurd number")
    case 6:
      return (fuzzed(workers(), topic: topics.workers), "worker report with an absurd number")
    case 8:
      // A valid plan by another writer, with the last version there is: the controller's own
      // must be back in force.
      var rogue = plan ?? (try? Planner(model: "VGG19").plan([App(id: "a1", slo: 0.5, rate: 1)]))!
      rogue.version = Int(Int32.max)
      rogue.writer = Self.rogueWriter
      return (
        KafkaProducerMessage(
          topic: topics.plans, partition: 0, key: Array("plan".utf8),
          value: Array(try rogue.jsonData(pretty: false))),
        "plan v\(Int32.max) by another writer"
      )
    default:
      let topic = [topics.feedback, topics.rates, topics.workers, topics.plans][random.below(4)]
      return (
        KafkaProducerMessage(
          topic: topic, key: nil,
          value: (0..<64).map { _ in UInt8(truncatingIfNeeded: random.next()) }),
        "random bytes on \(topic)"
      )
    }
  }

  // MARK: Valid messages to fuzz

  private func feedback() -> FeedbackMessage {
    let now = Date().timeIntervalSince1970 * 1000
    return FeedbackMessage(
      batchID: "fuzz", group: "g1", planVersion: 1, function: .cpu(vcpu: 1),
      backend: "emulated-cpu",
      emulated: true, batchSize: 1, inferenceSeconds: 0.2, predictedMaxMs: 300, endToEndMs: [250],
      worker: "fuzz", workerGroup: "hb-workers-cpu", flushedMs: now, receivedMs: now + 5,
      startedMs: now + 5, finishedMs: now + 205, publishedMs: now + 206, billedCost: 1e-6)
  }

  private func rates() -> RatesMessage {
    let now = Date().timeIntervalSince1970 * 1000
    return RatesMessage(
      router: "fuzz", planVersion: 1, windowStartMs: now - 1000, windowEndMs: now,
      apps: ["a1": .init(requests: 5, sloMs: 500, planned: true)], rejected: [:])
  }

  private func workers() -> WorkerReport {
    let now = Date().timeIntervalSince1970 * 1000
    return WorkerReport(
      worker: "fuzz", group: "hb-workers-cpu", kind: .cpu, backend: "emulated-cpu", emulated: true,
      slots: 2, cores: nil, windowStartMs: now - 1000, windowEndMs: now, busySlots: 1, batches: 3,
      requests: 3, queueWaitMs: Percentiles.of([1, 2, 3]), backlog: 0, lag: 0)
  }

  private func unknownGroupBatch(id: String) -> KafkaProducerMessage {
    let batch = Self.gpuBatch(
      batchID: "tenant-\(id)", group: "tenant-made", batchSize: 1, requestID: id,
      source: "tenant/0/\(id)", sloMs: 60000)
    return KafkaProducerMessage(
      topic: topics.batchesGPU, key: Array(id.utf8),
      value: (try? Array(JSONSerialization.data(withJSONObject: batch))) ?? [])
  }

  /// A batch of one request of app a3 on a 2 GB GPU function, as a JSON object.
  private static func gpuBatch(
    batchID: String, group: String, batchSize: Int, requestID: String, source: String,
    sloMs: Double
  ) -> [String: Any] {
    let now = Date().timeIntervalSince1970 * 1000
    return [
      "batch_id": batchID, "group": group, "plan_version": 1,
      "function": ["kind": "gpu", "vcpu": 0.67, "gpu_mem_gb": 2], "batch_size": batchSize,
      "flush_reason": "full", "flushed_at_ms": now, "latency_max_ms": 300, "batcher": batchID,
      "requests": [
        [
          "id": requestID, "app": "a3", "slo_ms": sloMs, "arrival_ms": Int64(now),
          "deadline_ms": now + 500, "late": false, "source": source, "payload": "AQ==",
        ]
      ],
    ]
  }

  private mutating func fuzzedBatch() -> KafkaProducerMessage {
    let batch = Self.gpuBatch(
      batchID: "fuzz", group: "fuzz", batchSize: 2, requestID: "fuzz-batch",
      source: "\(topics.grouped)/0/0", sloMs: 1000)
    let json = (try? Array(JSONSerialization.data(withJSONObject: batch))) ?? []
    return KafkaProducerMessage(
      topic: random.below(2) == 0 ? topics.batchesGPU : topics.batchesCPU,
      key: Array("fuzz".utf8), value: fuzz(json))
  }

  private mutating func fuzzed<T: Encodable>(_ value: T, topic: String) -> KafkaProducerMessage {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let bytes = (try? Array(encoder.encode(value))) ?? []
    return KafkaProducerMessage(topic: topic, key: Array("fuzz".utf8), value: fuzz(bytes))
  }

  /// The JSON with one numeric field (anywhere in it) replaced by an absurd value.
  public mutating func fuzz(_ json: [UInt8]) -> [UInt8] {
    guard var object = try? JSONSerialization.jsonObject(with: Data(json)) else { return json }
    var paths: [[Any]] = []
    func collect(_ node: Any, _ path: [Any]) {
      if let dictionary = node as? [String: Any] {
        for (key, child) in dictionary { collect(child, path + [key]) }
      } else if let array = node as? [Any] {
        for (index, child) in array.enumerated() { collect(child, path + [index]) }
      } else if node is NSNumber {
        paths.append(path)
      }
    }
    collect(object, [])
    guard !paths.isEmpty else { return json }
    let path = paths[random.below(paths.count)]
    let values: [Any] = [-1, 0, 1e308, -1e308, 9.3e18, -9.3e18, 1e-300, "NaN", NSNull(), 4.2e9]
    let replacement = values[random.below(values.count)]
    func replace(_ node: Any, _ path: ArraySlice<Any>) -> Any {
      guard let step = path.first else { return replacement }
      if var dictionary = node as? [String: Any], let key = step as? String {
        dictionary[key] = replace(dictionary[key] as Any, path.dropFirst())
        return dictionary
      }
      if var array = node as? [Any], let index = step as? Int, index < array.count {
        array[index] = replace(array[index], path.dropFirst())
        return array
      }
      return node
    }
    object = replace(object, path[...])
    return (try? Array(JSONSerialization.data(withJSONObject: object))) ?? json
  }
}

extension SeededRandom {
  /// A uniform integer in 0..<n.
  public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}
