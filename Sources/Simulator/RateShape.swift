import Foundation
import Planner

/// A workload's shape second by second over a day, as a factor of the apps' base rates: what
/// `simulate --closed-loop --shape` and `demo --shape` make the rates follow (pure).
public struct RateShape: Sendable, Equatable {
  public var shape: Workload.Shape
  /// The shape's day (a compressed one puts a day's rise and fall in a short run).
  public var day: Duration
  /// Which slots of `bursty` are bursts.
  public var seed: UInt64

  public init(_ shape: Workload.Shape, day: Duration, seed: UInt64) {
    self.shape = shape
    self.day = day
    self.seed = seed
  }

  private var daySeconds: Double { max(day.seconds, 1e-3) }

  /// The factor at `time` (seconds from the start): `diurnal`, a sine between 0.3× and 1.7×
  /// rising from the start; `bursty`, 4× in 5 % of the slots of a sixtieth of a day, 1×
  /// otherwise; `constant`, 1×.
  public func factor(at time: Double) -> Double {
    switch shape {
    case .constant: return 1
    case .diurnal: return 1 + 0.7 * sin(2 * .pi * time / daySeconds)
    case .bursty: return burst(slot: Int((time / (daySeconds / 60)).rounded(.down))) ? 4 : 1
    }
  }

  /// Whether slot `index` of `bursty` is a burst: 5 % of them, by the seed.
  private func burst(slot index: Int) -> Bool {
    var random = SeededRandom(seed: (seed ^ 0xB025_7ED5) &+ UInt64(max(0, index)) &* 0x9E37_79B9)
    _ = random.next()
    return random.unit() < 0.05
  }

  /// The spans within `0..<duration` in which the rates rise (seconds): the rising half of each
  /// day (trough to peak) of `diurnal`, the bursts of `bursty`.
  public func ramps(over duration: Double) -> [(from: Double, to: Double)] {
    var spans: [(from: Double, to: Double)] = []
    let day = daySeconds
    switch shape {
    case .constant: break
    case .diurnal:
      // Rising from −¼ to ¼ of each day.
      var start = -day / 4
      while start < duration {
        spans.append((max(0, start), min(duration, start + day / 2)))
        start += day
      }
    case .bursty:
      let slot = day / 60
      for index in 0..<Int((duration / slot).rounded(.up)) where burst(slot: index) {
        spans.append((Double(index) * slot, min(duration, Double(index + 1) * slot)))
      }
    }
    return spans.filter { $0.to > $0.from }
  }
}
