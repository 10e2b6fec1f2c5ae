import CRdKafka

/// A Kafka protocol error a broker can answer with (the wire codes).
public struct KafkaBrokerError: Sendable, Hashable {
  public let code: Int32
  public init(code: Int32) { self.code = code }

  public static let unknownTopicOrPartition = KafkaBrokerError(code: 3)
  public static let notLeaderForPartition = KafkaBrokerError(code: 6)
  public static let requestTimedOut = KafkaBrokerError(code: 7)
  public static let coordinatorLoadInProgress = KafkaBrokerError(code: 14)
  public static let notCoordinator = KafkaBrokerError(code: 16)
  public static let notEnoughReplicas = KafkaBrokerError(code: 19)
  public static let rebalanceInProgress = KafkaBrokerError(code: 27)
  public static let topicAuthorizationFailed = KafkaBrokerError(code: 29)
}
