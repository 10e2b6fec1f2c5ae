import Planner
import Testing

@testable import PipelineCore

/// The batching state machine on a virtual clock: no sleeps, no Kafka.
@Suite struct GroupBuffersTests {
  static func spec(
    _ group: String = "g1", version: Int = 1, capacity: Int, latencyMax: Double = 0.1
  ) -> GroupSpec {
    GroupSpec(
      key: GroupKey(planVersion: version, group: group), function: .gpu(memoryGB: 2, vcpu: 0.67),
      capacity: capacity, latencyMax: latencyMax)
  }

  static func request(
    _ id: String, app: String = "a", at arrival: Double, slo: Double = 1.0, timeout: Double = 0.5
  ) -> BufferedRequest<Int> {
    BufferedRequest(id: id, app: app, arrival: arrival, slo: slo, timeout: timeout, item: 0)
  }

  static func batches(_ directives: [BatchingDirective<Int>]) -> [ReadyBatch<Int>] {
    directives.compactMap {
      if case .dispatch(let batch) = $0 { return batch }
      return nil
    }
  }

  static func diverted(_ directives: [BatchingDirective<Int>]) -> [String] {
    directives.compactMap {
      if case .divert(let request, _, _) = $0 { return request.id }
      return nil
    }
  }

  @Test func aFullBufferFlushesAtOnce() {
    var buffers = GroupBuffers<Int>()
    let spec = Self.spec(capacity: 3)
    #expect(buffers.receive(Self.request("1", at: 0), in: spec, now: 0).isEmpty)
    #expect(buffers.receive(Self.request("2", at: 0.01), in: spec, now: 0.01).isEmpty)
    #expect(buffers.nextDeadline == 0.5)
    let out = Self.batches(buffers.receive(Self.request("3", at: 0.02), in: spec, now: 0.02))
    #expect(out.count == 1)
    #expect(out.first?.requests.map(\.id) == ["1", "2", "3"])
    #expect(out.first?.reason == .full)
    #expect(out.first?.flushedAt == 0.02)
    #expect(buffers.nextDeadline == nil)
    #expect(buffers.count == 0)
  }

  @Test func theEarliestPersonalDeadlineFlushesAcrossApps() {
    var buffers = GroupBuffers<Int>()
    let spec = Self.spec(capacity: 10)
    _ = buffers.receive(Self.request("slow", app: "a", at: 0, timeout: 0.4), in: spec, now: 0)
    #expect(buffers.nextDeadline == 0.4)
    // A tighter app arrives later but must leave first: its deadline rules the buffer.
    _ = buffers.receive(
      Self.request("tight", app: "b", at: 0.05, timeout: 0.1), in: spec, now: 0.05)
    #expect(abs(buffers.nextDeadline! - 0.15) < 1e-12)
    #expect(buffers.advance(to: 0.149).isEmpty)
    let out = Self.batches(buffers.advance(to: buffers.nextDeadline!))
    #expect(out.map { $0.requests.map(\.id) } == [["slow", "tight"]])
    #expect(out.first?.reason == .deadline)
    #expect(buffers.nextDeadline == nil)
    // After a flush the buffer starts empty: the next request sets a new deadline.
    _ = buffers.receive(Self.request("next", app: "a", at: 0.2, timeout: 0.4), in: spec, now: 0.2)
    #expect(abs(buffers.nextDeadline! - 0.6) < 1e-12)
  }

  @Test func aPlanChangeNeverStrandsABufferedRequest() {
    var buffers = GroupBuffers<Int>()
    let old = Self.spec(version: 1, capacity: 4)
    let new = GroupSpec(
      key: GroupKey(planVersion: 2, group: "g1"), function: .cpu(vcpu: 1.6), capacity: 2,
      latencyMax: 0.05)
    _ = buffers.receive(Self.request("old-1", at: 0, timeout: 0.3), in: old, now: 0)
    _ = buffers.receive(Self.request("old-2", at: 0.1, timeout: 0.3), in: old, now: 0.1)
    // The router now tags requests with version 2: they start a buffer of their own.
    #expect(
      buffers.receive(Self.request("new-1", at: 0.2, timeout: 0.5), in: new, now: 0.2).isEmpty)
    #expect(buffers.waiting(in: old.key) == 2)
    #expect(buffers.waiting(in: new.key) == 1)
    // The old buffer still flushes at its own deadline, under the old configuration.
    let atOldDeadline = Self.batches(buffers.advance(to: 0.3))
    #expect(atOldDeadline.count == 1)
    #expect(atOldDeadline.first?.spec == old)
    #expect(atOldDeadline.first?.requests.map(\.id) == ["old-1", "old-2"])
    let full = Self.batches(
      buffers.receive(Self.request("new-2", at: 0.35, timeout: 0.5), in: new, now: 0.35))
    #expect(full.first?.spec == new)
    #expect(full.first?.requests.map(\.id) == ["new-1", "new-2"])
    #expect(buffers.count == 0)
  }

  @Test func everyAppKeepsItsOrder() {
    var buffers = GroupBuffers<Int>()
    var random = SeededRandom(seed: 42)
    let spec = Self.spec(capacity: 5)
    var sent: [String: [String]] = [:]
    var dispatched: [BatchingDirective<Int>] = []
    var now = 0.0
    for index in 0..<500 {
      now += random.unit() * 0.05
      dispatched += buffers.advance(to: now)
      let app = ["a", "b", "c"][Int(random.next() % 3)]
      let timeout = ["a": 0.05, "b": 0.2, "c": 0.4][app]!
      sent[app, default: []].append("\(index)")
      dispatched += buffers.receive(
        Self.request("\(index)", app: app, at: now, timeout: timeout), in: spec, now: now)
    }
    dispatched += buffers.drain(now: now)
    let batches = Self.batches(dispatched)
    #expect(Self.diverted(dispatched).isEmpty)
    #expect(batches.allSatisfy { $0.requests.count <= 5 })
    for (app, ids) in sent {
      let order = batches.flatMap { $0.requests.filter { $0.app == app }.map(\.id) }
      #expect(order == ids, "\(app) out of order")
    }
  }

  @Test func aRequestThatCannotMakeItsSLOIsDiverted() {
    var buffers = GroupBuffers<Int>()
    let spec = Self.spec(capacity: 4, latencyMax: 0.3)
    // Arrived at 0 with a 1 s SLO; at 0.75 the batch's 0.3 s maximum would end at 1.05.
    let out = buffers.receive(Self.request("x", at: 0, slo: 1, timeout: 0.7), in: spec, now: 0.75)
    #expect(Self.diverted(out) == ["x"])
    #expect(buffers.count == 0)
    if case .divert(_, _, let lateBy) = out.first {
      #expect(abs(lateBy - 0.05) < 1e-9)
    }
  }

  @Test func aRequestPastItsWaitButInTimeLeavesAtOnce() {
    var buffers = GroupBuffers<Int>()
    let spec = Self.spec(capacity: 4, latencyMax: 0.3)
    // Its 0.7 s wait has passed, but flushed now it still ends by 1.0.
    let out = Self.batches(
      buffers.receive(Self.request("x", at: 0, slo: 1, timeout: 0.6), in: spec, now: 0.65))
    #expect(out.first?.requests.map(\.id) == ["x"])
    #expect(out.first?.reason == .deadline)
  }

  @Test func forwardingSendsLateRequestsMarked() {
    var buffers = GroupBuffers<Int>(latePolicy: .forward)
    let spec = Self.spec(capacity: 4, latencyMax: 0.3)
    _ = buffers.receive(Self.request("fine", at: 0.7, slo: 1, timeout: 0.5), in: spec, now: 0.7)
    let out = Self.batches(
      buffers.receive(Self.request("late", at: 0, slo: 1, timeout: 0.6), in: spec, now: 0.8))
    #expect(out.first?.requests.map(\.id) == ["fine", "late"])
    #expect(out.first?.lateIDs == ["late"])
    #expect(out.first?.reason == .late)
  }

  @Test func aStalledFlushDivertsOnlyTheRequestsItMadeLate() {
    var buffers = GroupBuffers<Int>()
    let spec = Self.spec(capacity: 10, latencyMax: 0.2)
    _ = buffers.receive(Self.request("tight", at: 0, slo: 0.5, timeout: 0.3), in: spec, now: 0)
    _ = buffers.receive(Self.request("loose", at: 0, slo: 2, timeout: 1.8), in: spec, now: 0)
    // The shell woke late (0.4 instead of 0.3): "tight" would end at 0.6 > 0.5.
    let out = buffers.advance(to: 0.4)
    #expect(Self.diverted(out) == ["tight"])
    #expect(Self.batches(out).first?.requests.map(\.id) == ["loose"])
  }

  @Test func revokedRequestsAreTakenOut() {
    var buffers = GroupBuffers<Int>()
    let spec = Self.spec(capacity: 10)
    for index in 0..<6 {
      var request = Self.request(
        "\(index)", at: Double(index) * 0.01, timeout: 0.5 - Double(index) * 0.05)
      request.item = index % 2
      _ = buffers.receive(request, in: spec, now: request.arrival)
    }
    let removed = buffers.removeAll(where: { $0 == 1 })
    #expect(removed.map(\.id) == ["1", "3", "5"])
    #expect(buffers.count == 3)
    // The deadline follows what is left ("4" at 0.04 + 0.3).
    #expect(abs(buffers.nextDeadline! - 0.34) < 1e-12)
    #expect(Self.batches(buffers.drain(now: 0.1)).first?.requests.map(\.id) == ["0", "2", "4"])
  }

  @Test func everyRequestEndsInExactlyOneDirective() {
    var random = SeededRandom(seed: 9)
    for policy in LatePolicy.allCases {
      var buffers = GroupBuffers<Int>(latePolicy: policy)
      var ids = Set<String>()
      var out: [BatchingDirective<Int>] = []
      var now = 0.0
      for index in 0..<2000 {
        // The shell sometimes wakes late, so some requests miss their SLO.
        now += random.unit() * 0.03
        if random.unit() < 0.7 { out += buffers.advance(to: now) }
        let group = "g\(random.next() % 4)"
        let version = 1 + Int(index / 700)
        let spec = Self.spec(group, version: version, capacity: 2 + Int(random.next() % 6))
        let slo = 0.2 + random.unit()
        let request = Self.request(
          "\(index)", app: "a\(random.next() % 9)", at: now - random.unit() * 0.3, slo: slo,
          timeout: max(0, slo - 0.1 - random.unit() * 0.2))
        ids.insert(request.id)
        out += buffers.receive(request, in: spec, now: now)
      }
      out += buffers.drain(now: now + 1)
      let dispatched = Self.batches(out).flatMap { $0.requests.map(\.id) }
      let diverted = Self.diverted(out)
      #expect(dispatched.count + diverted.count == ids.count)
      #expect(Set(dispatched).union(diverted) == ids)
      #expect(policy == .divert ? !diverted.isEmpty : diverted.isEmpty)
      #expect(buffers.count == 0)
    }
  }
}
