import Kafka
import Testing

@Suite struct KafkaErrorTests {
  /// The codes a coordinator answers a member that the group left behind (librdkafka's values:
  /// ILLEGAL_GENERATION 22, UNKNOWN_MEMBER_ID 25, REBALANCE_IN_PROGRESS 27).
  @Test(arguments: [Int32(22), 25, 27])
  func aCommitRefusedByAMovedGroupIsToldApart(code: Int32) {
    #expect(KafkaError(.commit, "commit failed", librdkafkaCode: code).isGroupMovedOn)
  }

  /// Other commit failures (no coordinator, a timeout, offset out of range) are not.
  @Test(arguments: [Int32(0), 1, 7, 15, -185])
  func otherFailuresAreNot(code: Int32) {
    #expect(!KafkaError(.commit, "commit failed", librdkafkaCode: code).isGroupMovedOn)
  }
}
