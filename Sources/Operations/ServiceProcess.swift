import Foundation
import Synchronization

/// One `harmonybatch` service run as a child process by the fault suite: started, killed,
/// restarted; its standard error kept in a file; its resident memory sampled.
public final class ServiceProcess: @unchecked Sendable {  // mutated from the suite's thread only
  public let name: String
  public let arguments: [String]
  private let logPath: String
  private(set) var process: Process?
  /// Every instance's exit: status and whether it said why (an `error:` line).
  private(set) var exits: [(status: Int32, said: Bool, killed: Bool)] = []
  /// Resident memory (kB) of the running instance, sampled after its warm-up.
  private(set) var samples: [(instance: Int, seconds: Double, kilobytes: Int)] = []
  private(set) var instances = 0
  private var startedAt = ContinuousClock.now
  private var killing = false

  /// The binary every instance runs.
  public let executable: String

  public init(name: String, arguments: [String], directory: String, executable: String) {
    self.name = name
    self.executable = executable
    self.arguments = arguments
    logPath = directory + "/\(name).log"
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
  }

  /// This process's own binary.
  public static var current: String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
  }

  public var isRunning: Bool { process?.isRunning ?? false }

  public func start() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    log.seekToEndOfFile()
    log.write(Data("--- instance \(instances + 1)\n".utf8))
    process.standardError = log
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    self.process = process
    instances += 1
    startedAt = .now
    killing = false
  }

  /// Kills the running instance without warning (SIGKILL) and waits for it.
  public func kill() {
    guard let process, process.isRunning else { return }
    killing = true
    Foundation.kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    recordExit()
  }

  /// Asks it to stop (SIGTERM) and waits up to `timeout` seconds, then kills it.
  public func stop(timeout: Double = 40) {
    guard let process, process.isRunning else { return }
    process.terminate()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning {
      killing = true
      Foundation.kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    recordExit()
  }

  /// Notes an instance that ended on its own (not killed by the suite); returns whether it did.
  public func checkExited() -> Bool {
    guard let process, !process.isRunning, exits.count < instances else { return false }
    recordExit()
    return true
  }

  private func recordExit() {
    guard let process, exits.count < instances else { return }
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    let last = text.components(separatedBy: "--- instance \(instances)\n").last ?? ""
    // Said why: a line at level error or warning (`time level component: message`).
    let saidWhy = last.split(separator: "\n").contains { line in
      let fields = line.split(separator: " ", maxSplits: 2)
      return fields.count > 1 && (fields[1] == "error" || fields[1] == "warning")
    }
    exits.append((process.terminationStatus, saidWhy, killing))
  }

  /// Samples the running instance's resident memory once it has run `warmUp` seconds.
  public func sampleMemory(warmUp: Double = 20) {
    guard let process, process.isRunning else { return }
    let age = (ContinuousClock.now - startedAt).seconds
    guard age >= warmUp,
      let status = try? String(
        contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
      let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return }
    samples.append((instances, age, kilobytes))
  }

  /// The largest growth of resident memory within one instance's life (kB; negative when it
  /// shrank), and over how long; nil before two samples of one instance.
  public var memoryGrowth: (kilobytes: Int, seconds: Double)? {
    var worst: (kilobytes: Int, seconds: Double)?
    for instance in Set(samples.map(\.instance)) {
      let mine = samples.filter { $0.instance == instance }
      guard let first = mine.first, let last = mine.last, mine.count >= 2 else { continue }
      let growth = last.kilobytes - first.kilobytes
      if growth > worst?.kilobytes ?? Int.min { worst = (growth, last.seconds - first.seconds) }
    }
    return worst
  }

  /// Whether its log (all instances) contains `text`.
  public func logContains(_ text: String) -> Bool {
    ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").contains(text)
  }

  /// The last lines of its log.
  public func tail(_ lines: Int = 5) -> String {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
  }
}
