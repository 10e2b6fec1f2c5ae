/// Which replica of a consumer group reads each partition of a topic, as a sticky assignor
/// (librdkafka's `cooperative-sticky`, the workers' strategy) keeps it: balanced (the replicas'
/// counts differ by one at most; replicas beyond the partitions hold none), and across a change
/// of replicas as few partitions as possible change owner. Only the partitions that move pause
/// while the group rebalances.
public struct PartitionAssignment: Equatable, Sendable {
  /// The replica (0-based) that reads each partition.
  public private(set) var owners: [Int]

  /// `partitions` given round-robin to `replicas`, as a group's first assignment is.
  public init(partitions: Int, replicas: Int) {
    let members = max(1, replicas)
    owners = (0..<max(0, partitions)).map { $0 % members }
  }

  /// The partitions `replica` holds.
  public func held(by replica: Int) -> [Int] {
    owners.indices.filter { owners[$0] == replica }
  }

  /// The group has `replicas` members now (0..<replicas: the highest-numbered left, or new ones
  /// joined): returns the partitions that changed owner. A partition stays where it is while
  /// its owner is still a member and holds no more than its share; the rest go to the members
  /// holding fewest.
  @discardableResult
  public mutating func rebalance(replicas: Int) -> [Int] {
    let members = max(1, replicas)
    let before = owners
    let partitions = owners.count
    var counts = Array(repeating: 0, count: members)
    var orphans: [Int] = []
    // Members keep what they hold up to the largest share (partitions / members, rounded up);
    // the rest is re-given below.
    let largest = (partitions + members - 1) / members
    for partition in owners.indices {
      let owner = owners[partition]
      if owner < members, counts[owner] < largest {
        counts[owner] += 1
      } else {
        orphans.append(partition)
      }
    }
    for partition in orphans {
      let least = counts.indices.min { (counts[$0], $0) < (counts[$1], $1) }!
      owners[partition] = least
      counts[least] += 1
    }
    // Too many members at the largest share: move one partition at a time from the most loaded
    // to the least loaded until every count is its member's share or one off.
    while let most = counts.indices.max(by: { (counts[$0], -$0) < (counts[$1], -$1) }),
      let least = counts.indices.min(by: { (counts[$0], $0) < (counts[$1], $1) }),
      counts[most] - counts[least] > 1
    {
      let partition = owners.lastIndex(of: most)!
      owners[partition] = least
      counts[most] -= 1
      counts[least] += 1
    }
    return owners.indices.filter { owners[$0] != before[$0] }
  }
}
