import Foundation
import TestSupport
import Testing

/// A shortened `harmonybatch demo`: the whole pipeline with real MiniLM inference on the embedded
/// broker; every request accounted for and at least 99.5 % within its SLO.
@Suite struct DemoTests {
  @Test func aShortDemoServesEveryRequestWithinItsSLO() throws {
    let (status, stdout, stderr) = try runToCompletion(
      harmonybatchPath, ["demo", "--duration", "5", "--rate-scale", "0.5"],
      timeout: .seconds(240))
    #expect(status == 0, "\(stderr)")
    let summary = try #require(stdout.first { $0.hasPrefix("demo summary:") }, "\(stdout)")
    #expect(summary.contains(", 0 missing"))
    let attainment = try #require(stdout.first { $0.hasPrefix("SLO attainment:") })
    let percent =
      Double(
        attainment.dropFirst("SLO attainment: ".count).prefix(while: { $0 != " " })) ?? 0
    #expect(percent >= 99.5, "\(attainment)")
    #expect(attainment.contains("minilm"))
    #expect(stdout.contains { $0.hasPrefix("cost per request:") })
    // The summary says how many plan versions there were and why; the pools as the controller
    // saw them.
    #expect(stdout.contains { $0.hasPrefix("plan versions: ") })
    #expect(stdout.contains { $0.hasPrefix("  v1 at ") && $0.contains("first plan") })
    #expect(stdout.contains { $0.hasPrefix("hb-workers-cpu") })
  }
}
