import Foundation
import TestSupport
import Testing

/// `produce` and `watch` against a `harmonybatch broker` process.
@Suite(.startsServices) struct ProduceWatchTests {
  @Test func producedLinesArriveWithTheirHeadersAndWatchSeesTheCluster() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    defer { broker.signal(SIGTERM) }
    let bootstrap = try #require(await broker.waitForLines(1).first)
    let (status, stdout, stderr) = try await runToCompletion(
      harmonybatchPath, ["produce", "--bootstrap", bootstrap, "--slo-ms", "450"],
      stdin: "app-a\tfirst request\napp-b,second, with a comma\napp-a\tthird\n")
    #expect(status == 0, "\(stderr)")
    #expect(stdout.first?.hasPrefix("produce: 3 requests acknowledged") == true, "\(stdout)")
    let (_, records, _) = try await runToCompletion(
      harmonybatchPath,
      ["consume", "--bootstrap", bootstrap, "--topic", "hb.requests", "--count", "3"])
    #expect(records.count == 3)
    let parsed = records.compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    #expect(Set(parsed.compactMap { $0["key"] as? String }) == ["app-a", "app-b"])
    #expect(parsed.contains { ($0["value"] as? String) == "second, with a comma" })
    #expect(records.allSatisfy { $0.contains("hb-slo-ms") && $0.contains("450") })

    let (watchStatus, view, _) = try await runToCompletion(
      harmonybatchPath, ["watch", "--bootstrap", bootstrap, "--once"])
    #expect(watchStatus == 0)
    #expect(view.first == "no plan on hb.plans yet")

    let (badStatus, _, badError) = try await runToCompletion(
      harmonybatchPath, ["produce", "--bootstrap", bootstrap], stdin: "no separator here\n")
    #expect(badStatus == 2)
    #expect(badError.contains("line 1: expected APP<TAB>PAYLOAD"))
  }
}
