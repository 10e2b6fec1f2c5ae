/// Turns at something only `width` may do at once, handed out in the order asked for (one who
/// asks for all of them waits for everyone before it to finish, and no one after it passes it).
/// Waiting suspends the task; it holds no thread.
actor Turns {
  let width: Int
  private var taken = 0
  private var waiting: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

  init(width: Int = 1) { self.width = width }

  /// `count`: how many of the `width` places this turn needs (all of them: alone).
  func take(_ count: Int = 1) async {
    let count = min(max(count, 1), width)
    if waiting.isEmpty && taken + count <= width {
      taken += count
      return
    }
    await withCheckedContinuation { waiting.append((count, $0)) }
  }

  /// How many wait for a turn.
  var waitingCount: Int { waiting.count }

  func give(_ count: Int = 1) {
    taken -= min(max(count, 1), width)
    while let next = waiting.first, taken + next.count <= width {
      waiting.removeFirst()
      taken += next.count
      next.continuation.resume()
    }
  }

  /// Runs `body` in a turn of `count` places.
  nonisolated func inTurn(_ count: Int = 1, _ body: () async throws -> Void) async throws {
    await take(count)
    do {
      try await body()
    } catch {
      await give(count)
      throw error
    }
    await give(count)
  }
}
