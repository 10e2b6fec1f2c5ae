import Foundation
import TestSupport
import Testing

/// What the code emits and ships validates against `Schemas/` (JSON Schema 2020-12, checked by
/// the `jsonschema` Python package through `scripts/validate-json`).
@Suite struct SchemaTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  static func validate(_ schema: String, _ files: [String]) async throws -> (Int32?, [String]) {
    let (status, stdout, _) = try await runToCompletion(
      root.appendingPathComponent("scripts/validate-json").path,
      [root.appendingPathComponent("Schemas/\(schema)").path] + files)
    return (status, stdout)
  }

  static func resources(_ directory: String) throws -> [String] {
    let folder = root.appendingPathComponent("Sources/Planner/Resources/\(directory)")
    return try FileManager.default.contentsOfDirectory(atPath: folder.path)
      .filter { $0.hasSuffix(".json") }.map { folder.appendingPathComponent($0).path }
  }

  @Test func builtInProfilesAndPresetsValidate() async throws {
    let profiles = try Self.resources("profiles")
    #expect(profiles.count == 5)
    let (status, problems) = try await Self.validate("profile.schema.json", profiles)
    #expect(status == 0, "\(problems)")
    let presets = try Self.resources("pricing")
    #expect(presets.count == 3)
    let (presetStatus, presetProblems) = try await Self.validate("pricing.schema.json", presets)
    #expect(presetStatus == 0, "\(presetProblems)")
  }

  @Test func everyAlgorithmsPlanValidates() async throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-schema-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let apps = directory.appendingPathComponent("apps.json").path
    try """
    {"apps":[{"id":"a","slo_ms":300,"rate":0.5},{"id":"b","slo_ms":450,"rate":12},
    {"id":"c","slo_ms":700,"rate":3},{"id":"d","slo_ms":1000,"rate":25},
    {"id":"never","slo_ms":1,"rate":1}]}
    """.write(toFile: apps, atomically: true, encoding: .utf8)
    var plans: [String] = []
    for model in ["VGG19", "Bert"] {
      for algorithm in ["optimal", "harmony", "batch", "mbs"] {
        let (status, stdout, stderr) = try await runToCompletion(
          harmonybatchPath,
          ["plan", "--model", model, "--apps", apps, "--algorithm", algorithm, "--format", "json"])
        try #require(status == 0, "\(stderr)")
        let path = directory.appendingPathComponent("\(model)-\(algorithm).json").path
        try stdout.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        plans.append(path)
      }
    }
    let (status, problems) = try await Self.validate("plan.schema.json", plans)
    #expect(status == 0, "\(problems)")
    let (appsStatus, appsProblems) = try await Self.validate("apps.schema.json", [apps])
    #expect(appsStatus == 0, "\(appsProblems)")
  }

  @Test func theValidatorRejectsWhatBreaksASchema() async throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-bad-\(UUID().uuidString).json").path
    try #"{"apps":[{"id":"a","slo_ms":-1}]}"#.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (status, problems) = try await Self.validate("apps.schema.json", [path])
    #expect(status == 1)
    #expect(problems.count == 2, "\(problems)")
  }
}
