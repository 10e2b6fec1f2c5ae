import Foundation

/// A router's report on hb.rates (`Schemas/rates.schema.json`).
public struct RatesMessage: Codable, Sendable, Equatable {
  public var router: String
  public var planVersion: Int
  public var windowStartMs: Double
  public var windowEndMs: Double
  public var apps: [String: RouterReport.AppCount]
  public var rejected: [String: Int]

  public init(
    router: String, planVersion: Int, windowStartMs: Double, windowEndMs: Double,
    apps: [String: RouterReport.AppCount], rejected: [String: Int]
  ) {
    self.router = router
    self.planVersion = planVersion
    self.windowStartMs = windowStartMs
    self.windowEndMs = windowEndMs
    self.apps = apps
    self.rejected = rejected
  }

  enum CodingKeys: String, CodingKey {
    case router
    case planVersion = "plan_version"
    case windowStartMs = "window_start_ms"
    case windowEndMs = "window_end_ms"
    case apps, rejected
  }
}
