import Simulator
import Testing

@Suite struct PartitionAssignmentTests {
  /// How many partitions each of `replicas` holds.
  static func counts(_ assignment: PartitionAssignment, replicas: Int) -> [Int] {
    (0..<replicas).map { assignment.held(by: $0).count }
  }

  @Test func theFirstAssignmentIsRoundRobin() {
    let assignment = PartitionAssignment(partitions: 5, replicas: 2)
    #expect(assignment.owners == [0, 1, 0, 1, 0])
    #expect(assignment.held(by: 1) == [1, 3])
  }

  @Test func aJoiningReplicaTakesOnlyItsShare() {
    var assignment = PartitionAssignment(partitions: 4, replicas: 2)
    let moved = assignment.rebalance(replicas: 3)
    #expect(moved.count == 1, "\(moved)")
    #expect(Self.counts(assignment, replicas: 3).sorted() == [1, 1, 2])
    // From one replica to four: each newcomer takes one partition; the first keeps one.
    var single = PartitionAssignment(partitions: 4, replicas: 1)
    #expect(single.rebalance(replicas: 4).count == 3)
    #expect(single.owners.sorted() == [0, 1, 2, 3])
  }

  @Test func aLeavingReplicasPartitionsAloneMove() {
    var assignment = PartitionAssignment(partitions: 6, replicas: 3)
    let before = assignment.owners
    let moved = assignment.rebalance(replicas: 2)
    #expect(Set(moved) == Set(before.indices.filter { before[$0] == 2 }))
    #expect(Self.counts(assignment, replicas: 2) == [3, 3])
  }

  @Test func replicasBeyondThePartitionsHoldNone() {
    var assignment = PartitionAssignment(partitions: 3, replicas: 2)
    assignment.rebalance(replicas: 5)
    #expect(Self.counts(assignment, replicas: 5).filter { $0 == 1 }.count == 3)
    #expect(Self.counts(assignment, replicas: 5).reduce(0, +) == 3)
    // Steady membership: nothing moves.
    #expect(assignment.rebalance(replicas: 5).isEmpty)
  }
}
