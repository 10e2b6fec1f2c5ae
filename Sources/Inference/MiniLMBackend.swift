import Foundation
import PipelineCore
import Planner

/// Real CPU inference: the MiniLM encoder with as many threads as the function's vCPU
/// (rounded, at least 1, at most the machine's cores).
public struct MiniLMBackend: InferenceBackend {
  public let name = "minilm"
  public let emulated = false
  let encoder: MiniLMEncoder

  public init(encoder: MiniLMEncoder) { self.encoder = encoder }

  public static func threads(for function: FunctionConfig) -> Int {
    guard function.vcpu.isFinite else { return 1 }
    let vcpu = min(max(function.vcpu.rounded(), 1), 1024)
    return max(1, min(ProcessInfo.processInfo.activeProcessorCount, Int(vcpu)))
  }

  public func run(_ payloads: [[UInt8]], on function: FunctionConfig) -> [BackendOutput] {
    var texts: [String] = []
    var positions: [Int] = []
    var outputs = [BackendOutput](repeating: .emulated, count: payloads.count)
    for (index, payload) in payloads.enumerated() {
      guard let text = String(validating: payload, as: UTF8.self) else {
        outputs[index] = .failed(code: .badPayload, detail: "the payload is not UTF-8 text")
        continue
      }
      texts.append(text)
      positions.append(index)
    }
    for (position, vector) in zip(
      positions, encoder.embed(texts, threads: Self.threads(for: function)))
    {
      outputs[position] = .embedding(vector)
    }
    return outputs
  }
}
