import Kafka
import Planner

/// The pipeline's topic names, all under one prefix (`--topic-prefix`, default `hb.`).
public struct PipelineTopics: Sendable, Equatable {
  public let prefix: String

  public init(prefix: String = "hb.") { self.prefix = prefix }

  public var requests: String { prefix + "requests" }
  public var grouped: String { prefix + "grouped" }
  public var batchesCPU: String { prefix + "batches.cpu" }
  public var batchesGPU: String { prefix + "batches.gpu" }
  public var plans: String { prefix + "plans" }
  public var deadLetter: String { prefix + "dead-letter" }
  public var late: String { prefix + "late" }
  public var results: String { prefix + "results" }
  public var feedback: String { prefix + "feedback" }
  /// Router reports: per-app request counts and apps the plan does not cover (for the controller).
  public var rates: String { prefix + "rates" }
  /// Worker reports: each worker's slots, how busy they were, queue waits (for the controller).
  public var workers: String { prefix + "workers" }
  /// The controller's scaling recommendation per worker pool (for autoscalers and operators).
  public var scaling: String { prefix + "scaling" }

  public func batches(for kind: FunctionConfig.Kind) -> String {
    kind == .cpu ? batchesCPU : batchesGPU
  }

  /// Every topic, with `partitions` partitions; `plans` has one and is compacted (one key, the
  /// latest plan wins).
  public func specs(partitions: Int = 4) -> [KafkaTopicSpec] {
    [
      requests, grouped, batchesCPU, batchesGPU, deadLetter, late, results, feedback, rates,
      workers, scaling,
    ].map {
      KafkaTopicSpec(name: $0, partitions: partitions)
    } + [KafkaTopicSpec(name: plans, partitions: 1, configs: ["cleanup.policy": "compact"])]
  }
}

/// Header names of the pipeline's records (`Schemas/headers.md`).
public enum HeaderName {
  /// Request: the SLO in milliseconds.
  public static let slo = "hb-slo-ms"
  /// Request: an id chosen by the producer; default `topic/partition/offset`.
  public static let requestID = "hb-request-id"
  // Added by the router on hb.grouped:
  public static let app = "hb-app"
  /// What the batcher needs, packed: `version|batch size|timeout ms|max latency ms|arrival
  /// ms|function|group`.
  public static let route = "hb-route"
  /// On a worker's dead letters: the group of the batch the request was in.
  public static let group = "hb-group"
  // Dead letters and late records:
  public static let error = "hb-error"
  public static let errorDetail = "hb-error-detail"
  public static let source = "hb-source"
  /// On a worker's dead letter for one request: `topic/partition/offset` of the batch record.
  public static let batchSource = "hb-batch-source"
  public static let lateReason = "hb-late-reason"
  public static let lateBy = "hb-late-by-ms"
  /// A dead letter or late record too large for the broker: the value was left out; its size.
  public static let valueDroppedBytes = "hb-value-dropped-bytes"
  /// ... and, when even that was too large, how many of the original headers were left out.
  public static let headersDropped = "hb-headers-dropped"
}

/// Stable codes of dead-letter records (`hb-error`).
public enum ReasonCode: String, Sendable, CaseIterable, Codable {
  /// The request has no key (the app id).
  case missingApp = "missing-app"
  /// The key (the app id) is not UTF-8 text.
  case badKey = "bad-key"
  /// `hb-slo-ms` is not a decimal number of milliseconds in 1…3,600,000.
  case badSLO = "bad-slo"
  /// No `hb-slo-ms` header and the app has no SLO in the plan.
  case missingSLO = "missing-slo"
  /// The payload is larger than the router's limit.
  case payloadTooLarge = "payload-too-large"
  /// No function can serve the request within its SLO.
  case impossibleSLO = "impossible-slo"
  /// The plan does not cover the app and no profile is loaded to serve it alone.
  case unplannedApp = "unplanned-app"
  /// A record on hb.grouped without the router's headers.
  case badGroupedRecord = "bad-grouped-record"
  /// A record on hb.batches.* that is not a batch.
  case badBatch = "bad-batch"
  /// A payload the worker's backend cannot run (e.g. not UTF-8 text for MiniLM).
  case badPayload = "bad-payload"
}
