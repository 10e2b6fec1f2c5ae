import Foundation

/// What a group is expected to be billed per request, rather than what the planner's objective
/// counts (every batch full, billed on its average latency): under Poisson arrivals a batch
/// flushes with `k` requests (`BatchFill`: full at the batch size, or fewer when the equivalent
/// timeout ends first), each batch's latency varies (normal around the profile's average, its
/// maximum the 99th percentile, as the simulator draws it), and the platform bills each
/// invocation's duration rounded up to its billing step (whole seconds on GPU functions). The
/// expected cost per request is E[cost of a batch] / E[requests in a batch].
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
    let fill = BatchFill(rate: rate, window: window, capacity: batch)
    var expectedCost = 0.0
    for (index, probability) in fill.probabilities.enumerated() where probability > 0 {
      guard let batchCost = expectedBatchCost(function: function, requests: index + 1) else {
        return nil
      }
      expectedCost += probability * batchCost
    }
    let expectedRequests = fill.expected
    return expectedRequests > 0 ? expectedCost / expectedRequests : nil
  }

  /// The expected cost of one invocation holding `requests` requests, over its latency.
  func expectedBatchCost(function: FunctionConfig, requests: Int) -> Double? {
    let predicted = latency.latency(of: function, batch: requests)
    let spread = max(0, predicted.max - predicted.avg) / 2.326
    // E over a standard normal z on [−5, 5] (the simulator's draw: avg + spread·z, at least a
    // fifth of the average).
    var total = 0.0
    var weights = 0.0
    for step in 0...100 {
      let z = -5 + Double(step) * 0.1
      let weight = exp(-z * z / 2)
      let seconds = max(0.2 * predicted.avg, predicted.avg + spread * z)
      guard
        let perRequest = cost.costPerRequest(
          of: function, batch: requests, avgLatency: seconds)
      else { return nil }
      total += weight * perRequest * Double(requests)
      weights += weight
    }
    return total / weights
  }

  /// The expected cost per request of a planned group (its function, batch size, rates and
  /// timeouts).
  public func perRequest(_ group: PlanGroup) -> Double? {
    let window = EquivalentTimeout.of(
      group.apps.map { ((group.timeoutsMs[$0] ?? 0) / 1000, group.appRates[$0] ?? 0) })
    return perRequest(
      function: group.function, batch: group.batchSize, rate: group.rate, window: window)
  }
}
