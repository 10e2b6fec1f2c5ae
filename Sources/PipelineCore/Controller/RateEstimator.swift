import Foundation

/// Per-app arrival rates from counts over time (the router's reports on hb.rates): a sliding
/// window for a steady estimate, and a short window that takes over when a burst (or the end of
/// one, a drop) is beyond what Poisson noise around the steady rate explains. Pure; times are
/// seconds on the pipeline's clock, the windows `Duration`s.
///
/// A backlog read after an outage or a restart (requests that waited on the topic, `backlog` in
/// a report) arrived earlier than it is counted: it is part of the steady count, which spans
/// the outage, but never a burst — and while it is being read the fresh requests behind it are
/// few, which is not a drop either.
public struct RateEstimator: Sendable {
  /// The steady window (`controller --rate-window`).
  /// Default: `defaultWindow`.
  public var window: Duration
  /// The burst window.
  /// Default: `defaultBurstWindow`.
  public var burstWindow: Duration
  /// `window` when none is given.
  /// Default: 60 s.
  public static let defaultWindow: Duration = .seconds(60)
  /// `burstWindow` when none is given.
  /// Default: 5 s.
  public static let defaultBurstWindow: Duration = .seconds(5)
  /// How many standard deviations above the steady rate a burst window must be.
  public var burstSigmas: Double

  private var counts: [String: [(time: Double, count: Int, backlog: Int)]] = [:]
  private var firstSeen: [String: Double] = [:]

  public init(
    window: Duration = defaultWindow, burstWindow: Duration = defaultBurstWindow,
    burstSigmas: Double = 4
  ) {
    self.window = window
    self.burstWindow = burstWindow
    self.burstSigmas = burstSigmas
  }

  /// `count` requests of `app` were counted in the interval ending at `time`, which began at
  /// `start`; `backlog` of them had arrived well before it.
  public mutating func record(
    app: String, count: Int, backlog: Int = 0, from start: Double, to time: Double
  ) {
    if firstSeen[app] == nil { firstSeen[app] = start }
    counts[app, default: []].append((time, count, min(max(0, backlog), count)))
  }

  /// Forgets what is older than the steady window.
  public mutating func prune(now: Double) {
    let window = window.seconds
    for app in Array(counts.keys) {
      counts[app]!.removeAll { $0.time <= now - window }
    }
  }

  public var apps: [String] { counts.keys.sorted() }

  /// The rate of `app` at `now` (requests per second).
  public func rate(of app: String, now: Double) -> Double { estimate(of: app, now: now).rate }

  /// The rate of `app` at `now` and the span of time it was counted over (seconds): the steady
  /// window (or the time since the app was first seen, when shorter), or the burst window when a
  /// burst took over.
  public func estimate(of app: String, now: Double) -> (rate: Double, span: Double) {
    guard let entries = counts[app], let first = firstSeen[app] else { return (0, 0) }
    let window = window.seconds
    let span = max(min(window, now - first), 1e-9)
    let steady =
      Double(entries.filter { $0.time > now - window }.reduce(0) { $0 + $1.count }) / span
    let burstSpan = min(burstWindow.seconds, span)
    let latest = entries.filter { $0.time > now - burstSpan }
    let recent = Double(latest.reduce(0) { $0 + $1.count })
    let fresh = recent - Double(latest.reduce(0) { $0 + $1.backlog })
    let expected = steady * burstSpan
    let noise = burstSigmas * expected.squareRoot() + 3
    if fresh > expected + noise { return (fresh / burstSpan, burstSpan) }
    if recent < expected - noise { return (recent / burstSpan, burstSpan) }
    return (steady, span)
  }

  public func rates(now: Double) -> [String: Double] {
    Dictionary(uniqueKeysWithValues: apps.map { ($0, rate(of: $0, now: now)) })
  }

  /// Every app's estimate with its span.
  public func estimates(now: Double) -> [String: (rate: Double, span: Double)] {
    Dictionary(uniqueKeysWithValues: apps.map { ($0, estimate(of: $0, now: now)) })
  }
}
