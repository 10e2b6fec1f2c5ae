/// Waits for `condition` by checking it every `interval` until it holds or `timeout` passes, and
/// returns whether it held. Between checks the task is suspended (`Task.sleep`), so waiting holds
/// no thread: the cooperative pool has one thread per core (two here), and a test that sleeps on
/// one of them keeps every other test from starting or resuming. Tests assert the result, so a
/// slow machine fails loudly instead of passing by luck.
public func eventually(
  timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(20),
  _ condition: () async throws -> Bool
) async rethrows -> Bool {
  let clock = ContinuousClock()
  let deadline = clock.now + timeout
  while clock.now < deadline {
    if try await condition() { return true }
    do {
      try await Task.sleep(for: min(interval, max(.zero, deadline - clock.now)))
    } catch {
      break  // cancelled: one last look, no more waiting
    }
  }
  return try await condition()
}
