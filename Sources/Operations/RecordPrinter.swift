import Foundation
import Kafka
import Pipeline
import Synchronization

/// `consume`'s output: records as JSON lines, with the consumer's events on standard error.
public enum RecordPrinter {
  /// A consumer of `topics`: a member of `configuration`'s group when it names one, else
  /// assigned every partition of each topic, read from the beginning or the end
  /// (`fromBeginning`); a topic that does not exist is an error then.
  public static func consumer(
    _ configuration: KafkaConsumerConfiguration, topics: [String], fromBeginning: Bool
  ) throws -> KafkaConsumer {
    let consumer = try KafkaConsumer(configuration: configuration)
    if configuration.groupID != nil {
      try consumer.subscribe(topics: topics)
      return consumer
    }
    let known = try KafkaAdmin(configuration: configuration.common).topics()
    var partitions: [(KafkaTopicPartition, KafkaOffset)] = []
    for topic in topics {
      guard let n = known[topic] else {
        throw KafkaError(.admin, "topic '\(topic)' does not exist")
      }
      partitions += (0..<n).map {
        (
          KafkaTopicPartition(topic: topic, partition: Int32($0)),
          fromBeginning ? .beginning : .end
        )
      }
    }
    try consumer.assign(partitions)
    return consumer
  }

  /// `printRecords` as a service that SIGINT/SIGTERM stop, then the consumer closed; returns
  /// the service group's exit code and how many records were printed.
  public static func run(
    _ consumer: KafkaConsumer, count: Int, idleExit: Duration, commitEach: Bool
  ) async -> (code: Int32, printed: Int) {
    let printed = Mutex(0)
    let reading = ClosureService("consume") { context in
      let count = printRecords(
        consumer, count: count, idleExit: idleExit, commitEach: commitEach, stop: context.stop)
      printed.withLock { $0 = count }
    }
    let code = await ServiceGroup([reading], log: PipelineLog(service: "consume")).run()
    consumer.close()
    return (code, printed.withLock { $0 })
  }

  /// Prints records as they come until `count` are printed, `stop` is set, or none came for
  /// `idleExit` (`.zero`: wait forever); returns how many were printed.
  public static func printRecords(
    _ consumer: KafkaConsumer, count: Int, idleExit: Duration, commitEach: Bool,
    stop: StopFlag
  ) -> Int {
    var printed = 0
    var lastRecord = ContinuousClock.now
    while printed < count && !stop.isSet {
      let event: KafkaConsumerEvent?
      do { event = try consumer.poll(timeoutMs: 100) } catch {
        Console.err("consume: \(error.message)")
        break
      }
      switch event {
      case .record(let record):
        Console.out(json(record))
        if commitEach {
          do { try consumer.storeOffset(for: record) } catch {
            Console.err("consume: \(error.message)")
          }
        }
        printed += 1
        lastRecord = .now
      case .partitionsAssigned(let partitions):
        Console.err("consume: assigned \(partitions.map(\.description).joined(separator: ","))")
      case .partitionsRevoked(let partitions):
        Console.err("consume: revoked \(partitions.map(\.description).joined(separator: ","))")
      case .error(let error):
        Console.err("consume: \(error.message)")
      case .partitionEOF, nil:
        if idleExit > .zero && ContinuousClock.now - lastRecord > idleExit {
          return printed
        }
      }
    }
    return printed
  }

  public static func json(_ record: KafkaRecord) -> String {
    var object: [String: Any] = [
      "topic": record.topic, "partition": Int(record.partition), "offset": Int(record.offset),
      "headers": Dictionary(
        record.headers.map { ($0.key, bytesJSON($0.value)) },
        uniquingKeysWith: { first, _ in first }),
      "key": bytesJSON(record.key), "value": bytesJSON(record.value),
    ]
    object["timestamp_ms"] = record.timestampMs.map { Int($0) } ?? NSNull()
    let data = try! JSONSerialization.data(
      withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self)
  }

  private static func bytesJSON(_ bytes: [UInt8]?) -> Any {
    guard let bytes else { return NSNull() }
    if let text = String(validating: bytes, as: UTF8.self) { return text }
    return ["base64": Data(bytes).base64EncodedString()]
  }
}
