/// One Kafka record header. Values are bytes; `nil` is a header with a null value.
public struct KafkaHeader: Hashable, Sendable {
  public var key: String
  public var value: [UInt8]?

  public init(key: String, value: [UInt8]?) {
    self.key = key
    self.value = value
  }

  public init(key: String, string: String) {
    self.init(key: key, value: Array(string.utf8))
  }

  /// The value decoded as UTF-8, when it is valid UTF-8.
  public var stringValue: String? {
    value.flatMap { String(validating: $0, as: UTF8.self) }
  }
}

extension Array where Element == KafkaHeader {
  /// The value of the first header named `key`.
  public func first(named key: String) -> KafkaHeader? {
    first { $0.key == key }
  }
}

/// A topic and partition.
public struct KafkaTopicPartition: Hashable, Sendable, CustomStringConvertible, Comparable {
  public var topic: String
  public var partition: Int32

  public init(topic: String, partition: Int32) {
    self.topic = topic
    self.partition = partition
  }

  public var description: String { "\(topic)/\(partition)" }

  /// `topic/partition/offset`: a record's coordinates, the default request id of the pipeline.
  /// Written into one buffer of the right size (string interpolation grew its storage piece by
  /// piece; the router builds this for every request).
  public func coordinates(offset: Int64) -> String {
    var topic = topic
    return topic.withUTF8 { name in
      String(unsafeUninitializedCapacity: name.count + 34) { buffer in
        var index = 0
        for byte in name {
          buffer[index] = byte
          index += 1
        }
        buffer[index] = UInt8(ascii: "/")
        index += 1
        index = Self.writeDecimal(Int64(partition), into: buffer, at: index)
        buffer[index] = UInt8(ascii: "/")
        index += 1
        return Self.writeDecimal(offset, into: buffer, at: index)
      }
    }
  }

  /// Writes `value` in decimal at `start`; returns the index past it (at most 20 bytes).
  private static func writeDecimal(
    _ value: Int64, into buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int
  )
    -> Int
  {
    var index = start
    if value < 0 {
      buffer[index] = UInt8(ascii: "-")
      index += 1
    }
    var magnitude = value.magnitude
    var digits = 1
    var scale: UInt64 = 10
    while digits < 20, magnitude >= scale {
      digits += 1
      scale = scale &* 10
    }
    var position = index + digits
    let end = position
    repeat {
      position -= 1
      buffer[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
      magnitude /= 10
    } while position > index
    return end
  }

  public static func < (lhs: KafkaTopicPartition, rhs: KafkaTopicPartition) -> Bool {
    (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
  }
}

/// Where to start reading a partition.
public enum KafkaOffset: Hashable, Sendable {
  case beginning
  case end
  /// The group's committed offset, or the reset policy when there is none.
  case stored
  case exact(Int64)
}

/// A message to produce.
public struct KafkaProducerMessage: Sendable {
  public var topic: String
  /// `nil` lets the partitioner choose (by key hash when there is a key).
  public var partition: Int32?
  public var key: [UInt8]?
  public var value: [UInt8]?
  public var headers: [KafkaHeader]
  /// CreateTime in milliseconds since the epoch; `nil` means now.
  public var timestampMs: Int64?

  public init(
    topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?,
    headers: [KafkaHeader] = [], timestampMs: Int64? = nil
  ) {
    self.topic = topic
    self.partition = partition
    self.key = key
    self.value = value
    self.headers = headers
    self.timestampMs = timestampMs
  }

  public init(
    topic: String, partition: Int32? = nil, key: String?, value: String,
    headers: [KafkaHeader] = [], timestampMs: Int64? = nil
  ) {
    self.init(
      topic: topic, partition: partition, key: key.map { Array($0.utf8) },
      value: Array(value.utf8), headers: headers, timestampMs: timestampMs)
  }
}

/// The broker's answer for one produced message.
public struct KafkaDeliveryReport: Sendable, Hashable {
  public var topic: String
  public var partition: Int32
  public var offset: Int64

  public init(topic: String, partition: Int32, offset: Int64) {
    self.topic = topic
    self.partition = partition
    self.offset = offset
  }
}

/// A record read by a consumer, copied out of librdkafka's memory.
public struct KafkaRecord: Sendable, Hashable {
  public var topic: String
  public var partition: Int32
  public var offset: Int64
  public var key: [UInt8]?
  public var value: [UInt8]?
  public var headers: [KafkaHeader]
  /// CreateTime (or LogAppendTime, if the topic says so) in milliseconds since the epoch.
  public var timestampMs: Int64?

  public init(
    topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?,
    headers: [KafkaHeader], timestampMs: Int64?
  ) {
    self.topic = topic
    self.partition = partition
    self.offset = offset
    self.key = key
    self.value = value
    self.headers = headers
    self.timestampMs = timestampMs
  }

  public var topicPartition: KafkaTopicPartition {
    KafkaTopicPartition(topic: topic, partition: partition)
  }

  /// `topic/partition/offset`: the default request id of the pipeline
  /// (`KafkaTopicPartition.coordinates(offset:)`).
  public var coordinates: String { topicPartition.coordinates(offset: offset) }

  public var keyString: String? { key.flatMap { String(validating: $0, as: UTF8.self) } }
  public var valueString: String? { value.flatMap { String(validating: $0, as: UTF8.self) } }
}
