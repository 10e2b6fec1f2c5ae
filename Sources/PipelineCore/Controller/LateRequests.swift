import Foundation

/// Requests that ended late, per app, as the batcher (`slo-unreachable`: the plan left too little
/// slack for the time before the flush) and the workers (`queued-past-slo`: a batch waited for a
/// slot too long) report them on hb.late (pure; seconds). An app has late requests beyond chance
/// when more than `share` of what it sent in the window (and at least `minimum`) ended late for
/// one reason: the controller acts on it (more slack for that app, or a pool short of slots)
/// instead of leaving it silent. Bounded: only apps the controller knows, at most `memory`
/// events per app.
public struct LateRequests: Sendable {
  /// How far back late requests count.
  /// Default: `defaultWindow`.
  public var window: Duration
  public var share: Double
  public var minimum: Int
  public var memory = 1_000
  private var events: [String: [(time: Double, reason: String, lateBy: Double)]] = [:]
  private var ignoredUntil: [String: Double] = [:]

  /// `window` when none is given.
  /// Default: 30 s.
  public static let defaultWindow: Duration = .seconds(30)

  public init(window: Duration = defaultWindow, share: Double = 0.005, minimum: Int = 3) {
    self.window = window
    self.share = share
    self.minimum = minimum
  }

  /// One late request of `app`, `lateBy` seconds past its SLO (0 when the record did not say).
  public mutating func record(app: String, reason: String, lateBy: Double, at now: Double) {
    if let until = ignoredUntil[app], now < until { return }
    var list = events[app, default: []]
    list.append((now, reason, lateBy.isFinite ? min(max(0, lateBy), 3600) : 0))
    if list.count > memory { list.removeFirst(list.count - memory) }
    events[app] = list
  }

  /// Forgets what `app` had, and what it reports until `until`: it was acted on, and requests
  /// already under way when the new plan came are no news.
  public mutating func forget(_ app: String, until: Double) {
    events[app] = nil
    ignoredUntil[app] = until
  }

  public mutating func prune(now: Double) {
    ignoredUntil = ignoredUntil.filter { $0.value > now }
    let window = window.seconds
    for app in Array(events.keys) {
      events[app]!.removeAll { $0.time <= now - window }
      if events[app]!.isEmpty { events[app] = nil }
    }
  }

  /// One app's late requests of one reason in the window.
  public struct Finding: Equatable, Sendable {
    public var app: String
    public var reason: String
    public var count: Int
    /// The most any of them was late by (seconds).
    public var lateBy: Double
  }

  /// The apps (and reasons) whose late requests in the window pass `share` of what they sent at
  /// `rates` (requests per second), sorted by app.
  public func beyondChance(rates: [String: Double], now: Double) -> [Finding] {
    var findings: [Finding] = []
    let window = window.seconds
    for (app, list) in events {
      let recent = list.filter { $0.time > now - window }
      let sent = max(1, (rates[app] ?? 0) * window)
      for reason in Set(recent.map(\.reason)).sorted() {
        let mine = recent.filter { $0.reason == reason }
        guard mine.count >= minimum, Double(mine.count) > share * sent else { continue }
        findings.append(
          Finding(
            app: app, reason: reason, count: mine.count,
            lateBy: mine.map(\.lateBy).max() ?? 0))
      }
    }
    return findings.sorted { ($0.app, $0.reason) < ($1.app, $1.reason) }
  }
}
