import CRdKafka

/// Kafka protocol requests whose responses tests may fail on purpose.
public enum KafkaRequestKind: Sendable {
  case produce, fetch, metadata, offsetCommit, offsetFetch, findCoordinator, joinGroup, heartbeat,
    syncGroup

  var apiKey: Int16 {
    switch self {
    case .produce: 0
    case .fetch: 1
    case .metadata: 3
    case .offsetCommit: 8
    case .offsetFetch: 9
    case .findCoordinator: 10
    case .joinGroup: 11
    case .heartbeat: 12
    case .syncGroup: 14
    }
  }
}
