import Arguments
import Foundation
import Inference
import Operations

/// `harmonybatch bench inference`: MiniLM sentences per second at several batch sizes and thread
/// counts, next to the numpy/OpenBLAS reference implementation run in the same command on the
/// same sentence (both tokenise once, outside the timed loop).
public struct InferenceBenchmark {
  public struct Settings: Sendable {
    public var batches = [1, 4, 8, 16]
    public var threads = [1, 2]
    public var seconds = 3.0
    public var modelDirectory: String
    public var reference = "Tests/InferenceTests/Reference/minilm_reference.py"

    public init(modelDirectory: String) { self.modelDirectory = modelDirectory }
  }

  /// The sentence the reference script benchmarks with (`BENCH_SENTENCE` there).
  public static let sentence =
    "The quick brown fox jumps over the lazy dog near the quiet river bank."

  public struct Row: Sendable {
    public let threads: Int
    public let batch: Int
    public let ours: Double
    public let reference: Double
  }

  public let settings: Settings

  public init(settings: Settings) { self.settings = settings }

  public func run() throws -> [Row] {
    let encoder = try MiniLMEncoder(directory: settings.modelDirectory)
    var rows: [Row] = []
    for threads in settings.threads {
      for batch in settings.batches {
        MiniLMEncoder.setThreads(threads)
        let ours = measure(encoder, batch: batch)
        let reference = try measureReference(batch: batch, threads: threads)
        rows.append(Row(threads: threads, batch: batch, ours: ours, reference: reference))
        Console.err(
          String(
            format:
              "bench inference: %d thread(s), batch %2d: ours %.1f, reference %.1f sentences/s",
            threads, batch, ours, reference))
      }
    }
    return rows
  }

  private func measure(_ encoder: MiniLMEncoder, batch: Int) -> Double {
    let tokens = Array(repeating: encoder.tokenizer.encode(Self.sentence), count: batch)
    _ = encoder.embed(tokens: tokens)  // warm-up
    let start = ContinuousClock.now
    var runs = 0
    var elapsed = 0.0
    repeat {
      _ = encoder.embed(tokens: tokens)
      runs += 1
      elapsed = (ContinuousClock.now - start).seconds
    } while elapsed < settings.seconds
    return Double(runs * batch) / elapsed
  }

  private func measureReference(batch: Int, threads: Int) throws -> Double {
    guard FileManager.default.fileExists(atPath: settings.reference) else {
      throw UsageError(
        "the reference script '\(settings.reference)' is missing; run from the repository root or "
          + "pass --reference PATH")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", settings.reference, "bench", settings.modelDirectory, "--batch", String(batch),
      "--seconds", String(settings.seconds),
    ]
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_NUM_THREADS"] = String(threads)
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
      let line = String(data: data, encoding: .utf8)?.split(separator: "\n").last,
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
      let rate = object["sentences_per_s"] as? Double
    else {
      throw UsageError("the reference script failed (exit \(process.terminationStatus))")
    }
    return rate
  }

  public static func table(_ rows: [Row], seconds: Double) -> String {
    var text = "bench inference: MiniLM-L6 (all-MiniLM-L6-v2), one 16-token sentence repeated, "
    text += String(format: "%.0f s per point; ours vs the numpy/OpenBLAS reference\n", seconds)
    text += "| threads | batch | ours sentences/s | reference sentences/s | ratio |\n"
    text += "|---:|---:|---:|---:|---:|\n"
    for row in rows {
      text += String(
        format: "| %d | %d | %.1f | %.1f | %.2f |\n", row.threads, row.batch, row.ours,
        row.reference, row.ours / row.reference)
    }
    return text
  }
}
