import Foundation
import TestSupport
import Testing

/// The deployment targets in Deploy/ (the image, the compose file, the Kubernetes manifests) pass
/// `scripts/check-deploy` against this build's harmonybatch, and the check fails on a broken copy.
@Suite(.startsServices) struct DeployTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let script = root.appendingPathComponent("scripts/check-deploy").path

  static func problems(_ lines: [String]) -> [String] {
    lines.filter { $0.hasPrefix("check-deploy: PROBLEM ") }
  }

  @Test func theDeploymentTargetsPassTheStaticChecks() async throws {
    let (status, stdout, stderr) = try await runToCompletion(
      Self.script, ["--binary", harmonybatchPath], timeout: .seconds(180))
    #expect(status == 0, "\(stdout.joined(separator: "\n"))\n\(stderr)")
    #expect(Self.problems(stdout).isEmpty)
    #expect(stdout.last == "check-deploy: no problems", "\(stdout)")
  }

  @Test func aBogusFlagAndAScaledObjectBeyondThePartitionsFailTheChecks() async throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-deploy-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let copy = directory.appendingPathComponent("Deploy")
    try FileManager.default.copyItem(at: Self.root.appendingPathComponent("Deploy"), to: copy)

    func edit(_ path: String, _ old: String, _ new: String) throws {
      let file = copy.appendingPathComponent(path)
      let text = try String(contentsOf: file, encoding: .utf8)
      try #require(text.contains(old), "\(path) no longer holds \(old)")
      try text.replacingOccurrences(of: old, with: new)
        .write(to: file, atomically: true, encoding: .utf8)
    }
    try edit(
      "kubernetes/base/worker-cpu.yaml", #""--concurrency", "2""#,
      #""--concurrency", "2", "--slots-per-replica", "2""#)
    try edit(
      "kubernetes/keda/scaledobjects.yaml",
      "name: harmonybatch-worker-cpu\n  minReplicaCount: 1\n  maxReplicaCount: 8",
      "name: harmonybatch-worker-cpu\n  minReplicaCount: 1\n  maxReplicaCount: 12")

    let (status, stdout, stderr) = try await runToCompletion(
      Self.script, ["--binary", harmonybatchPath, "--deploy", copy.path], timeout: .seconds(180))
    #expect(status == 1, "\(stdout.joined(separator: "\n"))\n\(stderr)")
    let problems = Self.problems(stdout)
    // Exactly the two faults: the rest of the copy passes as the original does.
    #expect(problems.count == 2, "\(problems)")
    #expect(
      problems.contains {
        $0.contains("kubernetes/base/worker-cpu.yaml")
          && $0.contains("'harmonybatch worker' has no option --slots-per-replica")
      }, "\(problems)")
    #expect(
      problems.contains {
        $0.contains("ScaledObject harmonybatch-worker-cpu")
          && $0.contains("maxReplicaCount 12 exceeds the 8 partitions of hb.batches.cpu")
      }, "\(problems)")
    #expect(stdout.last == "check-deploy: 2 problems", "\(stdout)")
  }
}
