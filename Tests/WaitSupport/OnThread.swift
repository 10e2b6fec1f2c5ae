import Foundation

/// Runs `body` on a thread of its own and suspends until it returns: for blocking work (a poll
/// loop over a C client, a semaphore, a child process's pipe) that must not hold one of the
/// cooperative pool's threads while it waits. `name`: the thread's (15 bytes of it on Linux).
public func onThread<T: Sendable>(
  _ name: String = "hb-test-block", _ body: @escaping @Sendable () throws -> T
) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    Thread.detachNewThread {
      ThreadName.set(name)
      continuation.resume(with: Result { try body() })
    }
  }
}

/// `onThread` for work that cannot fail.
public func onThread<T: Sendable>(
  _ name: String = "hb-test-block", _ body: @escaping @Sendable () -> T
) async -> T {
  await withCheckedContinuation { continuation in
    Thread.detachNewThread {
      ThreadName.set(name)
      continuation.resume(returning: body())
    }
  }
}
