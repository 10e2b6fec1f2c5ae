/// A group as an algorithm decided it: its members (with the rate each sends to this group), the
/// function and batch size, per-app timeouts, and the predicted latency and cost per request.
struct GroupAssignment: Sendable {
  var members: [App]
  var function: FunctionConfig
  var batch: Int
  var latency: Latency
  /// The paper's cost per request (every batch full).
  var costPerRequest: Double
  /// The cost per request the algorithm ranked the group by (`Provisioner.Choice.objectiveCost`).
  var objectiveCost: Double
  /// Seconds each member may wait in the buffer, by app id.
  var timeouts: [String: Double]

  var rate: Double { members.reduce(0) { $0 + $1.rate } }
  var weightedCost: Double { rate * objectiveCost }

  /// HarmonyBatch's rule: every member waits as long as its SLO allows, `t_w = s_w − L_max`.
  init(members: [App], choice: Provisioner.Choice) {
    self.members = members
    function = choice.function
    batch = choice.batch
    latency = choice.latency
    costPerRequest = choice.costPerRequest
    objectiveCost = choice.objectiveCost
    timeouts = Dictionary(
      members.map { ($0.id, max(0, $0.slo - choice.latency.max)) }, uniquingKeysWith: min)
  }

  init(
    members: [App], function: FunctionConfig, batch: Int, latency: Latency,
    costPerRequest: Double, timeouts: [String: Double]
  ) {
    self.members = members
    self.function = function
    self.batch = batch
    self.latency = latency
    self.costPerRequest = costPerRequest
    objectiveCost = costPerRequest
    self.timeouts = timeouts
  }
}
