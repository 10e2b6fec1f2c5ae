/// Turns at something only one may do at a time, handed out in the order asked for. Waiting
/// suspends the task; it holds no thread.
actor Turns {
  private var taken = false
  private var waiting: [CheckedContinuation<Void, Never>] = []

  func take() async {
    guard taken else {
      taken = true
      return
    }
    await withCheckedContinuation { waiting.append($0) }
  }

  func give() {
    if waiting.isEmpty {
      taken = false
    } else {
      waiting.removeFirst().resume()
    }
  }

  /// Runs `body` in a turn of its own.
  nonisolated func inTurn(_ body: () async throws -> Void) async throws {
    await take()
    do {
      try await body()
    } catch {
      await give()
      throw error
    }
    await give()
  }
}
