import Foundation
import Testing

@testable import PipelineCore

/// The Grafana dashboard in Deploy/ and the README's metric table name only metrics the services
/// publish, and between them every one.
@Suite struct DashboardTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// Metric names in `text`, histogram series (`_bucket`, `_count`, `_sum`) as their family.
  static func names(in text: String) -> Set<String> {
    let families = Set(MetricsRegistry.Family.all.map(\.name))
    return Set(
      text.matches(of: /harmonybatch_[a-z_]+/).map { match -> String in
        let name = String(match.output)
        for suffix in ["_bucket", "_count", "_sum"] where name.hasSuffix(suffix) {
          let family = String(name.dropLast(suffix.count))
          if families.contains(family) { return family }
        }
        return name
      })
  }

  @Test func theDashboardQueriesEveryMetricAndNoOther() throws {
    let data = try Data(
      contentsOf: Self.root.appendingPathComponent("Deploy/grafana/harmonybatch-dashboard.json"))
    let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let panels = try #require(dashboard["panels"] as? [[String: Any]])
    let expressions = panels.flatMap { panel in
      (panel["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String }
    }
    #expect(expressions.count >= 16)
    let used = Self.names(in: expressions.joined(separator: "\n"))
    let published = Set(MetricsRegistry.Family.all.map(\.name))
    #expect(used.subtracting(published).isEmpty, "unknown: \(used.subtracting(published))")
    #expect(published.subtracting(used).isEmpty, "not shown: \(published.subtracting(used))")
    // Panel ids are unique and every panel is placed.
    let ids = panels.compactMap { $0["id"] as? Int }
    #expect(Set(ids).count == panels.count)
    #expect(panels.allSatisfy { $0["gridPos"] is [String: Any] })
  }

  @Test func theOperationsPageListsEveryMetric() throws {
    let readme = try String(
      contentsOf: Self.root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
    let published = Set(MetricsRegistry.Family.all.map(\.name))
    #expect(published.subtracting(Self.names(in: readme)).isEmpty)
  }
}
