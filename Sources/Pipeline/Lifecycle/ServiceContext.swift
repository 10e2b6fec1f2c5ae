import Foundation
import PipelineCore
import Synchronization

/// What a running service is given: the flag that asks it to stop, and a way to say it is ready
/// (serving: partitions assigned, a plan in hand) or to wait for the others of its group.
public struct ServiceContext: Sendable {
  public let name: String
  public let stop: StopFlag
  let board: ReadinessBoard
  /// What this service last told the board: stages say it once per loop, that is per record, and
  /// the board takes a lock and hashes the name each time; a repeat is dropped here instead.
  private let told = ToldState()

  /// A context for a service that runs alone.
  public init(name: String, stop: StopFlag = StopFlag()) {
    self.init(name: name, stop: stop, board: ReadinessBoard(names: [name]))
  }

  init(name: String, stop: StopFlag, board: ReadinessBoard) {
    self.name = name
    self.stop = stop
    self.board = board
  }

  public var isStopping: Bool { stop.isSet }

  /// Marks this service ready; calling it again does nothing.
  public func ready() {
    guard !told.ready.load(ordering: .relaxed) else { return }
    board.markReady(name)
    told.ready.store(true, ordering: .relaxed)
  }

  /// Says whether this service's Kafka cluster answers: while it does not, the service is not
  /// ready (`/readyz` 503), whatever it said before; it is again once the cluster answers.
  public func clusterReachable(_ reachable: Bool) {
    let value: UInt8 = reachable ? 1 : 2
    guard told.reachable.exchange(value, ordering: .relaxed) != value else { return }
    board.markReachable(name, reachable)
  }

  /// Whether this service has said it is ready.
  public var isReady: Bool { board.isReady(name) }

  /// Waits until every other service of the group is ready; false when the timeout passed or
  /// this service was asked to stop first.
  public func waitUntilOthersReady(timeout: Duration) -> Bool {
    board.waitUntilReady(except: name, timeout: timeout, unless: stop)
  }

  /// The other services of the group that have not said they are ready.
  public var othersNotReady: [String] {
    board.snapshot.filter { $0.name != name && !$0.ready }.map(\.name)
  }

  /// Blocks until this service is asked to stop.
  public func waitForStop() {
    while !stop.isSet { board.waitForChange(upTo: .milliseconds(100)) }
  }
}

/// Which services of a group are ready, with a condition to wait on.
// @unchecked: every field is read and written under `condition`.
final class ReadinessBoard: @unchecked Sendable {
  private let condition = NSCondition()
  private let names: [String]
  private var ready: Set<String> = []
  /// Services whose cluster does not answer now: not ready until it does.
  private var unreachable: Set<String> = []
  private let onAllReady: @Sendable () -> Void

  /// `onAllReady` is called once, when the last of `names` becomes ready.
  init(names: [String], onAllReady: @escaping @Sendable () -> Void = {}) {
    self.names = names
    self.onAllReady = onAllReady
  }

  func markReady(_ name: String) {
    condition.lock()
    guard ready.insert(name).inserted else {
      condition.unlock()
      return
    }
    let all = ready.count == names.count
    condition.broadcast()
    condition.unlock()
    if all { onAllReady() }
  }

  func markReachable(_ name: String, _ reachable: Bool) {
    condition.lock()
    defer { condition.unlock() }
    if reachable { unreachable.remove(name) } else { unreachable.insert(name) }
  }

  func isReady(_ name: String) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    return ready.contains(name)
  }

  /// Services and whether each is ready, in the group's order.
  var snapshot: [(name: String, ready: Bool)] {
    condition.lock()
    defer { condition.unlock() }
    return names.map { ($0, ready.contains($0) && !unreachable.contains($0)) }
  }

  func waitUntilReady(except name: String, timeout: Duration, unless stop: StopFlag) -> Bool {
    let deadline = ContinuousClock.now + timeout
    condition.lock()
    defer { condition.unlock() }
    while !names.allSatisfy({ $0 == name || ready.contains($0) }) {
      if stop.isSet || ContinuousClock.now >= deadline { return false }
      // Stop flags are set without this lock: look again at least every 100 ms.
      _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
    }
    return true
  }

  /// Wakes when anything changes, or after `interval`.
  func waitForChange(upTo interval: Duration) {
    condition.lock()
    defer { condition.unlock() }
    _ = condition.wait(until: Date(timeIntervalSinceNow: interval.seconds))
  }

  /// Wakes every waiter (a stop flag was set).
  func poke() {
    condition.lock()
    condition.broadcast()
    condition.unlock()
  }
}

/// What a service last told its readiness board (`ServiceContext`).
private final class ToldState: Sendable {
  let ready = Atomic<Bool>(false)
  /// 0: nothing yet, 1: reachable, 2: not.
  let reachable = Atomic<UInt8>(0)
}
