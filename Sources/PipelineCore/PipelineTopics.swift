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

  /// Every topic of the pipeline.
  public var all: Set<String> {
    [
      requests, grouped, batchesCPU, batchesGPU, plans, deadLetter, late, results, feedback,
      rates, workers, scaling,
    ]
  }

  public func batches(for kind: FunctionConfig.Kind) -> String {
    kind == .cpu ? batchesCPU : batchesGPU
  }
}
