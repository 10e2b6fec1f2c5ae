import Foundation

/// The CPU a benchmark ran on, as `/proc/cpuinfo` describes it: figures from machines with
/// different vector units are not comparable, so every bench prints this beside its table.
public struct CPUDescription: Sendable, Equatable {
  /// "AMD EPYC", "Intel(R) Xeon(R) Platinum 8488C", ….
  public var model: String
  /// Logical CPUs listed.
  public var logicalCPUs: Int
  /// The x86 vector extensions among the flags, narrowest first (`sse4_2`, `avx`, `avx2`,
  /// `fma`, `avx512f`, `avx512bw`, `avx512_vnni`, `avx512_bf16`, `amx_tile`, …).
  public var vectorExtensions: [String]

  /// The extensions worth naming, in the order they are listed.
  static let namedExtensions = [
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
  ]

  /// Parses `/proc/cpuinfo`'s text; nil when it lists no processor.
  public init?(cpuinfo text: String) {
    var model: String?
    var flags: Set<String> = []
    var count = 0
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1)
      guard parts.count == 2 else { continue }
      let key = parts[0].trimmingCharacters(in: .whitespaces)
      let value = parts[1].trimmingCharacters(in: .whitespaces)
      switch key {
      case "processor": count += 1
      case "model name" where model == nil: model = value
      case "flags" where flags.isEmpty: flags = Set(value.split(separator: " ").map(String.init))
      default: break
      }
    }
    guard count > 0 else { return nil }
    self.model = model ?? "unknown"
    logicalCPUs = count
    vectorExtensions = Self.namedExtensions.filter(flags.contains)
  }

  /// This machine's CPU, or nil where `/proc/cpuinfo` cannot be read (not Linux).
  public static func current() -> CPUDescription? {
    (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)).flatMap {
      CPUDescription(cpuinfo: $0)
    }
  }

  /// One line: "AMD EPYC, 2 logical CPUs, sse4_2 avx avx2 fma (no AVX-512)".
  public var summary: String {
    let avx512 = vectorExtensions.contains("avx512f") ? "" : " (no AVX-512)"
    return "\(model), \(logicalCPUs) logical CPUs, "
      + vectorExtensions.joined(separator: " ") + avx512
  }
}
