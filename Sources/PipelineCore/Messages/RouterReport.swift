/// What the router saw in a window: requests per app (with whether the plan covers the app) and
/// rejections per reason. Published on hb.rates for the controller (`Schemas/rates.schema.json`).
public struct RouterReport: Sendable, Codable, Equatable {
  public struct AppCount: Sendable, Codable, Equatable {
    public var requests: Int
    public var sloMs: Double
    public var planned: Bool
    /// Of `requests`, those that had waited on hb.requests longer than `backlogAgeMs` when
    /// routed: a backlog read after an outage or a restart, which arrived earlier than the
    /// window and must not look like a burst. Absent (nil) when none.
    public var backlog: Int?

    public init(requests: Int, sloMs: Double, planned: Bool, backlog: Int? = nil) {
      self.requests = requests
      self.sloMs = sloMs
      self.planned = planned
      self.backlog = backlog
    }

    enum CodingKeys: String, CodingKey {
      case requests
      case sloMs = "slo_ms"
      case planned
      case backlog
    }

    mutating func add(sloMs: Double, backlog old: Bool) {
      requests += 1
      self.sloMs = min(self.sloMs, sloMs)
      if old { backlog = (backlog ?? 0) + 1 }
    }
  }

  /// A request older than this when routed counts as `backlog` (milliseconds).
  public static let backlogAgeMs: Int64 = 2_000

  public var apps: [String: AppCount] = [:]
  public var rejected: [String: Int] = [:]

  public init() {}

  public var isEmpty: Bool { apps.isEmpty && rejected.isEmpty }

  /// Apps one report names at most, so that it always fits a record (app ids are at most 128
  /// bytes): planned apps are always counted; unplanned ones past the bound are counted under
  /// `rejected["report-full"]`, and the next window reports them.
  public static let maxApps = 2_000

  /// Counts one request of `app`, which had waited `waitedMs` on hb.requests.
  public mutating func count(app: String, sloMs: Double, planned: Bool, waitedMs: Int64 = 0) {
    // The cheap tests first: a planned app (nearly every request) hashes its name once, below.
    if !planned, apps.count >= Self.maxApps, apps[app] == nil {
      rejected["report-full", default: 0] += 1
      return
    }
    apps[app, default: AppCount(requests: 0, sloMs: sloMs, planned: planned)].add(
      sloMs: sloMs, backlog: waitedMs > Self.backlogAgeMs)
  }
}
