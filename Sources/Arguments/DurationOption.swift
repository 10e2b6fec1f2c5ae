/// The unit a time option is written in on the command line; its placeholder says which
/// (`SECONDS`, `MS`). Settings hold `Duration`s; only the command line counts in a unit.
public enum TimeUnit: Sendable {
  case seconds, milliseconds

  /// How an option's placeholder names the unit.
  var placeholder: String { self == .seconds ? "SECONDS" : "MS" }

  var perSecond: Double { self == .seconds ? 1 : 1_000 }

  /// `value` of this unit as a `Duration`.
  func duration(_ value: Double) -> Duration {
    self == .seconds ? .seconds(value) : .milliseconds(value)
  }
}

extension Duration {
  /// This duration as a number of `unit`s, the way an option takes it and its help writes the
  /// default: the shortest decimal, without a needless `.0` ("60", "0.25", "1500").
  public func number(in unit: TimeUnit) -> String {
    let (seconds, attoseconds) = components
    let value = (Double(seconds) + Double(attoseconds) / 1e18) * unit.perSecond
    return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
  }
}

extension OptionSpec {
  /// A time option in `unit`: the placeholder names the unit (`SECONDS`, `MS`) and the help
  /// ends with the default in it, read from the setting's own constant: "… (default 60)."
  public static func time(
    _ name: String, _ help: String, default value: Duration, in unit: TimeUnit = .seconds
  ) -> OptionSpec {
    .option(name, unit.placeholder, "\(help) (default \(value.number(in: unit))).")
  }
}

extension ParsedOptions {
  /// A time given as a number of `unit`s (fractions allowed), within `range`.
  public func duration(
    _ name: String, in unit: TimeUnit = .seconds, default defaultValue: Duration,
    range: ClosedRange<Duration>
  ) throws(UsageError) -> Duration {
    guard let text = string(name) else { return defaultValue }
    guard let value = Double(text), value.isFinite, abs(value / unit.perSecond) < 1e12,
      range.contains(unit.duration(value))
    else {
      throw UsageError(
        "--\(name) must be a number in \(range.lowerBound.number(in: unit))..."
          + "\(range.upperBound.number(in: unit)), got '\(text)'")
    }
    return unit.duration(value)
  }

  /// A time given as a number of `unit`s within `range`, or nil when the option is not given.
  public func duration(
    _ name: String, in unit: TimeUnit = .seconds, range: ClosedRange<Duration>
  ) throws(UsageError) -> Duration? {
    guard string(name) != nil else { return nil }
    return try duration(name, in: unit, default: range.lowerBound, range: range)
  }
}
