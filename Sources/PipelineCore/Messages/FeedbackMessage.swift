import Foundation
import Planner

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
  /// The worker's consumer group (its pool), when it says (older records may not).
  public var workerGroup: String?
  /// When the batcher flushed the batch, the worker read it, a slot started it, the backend
  /// finished and the results were handed to the producer (ms since the epoch). The batch's time
  /// splits into transport (flushed → received, finished → published), queueing (received →
  /// started: waiting for a free slot) and inference (started → finished). The controller takes
  /// only transport off SLOs; queueing is a capacity signal.
  public var flushedMs: Double
  public var receivedMs: Double?
  public var startedMs: Double
  public var finishedMs: Double
  public var publishedMs: Double?
  /// The invocation's cost under the worker's pricing preset, when it has a profile.
  public var billedCost: Double?
  /// The batch's delay before batching (`BatchMessage.intakeMs`), when its batcher measured it.
  public var intakeMs: Double?

  public init(
    batchID: String, group: String, planVersion: Int, function: FunctionConfig, backend: String,
    emulated: Bool, batchSize: Int, inferenceSeconds: Double, predictedMaxMs: Double,
    endToEndMs: [Double], worker: String, workerGroup: String?, flushedMs: Double,
    receivedMs: Double?, startedMs: Double, finishedMs: Double, publishedMs: Double?,
    billedCost: Double?, intakeMs: Double? = nil
  ) {
    self.batchID = batchID
    self.group = group
    self.planVersion = planVersion
    self.function = function
    self.backend = backend
    self.emulated = emulated
    self.batchSize = batchSize
    self.inferenceSeconds = inferenceSeconds
    self.predictedMaxMs = predictedMaxMs
    self.endToEndMs = endToEndMs
    self.worker = worker
    self.workerGroup = workerGroup
    self.flushedMs = flushedMs
    self.receivedMs = receivedMs
    self.startedMs = startedMs
    self.finishedMs = finishedMs
    self.publishedMs = publishedMs
    self.billedCost = billedCost
    self.intakeMs = intakeMs
  }

  /// The batch's delays, in seconds (never negative: clocks of two machines may disagree a
  /// little). Transport counts the delay before batching too (arrival → the batcher read the
  /// request): it is no less the pipeline's than the hops after the flush.
  public var delays: BatchDelays {
    let received = receivedMs ?? startedMs
    let published = publishedMs ?? finishedMs
    let intake = intakeMs.map { max(0, $0) } ?? 0
    return BatchDelays(
      transport: (intake + max(0, received - flushedMs) + max(0, published - finishedMs)) / 1000,
      queueing: max(0, startedMs - received) / 1000, inference: max(0, inferenceSeconds))
  }

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
    case workerGroup = "worker_group"
    case flushedMs = "flushed_ms"
    case receivedMs = "received_ms"
    case startedMs = "started_ms"
    case finishedMs = "finished_ms"
    case publishedMs = "published_ms"
    case billedCost = "billed_cost"
    case intakeMs = "intake_ms"
  }
}
