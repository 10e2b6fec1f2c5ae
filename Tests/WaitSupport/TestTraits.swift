import Testing

/// Why a test runs where it runs. swift-testing starts a test's clock when it starts the test,
/// and runs every test body on Swift's cooperative pool, which has one thread per core (two on
/// the machine the suite is measured on). A test that blocks one of those threads — sleeping,
/// waiting on a lock or a semaphore, polling a Kafka consumer, computing for a minute — keeps
/// every other test from starting and from resuming after an `await`, and all of them report the
/// time they spent waiting for a thread (every test once reported about 256 s). So:
///
/// - `.onOwnThread`: each test runs on a thread of its own (its own task executor), for tests
///   whose bodies block: they may, without holding the pool.
/// - `.computesLong`: as `.onOwnThread`, at the lowest priority (nice 19), and one such test at a
///   time, for pure computations of seconds to minutes (exhaustive searches, long simulations):
///   at most one core goes to them, and the tests that measure time come first.
/// - `.startsServices`: the suite runs in a turn of its own among the suites that start brokers,
///   services or processes — they take turns instead of all starting at once and starving each
///   other of the two cores (and the demo's SLOs are measured without a fault suite beside it).
///   On a suite its tests keep their own order (`.serialized` or not) inside the turn; on a test,
///   the test alone takes the turn.
public struct OwnThreadTrait: TestTrait, SuiteTrait, TestScoping {
  /// The thread's nice value, or nil for the process's.
  let niceness: Int32?
  /// At most one at a time (with the others that say so).
  let takesTurns: Bool

  /// Each test (each case of a parameterised one) gets its own thread.
  public var isRecursive: Bool { true }

  static let computeTurns = Turns()

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    if takesTurns {
      try await Self.computeTurns.inTurn { try await onOwnThread(test, function) }
    } else {
      try await onOwnThread(test, function)
    }
  }

  private func onOwnThread(_ test: Test, _ function: () async throws -> Void) async throws {
    let executor = ThreadExecutor(
      name: niceness == nil ? "hb-test-own" : "hb-test-long", niceness: niceness)
    defer { executor.finish() }
    try await withTaskExecutorPreference(executor) { try await function() }
  }
}

extension Trait where Self == OwnThreadTrait {
  /// Each test on a thread of its own: its body may block.
  public static var onOwnThread: Self { OwnThreadTrait(niceness: nil, takesTurns: false) }

  /// A long pure computation: on a thread of its own at nice 19, one such test at a time.
  public static var computesLong: Self { OwnThreadTrait(niceness: 19, takesTurns: true) }
}

/// See `OwnThreadTrait`: suites (or tests) that start brokers, services or processes take turns.
public struct ServiceTurnTrait: TestTrait, SuiteTrait, TestScoping {
  /// The whole suite in one turn (its tests inside it), not a turn per test.
  public var isRecursive: Bool { false }

  static let turns = Turns()
  /// Whether this task already holds the turn (a test of a suite that took it).
  @TaskLocal static var holdsTurn = false

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    if Self.holdsTurn { return try await function() }
    try await Self.turns.inTurn {
      try await Self.$holdsTurn.withValue(true) { try await function() }
    }
  }
}

extension Trait where Self == ServiceTurnTrait {
  /// Starts brokers, services or processes: runs in a turn of its own among those that do.
  public static var startsServices: Self { ServiceTurnTrait() }
}
