import Foundation

/// How many batches at once a pool of worker replicas can really run when batches are spread
/// evenly over the batch topic's partitions (pure; control-loop reference, "Partitions bound what
/// replicas can do"):
/// - a consumer group gives each partition to one member, so a replica holding k of P partitions
///   gets k/P of the batches and must serve them with its own slots: the pool keeps up while
///   every replica does, and its capacity is P × min(slots / partitions held) over the replicas
///   holding any;
/// - replicas beyond the partitions hold none and add nothing;
/// - when the assignment is not known, Kafka's assignors give members ⌈P/m⌉ or ⌊P/m⌋ partitions
///   (m members holding any), and the smallest replica may be one of those with ⌈P/m⌉;
/// - without a partition count (no worker said yet), every slot counts.
public struct PoolCapacity: Sendable, Equatable {
  /// Usable slots of each replica.
  public var replicaSlots: [Int]
  /// The batch topic's partitions (nil: not known).
  public var partitions: Int?
  /// Partitions each replica holds, in `replicaSlots`' order, when every replica said.
  public var held: [Int]?

  public init(replicaSlots: [Int], partitions: Int?, held: [Int]? = nil) {
    self.replicaSlots = replicaSlots
    self.partitions = partitions
    self.held = held
  }

  /// The slots the pool has, counted as above.
  public var slots: Double {
    guard let partitions, partitions > 0 else { return Double(replicaSlots.reduce(0, +)) }
    if let held, held.count == replicaSlots.count, held.reduce(0, +) == partitions {
      let worst = zip(replicaSlots, held).filter { $0.1 > 0 }.map { Double($0.0) / Double($0.1) }
        .min()
      return worst.map { $0 * Double(partitions) } ?? 0
    }
    return Self.slots(
      replicas: replicaSlots.count, smallest: replicaSlots.min() ?? 0, partitions: partitions)
  }

  /// The slots of `replicas` replicas, the smallest of which has `smallest` slots, under an even
  /// assignment of `partitions` (nil: every slot counts, all replicas of `smallest`).
  public static func slots(replicas: Int, smallest: Int, partitions: Int?) -> Double {
    guard replicas > 0, smallest > 0 else { return 0 }
    guard let partitions, partitions > 0 else { return Double(replicas * smallest) }
    let members = min(replicas, partitions)
    let most = (partitions + members - 1) / members
    return Double(partitions) * Double(smallest) / Double(most)
  }

  /// The fewest replicas that give `needed` slots when each has `slotsPerReplica` (and the pool's
  /// smallest replica has `smallest`, at most `slotsPerReplica`), never more than the partitions;
  /// `limited` when even one replica per partition falls short.
  public static func replicas(
    for needed: Double, slotsPerReplica: Int, smallest: Int, partitions: Int?
  ) -> (replicas: Int, limited: Bool) {
    guard needed > 0 else { return (0, false) }
    let floor = max(1, min(slotsPerReplica, smallest))
    guard let partitions, partitions > 0 else {
      // Unknown partitions: every slot counts.
      return (max(1, Int((needed / Double(max(1, slotsPerReplica)) - 1e-9).rounded(.up))), false)
    }
    for count in 1...partitions
    where slots(replicas: count, smallest: floor, partitions: partitions) >= needed - 1e-9 {
      return (count, false)
    }
    return (partitions, true)
  }
}
