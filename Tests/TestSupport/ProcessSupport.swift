import Foundation
import Synchronization
import WaitSupport

/// The `harmonybatch` binary built next to this test bundle.
public let harmonybatchPath: String = {
  let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  for candidate in [directory, directory.deletingLastPathComponent()] {
    let path = candidate.appendingPathComponent("harmonybatch").path
    if FileManager.default.isExecutableFile(atPath: path) { return path }
  }
  return ".build/debug/harmonybatch"
}()

/// A child process whose standard output is collected line by line as it is written, and its
/// standard error as text. Its waits suspend the test (they hold no thread). Released, it kills
/// the child: a test that fails before it stops its processes leaves none running.
public final class ChildProcess: @unchecked Sendable {
  public let process = Process()
  private let streams = Streams()
  /// Left when the child has exited (and been reaped).
  private let exited = DispatchGroup()

  /// What the reader threads collect. They hold this, not the `ChildProcess`, so that a test that
  /// drops its `ChildProcess` releases it (and its `deinit` kills the child) while the child runs.
  private final class Streams: Sendable {
    let lines = Mutex<[String]>([])
    let errorText = Mutex<String>("")
    /// Standard output and standard error, until each reads its end.
    let open = Atomic<Int>(2)

    func closed() { open.subtract(1, ordering: .releasing) }
    var drained: Bool { open.load(ordering: .acquiring) == 0 }
  }

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
    exited.enter()
    process.terminationHandler = { [exited] _ in exited.leave() }
    do {
      try process.run()
    } catch {
      exited.leave()
      throw error
    }
    if let stdin {
      input.fileHandleForWriting.write(Data(stdin.utf8))
    }
    try? input.fileHandleForWriting.close()
    let streams = streams
    Thread.detachNewThread {
      var pending = Data()
      while true {
        let chunk = out.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        pending.append(chunk)
        while let newline = pending.firstIndex(of: 10) {
          let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
          pending.removeSubrange(pending.startIndex...newline)
          streams.lines.withLock { $0.append(line) }
        }
      }
      streams.closed()
    }
    Thread.detachNewThread {
      while true {
        let chunk = err.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        streams.errorText.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
      }
      streams.closed()
    }
  }

  public var output: [String] { streams.lines.withLock { $0 } }
  public var standardError: String { streams.errorText.withLock { $0 } }
  public var isRunning: Bool { process.isRunning }

  /// Where standard error ends now, for `standardError(since:)`.
  public var standardErrorEnd: Int { streams.errorText.withLock { $0.utf8.count } }

  /// What the child wrote on standard error after `end` (a `standardErrorEnd`).
  public func standardError(since end: Int) -> String {
    streams.errorText.withLock { String(decoding: $0.utf8.dropFirst(end), as: UTF8.self) }
  }

  /// Waits until at least `count` lines were written (or the timeout passes, or the output ends)
  /// and returns them.
  public func waitForLines(_ count: Int, timeout: Duration = .seconds(30)) async -> [String] {
    _ = await eventually(timeout: timeout) { output.count >= count || streams.drained }
    return output
  }

  /// Waits until standard error contains `text` (or the timeout passes, or the process ends);
  /// returns whether it does.
  @discardableResult
  public func waitForError(containing text: String, timeout: Duration = .seconds(30)) async
    -> Bool
  {
    _ = await eventually(timeout: timeout) { standardError.contains(text) || streams.drained }
    return standardError.contains(text)
  }

  public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

  /// Waits for exit and returns the exit status (or the signal number for a killed process);
  /// nil if it still runs after `timeout`.
  public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
    _ = await eventually(timeout: timeout) { !process.isRunning }
    return process.isRunning ? nil : process.terminationStatus
  }

  /// Waits (a little) until the reader threads have read all the process wrote before it ended.
  public func waitForOutputEnd(timeout: Duration = .seconds(5)) async {
    _ = await eventually(timeout: timeout) { streams.drained }
  }

  /// Stops the child from a `defer`, which cannot await: sends `number`, waits up to `timeout`
  /// for it to exit, then kills it (and waits for that). It blocks the calling thread while it
  /// waits: only tests on a thread of their own (`.onOwnThread`) call it.
  public func stop(_ number: Int32 = SIGTERM, timeout: Duration = .seconds(30)) {
    guard process.isRunning else { return }
    signal(number)
    if exited.wait(timeout: .now() + timeout.timeInterval) == .timedOut {
      signal(SIGKILL)
      _ = exited.wait(timeout: .now() + 10)
    }
  }

  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
  }
}

extension Duration {
  fileprivate var timeInterval: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}

/// Runs a command to completion and returns (status, stdout, stderr); the status is nil, and the
/// process killed, if it still runs after `timeout`.
public func runToCompletion(
  _ executable: String, _ arguments: [String], stdin: String? = nil,
  timeout: Duration = .seconds(60), environment: [String: String] = [:]
) async throws -> (Int32?, [String], String) {
  let child = try ChildProcess(executable, arguments, stdin: stdin, environment: environment)
  let status = await child.waitForExit(timeout: timeout)
  if status == nil { child.signal(SIGKILL) }
  await child.waitForOutputEnd()
  return (status, child.output, child.standardError)
}
