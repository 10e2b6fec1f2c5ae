import PipelineCore
import Planner

/// The inference backends by the names a worker's `--backend` takes (`InferenceBackend.name`).
public enum BackendName: String, CaseIterable, Sendable {
  /// Real MiniLM inference (`MiniLMBackend`).
  case minilm
  /// A CPU or GPU function emulated from a profile (`EmulatedBackend`).
  case emulatedCPU = "emulated-cpu"
  case emulatedGPU = "emulated-gpu"

  /// The default for workers of `kind`: MiniLM on CPU; on GPU the emulated function, this
  /// machine having no GPU.
  public static func defaultName(for kind: FunctionConfig.Kind) -> BackendName {
    kind == .cpu ? .minilm : .emulatedGPU
  }

  /// The backend: MiniLM loaded from `modelDirectory` (nil: where `ModelLocator` finds it), or
  /// a function that follows `profile`, its latencies drawn from `seed`.
  public func make(profile: ModelProfile, seed: UInt64, modelDirectory: String?)
    throws(InferenceError) -> any InferenceBackend
  {
    switch self {
    case .minilm:
      MiniLMBackend(
        encoder: try MiniLMEncoder(directory: try ModelLocator.directory(explicit: modelDirectory)))
    case .emulatedCPU: try EmulatedBackend(kind: .cpu, profile: profile, seed: seed)
    case .emulatedGPU: try EmulatedBackend(kind: .gpu, profile: profile, seed: seed)
    }
  }
}
