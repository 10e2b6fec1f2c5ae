import Foundation
import PipelineCore
import Planner

/// A discrete-event replay of a workload through a planner and the pipeline's own batching state
/// machine (`GroupBuffers`), in virtual time: Poisson arrivals per app at each minute's rate,
/// re-planning every minute (as the paper), batches flushed when full or at the earliest
/// personal deadline, each batch's latency drawn from the profile (normal, its maximum at the 99th
/// percentile), and every invocation billed by the pricing preset on the latency it took.
public struct Simulation: Sendable {
  public struct Result: Sendable, Codable, Equatable {
    public var algorithm: String
    public var requests: Int
    public var violations: Int
    public var totalCost: Double
    public var costPerRequest: Double
    public var violationPercent: Double
    public var gpuShare: Double
    public var batches: Int
    /// Batch size → batches.
    public var batchSizes: [Int: Int]
    public var replans: Int
    public var infeasibleRequests: Int
    /// Cost per minute, for plots.
    public var costByMinute: [Double]
    /// The planners' own figure: each minute's plan's predicted cost per request (every batch
    /// full), weighted by the planned rates.
    public var predictedCostPerRequest: Double = 0
    /// The same plans' expected billed cost per request (`BilledCost`: batches as they fill,
    /// latencies as they vary, durations rounded up to the billing step).
    public var expectedBilledCostPerRequest: Double = 0
    /// Per group (the same apps on the same function, batch size and timeouts, over every minute
    /// whose plan has it), in order of first appearance.
    public var groups: [GroupOutcome] = []

    enum CodingKeys: String, CodingKey {
      case algorithm, requests, violations
      case totalCost = "total_cost"
      case costPerRequest = "cost_per_request"
      case violationPercent = "violation_percent"
      case gpuShare = "gpu_share"
      case batches
      case batchSizes = "batch_sizes"
      case replans
      case infeasibleRequests = "infeasible_requests"
      case costByMinute = "cost_by_minute"
      case predictedCostPerRequest = "predicted_cost_per_request"
      case expectedBilledCostPerRequest = "expected_billed_cost_per_request"
      case groups
    }
  }

  /// What one group cost in the simulation beside what its plans said it would.
  public struct GroupOutcome: Sendable, Codable, Equatable {
    public var apps: [String]
    public var function: String
    public var batchSize: Int
    /// Minutes whose plan had this group.
    public var minutes: Int = 0
    public var requests: Int = 0
    public var batches: Int = 0
    public var cost: Double = 0
    /// Requests the plans routed here (rate × 60 s per minute), and the plans' predicted and
    /// expected billed cost of them.
    public var plannedRequests: Double = 0
    public var predictedCost: Double = 0
    public var expectedBilledCost: Double = 0

    public var costPerRequest: Double { requests > 0 ? cost / Double(requests) : 0 }
    public var predictedCostPerRequest: Double {
      plannedRequests > 0 ? predictedCost / plannedRequests : 0
    }
    public var expectedBilledCostPerRequest: Double {
      plannedRequests > 0 ? expectedBilledCost / plannedRequests : 0
    }

    enum CodingKeys: String, CodingKey {
      case apps, function
      case batchSize = "batch_size"
      case minutes, requests, batches, cost
      case plannedRequests = "planned_requests"
      case predictedCost = "predicted_cost"
      case expectedBilledCost = "expected_billed_cost"
    }
  }

  let planner: Planner
  let workload: Workload
  let seed: UInt64

  public init(planner: Planner, workload: Workload, seed: UInt64) {
    self.planner = planner
    self.workload = workload
    self.seed = seed
  }

  public func run(_ algorithm: Planner.Algorithm) throws(PlannerInputError) -> Result {
    var random = SeededRandom(seed: seed)
    var latencyRandom = SeededRandom(seed: seed &+ 1)
    var buffers = GroupBuffers<Int>(latePolicy: .forward)
    let latency = planner.provisioner.latencyModel
    let cost = planner.provisioner.costModel
    var result = Result(
      algorithm: algorithm.rawValue, requests: 0, violations: 0, totalCost: 0, costPerRequest: 0,
      violationPercent: 0, gpuShare: 0, batches: 0, batchSizes: [:], replans: 0,
      infeasibleRequests: 0, costByMinute: Array(repeating: 0, count: workload.minutes))
    var gpuRequests = 0
    var previousSignature = ""
    let billed = BilledCost(latency: latency, cost: cost)
    var plannedRate = 0.0
    var predictedWeighted = 0.0
    var billedWeighted = 0.0
    // A group the next minute's plan keeps as it is (apps, function, batch size, timeouts) keeps
    // its key and its buffer, as the controller publishes no new version for the same decisions;
    // its outcome accumulates under its signature.
    var keys: [String: GroupKey] = [:]
    var outcomeIndex: [String: Int] = [:]
    var outcomeOfKey: [GroupKey: Int] = [:]

    func dispatch(_ batch: ReadyBatch<Int>) {
      let spec = batch.spec
      let b = batch.requests.count
      let predicted = latency.latency(of: spec.function, batch: b)
      let drawn = predicted.drawn(z: latencyRandom.normal())
      let perRequest = cost.costPerRequest(of: spec.function, batch: b, avgLatency: drawn)
      let invocation = (perRequest ?? 0) * Double(b)
      result.totalCost += invocation
      let flushMinute = min(workload.minutes - 1, Int(batch.flushedAt / 60))
      result.costByMinute[flushMinute] += invocation
      result.batches += 1
      if let index = outcomeOfKey[spec.key] {
        result.groups[index].requests += b
        result.groups[index].batches += 1
        result.groups[index].cost += invocation
      }
      result.batchSizes[b, default: 0] += 1
      if spec.function.kind == .gpu { gpuRequests += b }
      result.violations +=
        batch.requests.filter {
          batch.flushedAt + drawn - $0.arrival > $0.slo + 1e-9
        }.count
    }

    func handle(_ directives: [BatchingDirective<Int>]) {
      for directive in directives {
        if case .dispatch(let batch) = directive { dispatch(batch) }
      }
    }

    for minute in 0..<workload.minutes {
      let start = Double(minute) * 60
      let apps = workload.apps.enumerated().map { index, app in
        App(id: app.id, slo: app.slo, rate: workload.rates[minute][index])
      }
      var plan = try planner.plan(apps, algorithm: algorithm)
      plan.version = minute
      let signature = plan.groups.map { "\($0.apps)\($0.function)\($0.batchSize)" }.joined()
      if minute > 0, signature != previousSignature { result.replans += 1 }
      previousSignature = signature
      var nextKeys: [String: GroupKey] = [:]
      var routes: [String: [(spec: GroupSpec, timeout: Double, share: Double)]] = [:]
      for group in plan.groups {
        plannedRate += group.rate
        predictedWeighted += group.rate * group.costPerRequest
        let billedPerRequest =
          group.billedCostPerRequest ?? billed.perRequest(group) ?? group.costPerRequest
        billedWeighted += group.rate * billedPerRequest
        let groupSignature = group.decisions
        let key = keys[groupSignature] ?? GroupKey(planVersion: minute, group: group.id)
        nextKeys[groupSignature] = key
        if outcomeIndex[groupSignature] == nil {
          outcomeIndex[groupSignature] = result.groups.count
          result.groups.append(
            GroupOutcome(
              apps: group.apps, function: group.function.description, batchSize: group.batchSize))
        }
        let index = outcomeIndex[groupSignature]!
        outcomeOfKey[key] = index
        result.groups[index].minutes += 1
        result.groups[index].plannedRequests += group.rate * 60
        result.groups[index].predictedCost += group.rate * 60 * group.costPerRequest
        result.groups[index].expectedBilledCost += group.rate * 60 * billedPerRequest
        // Routing for this minute: app → (spec, timeout, slo), split apps by their shares.
        let spec = GroupSpec(
          key: key, function: group.function,
          capacity: group.batchSize, latencyMax: group.latencyMaxMs / 1000)
        for app in group.apps {
          routes[app, default: []].append(
            (spec, (group.timeoutsMs[app] ?? 0) / 1000, group.appRates[app] ?? 0))
        }
      }
      keys = nextKeys
      // Poisson arrivals of every app in this minute, in time order.
      var arrivals: [(time: Double, app: Int)] = []
      for (index, app) in apps.enumerated() where app.rate > 0 {
        var time = start + random.exponential(rate: app.rate)
        while time < start + 60 {
          arrivals.append((time, index))
          time += random.exponential(rate: app.rate)
        }
      }
      arrivals.sort { $0.time < $1.time }
      for arrival in arrivals {
        while let due = buffers.nextDeadline, due <= arrival.time {
          handle(buffers.advance(to: due))
        }
        let app = apps[arrival.app]
        result.requests += 1
        guard let options = routes[app.id] else {
          result.infeasibleRequests += 1
          result.violations += 1
          continue
        }
        var route = options[0]
        if options.count > 1 {
          let total = options.reduce(0) { $0 + $1.share }
          var point = random.unit() * total
          for option in options {
            point -= option.share
            if point <= 0 {
              route = option
              break
            }
          }
        }
        let request = BufferedRequest(
          id: "", app: app.id, arrival: arrival.time, slo: app.slo, timeout: route.timeout,
          item: 0)
        handle(buffers.receive(request, in: route.spec, now: arrival.time))
      }
    }
    while let due = buffers.nextDeadline { handle(buffers.advance(to: due)) }

    handle(buffers.drain(now: Double(workload.minutes) * 60))
    result.costPerRequest = result.requests > 0 ? result.totalCost / Double(result.requests) : 0
    result.predictedCostPerRequest = plannedRate > 0 ? predictedWeighted / plannedRate : 0
    result.expectedBilledCostPerRequest = plannedRate > 0 ? billedWeighted / plannedRate : 0
    result.violationPercent =
      result.requests > 0 ? Double(result.violations) / Double(result.requests) * 100 : 0
    result.gpuShare = result.requests > 0 ? Double(gpuRequests) / Double(result.requests) : 0
    return result
  }
}
