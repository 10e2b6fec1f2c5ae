import Foundation
import Planner

/// The worker pools as their members report them on hb.workers (pure): the latest report of every
/// worker, grouped by consumer group. A worker that has not reported for `staleAfter` seconds is
/// gone (it stopped, crashed or left the group).
public struct WorkerPools: Sendable {
  /// One pool (consumer group) now.
  public struct Pool: Sendable, Equatable {
    public var group: String
    public var kind: FunctionConfig.Kind
    public var replicas: Int
    public var slots: Int
    /// Slots per replica (the most common count; 1 when unknown).
    public var slotsPerReplica: Int
    /// Busy slot-seconds per second, summed over the replicas' last windows.
    public var busySlots: Double
    /// The largest 95th-percentile wait for a slot among the replicas (ms).
    public var queueWaitP95Ms: Double?
    /// Batches read and waiting for a slot, and batch records not yet read, over all replicas.
    public var backlog: Int
    public var lag: Int?
  }

  public var staleAfter: Double
  private var latest: [String: (report: WorkerReport, at: Double)] = [:]

  public init(staleAfter: Double = 5) {
    self.staleAfter = staleAfter
  }

  public mutating func record(_ report: WorkerReport, at now: Double) {
    latest["\(report.group)\u{0}\(report.worker)"] = (report, now)
  }

  /// Forgets workers that stopped reporting.
  public mutating func prune(now: Double) {
    latest = latest.filter { now - $0.value.at <= staleAfter }
  }

  /// The pools with at least one live worker, by consumer group.
  public func pools(now: Double) -> [String: Pool] {
    var byGroup: [String: [WorkerReport]] = [:]
    for (report, at) in latest.values where now - at <= staleAfter {
      byGroup[report.group, default: []].append(report)
    }
    return byGroup.mapValues { reports in
      let counts = Dictionary(grouping: reports.map(\.slots), by: { $0 }).mapValues(\.count)
      let typical = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? 1
      let lags = reports.compactMap(\.lag)
      return Pool(
        group: reports[0].group, kind: reports[0].kind, replicas: reports.count,
        slots: reports.reduce(0) { $0 + $1.slots }, slotsPerReplica: max(1, typical),
        busySlots: reports.reduce(0) { $0 + $1.busySlots },
        queueWaitP95Ms: reports.compactMap(\.queueWaitMs?.p95).max(),
        backlog: reports.reduce(0) { $0 + $1.backlog },
        lag: lags.isEmpty ? nil : lags.reduce(0, +))
    }
  }
}
