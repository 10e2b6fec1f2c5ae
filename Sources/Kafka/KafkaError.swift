import CRdKafka

/// An error from the Kafka layer: a stable `code`, a message that names what was wrong, and where it
/// was raised.
public struct KafkaError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What kind of failure this is. Stable: callers switch on it.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    private enum Base: String, Hashable, Sendable {
      case config, clientCreation, produce, delivery, consume, commit, subscribe, assign
      case admin, broker, closed, timeout, fatal
    }
    private let base: Base
    private init(_ base: Base) { self.base = base }

    /// A configuration key is unknown or its value is invalid.
    public static let config = Code(.config)
    /// librdkafka refused to create a client handle.
    public static let clientCreation = Code(.clientCreation)
    /// A message could not be enqueued for production.
    public static let produce = Code(.produce)
    /// The broker did not acknowledge a message (delivery report carried an error).
    public static let delivery = Code(.delivery)
    /// The consumer reported an error while fetching.
    public static let consume = Code(.consume)
    /// Storing or committing offsets failed.
    public static let commit = Code(.commit)
    /// Subscribing to topics failed.
    public static let subscribe = Code(.subscribe)
    /// Assigning, pausing or resuming partitions failed.
    public static let assign = Code(.assign)
    /// An administrative request (create topics, metadata) failed.
    public static let admin = Code(.admin)
    /// The embedded broker refused an operation.
    public static let broker = Code(.broker)
    /// The client was already closed.
    public static let closed = Code(.closed)
    /// An operation did not finish in time.
    public static let timeout = Code(.timeout)
    /// librdkafka raised a fatal error; the client cannot continue.
    public static let fatal = Code(.fatal)

    public var description: String { base.rawValue }
  }

  public let code: Code
  public let message: String
  /// librdkafka's error code (`rd_kafka_resp_err_t`) when one applies, else 0.
  public let librdkafkaCode: Int32
  public let file: String
  public let line: Int

  public init(
    _ code: Code, _ message: String, librdkafkaCode: Int32 = 0,
    file: String = #fileID, line: Int = #line
  ) {
    self.code = code
    self.message = message
    self.librdkafkaCode = librdkafkaCode
    self.file = file
    self.line = line
  }

  init(
    _ code: Code, _ context: String, rdError: rd_kafka_resp_err_t,
    file: String = #fileID, line: Int = #line
  ) {
    self.init(
      code, "\(context): \(KafkaError.describe(rdError))", librdkafkaCode: rdError.rawValue,
      file: file, line: line)
  }

  /// librdkafka's own text for an error code, with its symbolic name.
  static func describe(_ err: rd_kafka_resp_err_t) -> String {
    let name = String(cString: rd_kafka_err2name(err))
    let text = String(cString: rd_kafka_err2str(err))
    return "\(text) (\(name))"
  }

  /// Whether the group moved on without this member: a rebalance in progress, a generation or
  /// member id it no longer knows. Offsets this member commits are refused then; the partitions'
  /// next owner reads on from the last commit that was taken.
  public var isGroupMovedOn: Bool {
    let codes: [rd_kafka_resp_err_t] = [
      RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID,
      RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID,
      RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST,
    ]
    return codes.contains { $0.rawValue == librdkafkaCode }
  }

  /// Compare the error and its code only; the source location is for diagnostics.
  public static func == (lhs: KafkaError, rhs: KafkaError) -> Bool {
    lhs.code == rhs.code && lhs.message == rhs.message && lhs.librdkafkaCode == rhs.librdkafkaCode
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(code)
    hasher.combine(message)
  }

  public var description: String { message }
}
