import Foundation
import TestSupport
import Testing

/// `harmonybatch plan` as reviewers' scripts use it: the documented JSON object, a readable table,
/// and one-line errors with exit code 2 for bad apps files.
@Suite struct PlanCommandTests {
  static func appsFile(_ json: String) throws -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-apps-\(UUID().uuidString).json").path
    try json.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  static let tableOne =
    #"{"apps":[{"id":"app1","slo_ms":500,"rate":5},{"id":"app2","slo_ms":800,"rate":10},"#
    + #"{"id":"app3","slo_ms":1000,"rate":20}]}"#

  @Test func jsonIsTheDocumentedObject() async throws {
    let path = try Self.appsFile(Self.tableOne)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (status, stdout, stderr) = try await runToCompletion(
      harmonybatchPath,
      ["plan", "--model", "VGG19", "--apps", path, "--algorithm", "harmony", "--format", "json"])
    #expect(status == 0, "\(stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(stdout.joined(separator: "\n").utf8))
        as? [String: Any])
    #expect(object["algorithm"] as? String == "harmony")
    #expect(object["objective"] is Double)
    #expect(object["planning_ms"] is Double)
    let groups = try #require(object["groups"] as? [[String: Any]])
    #expect(groups.count == 2)
    let gpu = groups[1]
    #expect(gpu["apps"] as? [String] == ["app2", "app3"])
    let function = try #require(gpu["function"] as? [String: Any])
    #expect(function["kind"] as? String == "gpu")
    #expect(function["gpu_mem_gb"] as? Int == 2)
    #expect(function["vcpu"] is Double)
    #expect((13...14).contains(gpu["batch_size"] as? Int ?? 0))
    let timeouts = try #require(gpu["timeouts_ms"] as? [String: Double])
    #expect(Set(timeouts.keys) == ["app2", "app3"])
    for key in ["latency_avg_ms", "latency_max_ms", "cost_per_request", "rate"] {
      #expect(gpu[key] is Double, "\(key)")
    }
  }

  @Test func tableShowsGroupsAndObjective() async throws {
    let path = try Self.appsFile(Self.tableOne)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (status, stdout, _) = try await runToCompletion(
      harmonybatchPath, ["plan", "--model", "VGG19", "--apps", path])
    #expect(status == 0)
    #expect(stdout.first?.hasPrefix("plan: optimal · model VGG19 · pricing alibaba-cny") == true)
    #expect(
      stdout.contains { $0.hasPrefix("g2") && $0.contains("app2,app3") && $0.contains("gpu 2 GB") })
    #expect(stdout.contains { $0.hasPrefix("objective: ") && $0.contains("CNY per request") })
  }

  @Test(arguments: [
    (#"{"apps":[{"id":"a","slo_ms":-1,"rate":1}]}"#, "app 'a': slo_ms must be > 0"),
    (#"{"apps":[{"id":"a","slo_ms":100,"rate":-3}]}"#, "app 'a': rate must be ≥ 0"),
    (
      #"{"apps":[{"id":"a","slo_ms":100,"rate":1},{"id":"a","slo_ms":100,"rate":1}]}"#,
      "duplicate app id 'a'"
    ),
    (#"{"apps":[{"id":"a""#, "not valid JSON"),
  ])
  func badAppsFilesExitWith2(json: String, expected: String) async throws {
    let path = try Self.appsFile(json)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (status, stdout, stderr) = try await runToCompletion(
      harmonybatchPath, ["plan", "--model", "Bert", "--apps", path])
    #expect(status == 2)
    #expect(stdout.isEmpty)
    #expect(stderr.split(separator: "\n").count == 1)
    #expect(stderr.contains(expected), "\(stderr)")
  }

  @Test func aWrongKindOfFileIsAClearError() async throws {
    let path = try Self.appsFile(Self.tableOne)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (_, stdout, _) = try await runToCompletion(
      harmonybatchPath, ["plan", "--model", "Bert", "--apps", path, "--format", "json"])
    let profile = try Self.appsFile(stdout.joined(separator: "\n"))
    defer { try? FileManager.default.removeItem(atPath: profile) }
    // A plan is not a profile: the error names what is missing rather than crashing.
    let (status, _, stderr) = try await runToCompletion(
      harmonybatchPath, ["plan", "--profile", profile, "--apps", path])
    #expect(status == 2)
    #expect(stderr.contains("missing field"), "\(stderr)")
  }
}
