import Planner

/// What a worker runs a batch on: real inference (`minilm`) or a function emulated from a
/// profile (`emulated-cpu`, `emulated-gpu`), which says so in its name and in every record.
public protocol InferenceBackend: Sendable {
  /// `minilm`, `emulated-cpu` or `emulated-gpu`.
  var name: String { get }
  var emulated: Bool { get }
  /// Runs one batch as the function `function` would; one output per payload, in order.
  func run(_ payloads: [[UInt8]], on function: FunctionConfig) -> [BackendOutput]
}

/// One request's result.
public enum BackendOutput: Sendable, Equatable {
  /// A unit-length sentence embedding.
  case embedding([Float])
  /// An emulated function ran for the sampled latency and computed nothing.
  case emulated
  /// This payload could not be run (the others in the batch were).
  case failed(code: ReasonCode, detail: String)
}
