import Testing

@testable import Pipeline

/// `worker --start-delay`: an emulated cold start, waited out on a virtual clock.
@Suite struct WorkerStartDelayTests {
  @Test func aColdStartIsWaitedOutInShortSleepsAndAStopEndsItAtOnce() {
    var now = Duration.zero
    var sleeps: [Duration] = []
    let done = WorkerService.waitOut(
      .milliseconds(2_350), stopped: { false }, elapsed: { now },
      sleep: {
        sleeps.append($0)
        now += $0
      })
    #expect(done)
    #expect(now == .milliseconds(2_350))
    #expect(sleeps.count == 24 && sleeps.allSatisfy { $0 <= .milliseconds(100) })

    // Asked to stop 1 s in: it says so after the sleep under way, not at the end of the delay.
    now = .zero
    let stopped = WorkerService.waitOut(
      .seconds(60), stopped: { now >= .seconds(1) }, elapsed: { now }, sleep: { now += $0 })
    #expect(!stopped)
    #expect(now == .seconds(1))

    // No delay: nothing waited.
    now = .zero
    #expect(
      WorkerService.waitOut(.zero, stopped: { false }, elapsed: { now }, sleep: { now += $0 }))
    #expect(now == .zero)
  }
}
