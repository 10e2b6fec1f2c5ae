import Foundation
import Synchronization

/// The `harmonybatch` binary built next to this test bundle.
public let harmonybatchPath: String = {
  let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  for candidate in [directory, directory.deletingLastPathComponent()] {
    let path = candidate.appendingPathComponent("harmonybatch").path
    if FileManager.default.isExecutableFile(atPath: path) { return path }
  }
  return ".build/debug/harmonybatch"
}()

/// A child process whose standard output is collected line by line as it is written.
public final class ChildProcess: @unchecked Sendable {
  public let process = Process()
  private let lines = Mutex<[String]>([])
  private let errorText = Mutex<String>("")

  /// `environment`: variables set for the child on top of this process's.
  public init(
    _ executable: String, _ arguments: [String], stdin: String? = nil,
    environment: [String: String] = [:]
  ) throws {
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin {
      input.fileHandleForWriting.write(Data(stdin.utf8))
    }
    try? input.fileHandleForWriting.close()
    Thread.detachNewThread { [self] in
      var pending = Data()
      while true {
        let chunk = out.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        pending.append(chunk)
        while let newline = pending.firstIndex(of: 10) {
          let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
          pending.removeSubrange(pending.startIndex...newline)
          lines.withLock { $0.append(line) }
        }
      }
    }
    Thread.detachNewThread { [self] in
      while true {
        let chunk = err.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        errorText.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
      }
    }
  }

  public var output: [String] { lines.withLock { $0 } }
  public var standardError: String { errorText.withLock { $0 } }

  /// Waits until at least `count` lines were written (or the timeout passes) and returns them.
  public func waitForLines(_ count: Int, timeout: Duration = .seconds(30)) -> [String] {
    let deadline = ContinuousClock.now + timeout
    while output.count < count && ContinuousClock.now < deadline && process.isRunning {
      Thread.sleep(forTimeInterval: 0.02)
    }
    return output
  }

  /// Waits until a line of standard error contains `text` (or the timeout passes, or the process
  /// ends); returns whether one did.
  @discardableResult
  public func waitForError(containing text: String, timeout: Duration = .seconds(30)) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if standardError.contains(text) { return true }
      if !process.isRunning { break }
      Thread.sleep(forTimeInterval: 0.02)
    }
    return standardError.contains(text)
  }

  public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

  /// Waits for exit and returns the exit status (or the signal number for a killed process).
  public func waitForExit(timeout: Duration = .seconds(30)) -> Int32? {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline {
      Thread.sleep(forTimeInterval: 0.02)
    }
    return process.isRunning ? nil : process.terminationStatus
  }

  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
  }
}

/// Runs a command to completion and returns (status, stdout, stderr).
public func runToCompletion(
  _ executable: String, _ arguments: [String], stdin: String? = nil,
  timeout: Duration = .seconds(60), environment: [String: String] = [:]
)
  throws -> (Int32?, [String], String)
{
  let child = try ChildProcess(executable, arguments, stdin: stdin, environment: environment)
  let status = child.waitForExit(timeout: timeout)
  // Let the reader threads drain what the process wrote before it exited.
  Thread.sleep(forTimeInterval: 0.05)
  return (status, child.output, child.standardError)
}
