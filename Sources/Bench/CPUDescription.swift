import Foundation

/// The CPU a benchmark ran on, as `/proc/cpuinfo` describes it: its model name and the vector
/// extensions that matter to our kernels. Benchmarks print it beside their figures, since a
/// ratio measured on an AVX2-only machine says little about an AVX-512 one.
public struct CPUDescription: Sendable, Equatable {
  /// `model name` of the first processor ("unknown CPU" when the text has none).
  public var model: String
  /// The vector extensions present, in `vectorFlags` order (`avx2`, `avx512f`, …).
  public var vectorExtensions: [String]
  /// Logical processors listed.
  public var processors: Int

  /// The flags reported, widest last; `avx512*` and `amx*` beyond these are added as found.
  public static let vectorFlags = [
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8",
  ]

  /// Parses the text of `/proc/cpuinfo` (pure: no file access).
  public init(cpuinfo text: String) {
    var model: String?
    var flags: Set<Substring> = []
    var sawFlags = false
    var processors = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = line[..<colon].trimmingCharacters(in: .whitespaces)
      let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      switch key {
      case "processor": processors += 1
      case "model name" where model == nil: model = value
      case "flags" where !sawFlags:
        sawFlags = true
        flags = Set(value.split(separator: " "))
      default: break
      }
    }
    self.model = model ?? "unknown CPU"
    self.processors = processors
    var found = Self.vectorFlags.filter { flags.contains(Substring($0)) }
    let others = flags.map(String.init).filter {
      ($0.hasPrefix("avx512") || $0.hasPrefix("amx")) && !found.contains($0)
    }
    found += others.sorted()
    vectorExtensions = found
  }

  /// This machine's CPU; nil where `/proc/cpuinfo` cannot be read (not Linux).
  public static func current() -> CPUDescription? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
      return nil
    }
    return CPUDescription(cpuinfo: text)
  }

  /// One line: `AMD EPYC 7B13, 2 logical CPUs, avx avx2 fma (no AVX-512)`.
  public var summary: String {
    let vectors =
      vectorExtensions.isEmpty
      ? "no vector extensions listed" : vectorExtensions.joined(separator: " ")
    let wide = vectorExtensions.contains("avx512f") ? "" : " (no AVX-512)"
    return "\(model), \(processors) logical CPU\(processors == 1 ? "" : "s"), \(vectors)\(wide)"
  }
}
