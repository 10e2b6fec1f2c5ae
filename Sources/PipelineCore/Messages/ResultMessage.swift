import Foundation
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
  /// Milliseconds since the epoch: arrival → batch flush → worker received the batch → a slot
  /// started it → worker end → publish.
  public var arrivalMs: Double
  public var flushedMs: Double
  /// When the worker read the batch record (older records may lack it).
  public var receivedMs: Double?
  public var startedMs: Double
  public var finishedMs: Double
  public var publishedMs: Double
  public var latencyMs: Double
  public var sloMet: Bool
  /// Forwarded although its SLO could not be met (`--late-policy forward`).
  public var late: Bool

  public init(
    requestID: String,
    app: String,
    batchID: String,
    group: String,
    backend: String,
    emulated: Bool,
    output: [Float]? = nil,
    sloMs: Double,
    arrivalMs: Double,
    flushedMs: Double,
    receivedMs: Double? = nil,
    startedMs: Double,
    finishedMs: Double,
    publishedMs: Double,
    latencyMs: Double,
    sloMet: Bool,
    late: Bool
  ) {
    self.requestID = requestID
    self.app = app
    self.batchID = batchID
    self.group = group
    self.backend = backend
    self.emulated = emulated
    self.output = output
    self.sloMs = sloMs
    self.arrivalMs = arrivalMs
    self.flushedMs = flushedMs
    self.receivedMs = receivedMs
    self.startedMs = startedMs
    self.finishedMs = finishedMs
    self.publishedMs = publishedMs
    self.latencyMs = latencyMs
    self.sloMet = sloMet
    self.late = late
  }

  enum CodingKeys: String, CodingKey {
    case requestID = "request_id"
    case app
    case batchID = "batch_id"
    case group, backend, emulated, output
    case sloMs = "slo_ms"
    case arrivalMs = "arrival_ms"
    case flushedMs = "flushed_ms"
    case receivedMs = "received_ms"
    case startedMs = "started_ms"
    case finishedMs = "finished_ms"
    case publishedMs = "published_ms"
    case latencyMs = "latency_ms"
    case sloMet = "slo_met"
    case late
  }
}
