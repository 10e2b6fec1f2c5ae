import Synchronization

/// The process's metrics: counters, gauges and histograms by name and labels, rendered in the
/// Prometheus text exposition format (version 0.0.4) for `GET /metrics`. Thread-safe.
public final class MetricsRegistry: Sendable {
  public enum Kind: String, Sendable {
    case counter, gauge, histogram
  }

  /// A metric's name, help and kind (and a histogram's bucket bounds).
  public struct Family: Sendable, Hashable {
    public let name: String
    public let help: String
    public let kind: Kind
    public let buckets: [Double]

    public init(_ name: String, _ kind: Kind, _ help: String, buckets: [Double] = []) {
      self.name = name
      self.kind = kind
      self.help = help
      self.buckets = buckets.sorted()
    }
  }

  private struct Series {
    var value = 0.0
    /// Histograms: counts per bucket bound (not cumulative), then the sum.
    var counts: [Int] = []
    var sum = 0.0
    var count = 0
  }

  /// Family name → (family, labels rendered → series).
  private let state = Mutex<[String: (family: Family, series: [String: Series])]>([:])

  /// Series per family before new apps are folded: a family holding this many series counts a
  /// label set it has not seen under `app="other"` (the first apps seen keep their own series).
  /// Tenants choose app ids, so without a bound every new id would add series for ever.
  public let maxSeriesPerFamily: Int
  /// The `app` value new apps are counted under once a family is full.
  public static let otherApp = "other"

  public init(maxSeriesPerFamily: Int = 500) {
    self.maxSeriesPerFamily = max(1, maxSeriesPerFamily)
  }

  /// Adds `value` to a counter.
  public func add(_ family: Family, _ value: Double = 1, labels: [String: String] = [:]) {
    update(family, labels) { $0.value += value }
  }

  /// Sets a gauge.
  public func set(_ family: Family, _ value: Double, labels: [String: String] = [:]) {
    update(family, labels) { $0.value = value }
  }

  /// Records one observation in a histogram.
  public func observe(_ family: Family, _ value: Double, labels: [String: String] = [:]) {
    update(family, labels) { series in
      if series.counts.isEmpty { series.counts = Array(repeating: 0, count: family.buckets.count) }
      if let index = family.buckets.firstIndex(where: { value <= $0 }) {
        series.counts[index] += 1
      }
      series.sum += value
      series.count += 1
    }
  }

  private func update(
    _ family: Family, _ labels: [String: String], _ change: (inout Series) -> Void
  ) {
    var key = Self.render(labels)
    state.withLock { families in
      // Changed in place: an entry copied out and written back copied every series of the
      // family on each update (the batcher updates several per batch).
      if families[family.name] == nil { families[family.name] = (family, [:]) }
      let index = families.index(forKey: family.name)!
      if families.values[index].series[key] == nil,
        families.values[index].series.count >= maxSeriesPerFamily, labels["app"] != nil
      {
        var folded = labels
        folded["app"] = Self.otherApp
        key = Self.render(folded)
      }
      change(&families.values[index].series[key, default: Series()])
    }
  }

  /// A counter's or gauge's values summed over every label set (0 when nothing was counted):
  /// what a reader of `/metrics` gets with `sum(...)`.
  public func total(_ family: Family) -> Double {
    state.withLock { families in
      families[family.name].map { $0.series.values.reduce(0) { $0 + $1.value } } ?? 0
    }
  }

  /// A histogram's observations over every label set: how many, and how many fell at or under
  /// each of the family's bounds (not cumulative), in the order of `family.buckets`.
  public func histogram(_ family: Family) -> (count: Int, counts: [Int]) {
    state.withLock { families in
      var counts = [Int](repeating: 0, count: family.buckets.count)
      var count = 0
      for series in families[family.name]?.series.values ?? [:].values {
        count += series.count
        for (index, value) in series.counts.enumerated() { counts[index] += value }
      }
      return (count, counts)
    }
  }

  /// The `q` quantile of a histogram over every label set, interpolated linearly within the
  /// bucket it falls in, as Prometheus' `histogram_quantile` does (nil without observations; the
  /// largest bound when it falls beyond every bound).
  public func quantile(_ family: Family, _ q: Double) -> Double? {
    let (count, counts) = histogram(family)
    return Self.quantile(q, bounds: family.buckets, counts: counts, count: count)
  }

  /// `quantile(_:_:)` of observations given as counts per bucket (not cumulative) and their
  /// total (which counts those beyond the last bound too).
  public static func quantile(_ q: Double, bounds: [Double], counts: [Int], count: Int) -> Double? {
    guard count > 0 else { return nil }
    let rank = q * Double(count)
    var below = 0
    var lower = 0.0
    for (bound, inBucket) in zip(bounds, counts) {
      if Double(below + inBucket) >= rank, inBucket > 0 {
        return lower + (bound - lower) * (rank - Double(below)) / Double(inBucket)
      }
      below += inBucket
      lower = bound
    }
    return bounds.last
  }

  /// Every family in the text exposition format, families and series in name order.
  public func render() -> String {
    let families = state.withLock { $0 }
    var text = ""
    for name in families.keys.sorted() {
      let (family, series) = families[name]!
      text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.kind.rawValue)\n"
      for labels in series.keys.sorted() {
        let entry = series[labels]!
        guard family.kind == .histogram else {
          text += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(Self.number(entry.value))\n"
          continue
        }
        var cumulative = 0
        for (bound, count) in zip(family.buckets, entry.counts) {
          cumulative += count
          text +=
            "\(name)_bucket{\(Self.join(labels, "le=\"\(Self.number(bound))\""))} \(cumulative)\n"
        }
        text += "\(name)_bucket{\(Self.join(labels, "le=\"+Inf\""))} \(entry.count)\n"
        let suffix = labels.isEmpty ? "" : "{\(labels)}"
        text += "\(name)_sum\(suffix) \(Self.number(entry.sum))\n"
        text += "\(name)_count\(suffix) \(entry.count)\n"
      }
    }
    return text
  }

  private static func join(_ labels: String, _ extra: String) -> String {
    labels.isEmpty ? extra : labels + "," + extra
  }

  /// `a="1",b="x"`, keys sorted, values escaped as the format asks.
  static func render(_ labels: [String: String]) -> String {
    labels.keys.sorted().map { key in
      var value = ""
      for character in labels[key]! {
        switch character {
        case "\\": value += "\\\\"
        case "\"": value += "\\\""
        case "\n": value += "\\n"
        default: value.append(character)
        }
      }
      return "\(key)=\"\(value)\""
    }.joined(separator: ",")
  }

  static func number(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
  }
}
