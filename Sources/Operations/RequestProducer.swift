import Foundation
import Kafka
import Pipeline
import PipelineCore
import Synchronization

/// `produce`'s work: requests sent to the pipeline's requests topic — ones given, or a
/// generator's arrivals, each at its time, for a while — as a service that a signal stops, then
/// a wait for the broker to acknowledge every one.
public enum RequestProducer {
  /// What is sent.
  public enum Requests: Sendable {
    /// These requests, as fast as the producer takes them.
    case given([RequestRecord])
    /// The generator's arrivals, each when it is due, for this long (`RequestGenerator.send`).
    case generated(RequestGenerator, for: Duration)
  }

  /// How a run went.
  public struct Report: Sendable {
    /// Requests handed to the producer.
    public let sent: Int
    public let seconds: Double
    /// The generator's rate at the start, when generating.
    public let targetRate: Double?
    /// The service group's exit code: 0 when every request was acknowledged.
    public let code: Int32

    /// One line: how many, acknowledged or only sent, in how long, at what rate (and the
    /// target rate when generating).
    public var text: String {
      String(
        format: "produce: %d requests %@ in %.2f s (%.1f req/s", sent,
        code == 0 ? "acknowledged" : "sent", seconds, Double(sent) / seconds)
        + (targetRate.map { String(format: "; target %.1f req/s)", $0) } ?? ")")
    }
  }

  /// Sends `requests` to `topic` on the cluster `common` names; `keepingAlive` (an embedded
  /// broker) lives until the run ends. SIGINT/SIGTERM stop the sending early (unless `group`
  /// takes no signals); what was sent is still flushed (for at most a minute).
  public static func run(
    _ requests: Requests, topic: String, common: KafkaConfiguration,
    keepingAlive: EmbeddedBroker? = nil, group: ServiceGroup.Settings = .init()
  ) async throws -> Report {
    let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common))
    let sent = Mutex(0)
    let started = ContinuousClock.now
    let producing = ClosureService("produce") { context in
      func send(_ request: RequestRecord) throws {
        try producer.enqueue(request.message(topic: topic))
        sent.withLock { $0 += 1 }
      }
      switch requests {
      case .generated(var generator, let duration):
        try generator.send(
          for: duration, from: started, isStopping: { context.isStopping }, send)
      case .given(let list):
        for request in list where !context.isStopping { try send(request) }
      }
      try producer.flush(timeoutMs: 60_000)
    }
    let code = await ServiceGroup(
      [producing], settings: group, log: PipelineLog(service: "produce")
    )
    .run(keepingAlive: keepingAlive)
    _ = producer.close()
    var target: Double?
    if case .generated(let generator, _) = requests { target = generator.totalRate(at: 0) }
    return Report(
      sent: sent.withLock { $0 }, seconds: max((ContinuousClock.now - started).seconds, 1e-9),
      targetRate: target, code: code)
  }
}
