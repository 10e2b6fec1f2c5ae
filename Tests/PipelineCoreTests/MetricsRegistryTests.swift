import PipelineCore
import Testing

/// Reading the registry back: what the bench and a `/metrics` reader get.
@Suite struct MetricsRegistryTests {
  @Test func totalsSumEveryLabelSet() {
    let metrics = MetricsRegistry()
    #expect(metrics.total(.requestsRouted) == 0)
    metrics.add(.requestsRouted, 3, labels: ["app": "a"])
    metrics.add(.requestsRouted, 4, labels: ["app": "b"])
    metrics.add(.requestsRouted, labels: ["app": "a"])
    #expect(metrics.total(.requestsRouted) == 8)
    #expect(metrics.render().contains("harmonybatch_requests_routed_total{app=\"a\"} 4"))
  }

  @Test func quantilesInterpolateWithinTheirBucket() throws {
    let metrics = MetricsRegistry()
    #expect(metrics.quantile(.flushLateness, 0.5) == nil)
    // 100 flushes: 50 in (0, 0.25 ms], 49 in (1.5, 2] ms, 1 beyond every bound.
    for _ in 0..<50 { metrics.observe(.flushLateness, 0.0001, labels: ["group": "g1"]) }
    for _ in 0..<49 { metrics.observe(.flushLateness, 0.0018, labels: ["group": "g2"]) }
    metrics.observe(.flushLateness, 3)
    let (count, counts) = metrics.histogram(.flushLateness)
    #expect(count == 100)
    #expect(counts.reduce(0, +) == 99)
    // The 50th of 100 is the last of the first bucket: its upper bound.
    #expect(try #require(metrics.quantile(.flushLateness, 0.5)) == 0.00025)
    // The 75th: 25 of the 49 in (1.5, 2] ms.
    let p75 = try #require(metrics.quantile(.flushLateness, 0.75))
    #expect(abs(p75 - (0.0015 + 0.0005 * 25 / 49)) < 1e-12)
    // Beyond every bound: the last bound, as Prometheus reports it.
    #expect(metrics.quantile(.flushLateness, 1) == 0.1)
  }

  @Test func aFullFamilyFoldsNewAppsUnderOther() {
    let metrics = MetricsRegistry(maxSeriesPerFamily: 2)
    for app in ["a", "b", "c", "d"] { metrics.add(.requestsRouted, labels: ["app": app]) }
    let text = metrics.render()
    #expect(text.contains("{app=\"a\"} 1"))
    #expect(text.contains("{app=\"b\"} 1"))
    #expect(text.contains("{app=\"other\"} 2"))
    #expect(metrics.total(.requestsRouted) == 4)
  }
}
