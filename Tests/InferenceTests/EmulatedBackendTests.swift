import PipelineCore
import Planner
import Testing

@testable import Inference

/// Emulated functions reproduce their profile: over 1,000 batches the mean is within 5 % of the
/// profile's average and the 99th percentile within 5 % of its maximum.
@Suite struct EmulatedBackendTests {
  static func check(_ model: String, _ function: FunctionConfig, batch: Int) throws {
    let profile = try ModelProfile.builtIn(named: model)
    let backend = try EmulatedBackend(
      kind: function.kind, profile: profile, seed: 42, hold: { _ in })
    var samples = (0..<1000).map { _ in backend.sampleLatency(batch: batch, on: function) }
    samples.sort()
    let mean = samples.reduce(0, +) / Double(samples.count)
    let p99 = samples[989]
    let latency = LatencyModel(profile: profile)
    let predicted =
      function.kind == .cpu
      ? latency.cpu(vcpu: function.vcpu, batch: batch)
      : latency.gpu(memoryGB: function.gpuMemoryGB, vcpu: function.vcpu, batch: batch)
    #expect(
      abs(mean / predicted.avg - 1) <= 0.05,
      "\(model) \(function) b=\(batch): mean \(mean) vs \(predicted.avg)")
    #expect(
      abs(p99 / predicted.max - 1) <= 0.05,
      "\(model) \(function) b=\(batch): p99 \(p99) vs \(predicted.max)")
  }

  @Test(arguments: [(1.6, 1), (2.0, 4), (0.75, 1), (4.0, 2)])
  func cpuFunctions(vcpu: Double, batch: Int) throws {
    try Self.check("VGG19", .cpu(vcpu: vcpu), batch: batch)
  }

  @Test(arguments: [
    ("VGG19", 2, 13), ("VGG19", 4, 1), ("VGG19", 24, 13), ("Bert", 3, 8), ("GPT-2", 6, 8),
    ("VideoMAE", 5, 5),
  ])
  func gpuFunctions(model: String, memory: Int, batch: Int) throws {
    try Self.check(model, .gpu(memoryGB: memory, vcpu: Double(memory) / 3), batch: batch)
  }

  @Test func emulatedRunsHoldTheWorkerAndSaySo() throws {
    let held = HeldTime()
    let backend = try EmulatedBackend(
      kind: .gpu, profile: try ModelProfile.builtIn(named: "VGG19"), hold: { held.add($0) })
    let outputs = backend.run([[1], [2], [3]], on: .gpu(memoryGB: 2, vcpu: 0.67))
    #expect(outputs == [.emulated, .emulated, .emulated])
    #expect(backend.name == "emulated-gpu" && backend.emulated)
    #expect(held.total > 0)
  }
}

final class HeldTime: @unchecked Sendable {
  private(set) var total = 0.0
  func add(_ seconds: Double) { total += seconds }
}

/// `worker --backend NAME`: each name makes the backend of that name.
@Suite struct BackendNameTests {
  @Test func eachNameMakesTheBackendOfThatName() throws {
    #expect(BackendName.defaultName(for: .cpu) == .minilm)
    #expect(BackendName.defaultName(for: .gpu) == .emulatedGPU)
    let profile = try ModelProfile.builtIn(named: "VGG19")
    for name in [BackendName.emulatedCPU, .emulatedGPU] {
      let backend = try name.make(profile: profile, seed: 1, modelDirectory: nil)
      #expect(backend.name == name.rawValue && backend.emulated)
    }
    #expect(throws: InferenceError.self) {
      try BackendName.minilm.make(profile: profile, seed: 1, modelDirectory: "/nonexistent")
    }
  }
}
