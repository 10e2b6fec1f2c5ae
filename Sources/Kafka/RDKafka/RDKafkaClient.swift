import CRdKafka

/// What librdkafka's C callbacks need to reach Swift: set once before the handle exists, then
/// read-only (so it can be shared with librdkafka's threads).
final class RDKafkaCallbacks: @unchecked Sendable {
  let logger: KafkaLogger
  let onDelivery: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)?
  let onRebalance: RebalanceHandler?

  typealias RebalanceHandler =
    @Sendable (
      OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) -> Void

  init(
    logger: KafkaLogger,
    onDelivery: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)? = nil,
    onRebalance: RebalanceHandler? = nil
  ) {
    self.logger = logger
    self.onDelivery = onDelivery
    self.onRebalance = onRebalance
  }

  static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaCallbacks? {
    opaque.map { Unmanaged<RDKafkaCallbacks>.fromOpaque($0).takeUnretainedValue() }
  }
}

/// Owns one `rd_kafka_t` handle and the callbacks it calls. Nothing outside this folder sees a
/// librdkafka pointer.
final class RDKafkaClient: @unchecked Sendable {
  enum Kind {
    case producer, consumer

    var cValue: rd_kafka_type_t { self == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER }
  }

  let handle: OpaquePointer
  let callbacks: RDKafkaCallbacks
  let kind: Kind

  init(kind: Kind, properties: [(String, String)], callbacks: RDKafkaCallbacks) throws(KafkaError) {
    let conf = try RDKafkaClient.makeConf(properties)
    rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
    rd_kafka_conf_set_log_cb(conf) { rk, level, facility, buffer in
      guard let rk, let callbacks = RDKafkaCallbacks.from(rd_kafka_opaque(rk)) else { return }
      let level = KafkaLogLevel(rawValue: Int(level)) ?? .debug
      guard level <= callbacks.logger.minimumLevel else { return }
      callbacks.logger.log(
        level, facility.map { String(cString: $0) } ?? "-",
        buffer.map { String(cString: $0) } ?? "")
    }
    rd_kafka_conf_set_error_cb(conf) { _, error, reason, opaque in
      guard let callbacks = RDKafkaCallbacks.from(opaque) else { return }
      let err = rd_kafka_resp_err_t(rawValue: error)
      // A connection failure is also logged, with the same text, through the log callback
      // ("FAIL", level error); saying it twice only doubles the noise of an outage.
      if err == RD_KAFKA_RESP_ERR__TRANSPORT { return }
      let text = reason.map { String(cString: $0) } ?? KafkaError.describe(err)
      callbacks.logger.log(
        .warning, "ERROR", "\(text) (\(String(cString: rd_kafka_err2name(err))))")
    }
    if callbacks.onDelivery != nil {
      rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
        guard let message, let callbacks = RDKafkaCallbacks.from(opaque) else { return }
        callbacks.onDelivery?(message)
      }
    }
    if callbacks.onRebalance != nil {
      rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
        guard let rk, let partitions, let callbacks = RDKafkaCallbacks.from(opaque) else { return }
        callbacks.onRebalance?(rk, err, partitions)
      }
    }
    var errstr = [CChar](repeating: 0, count: 512)
    guard let handle = rd_kafka_new(kind.cValue, conf, &errstr, errstr.count) else {
      rd_kafka_conf_destroy(conf)
      throw KafkaError(.clientCreation, "could not create a Kafka \(kind): \(textOf(errstr))")
    }
    self.handle = handle
    self.callbacks = callbacks
    self.kind = kind
  }

  deinit {
    rd_kafka_destroy(handle)
  }

  /// Builds a configuration object, failing on the first unknown key or invalid value with an
  /// error that names it.
  static func makeConf(_ properties: [(String, String)]) throws(KafkaError) -> OpaquePointer {
    guard let conf = rd_kafka_conf_new() else {
      throw KafkaError(.config, "librdkafka could not allocate a configuration")
    }
    var errstr = [CChar](repeating: 0, count: 512)
    for (key, value) in properties {
      let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
      switch result {
      case RD_KAFKA_CONF_OK:
        continue
      case RD_KAFKA_CONF_UNKNOWN:
        rd_kafka_conf_destroy(conf)
        throw KafkaError(.config, "unknown config key '\(key)'")
      default:
        rd_kafka_conf_destroy(conf)
        throw KafkaError(
          .config, "invalid value '\(value)' for config key '\(key)': \(textOf(errstr))")
      }
    }
    return conf
  }

  /// The fatal error librdkafka raised on this handle, if any.
  func fatalError() -> KafkaError? {
    var errstr = [CChar](repeating: 0, count: 512)
    let err = rd_kafka_fatal_error(handle, &errstr, errstr.count)
    guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
    return KafkaError(.fatal, textOf(errstr), librdkafkaCode: err.rawValue)
  }
}

extension RDKafkaClient.Kind: CustomStringConvertible {
  var description: String { self == .producer ? "producer" : "consumer" }
}

/// The text in a NUL-terminated C buffer that librdkafka filled (an `errstr`).
func textOf(_ buffer: [CChar]) -> String {
  String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
