/// The one way quantiles are taken here (reports, the controller, profiles, benchmarks).
public enum Quantile {
  /// The q-quantile of ascending `sorted` by nearest rank: the smallest sample with at least a
  /// share q of them at or below it. `sorted` must not be empty.
  public static func nearestRank(_ sorted: [Double], _ q: Double) -> Double {
    precondition(!sorted.isEmpty, "a quantile of no samples")
    let rank = Int((Double(sorted.count) * q).rounded(.up))
    return sorted[min(sorted.count - 1, max(0, rank - 1))]
  }

  /// The median of ascending `sorted`: the middle sample (of an even count, the upper of the
  /// two middle ones: always a sample). `sorted` must not be empty.
  public static func median(_ sorted: [Double]) -> Double {
    precondition(!sorted.isEmpty, "a median of no samples")
    return sorted[sorted.count / 2]
  }
}
