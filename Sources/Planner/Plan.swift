import Foundation

/// The planner's answer: which apps share a batch, on which function, with what batch size and
/// per-app timeouts, and what it is predicted to cost. `harmonybatch plan --format json` prints it,
/// `--plan FILE` reads it back, and `hb.plans` carries it with a `version` (`Schemas/plan.schema.json`).
public struct Plan: Codable, Sendable, Equatable {
  /// Set when the plan is published on `hb.plans`.
  public var version: Int?
  public var createdAt: String?
  public var algorithm: String
  public var model: String
  /// True when the profile is partly estimated rather than measured.
  public var modelEstimated: Bool
  public var pricing: String
  public var currency: String
  /// The average cost per request: `Σ η_X · C_X` (Eq. 7).
  public var objective: Double
  public var planningMs: Double
  /// Total arrival rate of the apps the plan serves.
  public var rate: Double
  public var groups: [PlanGroup]
  /// Apps that no function can serve within their SLO, with the reason. Never silently dropped.
  public var infeasible: [InfeasibleApp]
  /// Set by the controller: how many batches of feedback refitted the profile the plan was made
  /// with, and that profile's mean relative error on the most recent feedback.
  public var feedbackBatches: Int?
  public var predictionError: Double?
  /// Set by the controller: why this version was published.
  public var reason: String?
  /// Set by the controller: what it took off each SLO for the pipeline's transport before
  /// planning (ms; at most a documented share of each SLO).
  public var transportReserveMs: Double?
  /// Set by the controller: the cost per request of per-app CPU functions (BATCH) planned on the
  /// same model, rates and SLOs, so every version says what it saves.
  public var baselineObjective: Double?

  enum CodingKeys: String, CodingKey {
    case version
    case createdAt = "created_at"
    case algorithm, model
    case modelEstimated = "model_estimated"
    case pricing, currency, objective
    case planningMs = "planning_ms"
    case rate, groups, infeasible
    case feedbackBatches = "feedback_batches"
    case predictionError = "prediction_error"
    case reason
    case transportReserveMs = "transport_reserve_ms"
    case baselineObjective = "baseline_objective"
  }

  public init(
    version: Int?, createdAt: String?, algorithm: String, model: String, modelEstimated: Bool,
    pricing: String, currency: String, objective: Double, planningMs: Double, rate: Double,
    groups: [PlanGroup], infeasible: [InfeasibleApp]
  ) {
    self.version = version
    self.createdAt = createdAt
    self.algorithm = algorithm
    self.model = model
    self.modelEstimated = modelEstimated
    self.pricing = pricing
    self.currency = currency
    self.objective = objective
    self.planningMs = planningMs
    self.rate = rate
    self.groups = groups
    self.infeasible = infeasible
  }

  /// The group that serves `app`, if any (the first, when an app's traffic is split).
  public func group(of app: String) -> PlanGroup? {
    groups.first(where: { $0.appRates[app] != nil })
  }
}

/// One group of a plan: its apps share a batch buffer and a function.
public struct PlanGroup: Codable, Sendable, Equatable {
  /// Stable within a plan: `g1`, `g2`, … in SLO order.
  public var id: String
  public var apps: [String]
  /// The rate each app sends to this group (an app's traffic is split across groups only by the
  /// `mbs` baseline).
  public var appRates: [String: Double]
  public var function: FunctionConfig
  public var batchSize: Int
  public var timeoutsMs: [String: Double]
  /// Each app's SLO, so that services can serve requests that carry no `hb-slo-ms` header.
  public var slosMs: [String: Double]
  public var latencyAvgMs: Double
  public var latencyMaxMs: Double
  public var costPerRequest: Double
  public var rate: Double
  /// This group's share of all traffic (η_X).
  public var share: Double

  public init(
    id: String, apps: [String], appRates: [String: Double], function: FunctionConfig,
    batchSize: Int, timeoutsMs: [String: Double], slosMs: [String: Double], latencyAvgMs: Double,
    latencyMaxMs: Double, costPerRequest: Double, rate: Double, share: Double
  ) {
    self.id = id
    self.apps = apps
    self.appRates = appRates
    self.function = function
    self.batchSize = batchSize
    self.timeoutsMs = timeoutsMs
    self.slosMs = slosMs
    self.latencyAvgMs = latencyAvgMs
    self.latencyMaxMs = latencyMaxMs
    self.costPerRequest = costPerRequest
    self.rate = rate
    self.share = share
  }

  enum CodingKeys: String, CodingKey {
    case id, apps
    case appRates = "app_rates"
    case function
    case batchSize = "batch_size"
    case timeoutsMs = "timeouts_ms"
    case slosMs = "slos_ms"
    case latencyAvgMs = "latency_avg_ms"
    case latencyMaxMs = "latency_max_ms"
    case costPerRequest = "cost_per_request"
    case rate, share
  }
}

/// An app the plan cannot serve, and why.
public struct InfeasibleApp: Codable, Sendable, Equatable {
  public var app: String
  public var sloMs: Double
  public var rate: Double
  public var reason: String

  enum CodingKeys: String, CodingKey {
    case app
    case sloMs = "slo_ms"
    case rate, reason
  }
}

extension Plan {
  /// The plan as JSON with sorted keys, so the same plan always prints the same bytes.
  public func jsonData(pretty: Bool = true) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
    return (try? encoder.encode(self)) ?? Data()
  }

  /// Reads a plan in the format `jsonData` writes.
  public static func decode(_ data: Data, source: String = "plan") throws(PlannerInputError)
    -> Plan
  {
    try PlannerResources.decode(Plan.self, from: data, what: source)
  }
}
