import Foundation

/// What a group is expected to be billed per request, rather than what the paper's objective
/// counts (every batch full, billed on its average latency): under Poisson arrivals a batch
/// flushes with `k` requests (`BatchFill`: full at the batch size, or fewer when the equivalent
/// timeout ends first), each batch's latency varies (`ExpectedBilling`), and the platform bills
/// each invocation's duration rounded up to its billing step (whole seconds on GPU functions).
/// The expected cost per request is E[cost of a batch] / E[requests in a batch]. `optimal` plans
/// on it (`Provisioner.Objective.billed`); every plan reports it beside the paper's objective.
public struct BilledCost: Sendable {
  public let latency: LatencyModel
  public let cost: CostModel

  public init(latency: LatencyModel, cost: CostModel) {
    self.latency = latency
    self.cost = cost
  }

  /// The expected cost per request of `function` with batch size `batch` for a group of `rate`
  /// requests per second whose batches wait at most `window` seconds; nil when the function
  /// cannot run the batch.
  public func perRequest(function: FunctionConfig, batch: Int, rate: Double, window: Double)
    -> Double?
  {
    let value = BatchFill.expectedPerRequest(
      mean: max(0, rate) * max(0, window), capacity: batch
    ) { expectedBatchCost(function: function, requests: $0) ?? .infinity }
    return value.isFinite ? value : nil
  }

  /// The expected cost of one invocation holding `requests` requests, over its latency.
  func expectedBatchCost(function: FunctionConfig, requests: Int) -> Double? {
    cost.expectedInvocationCost(
      of: function, requests: requests, latency: latency.latency(of: function, batch: requests))
  }

  /// The expected cost per request of a planned group (its function, batch size, rates and
  /// timeouts), its batches filled as the buffer fills them (`BatchFill(apps:capacity:)`).
  public func perRequest(_ group: PlanGroup) -> Double? {
    perRequest(function: group.function, batch: group.batchSize, apps: group.waits)
  }

  /// The expected cost per request of `function` with batch size `batch` for apps with these
  /// timeouts (seconds) and rates; nil when the function cannot run the batch.
  public func perRequest(
    function: FunctionConfig, batch: Int, apps: [(timeout: Double, rate: Double)]
  ) -> Double? {
    let fill = BatchFill(apps: apps, capacity: batch)
    let value =
      fill.mean { expectedBatchCost(function: function, requests: $0) ?? .infinity }
      / fill.expected
    return value.isFinite ? value : nil
  }
}
