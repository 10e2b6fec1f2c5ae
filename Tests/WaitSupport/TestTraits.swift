import Testing

/// Why a test runs where it runs. swift-testing starts a test's clock when it starts the test,
/// and runs every test body on Swift's cooperative pool, which has one thread per core (two on
/// the machine the suite is measured on). A test that blocks one of those threads — sleeping,
/// waiting on a lock or a semaphore, polling a Kafka consumer, computing for a minute — keeps
/// every other test from starting and from resuming after an `await`, and all of them report the
/// time they spent waiting for a thread (every test of the suite once reported about 385 s). So:
///
/// - `.onOwnThread`: each test runs on a thread of its own (its own task executor), for tests
///   whose bodies block: they may, without holding the pool.
/// - `.computesLong` (`ComputeTurnTrait`), on a `.serialized` suite of pure computations of
///   seconds to minutes (exhaustive searches, long simulations): the suite waits for a turn of its
///   own among such suites, then its tests run one by one on a thread at the lowest priority.
/// - `.startsServices` (`ServiceTurnTrait`): the suite runs in a turn among the suites that start
///   brokers, services or processes — two at a time, instead of all at once starving each other
///   of the two cores and missing their session timeouts; `.startsServices(alone: true)` waits
///   for a turn with no other, nor a `.computesLong` suite (the suites that measure SLOs).
///
/// A suite's turn is taken before its tests start: only the suite's own time includes the wait.
public struct OwnThreadTrait: TestTrait, SuiteTrait, TestScoping {
  /// Each test (each case of a parameterised one) gets its own thread.
  public var isRecursive: Bool { true }

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    let executor = ThreadExecutor(name: "hb-test-own")
    defer { executor.finish() }
    try await withTaskExecutorPreference(executor) { try await function() }
  }
}

extension Trait where Self == OwnThreadTrait {
  /// Each test on a thread of its own: its body may block.
  public static var onOwnThread: Self { OwnThreadTrait() }
}

/// See `OwnThreadTrait`: a suite of long computations, one such suite at a time, its tests on a
/// thread at the lowest priority (with `.serialized`, one by one, each timed from its own start).
public struct ComputeTurnTrait: SuiteTrait, TestScoping {
  public var isRecursive: Bool { false }

  static let turns = Turns(width: 1)

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    try await Self.turns.inTurn {
      let executor = ThreadExecutor(name: "hb-test-long", lowestPriority: true)
      defer { executor.finish() }
      try await withTaskExecutorPreference(executor) { try await function() }
    }
  }
}

extension Trait where Self == ComputeTurnTrait {
  /// Long pure computations: the suite in a turn of its own, on a thread at the lowest priority.
  public static var computesLong: Self { ComputeTurnTrait() }
}

/// See `OwnThreadTrait`: suites (or tests) that start brokers, services or processes take turns.
public struct ServiceTurnTrait: TestTrait, SuiteTrait, TestScoping {
  /// How many of the turns' places it takes: one, or all of them (alone).
  let places: Int

  /// The whole suite in one turn (its tests inside it), not a turn per test.
  public var isRecursive: Bool { false }

  static let turns = Turns(width: 2)
  /// Whether this task already holds a turn (a test of a suite that took one).
  @TaskLocal static var holdsTurn = false

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    if Self.holdsTurn { return try await function() }
    try await Self.turns.inTurn(places) {
      try await Self.$holdsTurn.withValue(true) {
        // Alone: no long computation beside it either (on two vCPUs, even one at the lowest
        // priority shares a core's caches, or the core itself).
        if places < Self.turns.width {
          try await function()
        } else {
          try await ComputeTurnTrait.turns.inTurn { try await function() }
        }
      }
    }
  }
}

extension Trait where Self == ServiceTurnTrait {
  /// Starts brokers, services or processes: runs in a turn among those that do, two at a time.
  public static var startsServices: Self { ServiceTurnTrait(places: 1) }

  /// `alone`: in a turn with no other suite that starts services, nor one of long computations.
  public static func startsServices(alone: Bool) -> Self {
    ServiceTurnTrait(places: alone ? ServiceTurnTrait.turns.width : 1)
  }
}
