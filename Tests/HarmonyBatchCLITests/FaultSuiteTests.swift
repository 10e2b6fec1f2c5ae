import Foundation
import TestSupport
import Testing

/// The fault suite's short form: every kind of fault once (each process kind killed and
/// restarted, the broker down, produce errors, a slow network) with bad records on every topic,
/// then a short soak. It fails on any request lost or ended twice, a bad request not ended as its
/// own dead letter, a stalled stage, a service that ended without saying why, or memory growth.
@Suite(.startsServices) struct FaultSuiteTests {
  @Test func theShortFaultSuitePasses() async throws {
    let (status, stdout, stderr) = try await runToCompletion(
      harmonybatchPath,
      ["faults", "--fault-seconds", "70", "--fault-every", "9", "--soak-seconds", "30"],
      timeout: .seconds(600))
    let report = stdout.joined(separator: "\n")
    #expect(status == 0, "\(report)\n\(stderr.suffix(3000))")
    // Every kind of fault was injected, and the accounting covers requests and bad records.
    for fault in [
      "kill batcher", "kill cpu worker", "broker down 5 s", "kill gpu worker", "produce errors",
      "kill controller", "network 300 ms slower",
    ] {
      #expect(report.contains(fault), "\(fault) not injected:\n\(report)")
    }
    let lost = stdout.first { $0.hasPrefix("lost ") }
    #expect(lost?.hasSuffix(" 0") == true, "\(report)")
    let duplicated = stdout.first { $0.hasPrefix("duplicated outcomes") }
    #expect(duplicated?.hasSuffix(" 0") == true, "\(report)")
    #expect(report.contains("fault suite: passed"))
  }
}
