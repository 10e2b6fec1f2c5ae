import Foundation
import Synchronization
import Testing

@testable import WaitSupport

/// The waits and traits the other tests stand on: waits that time out and say so, and traits
/// that move a test's body off the cooperative pool.
@Suite struct WaitSupportTests {
  func threadName() -> String { ThreadName.current }

  @Test func eventuallySaysWhetherTheConditionHeldInTime() async {
    let checks = Mutex(0)
    let held = await eventually(timeout: .seconds(60), every: .milliseconds(1)) {
      checks.withLock {
        $0 += 1
        return $0 == 3
      }
    }
    #expect(held && checks.withLock { $0 } == 3)
    let started = ContinuousClock.now
    let never = await eventually(timeout: .milliseconds(100)) { false }
    #expect(!never)
    #expect(ContinuousClock.now - started >= .milliseconds(100))
  }

  @Test func onThreadRunsItsBodyOnAThreadOfItsOwn() async throws {
    let name = await onThread("hb-test-thread") { ThreadName.current }
    #expect(name == "hb-test-thread")
    struct Failure: Error {}
    await #expect(throws: Failure.self) { try await onThread { throw Failure() } }
  }

  @Test(.onOwnThread) func aTestOnItsOwnThreadRunsItsBodyThereAfterAwaitsToo() async throws {
    #expect(threadName() == "hb-test-own")
    try await Task.sleep(for: .milliseconds(10))
    #expect(threadName() == "hb-test-own")
  }

  @Test(.onOwnThread) func aSynchronousTestOnItsOwnThreadRunsThere() {
    #expect(threadName() == "hb-test-own")
  }

  @Test func turnsAreTakenOneAtATimeInTheOrderAsked() async throws {
    final class Inside: Sendable {
      let count = Mutex((now: 0, most: 0))
    }
    let turns = Turns()
    let inside = Inside()
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<8 {
        group.addTask {
          try await turns.inTurn {
            inside.count.withLock {
              $0.now += 1
              $0.most = max($0.most, $0.now)
            }
            try await Task.sleep(for: .milliseconds(5))
            inside.count.withLock { $0.now -= 1 }
          }
        }
      }
      try await group.waitForAll()
    }
    #expect(inside.count.withLock { $0.most } == 1)
  }

  @Test func aTurnOfAllPlacesWaitsForEveryoneBeforeItAndNoOneAfterItPassesIt() async throws {
    final class Log: Sendable {
      let entries = Mutex<[String]>([])
      func note(_ entry: String) { entries.withLock { $0.append(entry) } }
    }
    let turns = Turns(width: 2)
    let log = Log()
    await turns.take()  // one place taken: "alone" must wait for it
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        try await turns.inTurn(2) { log.note("alone") }
      }
      // Asked after "alone" (once it waits): a free place does not let it pass.
      #expect(await eventually(every: .milliseconds(1)) { await turns.waitingCount == 1 })
      group.addTask {
        try await turns.inTurn { log.note("after") }
      }
      #expect(await eventually(every: .milliseconds(1)) { await turns.waitingCount == 2 })
      #expect(log.entries.withLock { $0 }.isEmpty)
      await turns.give()
      try await group.waitForAll()
    }
    #expect(log.entries.withLock { $0 } == ["alone", "after"])
  }
}

/// A suite in a service turn holds it for all its tests: a test of it does not wait for the turn
/// its own suite holds.
@Suite(.startsServices) struct ServiceTurnTests {
  @Test(.startsServices) func aTestOfASuiteInTurnRunsAtOnce() async {
    #expect(ServiceTurnTrait.holdsTurn)
  }
}

/// A suite of long computations runs, test by test, on a thread at the lowest priority.
@Suite(.serialized, .computesLong) struct ComputeTurnTests {
  @Test func aLongComputationRunsOnAThreadAtTheLowestPriority() {
    #expect(ThreadName.current == "hb-test-long")
    #if canImport(Glibc)
      #expect(sched_getscheduler(0) == ThreadExecutor.idlePolicy)
    #endif
  }

  @Test func soDoesTheNextOneAfterAnAwait() async throws {
    try await Task.sleep(for: .milliseconds(5))
    #expect(ThreadName.current == "hb-test-long")
  }
}
