import Foundation
import Kafka
import Operations

/// `harmonybatch broker` as a child process, for benchmarks.
public final class BrokerProcess {
  public let bootstrapServers: String
  private let process = Process()

  public init(topics: [String], partitions: Int) throws {
    // This very binary: `harmonybatch broker`.
    process.executableURL = URL(
      fileURLWithPath: Bundle.main.executablePath ?? ProcessInfo.processInfo.arguments[0])
    process.arguments = [
      "broker", "--topics", topics.joined(separator: ","), "--partitions", String(partitions),
      "--kafka-log-level", "error",
    ]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
    var line = Data()
    while true {
      let byte = try out.fileHandleForReading.read(upToCount: 1) ?? Data()
      if byte.isEmpty || byte == Data([10]) { break }
      line.append(byte)
    }
    bootstrapServers = String(decoding: line, as: UTF8.self)
    guard bootstrapServers.contains(":") else {
      throw KafkaError(.broker, "bench: the broker process did not start")
    }
  }

  public func stop() {
    process.terminate()
    process.waitUntilExit()
  }
}
