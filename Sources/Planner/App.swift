/// An application: one tenant of the shared model, with its latency SLO and arrival rate.
public struct App: Sendable, Hashable, Codable {
  public var id: String
  /// Latency SLO in seconds: bounds buffer wait + inference.
  public var slo: Double
  /// Poisson arrival rate, requests per second.
  public var rate: Double

  public init(id: String, slo: Double, rate: Double) {
    self.id = id
    self.slo = slo
    self.rate = rate
  }

  /// The planner's order: by SLO, then by id.
  static func ordered(_ lhs: App, _ rhs: App) -> Bool {
    lhs.slo != rhs.slo ? lhs.slo < rhs.slo : lhs.id < rhs.id
  }
}
