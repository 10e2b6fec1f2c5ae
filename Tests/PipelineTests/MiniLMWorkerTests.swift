import Foundation
import Inference
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline
@testable import PipelineCore

/// A CPU worker with real MiniLM inference, through Kafka: each request's embedding comes back in
/// its result, equal to the encoder's own; a payload that is not text goes to the dead letter.
@Suite(.serialized, .startsServices(alone: true), .onOwnThread) struct MiniLMWorkerTests {
  @Test func resultsCarryTheEmbeddingsAndABadPayloadIsADeadLetter() throws {
    let bootstrap = sharedBroker.bootstrapServers
    let topics = PipelineTopics(prefix: uniqueName("minilm") + ".")
    try sharedBroker.createTopics(topics.specs(partitions: 1))
    let encoder = try MiniLMEncoder(directory: try ModelLocator.directory())
    let log = CapturedLog()
    var settings = WorkerService.Settings()
    settings.kind = .cpu
    settings.topics = topics
    settings.groupID = uniqueName("workers")
    settings.costModel = try Planner(model: "minilm").provisioner.costModel
    let configured = settings
    let worker = RunningService("worker") { stop in
      try WorkerService(
        common: quietCommon(bootstrap), settings: configured,
        backend: MiniLMBackend(encoder: encoder), log: log.log("worker")
      ).run(stop: stop)
    }
    let texts = ["A man is playing a guitar.", "Café naïve résumé", "東京の天気"]
    let payloads = texts.map { Array($0.utf8) } + [[0xff, 0xfe, 0x00]]
    let now = Date().timeIntervalSince1970
    let requests = payloads.enumerated().map { index, payload in
      BufferedRequest(
        id: "m-\(index)", app: "app", arrival: now, slo: 10, timeout: 1,
        item: BatchItem(
          source: KafkaTopicPartition(topic: topics.grouped, partition: 0), offset: Int64(index),
          value: payload, headers: []))
    }
    let spec = GroupSpec(
      key: GroupKey(planVersion: 1, group: "g1"), function: .cpu(vcpu: 1), capacity: 4,
      latencyMax: 0.1)
    let producer = try KafkaProducer(
      configuration: KafkaProducerConfiguration(common: quietCommon(bootstrap)))
    try producer.enqueue(
      try ReadyBatch(
        spec: spec, requests: requests, reason: .full, flushedAt: now, dueAt: now, lateIDs: []
      ).message(id: "b-1", batcher: "test", topics: topics))
    try producer.flush()
    producer.close()

    let results = try readTopic(bootstrap, topics.results, partitions: 1) { $0.count >= 3 }
      .map { try JSONDecoder().decode(ResultMessage.self, from: Data($0.value ?? [])) }
    let dead = try readTopic(bootstrap, topics.deadLetter, partitions: 1) { !$0.isEmpty }
    let feedback = try readTopic(bootstrap, topics.feedback, partitions: 1) { !$0.isEmpty }
    #expect(worker.finish() == nil)

    #expect(results.map(\.requestID).sorted() == ["m-0", "m-1", "m-2"])
    let expected = encoder.embed(texts)
    for result in results {
      let index = Int(result.requestID.dropFirst(2))!
      let output = try #require(result.output)
      #expect(result.backend == "minilm" && !result.emulated)
      #expect(output.count == 384)
      let dot = zip(output, expected[index]).reduce(Float(0)) { $0 + $1.0 * $1.1 }
      #expect(dot > 0.9999, "\(result.requestID): cosine \(dot)")
      #expect(result.sloMet)
    }
    #expect(dead.count == 1)
    #expect(dead.first?.header(HeaderName.error) == "bad-payload")
    #expect(dead.first?.header(HeaderName.requestID) == "m-3")
    let record = try JSONDecoder().decode(FeedbackMessage.self, from: Data(feedback[0].value ?? []))
    #expect(record.batchSize == 3 && record.backend == "minilm" && record.inferenceSeconds > 0)
    #expect(record.billedCost.map { $0 > 0 } == true)
  }
}
