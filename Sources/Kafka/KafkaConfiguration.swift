import Foundation

/// Settings shared by every client: where the cluster is, who we are, how we log, and any
/// librdkafka property we do not type ourselves.
///
/// Typed settings are applied first; `properties` are applied after them and win. Every key and
/// value is checked by librdkafka when the client is created, and an unknown key or a bad value
/// fails with a `KafkaError` of code `.config` that names the key. Times are `Duration`s; they
/// become librdkafka's integer milliseconds here, when the properties are written, and nowhere
/// else.
public struct KafkaConfiguration: Sendable {
  /// `host:port` pairs of one or more brokers.
  public var bootstrapServers: [String]
  public var clientID: String = "harmonybatch"
  public var logger: KafkaLogger = .standardError()
  /// Pass-through librdkafka properties (`key` → `value`), e.g. `socket.timeout.ms`, for every
  /// client; a key prefixed `consumer.`, `producer.` or `admin.` is for that kind of client only
  /// (prefix removed): `consumer.fetch.wait.max.ms`.
  public var properties: [String: String] = [:]
  /// Ours, not librdkafka's: how long a service may go without reaching any broker before it
  /// gives up and exits (it says it is unhealthy after a tenth of it, at least 5 s;
  /// `--unreachable-timeout`).
  /// Default: `defaultUnreachableTimeout`.
  public var unreachableTimeout = defaultUnreachableTimeout
  /// `unreachableTimeout` when none is given.
  /// Default: 120 s.
  public static let defaultUnreachableTimeout: Duration = .seconds(120)

  public init(bootstrapServers: [String]) {
    self.bootstrapServers = bootstrapServers
  }

  public init(bootstrapServers: String) {
    self.init(
      bootstrapServers: bootstrapServers.split(separator: ",").map {
        String($0).trimmingCharacters(in: .whitespaces)
      })
  }

  /// The kinds of client a property can be meant for, by its prefix.
  public enum ClientKind: String, Sendable, CaseIterable {
    case consumer, producer, admin
  }

  /// `properties` for a `kind` of client, in key order: the unprefixed ones, then the ones
  /// prefixed with its kind (without the prefix), which win; other kinds' are left out.
  func properties(for kind: ClientKind) -> [(String, String)] {
    var chosen: [String: String] = [:]
    var own: [String: String] = [:]
    for (key, value) in properties {
      if let other = ClientKind.allCases.first(where: { key.hasPrefix($0.rawValue + ".") }) {
        if other == kind { own[String(key.dropFirst(kind.rawValue.count + 1))] = value }
      } else {
        chosen[key] = value
      }
    }
    chosen.merge(own) { $1 }
    return chosen.sorted { $0.key < $1.key }
  }

  var baseProperties: [(String, String)] {
    [
      ("bootstrap.servers", bootstrapServers.joined(separator: ",")),
      ("client.id", clientID),
    ]
  }

  /// Whether a librdkafka property holds a secret (a password, a private key, a JAAS or OAuth
  /// configuration): never on a command line, never logged.
  public static func isSecret(_ key: String) -> Bool {
    let name = key.lowercased()
    return [
      "password", "secret", "sasl.jaas", "sasl.oauthbearer.config", "ssl.key.pem",
      "ssl_key", "ssl.keystore",
    ].contains { name.contains($0) }
  }

  /// Parses one `key=value` property as given on a command line.
  public static func parseProperty(_ text: String) throws(KafkaError) -> (String, String) {
    guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
      throw KafkaError(.config, "expected a librdkafka property as key=value, got '\(text)'")
    }
    return (String(text[..<eq]), String(text[text.index(after: eq)...]))
  }
}

/// Producer settings: the knobs HarmonyBatch's stages turn, typed; everything else through
/// `common.properties`.
public struct KafkaProducerConfiguration: Sendable {
  public enum Acks: String, Sendable {
    case none = "0"
    case leader = "1"
    case all = "all"
  }

  public var common: KafkaConfiguration
  /// How long librdkafka waits to fill a batch before sending (`linger.ms`).
  /// Default: `defaultLinger`.
  public var linger = defaultLinger
  public var acks: Acks = .all
  /// Exactly-once per partition across retries (`enable.idempotence`).
  public var idempotence: Bool = true
  /// A message not acknowledged within this time fails its delivery report (`message.timeout.ms`).
  /// Default: `defaultMessageTimeout`.
  public var messageTimeout = defaultMessageTimeout
  /// Upper bound on messages waiting in librdkafka's queue before `send` waits for room.
  public var queueBufferingMaxMessages: Int = 100_000
  /// `linger` when none is given.
  /// Default: 5 ms.
  public static let defaultLinger: Duration = .milliseconds(5)
  /// `messageTimeout` when none is given.
  /// Default: 300 s.
  public static let defaultMessageTimeout: Duration = .seconds(300)

  public init(bootstrapServers: String) {
    common = KafkaConfiguration(bootstrapServers: bootstrapServers)
  }

  public init(common: KafkaConfiguration) {
    self.common = common
  }

  var resolvedProperties: [(String, String)] {
    common.baseProperties + [
      ("linger.ms", formatNumber(linger.librdkafkaMilliseconds)),
      ("acks", acks.rawValue),
      ("enable.idempotence", idempotence ? "true" : "false"),
      ("message.timeout.ms", String(messageTimeout.wholeMilliseconds)),
      ("queue.buffering.max.messages", String(queueBufferingMaxMessages)),
    ] + common.properties(for: .producer)
  }
}

/// Consumer settings. With a `groupID` the consumer may `subscribe`; without one it reads
/// explicitly `assign`ed partitions.
public struct KafkaConsumerConfiguration: Sendable {
  public enum OffsetReset: String, Sendable {
    case earliest, latest
  }

  /// When offsets of records the caller marked done (`storeOffset`) reach the group coordinator.
  public enum CommitPolicy: Sendable, Equatable {
    /// Every `interval`, on every partition revocation, and on close.
    case automatic(interval: Duration)
    /// Only when the caller calls `commit()`, on revocation and on close.
    case manual
  }

  public var common: KafkaConfiguration
  public var groupID: String?
  public var autoOffsetReset: OffsetReset = .earliest
  /// Default: automatic every `defaultCommitInterval`.
  public var commitPolicy: CommitPolicy = .automatic(interval: defaultCommitInterval)
  /// The coordinator drops a member it has not heard from for this long (`session.timeout.ms`).
  /// Default: `defaultSessionTimeout`.
  public var sessionTimeout = defaultSessionTimeout
  /// A member that does not poll for this long leaves the group (`max.poll.interval.ms`).
  /// Default: `defaultMaxPollInterval`.
  public var maxPollInterval = defaultMaxPollInterval
  /// Longest time a fetch waits at the broker for data (`fetch.wait.max.ms`). Low, because our
  /// records carry latency SLOs and some brokers (the embedded one) hold an empty fetch for the
  /// whole time instead of answering when data arrives.
  /// Default: `defaultFetchWaitMax`.
  public var fetchWaitMax = defaultFetchWaitMax
  /// Messages librdkafka keeps fetched ahead per partition (`queued.min.messages`); memory stays
  /// bounded by `queued.max.messages.kbytes` (64 MiB by default). librdkafka 2.0 backs a
  /// partition off for long when its prefetch queue fills, so a small value starves a fast
  /// consumer: at 10,000 the consumer benchmark reads 19k msg/s, at 1,000,000 over 1.3M msg/s.
  public var prefetchMessages: Int = 1_000_000
  /// Deliver an end-of-partition event when the consumer catches up (`enable.partition.eof`).
  public var reportPartitionEOF: Bool = false
  /// Whether records carry their headers. librdkafka parses a record's headers when asked, and
  /// asking costs an allocation even for a record without any (a third of the consumer's own
  /// time per 100-byte record); a reader that never looks at headers can turn this off.
  public var readsHeaders: Bool = true
  /// How the group shares partitions (`partition.assignment.strategy`; nil: librdkafka's
  /// default, range and round-robin, which stop every member at each rebalance).
  /// `cooperative-sticky` moves only the partitions that change owner: a member joining or
  /// leaving pauses those, and the rest go on.
  public var assignmentStrategy: String?
  /// The interval of `CommitPolicy.automatic` when none is given.
  /// Default: 1 s.
  public static let defaultCommitInterval: Duration = .seconds(1)
  /// `sessionTimeout` when none is given (`consume --session-timeout-ms`).
  /// Default: 10 s.
  public static let defaultSessionTimeout: Duration = .seconds(10)
  /// `maxPollInterval` when none is given.
  /// Default: 300 s.
  public static let defaultMaxPollInterval: Duration = .seconds(300)
  /// `fetchWaitMax` when none is given.
  /// Default: 10 ms.
  public static let defaultFetchWaitMax: Duration = .milliseconds(10)

  public init(bootstrapServers: String, groupID: String?) {
    common = KafkaConfiguration(bootstrapServers: bootstrapServers)
    self.groupID = groupID
  }

  public init(common: KafkaConfiguration, groupID: String?) {
    self.common = common
    self.groupID = groupID
  }

  var resolvedProperties: [(String, String)] {
    var props = common.baseProperties
    if let groupID {
      props.append(("group.id", groupID))
    } else {
      // Without a group, records are taken from librdkafka up to this many at a time.
      props.append(
        ("consume.callback.max.messages", String(RDKafkaPartitionReader.messagesPerCall)))
    }
    props += [
      ("auto.offset.reset", autoOffsetReset.rawValue),
      ("enable.auto.offset.store", "false"),
      ("session.timeout.ms", String(sessionTimeout.wholeMilliseconds)),
      ("heartbeat.interval.ms", String(max(100, sessionTimeout.wholeMilliseconds / 5))),
      ("max.poll.interval.ms", String(maxPollInterval.wholeMilliseconds)),
      ("enable.partition.eof", reportPartitionEOF ? "true" : "false"),
      ("fetch.wait.max.ms", String(fetchWaitMax.wholeMilliseconds)),
      ("queued.min.messages", String(prefetchMessages)),
    ]
    if let assignmentStrategy, groupID != nil {
      props.append(("partition.assignment.strategy", assignmentStrategy))
    }
    switch groupID == nil ? .manual : commitPolicy {
    case .automatic(let interval):
      props += [
        ("enable.auto.commit", "true"),
        ("auto.commit.interval.ms", String(interval.wholeMilliseconds)),
      ]
    case .manual:
      props.append(("enable.auto.commit", "false"))
    }
    return props + common.properties(for: .consumer)
  }
}

func formatNumber(_ value: Double) -> String {
  value == value.rounded() ? String(Int(value)) : String(value)
}

extension Duration {
  /// The duration in librdkafka's unit, milliseconds, with fractions (`linger.ms`).
  var librdkafkaMilliseconds: Double {
    Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15
  }

  /// The duration in whole milliseconds, rounded up (a wait of a fraction of a millisecond
  /// still waits), as librdkafka's integer properties and calls take it (`poll(timeoutMs:)`);
  /// negative ones are 0.
  public var wholeMilliseconds: Int {
    Int(max(0, min(librdkafkaMilliseconds.rounded(.up), 9e18)))
  }

  /// `wholeMilliseconds` for a librdkafka call's `int timeout_ms`.
  var timeoutMilliseconds: Int32 { Int32(clamping: wholeMilliseconds) }
}
