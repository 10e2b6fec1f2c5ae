import Foundation
import Planner

/// The worker pools as their members report them on hb.workers (pure): the latest report of every
/// worker, grouped by consumer group. Replicas are counted so that one late report does not make
/// the count jump: a worker is gone only when it said so in its last report (`leaving`), or when
/// it missed `missedReports` of its own report intervals (and at least `staleAfter`).
/// Reports are bounded before they count: a worker's slots are those it can run (one per core
/// for a backend that computes on the cores), and reports from consumer groups that are not
/// pipeline worker pools are refused.
public struct WorkerPools: Sendable {
  /// One pool (consumer group) now.
  public struct Pool: Sendable, Equatable {
    public var group: String
    public var kind: FunctionConfig.Kind
    public var replicas: Int
    /// Usable slots over all replicas.
    public var slots: Int
    /// Slots per replica (the most common count, the smaller on a tie; 1 when unknown).
    public var slotsPerReplica: Int
    /// Busy slot-seconds per second, summed over the replicas' last windows.
    public var busySlots: Double
    /// The largest 95th-percentile wait for a slot among the replicas (ms).
    public var queueWaitP95Ms: Double?
    /// Batches read and waiting for a slot, and batch records not yet read, over all replicas.
    public var backlog: Int
    public var lag: Int?
    /// What the replicas can run with the partitions as they are held (`PoolCapacity`).
    public var capacity: PoolCapacity
    /// Requests the replicas shed as late in their last windows.
    public var shed: Int
    /// Partitions whose batches wait on a replica with every slot busy while other replicas
    /// of the pool have idle slots: the spread or the assignment is uneven.
    public var skewedPartitions: [Int32]

    public init(
      group: String, kind: FunctionConfig.Kind, replicas: Int, slots: Int, slotsPerReplica: Int,
      busySlots: Double, queueWaitP95Ms: Double?, backlog: Int, lag: Int?,
      capacity: PoolCapacity? = nil, shed: Int = 0, skewedPartitions: [Int32] = []
    ) {
      self.group = group
      self.kind = kind
      self.replicas = replicas
      self.slots = slots
      self.slotsPerReplica = slotsPerReplica
      self.busySlots = busySlots
      self.queueWaitP95Ms = queueWaitP95Ms
      self.backlog = backlog
      self.lag = lag
      self.capacity =
        capacity
        ?? PoolCapacity(
          replicaSlots: Array(repeating: slotsPerReplica, count: replicas), partitions: nil)
      self.shed = shed
      self.skewedPartitions = skewedPartitions
    }

    /// The batch topic's partitions, when a replica said.
    public var partitions: Int? { capacity.partitions }
    /// The slots of the smallest replica.
    public var smallestReplica: Int { capacity.replicaSlots.min() ?? slotsPerReplica }
  }

  /// A worker silent this long (and for `missedReports` of its report intervals) has left its
  /// pool.
  /// Default: `defaultStaleAfter`.
  public var staleAfter: Duration
  /// `staleAfter` when none is given.
  /// Default: 5 s.
  public static let defaultStaleAfter: Duration = .seconds(5)
  /// Report intervals a worker may miss before it counts as gone.
  public var missedReports: Double
  /// The consumer groups whose reports count, besides `hb-workers-cpu` and `hb-workers-gpu`.
  public var extraGroups: Set<String>
  private var latest: [String: (report: WorkerReport, at: Double)] = [:]

  public init(
    staleAfter: Duration = defaultStaleAfter, missedReports: Double = 3,
    extraGroups: Set<String> = []
  ) {
    self.staleAfter = staleAfter
    self.missedReports = missedReports
    self.extraGroups = extraGroups
  }

  /// The default pool of a kind (`worker --kind K` without `--group`).
  public static func defaultGroup(_ kind: FunctionConfig.Kind) -> String {
    "hb-workers-\(kind.rawValue)"
  }

  /// Whether reports from `group` count: a pipeline worker pool of that kind.
  public func accepts(group: String, kind: FunctionConfig.Kind) -> Bool {
    group == Self.defaultGroup(kind) || extraGroups.contains(group)
  }

  /// Records a report; a leaving worker is forgotten at once. Returns why a report does not
  /// count, or nil.
  @discardableResult
  public mutating func record(_ report: WorkerReport, at now: Double) -> String? {
    guard accepts(group: report.group, kind: report.kind) else {
      return "group \(report.group) is not a \(report.kind.rawValue) worker pool of the pipeline "
        + "(\(Self.defaultGroup(report.kind))\(extraGroups.isEmpty ? "" : " or --worker-group"))"
    }
    let key = "\(report.group)\u{0}\(report.worker)"
    if report.leaving == true {
      latest[key] = nil
    } else {
      latest[key] = (report, now)
    }
    return nil
  }

  private func isLive(_ entry: (report: WorkerReport, at: Double), now: Double) -> Bool {
    let interval = max(0, (entry.report.windowEndMs - entry.report.windowStartMs) / 1000)
    return now - entry.at <= max(staleAfter.seconds, missedReports * min(interval, 600))
  }

  /// Forgets workers that stopped reporting.
  public mutating func prune(now: Double) {
    latest = latest.filter { isLive($0.value, now: now) }
  }

  /// The pools with at least one live worker, by consumer group.
  public func pools(now: Double) -> [String: Pool] {
    var byGroup: [String: [WorkerReport]] = [:]
    for entry in latest.values where isLive(entry, now: now) {
      byGroup[entry.report.group, default: []].append(entry.report)
    }
    return byGroup.mapValues { reports in
      let reports = reports.sorted { $0.worker < $1.worker }
      let usable = reports.map(\.usableSlots)
      let counts = Dictionary(grouping: usable, by: { $0 }).mapValues(\.count)
      let typical = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? 1
      let lags = reports.compactMap(\.lag)
      let partitions = reports.compactMap(\.topicPartitions).max()
      let held =
        reports.allSatisfy { $0.partitions != nil } ? reports.map { $0.partitions!.count } : nil
      let busy = zip(reports, usable).map { min($0.busySlots, Double($1)) }
      return Pool(
        group: reports[0].group, kind: reports[0].kind, replicas: reports.count,
        slots: usable.reduce(0, +), slotsPerReplica: max(1, typical),
        busySlots: busy.reduce(0, +),
        queueWaitP95Ms: reports.compactMap(\.queueWaitMs?.p95).max(),
        backlog: reports.reduce(0) { $0 + $1.backlog },
        lag: lags.isEmpty ? nil : lags.reduce(0, +),
        capacity: PoolCapacity(replicaSlots: usable, partitions: partitions, held: held),
        shed: reports.reduce(0) { $0 + ($1.shed ?? 0) },
        skewedPartitions: Self.skewed(reports, usable: usable, busy: busy))
    }
  }

  /// Partitions with batches waiting on a replica whose slots are all busy, while the rest of the
  /// pool has at least one idle slot.
  static func skewed(_ reports: [WorkerReport], usable: [Int], busy: [Double]) -> [Int32] {
    let idle = zip(usable, busy).map { Double($0) - $1 }
    let total = idle.reduce(0, +)
    var skewed: [Int32] = []
    for (index, report) in reports.enumerated()
    where report.backlog > 0 && busy[index] >= 0.9 * Double(usable[index])
      && total - idle[index] >= 1
    {
      skewed += (report.partitions ?? []).filter { $0.backlog > 0 }.map(\.partition)
    }
    return skewed.sorted()
  }
}
