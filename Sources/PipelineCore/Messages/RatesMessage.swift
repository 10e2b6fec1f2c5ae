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

extension RatesMessage {
  /// The message as `messageJSON()` writes it, byte for byte (keys sorted, the apps and reasons
  /// too), by the hot path's writer (`JSONBytes`): a router reports every second, and a bench or
  /// a deployment that asks for reports more often paid JSONEncoder's reflection for each (a
  /// quarter of the router's time at one report per 10 ms). `RatesMessageTests` hold the two
  /// equal.
  public func json() throws(EncodingError) -> [UInt8] {
    var writer = JSONBytes(capacity: 128 + apps.count * 80 + rejected.count * 32)
    writer.raw("{")
    writer.key("apps")
    writer.raw("{")
    for (index, app) in apps.keys.sorted().enumerated() {
      guard let count = apps[app] else { continue }
      if index > 0 { writer.raw(",") }
      writer.string(app)
      writer.raw(":{")
      if let backlog = count.backlog {
        writer.key("backlog")
        writer.integer(Int64(backlog))
        writer.raw(",")
      }
      writer.key("planned")
      writer.bool(count.planned)
      writer.raw(",")
      writer.key("requests")
      writer.integer(Int64(count.requests))
      writer.raw(",")
      writer.key("slo_ms")
      try writer.number(count.sloMs)
      writer.raw("}")
    }
    writer.raw("},")
    writer.key("plan_version")
    writer.integer(Int64(planVersion))
    writer.raw(",")
    writer.key("rejected")
    writer.raw("{")
    for (index, reason) in rejected.keys.sorted().enumerated() {
      if index > 0 { writer.raw(",") }
      writer.string(reason)
      writer.raw(":")
      writer.integer(Int64(rejected[reason] ?? 0))
    }
    writer.raw("},")
    writer.key("router")
    writer.string(router)
    writer.raw(",")
    writer.key("window_end_ms")
    try writer.number(windowEndMs)
    writer.raw(",")
    writer.key("window_start_ms")
    try writer.number(windowStartMs)
    writer.raw("}")
    return writer.bytes
  }
}
