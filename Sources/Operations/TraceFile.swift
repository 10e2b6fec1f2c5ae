import Arguments
import Foundation
import Planner
import Simulator

extension Workload {
  /// The per-minute rates of the trace file at `path` (`minute,app,rate` lines, minute 0 first),
  /// as `simulate --trace` and `produce --trace` read it: `minutes` minutes of `apps`, whose
  /// own rates hold where the trace says nothing.
  public static func trace(path: String, apps: [App], minutes: Int) throws -> Workload {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw UsageError("cannot read the trace '\(path)'")
    }
    return try trace(apps: apps, minutes: minutes, csv: text)
  }
}
