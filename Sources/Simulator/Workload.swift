import Foundation
import Planner

/// Per-minute arrival rates of every app: from a trace (`minute,app,rate` CSV) or generated from
/// the apps' base rates with a shape.
public struct Workload: Sendable {
  public enum Shape: String, Sendable, CaseIterable {
    /// Every minute at the base rate.
    case constant
    /// A day-long sine between 0.3× and 1.7× the base rate.
    case diurnal
    /// The base rate, with 5 % of minutes at 4×.
    case bursty
  }

  public let apps: [App]
  public let minutes: Int
  /// `rates[minute][appIndex]`.
  public let rates: [[Double]]

  public init(apps: [App], minutes: Int, rates: [[Double]]) {
    self.apps = apps
    self.minutes = minutes
    self.rates = rates
  }

  /// Apps shaped like the Azure Functions trace: most are slow (98.7 % of apps there see under
  /// 1 req/s), a few are busy. Rates: 98 % log-uniform in 0.01...1 req/s, 2 % in 1...40 req/s.
  public static func azureLikeApps(
    count: Int, sloRange: ClosedRange<Double>, seed: UInt64
  ) -> [App] {
    var random = SeededRandom(seed: seed)
    return (0..<count).map { index in
      let busy = random.unit() < 0.02
      let (low, high) = busy ? (1.0, 40.0) : (0.01, 1.0)
      let rate = exp(log(low) + random.unit() * (log(high) - log(low)))
      let slo = sloRange.lowerBound + random.unit() * (sloRange.upperBound - sloRange.lowerBound)
      return App(
        id: "app-\(index + 1)", slo: (slo * 1000).rounded() / 1000,
        rate: (rate * 1000).rounded() / 1000)
    }
  }

  /// The paper's evaluation apps: rates from a Pareto distribution (minimum 0.5 req/s, shape
  /// 1.1, capped at 40 req/s) — heavy-tailed like the busy end of the Azure Functions trace,
  /// which the paper's eight apps per model were drawn from — and SLOs uniform in `sloRange`.
  public static func paperApps(count: Int, sloRange: ClosedRange<Double>, seed: UInt64) -> [App] {
    var random = SeededRandom(seed: seed)
    return (0..<count).map { index in
      let rate = min(40, 0.5 / pow(max(random.unit(), 1e-12), 1 / 1.1))
      let slo = sloRange.lowerBound + random.unit() * (sloRange.upperBound - sloRange.lowerBound)
      return App(
        id: "app-\(index + 1)", slo: (slo * 1000).rounded() / 1000,
        rate: (rate * 1000).rounded() / 1000)
    }
  }

  public static func generated(apps: [App], minutes: Int, shape: Shape, seed: UInt64) -> Workload {
    var random = SeededRandom(seed: seed ^ 0x5151)
    let rates = (0..<minutes).map { minute -> [Double] in
      apps.map { app in
        switch shape {
        case .constant: return app.rate
        case .diurnal:
          return app.rate * (1 + 0.7 * sin(2 * .pi * Double(minute) / 1440))
        case .bursty: return random.unit() < 0.05 ? app.rate * 4 : app.rate
        }
      }
    }
    return Workload(apps: apps, minutes: minutes, rates: rates)
  }

  /// A trace file: `minute,app,rate` lines (header allowed); apps or minutes it does not mention
  /// keep the apps file's rate.
  public static func trace(apps: [App], minutes: Int, csv: String) throws(PlannerInputError)
    -> Workload
  {
    var rates = (0..<minutes).map { _ in apps.map(\.rate) }
    let index = Dictionary(apps.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
    for (number, line) in csv.split(separator: "\n").enumerated() {
      let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      if number == 0, fields.first.map({ Int($0) == nil }) == true { continue }
      guard fields.count == 3, let minute = Int(fields[0]), minute >= 0,
        let rate = Double(fields[2]), rate >= 0
      else { throw PlannerInputError("trace line \(number + 1): expected minute,app,rate") }
      guard let app = index[fields[1]] else {
        throw PlannerInputError("trace line \(number + 1): unknown app '\(fields[1])'")
      }
      if minute < minutes { rates[minute][app] = rate }
    }
    return Workload(apps: apps, minutes: minutes, rates: rates)
  }
}
