import Foundation
import Kafka
import Planner

/// A request's result on hb.results (`Schemas/result.schema.json`), keyed by request id.
public struct ResultMessage: Codable, Sendable, Equatable {
  public var requestID: String
  public var app: String
  public var batchID: String
  public var group: String
  public var backend: String
  public var emulated: Bool
  /// The embedding, when the backend computes one.
  public var output: [Float]?
  public var sloMs: Double
  /// Milliseconds since the epoch: arrival → batch flush → worker start → worker end → publish.
  public var arrivalMs: Double
  public var flushedMs: Double
  public var startedMs: Double
  public var finishedMs: Double
  public var publishedMs: Double
  public var latencyMs: Double
  public var sloMet: Bool
  /// Forwarded although its SLO could not be met (`--late-policy forward`).
  public var late: Bool

  enum CodingKeys: String, CodingKey {
    case requestID = "request_id"
    case app
    case batchID = "batch_id"
    case group, backend, emulated, output
    case sloMs = "slo_ms"
    case arrivalMs = "arrival_ms"
    case flushedMs = "flushed_ms"
    case startedMs = "started_ms"
    case finishedMs = "finished_ms"
    case publishedMs = "published_ms"
    case latencyMs = "latency_ms"
    case sloMet = "slo_met"
    case late
  }
}

/// One batch's feedback on hb.feedback (`Schemas/feedback.schema.json`), keyed by group: what
/// the function really took, for the controller's refit.
public struct FeedbackMessage: Codable, Sendable, Equatable {
  public var batchID: String
  public var group: String
  public var planVersion: Int
  public var function: FunctionConfig
  public var backend: String
  public var emulated: Bool
  public var batchSize: Int
  public var inferenceSeconds: Double
  public var predictedMaxMs: Double
  /// Each request's arrival-to-publish time.
  public var endToEndMs: [Double]
  public var worker: String
  public var startedMs: Double
  public var finishedMs: Double
  /// When the batcher flushed the batch: `finished − flushed − inference` is the pipeline's own
  /// overhead after the flush, which the controller takes off every SLO when planning.
  public var flushedMs: Double
  /// The invocation's cost under the worker's pricing preset, when it has a profile.
  public var billedCost: Double?

  enum CodingKeys: String, CodingKey {
    case batchID = "batch_id"
    case group
    case planVersion = "plan_version"
    case function, backend, emulated
    case batchSize = "batch_size"
    case inferenceSeconds = "inference_s"
    case predictedMaxMs = "predicted_max_ms"
    case endToEndMs = "end_to_end_ms"
    case worker
    case startedMs = "started_ms"
    case finishedMs = "finished_ms"
    case flushedMs = "flushed_ms"
    case billedCost = "billed_cost"
  }
}

extension Encodable {
  func sortedJSON() -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (try? Array(encoder.encode(self))) ?? []
  }
}
