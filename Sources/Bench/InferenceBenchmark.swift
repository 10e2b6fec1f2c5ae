import Arguments
import Foundation
import Inference
import Operations
import PipelineCore

/// `harmonybatch bench inference`: MiniLM sentences per second of our encoder next to the
/// engines a user would otherwise run — PyTorch (transformers), ONNX Runtime, and the numpy
/// reference — on the same token ids, batch sizes and thread counts.
///
/// Every point (tokens per sentence × batch × threads) is measured in rounds; in each round
/// every side runs once, in an order that rotates from round to round, and each side's median
/// over the rounds is reported. The peers are long-lived Python processes
/// (`Tests/InferenceTests/Reference/minilm_peers.py serve`), one per engine and thread count,
/// each timing its own loop (token ids in, so tokenising is not timed). Before timing, each peer's
/// embeddings of one batch per length are compared with ours.
public struct InferenceBenchmark {
  public struct Settings: Sendable {
    public var lengths = [8, 32, 128]
    public var batches = [1, 8, 32]
    public var threads = [1, 2]
    public var rounds = 3
    /// How long each side is measured per round (`bench inference --seconds`).
    /// Default: `defaultMeasurement`.
    public var measurement = defaultMeasurement
    public var modelDirectory: String
    public var peersScript = "Tests/InferenceTests/Reference/minilm_peers.py"
    public var peers = InferenceBenchmark.knownPeers
    /// `measurement` when none is given.
    /// Default: 1 s.
    public static let defaultMeasurement: Duration = .seconds(1)

    public init(modelDirectory: String) { self.modelDirectory = modelDirectory }
  }

  /// One point: sentences per second, median of the rounds, ours and each loaded peer's.
  public struct Row: Sendable {
    public let threads: Int
    public let tokens: Int
    public let batch: Int
    public let ours: Double
    public let peers: [String: Double]

    /// Ours over the fastest peer's.
    public var ratio: Double? { peers.values.max().map { ours / $0 } }
  }

  public struct Report: Sendable {
    public var rows: [Row] = []
    /// Peer name → version, for the peers that loaded.
    public var versions: [String: String] = [:]
    /// Peer name → why it could not run.
    public var missing: [String: String] = [:]
    /// Peer name → the lowest cosine between its embeddings and ours, over every thread count.
    public var agreement: [String: Double] = [:]
    /// The machine the figures come from.
    public var cpu = CPUDescription.current()
    /// Which generated kernels ours ran: the element-wise variant and LIBXSMM's target.
    public var kernels = MiniLMEncoder.kernels
  }

  /// Below this cosine a peer is taken to compute something other than ours, and the run stops:
  /// its speed would not be comparable.
  public static let requiredAgreement = 0.999_999_9

  /// The engines `minilm_peers.py serve` runs.
  public static let knownPeers = ["numpy", "torch", "onnxruntime"]

  public let settings: Settings

  public init(settings: Settings) { self.settings = settings }

  /// Sentences of about `tokens` tokens each ([CLS] and [SEP] included): `batch` of them, eight
  /// lengths from 0.75 to 1.25 times `tokens` in turn, cut from different places of one
  /// tokenised text, so a batch has sequences of different lengths as real traffic does.
  public static func batch(
    tokens: Int, size: Int, tokenizer: WordPieceTokenizer
  ) -> [[Int32]] {
    let words = tokenizer.encode(passage).dropFirst().dropLast()
    var pool = Array(words)
    while pool.count < 2 * tokens + 64 { pool += words }
    let scales = [1.0, 0.75, 1.25, 0.875, 1.125, 0.8125, 1.1875, 0.9375]
    return (0..<size).map { index in
      let count = max(1, Int((Double(tokens) * scales[index % scales.count]).rounded()) - 2)
      let start = index * 7 % 40
      return [tokenizer.cls] + pool[start..<start + count] + [tokenizer.sep]
    }
  }

  /// The text the benchmark's sentences are cut from.
  static let passage = """
    Stream processors group requests from many applications into batches and send each batch \
    to a function sized for it. A batch that waits too long misses its deadline, and one that \
    is too small wastes the money paid for every second a function runs. Sentence embeddings \
    turn short texts such as questions, product reviews and support tickets into vectors, so \
    that similar meanings land close together and a search can find them in milliseconds.
    """

  public func run() throws -> Report {
    let encoder = try MiniLMEncoder(directory: settings.modelDirectory)
    try installPeers()
    var report = Report()
    let points = settings.lengths.flatMap { tokens in
      settings.batches.map { (tokens: tokens, batch: $0) }
    }
    for threads in settings.threads {
      var peers: [PeerProcess] = []
      defer { for peer in peers { peer.stop() } }
      for name in settings.peers {
        switch try PeerProcess.start(
          name, script: settings.peersScript, model: settings.modelDirectory, threads: threads)
        {
        case .loaded(let peer, let version):
          peers.append(peer)
          report.versions[name] = version
        case .missing(let reason):
          report.missing[name] = reason
          Console.err("bench inference: \(name) is missing: \(reason)")
        }
      }
      try checkAgreement(encoder, threads: threads, peers: peers, into: &report)
      for point in points {
        let ids = Self.batch(tokens: point.tokens, size: point.batch, tokenizer: encoder.tokenizer)
        var samples: [String: [Double]] = [:]
        let sides = ["ours"] + peers.map(\.name)
        for round in 0..<settings.rounds {
          for offset in 0..<sides.count {
            let side = sides[(round + offset) % sides.count]
            let rate =
              side == "ours"
              ? measure(encoder, ids, threads: threads)
              : try peers.first { $0.name == side }!.measure(
                ids, seconds: settings.measurement.seconds)
            samples[side, default: []].append(rate)
          }
        }
        let medians = samples.mapValues { Quantile.median($0.sorted()) }
        let row = Row(
          threads: threads, tokens: point.tokens, batch: point.batch, ours: medians["ours"]!,
          peers: medians.filter { $0.key != "ours" })
        report.rows.append(row)
        let others = peers.map { String(format: "%@ %.1f", $0.name, medians[$0.name]!) }
        Console.err(
          String(
            format: "bench inference: %d thread(s), %3d tokens, batch %2d: ours %.1f, %@",
            threads, point.tokens, point.batch, row.ours, others.joined(separator: ", ")))
      }
    }
    return report
  }

  /// Sentences per second of our encoder on `ids`: one warm-up call, then calls until
  /// `seconds` have passed.
  private func measure(_ encoder: MiniLMEncoder, _ ids: [[Int32]], threads: Int) -> Double {
    _ = encoder.embed(tokens: ids, threads: threads)
    let start = ContinuousClock.now
    var runs = 0
    var elapsed = 0.0
    repeat {
      _ = encoder.embed(tokens: ids, threads: threads)
      runs += 1
      elapsed = (ContinuousClock.now - start).seconds
    } while elapsed < settings.measurement.seconds
    return Double(runs * ids.count) / elapsed
  }

  /// Each peer's embeddings of one 8-sentence batch per length, against ours on `threads`
  /// threads: the lowest cosine, kept in the report. A peer that computes something else would
  /// make the comparison meaningless, so below `requiredAgreement` the run stops.
  private func checkAgreement(
    _ encoder: MiniLMEncoder, threads: Int, peers: [PeerProcess], into report: inout Report
  ) throws {
    for peer in peers {
      var lowest = 1.0
      for tokens in settings.lengths {
        let ids = Self.batch(tokens: tokens, size: 8, tokenizer: encoder.tokenizer)
        let theirs = try peer.embed(ids)
        for (a, b) in zip(encoder.embed(tokens: ids, threads: threads), theirs) {
          lowest = min(lowest, Self.cosine(a, b))
        }
      }
      report.agreement[peer.name] = min(report.agreement[peer.name] ?? 1, lowest)
      guard lowest >= Self.requiredAgreement else {
        throw RunFailure(
          String(
            format:
              "bench inference: %@'s embeddings differ from ours on %d thread(s) (lowest cosine "
              + "%.9f, below %.7f); the speeds would not be comparable, so nothing was timed",
            peer.name, threads, lowest, Self.requiredAgreement))
      }
    }
  }

  static func cosine(_ a: [Float], _ b: [Double]) -> Double {
    var dot = 0.0
    var aa = 0.0
    var bb = 0.0
    for (x, y) in zip(a, b) {
      dot += Double(x) * y
      aa += Double(x) * Double(x)
      bb += y * y
    }
    return dot / max((aa * bb).squareRoot(), 1e-30)
  }

  /// `minilm_peers.py setup`: installs the peers' Python packages when absent (a package that
  /// cannot be installed shows up as that peer missing).
  private func installPeers() throws {
    guard FileManager.default.fileExists(atPath: settings.peersScript) else {
      throw UsageError(
        "the peers script '\(settings.peersScript)' is missing; run from the repository root "
          + "or pass --peers-script PATH")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", settings.peersScript, "setup"]
    try process.run()
    process.waitUntilExit()
  }

  public static func table(_ report: Report, settings: Settings) -> String {
    let peers = settings.peers.filter { report.versions[$0] != nil }
    var text = "bench inference: MiniLM-L6 (all-MiniLM-L6-v2) sentences/s, batches of sentences "
    text += "of about N tokens (0.75-1.25 N, each engine padding as it does), median of "
    text += String(
      format: "%d rounds of %.1f s; ratio = ours / the fastest peer\n", settings.rounds,
      settings.measurement.seconds)
    text += "  CPU: \(report.cpu?.summary ?? "unknown (no /proc/cpuinfo)")\n"
    text += "  ours: \(report.kernels)\n"
    for name in peers {
      text += String(
        format: "  %@: %@, embeddings agree with ours at cosine >= %.7f\n", name,
        report.versions[name]!, report.agreement[name] ?? .nan)
    }
    for (name, reason) in report.missing.sorted(by: { $0.key < $1.key }) {
      text += "  \(name): MISSING (\(reason))\n"
    }
    text += "| threads | tokens | batch | ours | " + peers.joined(separator: " | ") + " | ratio |\n"
    text += "|---:|---:|---:|---:|" + String(repeating: "---:|", count: peers.count + 1) + "\n"
    for row in report.rows {
      text += String(
        format: "| %d | %d | %d | %.1f | ", row.threads, row.tokens, row.batch, row.ours)
      for name in peers {
        text += row.peers[name].map { String(format: "%.1f | ", $0) } ?? "- | "
      }
      text += row.ratio.map { String(format: "%.2f |\n", $0) } ?? "- |\n"
    }
    return text
  }
}

/// One `minilm_peers.py serve` process: a JSON request per line on its standard input, a JSON
/// answer per line on its standard output.
final class PeerProcess {
  enum Start {
    case loaded(PeerProcess, version: String)
    case missing(String)
  }

  let name: String
  private let process: Process
  private let input: FileHandle
  private let output: FileHandle
  private var buffered = Data()

  private init(name: String, process: Process, input: FileHandle, output: FileHandle) {
    self.name = name
    self.process = process
    self.input = input
    self.output = output
  }

  static func start(_ name: String, script: String, model: String, threads: Int) throws -> Start {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, "serve", name, model, "--threads", String(threads)]
    var environment = ProcessInfo.processInfo.environment
    for variable in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] {
      environment[variable] = String(threads)
    }
    // transformers' progress bars and notices would interleave with the benchmark's lines.
    environment["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    environment["TRANSFORMERS_VERBOSITY"] = "error"
    process.environment = environment
    let requests = Pipe()
    let answers = Pipe()
    process.standardInput = requests
    process.standardOutput = answers
    try process.run()
    let peer = PeerProcess(
      name: name, process: process, input: requests.fileHandleForWriting,
      output: answers.fileHandleForReading)
    let first = try peer.readObject()
    if let version = first["version"] as? String { return .loaded(peer, version: version) }
    peer.stop()
    return .missing(first["missing"] as? String ?? "it did not start")
  }

  func measure(_ ids: [[Int32]], seconds: Double) throws -> Double {
    let answer = try request(["ids": ids.map { $0.map(Int.init) }, "seconds": seconds])
    guard let rate = answer["sentences_per_s"] as? Double else {
      throw UsageError("the \(name) peer gave no rate: \(answer)")
    }
    return rate
  }

  func embed(_ ids: [[Int32]]) throws -> [[Double]] {
    let answer = try request(["ids": ids.map { $0.map(Int.init) }, "embed": true])
    guard let embeddings = answer["embeddings"] as? [[Double]] else {
      throw UsageError("the \(name) peer gave no embeddings")
    }
    return embeddings
  }

  func stop() {
    try? input.close()
    process.waitUntilExit()
  }

  private func request(_ object: [String: Any]) throws -> [String: Any] {
    var line = try JSONSerialization.data(withJSONObject: object)
    line.append(UInt8(ascii: "\n"))
    try input.write(contentsOf: line)
    return try readObject()
  }

  private func readObject() throws -> [String: Any] {
    while true {
      if let end = buffered.firstIndex(of: UInt8(ascii: "\n")) {
        let line = buffered[buffered.startIndex..<end]
        buffered = Data(buffered[(end + 1)...])
        guard let object = try JSONSerialization.jsonObject(with: line) as? [String: Any] else {
          throw UsageError("the \(name) peer answered with something other than a JSON object")
        }
        return object
      }
      // availableData returns what one read gets (read(upToCount:) waits for the whole count).
      let chunk = output.availableData
      guard !chunk.isEmpty else {
        process.waitUntilExit()
        throw UsageError("the \(name) peer exited (status \(process.terminationStatus))")
      }
      buffered.append(chunk)
    }
  }
}
