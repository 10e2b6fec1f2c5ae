import Foundation
import Pipeline
import PipelineCore
import Planner
import Simulator

/// Poisson arrivals of each app's requests, at the apps' rates or a per-minute trace's (times a
/// shape's factor second by second, when one is given), as requests ready to send: ids `<prefix>-<n>`, payloads taken in turn from `sentences`, SLOs
/// from the apps (or one for all). `produce --duration` and the demo send these.
public struct RequestGenerator: Sendable {
  /// Sentences in several languages and lengths, so the encoder sees real variety.
  public static let sentences = [
    "Where is the nearest train station?",
    "The quick brown fox jumps over the lazy dog near the quiet river bank.",
    "Please summarise the quarterly report for the board meeting tomorrow morning.",
    "How do I reset my password?",
    "Recommend a good book about distributed systems.",
    "Das Wetter in München ist heute sonnig und warm.",
    "¿Cuál es la capital de Australia?",
    "東京の天気はどうですか。",
  ]

  public let apps: [App]
  private let trace: Workload?
  private let shape: RateShape?
  private let idPrefix: String
  private let sloMs: Double?
  private var random: SeededRandom
  /// Seconds from the start at which each app's next request arrives.
  private var next: [Double]
  /// Requests generated so far.
  public private(set) var count = 0

  /// `sloMs`: the SLO every request carries (default: its app's).
  public init(
    apps: [App], trace: Workload? = nil, shape: RateShape? = nil, seed: UInt64,
    idPrefix: String, sloMs: Double? = nil
  ) {
    self.apps = apps
    self.trace = trace
    self.shape = shape
    self.idPrefix = idPrefix
    self.sloMs = sloMs
    random = SeededRandom(seed: seed)
    next = []
    for index in apps.indices { next.append(random.exponential(rate: rate(of: index, at: 0))) }
  }

  /// An app's SLO as its requests carry it: milliseconds, to the microsecond.
  public static func sloMs(of app: App) -> Double { (app.slo * 1_000_000).rounded() / 1000 }

  /// App `index`'s rate at `time` seconds from the start (req/s).
  public func rate(of index: Int, at time: Double) -> Double {
    let base =
      trace.map { $0.rates[min($0.minutes - 1, Int(time / 60))][index] } ?? apps[index].rate
    return base * (shape?.factor(at: time) ?? 1)
  }

  /// All apps' rate at `time` seconds from the start (req/s).
  public func totalRate(at time: Double) -> Double {
    apps.indices.reduce(0) { $0 + rate(of: $1, at: time) }
  }

  /// The requests due by `elapsed` seconds from the start, in order of arrival; each app's next
  /// arrival moves on. Requests are drawn one at a time in that order, so any pattern of calls
  /// gives the same requests with the same arrival times.
  public mutating func due(by elapsed: Double) -> [RequestRecord] {
    var requests: [RequestRecord] = []
    while let index = next.indices.min(by: { next[$0] < next[$1] }), next[index] <= elapsed {
      let app = apps[index]
      requests.append(
        RequestRecord(
          app: app.id, id: "\(idPrefix)-\(count)",
          sloMs: sloMs ?? Self.sloMs(of: app),
          payload: Array(Self.sentences[count % Self.sentences.count].utf8)))
      count += 1
      let current = rate(of: index, at: next[index])
      // A trace minute at rate 0: look again a minute later.
      next[index] += current > 0 ? random.exponential(rate: current) : 60
    }
    return requests
  }

  /// Seconds from the start at which the next request arrives.
  public var nextArrival: Double { next.min() ?? .infinity }

  /// Sends each request at its arrival time for `duration` from `start` (every arrival up to
  /// the end), sleeping until the next one is due — at most `wakeEvery` at a time, so that
  /// `isStopping` is seen — and returns when the duration has passed or `isStopping()` says so.
  public mutating func send(
    for duration: Duration, from start: ContinuousClock.Instant,
    wakeEvery: Duration = .milliseconds(50), isStopping: () -> Bool,
    _ send: (RequestRecord) throws -> Void
  ) rethrows {
    let end = start + duration
    while !isStopping() {
      let now = ContinuousClock.now
      let elapsed = min(now - start, duration).seconds
      for request in due(by: elapsed) { try send(request) }
      guard now < end else { return }
      let wake = min(start + .seconds(nextArrival), end, now + wakeEvery)
      let pause = wake - ContinuousClock.now
      if pause > .zero { Thread.sleep(forTimeInterval: pause.seconds) }
    }
  }
}
