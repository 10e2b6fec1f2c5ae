import Foundation
import Planner
import Testing

@testable import PipelineCore

/// The rates report's hot-path writer against its Codable encoding: byte for byte.
@Suite struct RatesMessageTests {
  @Test func theWriterWritesWhatTheCodableEncodingWrites() throws {
    var random = SeededRandom(seed: 5)
    let names = [
      "app-1", "app-10", "app-2", "App-3", "a", "B", "é-app", "quote\"d", "tab\there", "ü", "z9",
      "Z10",
    ]
    for round in 0..<200 {
      var apps: [String: RouterReport.AppCount] = [:]
      for name in names where random.unit() < 0.6 {
        apps[name] = RouterReport.AppCount(
          requests: Int(random.unit() * 1_000), sloMs: (random.unit() * 2_000).rounded() / 4,
          planned: random.unit() < 0.8, backlog: random.unit() < 0.3 ? Int(random.unit() * 50) : nil
        )
      }
      var rejected: [String: Int] = [:]
      for reason in ["unknown-app", "impossible-slo", "bad-header"] where random.unit() < 0.3 {
        rejected[reason] = Int(random.unit() * 9)
      }
      let message = RatesMessage(
        router: round.isMultiple(of: 2) ? "host-1/42" : "router \"b\"", planVersion: round,
        windowStartMs: 1_733_600_000_000 + Double(round) * 1000.5,
        windowEndMs: 1_733_600_001_000 + Double(round) * 1000.25, apps: apps, rejected: rejected)
      let written = try message.json()
      let encoded = try message.messageJSON()
      #expect(
        written == encoded,
        "\(String(decoding: written, as: UTF8.self))\n\(String(decoding: encoded, as: UTF8.self))")
      #expect(try JSONDecoder().decode(RatesMessage.self, from: Data(written)) == message)
    }
  }

  @Test func aNumberJSONCannotHoldThrowsAsTheCodableEncodingDoes() {
    let message = RatesMessage(
      router: "r", planVersion: 1, windowStartMs: .nan, windowEndMs: 1, apps: [:], rejected: [:])
    #expect(throws: EncodingError.self) { try message.json() }
    #expect(throws: EncodingError.self) { try message.messageJSON() }
  }
}
