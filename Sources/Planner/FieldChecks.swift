/// The checks every message of the pipeline passes before anything trusts its numbers: finite,
/// of the right sign, within a range, texts that are there. It collects what is wrong, field by
/// field, so an operator reads one line that names them.
public struct FieldChecks: Sendable {
  public private(set) var problems: [String] = []

  public init() {}

  /// A number within `range` (NaN and ±∞ never are).
  public mutating func number(_ value: Double, _ name: String, in range: ClosedRange<Double>) {
    guard value.isFinite else { return problems.append("\(name) is \(value)") }
    if !range.contains(value) {
      problems.append("\(name) \(value) is outside \(range.lowerBound)...\(range.upperBound)")
    }
  }

  public mutating func integer(_ value: Int, _ name: String, in range: ClosedRange<Int>) {
    if !range.contains(value) {
      problems.append("\(name) \(value) is outside \(range.lowerBound)...\(range.upperBound)")
    }
  }

  /// A text that is there and not absurdly long.
  public mutating func text(_ value: String, _ name: String, maxLength: Int = 1024) {
    if value.isEmpty { problems.append("\(name) is empty") }
    if value.utf8.count > maxLength { problems.append("\(name) is over \(maxLength) bytes") }
  }

  public mutating func require(_ condition: Bool, _ problem: @autoclosure () -> String) {
    if !condition { problems.append(problem()) }
  }

  /// A function as a plan or a batch names it.
  public mutating func function(_ function: FunctionConfig, _ name: String = "function") {
    number(function.vcpu, "\(name) vcpu", in: 0.001...1024)
    switch function.kind {
    case .cpu: integer(function.gpuMemoryGB, "\(name) gpu_mem_gb", in: 0...0)
    case .gpu: integer(function.gpuMemoryGB, "\(name) gpu_mem_gb", in: 1...1024)
    }
  }

  public var isValid: Bool { problems.isEmpty }

  /// The problems in one line (the first few, and how many more).
  public var summary: String {
    let shown = problems.prefix(4).joined(separator: "; ")
    return problems.count > 4 ? shown + "; and \(problems.count - 4) more" : shown
  }
}

/// Bounds the pipeline's messages keep to; anything past them is a bad record, not a value.
public enum FieldBounds {
  /// SLOs, timeouts and latencies: up to an hour (milliseconds).
  public static let milliseconds: ClosedRange<Double> = 0...3_600_000
  /// Requests in one batch.
  public static let batchSize: ClosedRange<Int> = 1...1024
  /// Requests per second of one app or group.
  public static let rate: ClosedRange<Double> = 0...10_000_000
  /// Costs per request or per invocation, in any currency.
  public static let cost: ClosedRange<Double> = 0...1_000_000
}
