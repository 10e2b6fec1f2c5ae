import Foundation
import Kafka
import Planner
import TestSupport
import Testing

@testable import Pipeline

/// The router's decision for single records (pure, no broker).
@Suite struct RequestRouterTests {
  static func router() throws -> RequestRouter {
    let (planner, plan) = try Planner.tableOnePlan()
    return RequestRouter(
      table: RoutingTable(plan: plan, planner: planner), topics: PipelineTopics())
  }

  static func record(key: [UInt8]?, slo: String?) -> KafkaRecord {
    KafkaRecord(
      topic: "hb.requests", partition: 0, offset: 7, key: key, value: Array("text".utf8),
      headers: slo.map { [KafkaHeader(key: HeaderName.slo, value: Array($0.utf8))] } ?? [],
      timestampMs: 1_000)
  }

  static func code(_ decision: RequestRouter.Decision) -> String {
    switch decision {
    case .grouped: "grouped"
    case .deadLetter(_, let code): code.rawValue
    }
  }

  @Test func theSLOHeaderIsDecimalMillisecondsInItsRangeAndNothingElse() throws {
    var router = try Self.router()
    for good in ["500", "250.5", "3600000", "0500"] {
      #expect(
        Self.code(router.route(Self.record(key: Array("a1".utf8), slo: good), nowMs: 0))
          == "grouped", "\(good)")
    }
    // Well formed, and more than any function can do: a different reason.
    #expect(
      Self.code(router.route(Self.record(key: Array("a1".utf8), slo: "1"), nowMs: 0))
        == "impossible-slo")
    // Each of these was accepted before: hexadecimal, exponent, spaces, a number too big for any
    // clock, signs, infinities, digit groups, a fraction without digits.
    for bad in [
      "0x1F4", "1e3", " 500", "500 ", "99999999999999999999", "+500", "-500", "0", "0.5",
      "inf", "nan", "5,000", "500.", ".5", "", "3600001", "５００",
    ] {
      #expect(
        Self.code(router.route(Self.record(key: Array("a1".utf8), slo: bad), nowMs: 0))
          == "bad-slo", "'\(bad)'")
    }
  }

  @Test func aKeyThatIsNotUTF8HasItsOwnReason() throws {
    var router = try Self.router()
    #expect(
      Self.code(router.route(Self.record(key: [0xFF, 0xFE], slo: "500"), nowMs: 0)) == "bad-key")
    #expect(Self.code(router.route(Self.record(key: nil, slo: "500"), nowMs: 0)) == "missing-app")
    #expect(Self.code(router.route(Self.record(key: [], slo: "500"), nowMs: 0)) == "missing-app")
  }
}
