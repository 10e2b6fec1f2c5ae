extension Duration {
  /// The duration in seconds, as a Double (for rates, reports and `Date`-based waits).
  public var seconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }

  /// A number of milliseconds as a record or a header says it (the wire's unit), which nobody
  /// checked: nil when it is not a finite number, bounded to ±10^15 ms (`Duration` traps on
  /// what it cannot hold).
  public init?(wireMilliseconds milliseconds: Double) {
    guard milliseconds.isFinite else { return nil }
    self = .milliseconds(min(max(milliseconds, -1e15), 1e15))
  }
}
