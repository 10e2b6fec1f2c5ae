import Foundation
import PipelineCore
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

  /// A controller with the forecast on sends each app's forecast with its pool's recommendation:
  /// `watch` shows it per app. The recommendation is written by kcat, as hb.scaling holds it.
  @Test func watchShowsTheRateForecastThatScalingCarries() async throws {
    let broker = try ChildProcess(harmonybatchPath, ["broker"])
    defer { broker.signal(SIGTERM) }
    let bootstrap = try #require(await broker.waitForLines(1).first)
    var recommendation = ScalingRecommendation(
      createdAtMs: 1, planVersion: 3, group: "hb-workers-gpu", kind: .gpu,
      topic: "hb.batches.gpu", status: .ok, batchesPerSecond: 2, meanServiceMs: 50,
      offeredSlots: 0.1, busySlots: nil, targetUtilisation: 0.7, slotsNeeded: 1,
      slotsAvailable: 1, replicas: 1, slotsPerReplica: 1, desiredReplicas: 1, replicasToAdd: 0,
      queueWaitP95Ms: nil, backlog: 0, lag: nil, lagThreshold: nil, reason: "enough")
    recommendation.forecast = [
      AppRateForecast(
        app: "app-1", measuredRate: 12.5, plannedRate: 15.25, scaledRate: 13.75,
        method: .seasonal, measurementWins: false, errorRatio: 0.083, relativeToCurrent: 0.41,
        coverage: 0.9),
      AppRateForecast(
        app: "app-2", measuredRate: 3, plannedRate: 3, scaledRate: 3, method: .current,
        measurementWins: true, errorRatio: nil, relativeToCurrent: nil, coverage: nil),
    ]
    let line = String(decoding: try recommendation.messageJSON(), as: UTF8.self) + "\n"
    let (valid, problems, _) = try await runToCompletion(
      SchemaTests.root.appendingPathComponent("scripts/validate-json").path,
      [SchemaTests.root.appendingPathComponent("Schemas/scaling.schema.json").path, "-"],
      stdin: line)
    #expect(valid == 0, "\(problems)")
    let (status, _, kcatError) = try await runToCompletion(
      "/usr/bin/kcat", ["-P", "-b", bootstrap, "-t", "hb.scaling", "-k", "hb-workers-gpu"],
      stdin: line)
    #expect(status == 0, "\(kcatError)")
    let (watchStatus, view, watchError) = try await runToCompletion(
      harmonybatchPath, ["watch", "--bootstrap", bootstrap, "--once"])
    #expect(watchStatus == 0, "\(watchError)")
    let rows = view.filter { $0.hasPrefix("app-1 ") || $0.hasPrefix("app-2 ") }
      .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
    #expect(view.contains { $0.hasPrefix("rate forecast") }, "\(view)")
    #expect(rows.contains("app-1 12.50 15.25 13.75 seasonal 8.3 % 0.41 90.0 %"), "\(rows)")
    #expect(rows.contains("app-2 3.00 3.00 3.00 current, measured won - - -"), "\(rows)")
  }
}
