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
  /// The average cost per request by the paper's model: `Σ η_X · C_X` (Eq. 7), every batch full.
  public var objective: Double
  /// The average expected billed cost per request (`BilledCost`: batches as Poisson arrivals
  /// fill them, billed in the platform's steps), which `optimal` minimises. Set by every
  /// planner; absent in plans written before it existed.
  public var billedObjective: Double?
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
  /// Set by the controller: which controller published it (`controller@<host>/<pid>/<random>`,
  /// new for every process). The active controller republishes its own plan when the plan in
  /// force names another writer.
  public var writer: String?

  enum CodingKeys: String, CodingKey {
    case version
    case createdAt = "created_at"
    case algorithm, model
    case modelEstimated = "model_estimated"
    case pricing, currency, objective
    case billedObjective = "billed_objective"
    case planningMs = "planning_ms"
    case rate, groups, infeasible
    case feedbackBatches = "feedback_batches"
    case predictionError = "prediction_error"
    case reason
    case transportReserveMs = "transport_reserve_ms"
    case baselineObjective = "baseline_objective"
    case writer
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
  /// The paper's cost per request (Eq. 6, every batch full).
  public var costPerRequest: Double
  /// The expected billed cost per request (`BilledCost`); absent in plans written before it
  /// existed.
  public var billedCostPerRequest: Double?
  public var rate: Double
  /// This group's share of all traffic (η_X).
  public var share: Double

  public init(
    id: String, apps: [String], appRates: [String: Double], function: FunctionConfig,
    batchSize: Int, timeoutsMs: [String: Double], slosMs: [String: Double], latencyAvgMs: Double,
    latencyMaxMs: Double, costPerRequest: Double, billedCostPerRequest: Double? = nil,
    rate: Double, share: Double
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
    self.billedCostPerRequest = billedCostPerRequest
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
    case billedCostPerRequest = "billed_cost_per_request"
    case rate, share
  }
}

extension PlanGroup {
  /// Each app's timeout (seconds) and the rate it sends here, as `BatchFill(apps:capacity:)` and
  /// `EquivalentTimeout.of` take them.
  public var waits: [(timeout: Double, rate: Double)] {
    apps.map { ((timeoutsMs[$0] ?? 0) / 1000, appRates[$0] ?? 0) }
  }

  /// What routes and batches this group's requests: its apps, function, batch size and timeouts
  /// to the millisecond. Two plans whose groups have the same decisions batch every request alike.
  public var decisions: String {
    let timeouts = apps.map { "\($0)=\(Int((timeoutsMs[$0] ?? 0).rounded()))" }
    return "\(apps)|\(function)|\(batchSize)|\(timeouts)"
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
  /// The plan as JSON with sorted keys, so the same plan always prints the same bytes: the one
  /// way a plan is written, to a file (`pretty`) or to `hb.plans` (`JSONEncoding`). A number
  /// JSON cannot hold (a NaN or an infinite cost) throws: no plan is ever written empty.
  public func jsonData(pretty: Bool = true) throws(EncodingError) -> Data {
    try JSONEncoding.encode(self, pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys])
  }

  /// Reads a plan in the format `jsonData` writes, and refuses one whose numbers no planner
  /// could have made (`validated`).
  public static func decode(_ data: Data, source: String = "plan") throws(PlannerInputError)
    -> Plan
  {
    try PlannerResources.decode(Plan.self, from: data, what: source).validated(source: source)
  }

  /// A plan from a JSON file (what `plan --format json` writes), checked as `decode` checks it.
  public static func load(path: String) throws(PlannerInputError) -> Plan {
    try PlannerResources.decodeFile(Plan.self, path: path, what: "plan")
      .validated(source: "plan file '\(path)'")
  }

  /// The plan, if every number in it is one a planner could have made: version ≥ 1; groups with
  /// ids, apps, a batch size of 1…1,024, a function with positive vCPU (and 1…1,024 GB on a GPU),
  /// a timeout of 0…3,600,000 ms for every app, finite non-negative latencies, costs, rates and
  /// shares; no app in two groups unless the plan splits its rate; at least one group or one app
  /// it says it cannot serve. Routers and batchers refuse anything else and keep the plan they
  /// have (a record of the right shape on the plan topic is not yet a plan).
  public func validated(source: String = "plan") throws(PlannerInputError) -> Plan {
    var checks = FieldChecks()
    if let version { checks.integer(version, "version", in: 1...Int(Int32.max)) }
    if let writer { checks.text(writer, "writer", maxLength: 256) }
    checks.number(objective, "objective", in: FieldBounds.cost)
    if let billedObjective {
      checks.number(billedObjective, "billed_objective", in: FieldBounds.cost)
    }
    checks.number(rate, "rate", in: FieldBounds.rate)
    checks.require(
      !groups.isEmpty || !infeasible.isEmpty, "no groups and no app it cannot serve")
    var seen: [String: String] = [:]
    var ids = Set<String>()
    for group in groups {
      let name = "group \(group.id)"
      checks.text(group.id, "a group id")
      checks.require(ids.insert(group.id).inserted, "\(name) appears twice")
      checks.require(!group.apps.isEmpty, "\(name) has no apps")
      checks.integer(group.batchSize, "\(name) batch_size", in: FieldBounds.batchSize)
      checks.function(group.function, "\(name) function")
      checks.number(group.latencyAvgMs, "\(name) latency_avg_ms", in: FieldBounds.milliseconds)
      checks.number(group.latencyMaxMs, "\(name) latency_max_ms", in: FieldBounds.milliseconds)
      checks.number(group.costPerRequest, "\(name) cost_per_request", in: FieldBounds.cost)
      if let billed = group.billedCostPerRequest {
        checks.number(billed, "\(name) billed_cost_per_request", in: FieldBounds.cost)
      }
      checks.number(group.rate, "\(name) rate", in: FieldBounds.rate)
      checks.number(group.share, "\(name) share", in: 0...1.000_001)
      for app in group.apps {
        checks.text(app, "an app id in \(name)")
        if let timeout = group.timeoutsMs[app] {
          checks.number(timeout, "\(name) timeout of \(app)", in: FieldBounds.milliseconds)
        } else {
          checks.require(false, "\(name) has no timeout for \(app)")
        }
        if let slo = group.slosMs[app] {
          checks.number(
            slo, "\(name) SLO of \(app)", in: 0.001...FieldBounds.milliseconds.upperBound)
        }
        if let rate = group.appRates[app] {
          checks.number(rate, "\(name) rate of \(app)", in: FieldBounds.rate)
        }
        if let other = seen[app], group.appRates[app] == nil {
          checks.require(false, "\(app) is in \(other) and \(name)")
        }
        seen[app] = name
      }
    }
    guard checks.isValid else {
      throw PlannerInputError("\(source) is not a valid plan: \(checks.summary)")
    }
    return self
  }
}
