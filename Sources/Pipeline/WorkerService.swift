import Foundation
import Inference
import Kafka
import Planner
import Synchronization

/// A worker: a member of `hb-workers-<kind>` on `hb.batches.<kind>` that runs each batch on its
/// backend and publishes one result per request to hb.results and one feedback record per batch to
/// hb.feedback. A batch's offset is committed only after all of them are acknowledged. A batch that
/// cannot be read, or a payload the backend cannot run, goes to the dead letter with a reason, and
/// the worker goes on. Membership stays alive during long batches (librdkafka heartbeats from its
/// own thread, well within `max.poll.interval.ms`); on stop the batch in hand is finished first.
public struct WorkerService: Sendable {
  public struct Settings: Sendable {
    public var kind: FunctionConfig.Kind = .cpu
    public var topics = PipelineTopics()
    public var groupID: String?
    public var instance = ProcessInfo.processInfo.hostName + "-\(getpid())"
    /// Prices each invocation for the feedback record, when set.
    public var costModel: CostModel?
    /// Batches run at once, like concurrent invocations of a serverless function. Emulated
    /// functions only hold time, so many can run side by side; real inference shares the cores.
    public var concurrency = 1

    public init() {}
  }

  public let common: KafkaConfiguration
  public let settings: Settings
  public let backend: any InferenceBackend
  public let log: PipelineLog

  public init(
    common: KafkaConfiguration, settings: Settings, backend: any InferenceBackend, log: PipelineLog
  ) {
    self.common = common
    self.settings = settings
    self.backend = backend
    self.log = log
  }

  public func run(stop: StopFlag) throws {
    let clock = PipelineClock()
    let io = try StageIO(
      common: common, groupID: settings.groupID ?? "hb-workers-\(settings.kind.rawValue)",
      input: settings.topics.batches(for: settings.kind), log: log)
    var batches = 0
    let requests = Atomic<Int>(0)
    let slots = DispatchSemaphore(value: max(1, settings.concurrency))
    let running = DispatchGroup()
    let firstError = Mutex<Error?>(nil)
    let queue = DispatchQueue(label: "hb-worker-invocations", attributes: .concurrent)
    var failure: Error?
    do {
      while !stop.isSet {
        if let error = firstError.withLock({ $0 }) { throw error }
        if let record = try io.nextRecord(timeoutMs: 100) {
          batches += 1
          // Wait for a free invocation slot, still storing offsets meanwhile.
          while slots.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            try io.advanceOffsetsPeriodically()
          }
          running.enter()
          queue.async {
            defer {
              slots.signal()
              running.leave()
            }
            do {
              requests.add(try process(record, io: io, clock: clock), ordering: .relaxed)
            } catch {
              firstError.withLock { $0 = $0 ?? error }
            }
          }
        }
        try io.advanceOffsetsPeriodically()
      }
    } catch {
      failure = error
    }
    // Finish the batches in hand before leaving.
    running.wait()
    failure = failure ?? firstError.withLock { $0 }
    do {
      try io.finish()
    } catch {
      failure = failure ?? error
    }
    log.info(
      "stopped: \(batches) batches, \(requests.load(ordering: .relaxed)) requests on \(backend.name)"
    )
    if let failure { throw failure }
  }

  /// Runs one batch record; returns how many requests it held.
  private func process(_ record: KafkaRecord, io: StageIO, clock: PipelineClock) throws -> Int {
    let source = [(record.topicPartition, record.offset)]
    let batch: BatchMessage
    do {
      batch = try BatchMessage.decode(record.value ?? [])
    } catch {
      try io.produce(
        DeadLetter.message(
          for: record, code: .badBatch, detail: "the batch is not valid JSON: \(error)",
          topic: settings.topics.deadLetter), sources: source)
      return 0
    }
    var payloads: [[UInt8]] = []
    var messages: [KafkaProducerMessage] = []
    var runnable: [BatchMessage.Request] = []
    for request in batch.requests {
      guard let payload = Data(base64Encoded: request.payload) else {
        messages.append(
          deadLetter(
            request, batch: batch, code: "bad-payload", detail: "the payload is not base64"))
        continue
      }
      payloads.append(Array(payload))
      runnable.append(request)
    }
    let started = clock.now()
    let outputs = payloads.isEmpty ? [] : backend.run(payloads, on: batch.function)
    let finished = clock.now()
    let published = clock.now()
    var endToEnd: [Double] = []
    for (request, output) in zip(runnable, outputs) {
      if case .failed(let code, let detail) = output {
        messages.append(deadLetter(request, batch: batch, code: code, detail: detail))
        continue
      }
      let latency = published * 1000 - Double(request.arrivalMs)
      endToEnd.append(latency)
      var vector: [Float]?
      if case .embedding(let values) = output { vector = values }
      let result = ResultMessage(
        requestID: request.id, app: request.app, batchID: batch.batchID, group: batch.group,
        backend: backend.name, emulated: backend.emulated, output: vector, sloMs: request.sloMs,
        arrivalMs: Double(request.arrivalMs), flushedMs: batch.flushedAtMs,
        startedMs: started * 1000, finishedMs: finished * 1000, publishedMs: published * 1000,
        latencyMs: latency, sloMet: latency <= request.sloMs, late: request.late)
      messages.append(
        KafkaProducerMessage(
          topic: settings.topics.results, key: Array(request.id.utf8), value: result.sortedJSON()))
    }
    let seconds = finished - started
    // The batch the function really ran: payloads the backend refused were not part of it.
    let ran = outputs.filter {
      if case .failed = $0 { return false }
      return true
    }.count
    let feedback = FeedbackMessage(
      batchID: batch.batchID, group: batch.group, planVersion: batch.planVersion,
      function: batch.function, backend: backend.name, emulated: backend.emulated,
      batchSize: ran, inferenceSeconds: seconds, predictedMaxMs: batch.latencyMaxMs,
      endToEndMs: endToEnd, worker: settings.instance, startedMs: started * 1000,
      finishedMs: finished * 1000, flushedMs: batch.flushedAtMs,
      billedCost: billedCost(batch.function, seconds: seconds, batch: ran))
    messages.append(
      KafkaProducerMessage(
        topic: settings.topics.feedback, key: Array(batch.group.utf8), value: feedback.sortedJSON())
    )
    try io.produce(messages, sources: source)
    return batch.requests.count
  }

  private func billedCost(_ function: FunctionConfig, seconds: Double, batch: Int) -> Double? {
    guard let cost = settings.costModel, batch > 0 else { return nil }
    let perRequest =
      function.kind == .cpu
      ? cost.cpuCostPerRequest(vcpu: function.vcpu, batch: batch, avgLatency: seconds)
      : cost.gpuCostPerRequest(memoryGB: function.gpuMemoryGB, batch: batch, avgLatency: seconds)
    return perRequest.map { $0 * Double(batch) }
  }

  /// A dead letter for one request of a batch: its payload, with the request's identity.
  private func deadLetter(
    _ request: BatchMessage.Request, batch: BatchMessage, code: String, detail: String
  ) -> KafkaProducerMessage {
    let headers = [
      KafkaHeader(key: HeaderName.requestID, value: Array(request.id.utf8)),
      KafkaHeader(key: HeaderName.app, value: Array(request.app.utf8)),
      KafkaHeader(key: HeaderName.error, value: Array(code.utf8)),
      KafkaHeader(key: HeaderName.errorDetail, value: Array(detail.utf8)),
      KafkaHeader(key: HeaderName.source, value: Array(request.source.utf8)),
      KafkaHeader(key: HeaderName.group, value: Array(batch.group.utf8)),
    ]
    return KafkaProducerMessage(
      topic: settings.topics.deadLetter, key: Array(request.app.utf8),
      value: Data(base64Encoded: request.payload).map(Array.init) ?? Array(request.payload.utf8),
      headers: headers)
  }
}
