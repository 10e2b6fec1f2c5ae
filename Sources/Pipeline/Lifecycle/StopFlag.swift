import PipelineCore
import Synchronization

/// Asks a running service to stop: it stops taking input, finishes what it holds, commits and
/// leaves. Set from a signal handler or a test.
public final class StopFlag: Sendable {
  private let flag = Atomic<Bool>(false)

  public init() {}

  public var isSet: Bool { flag.load(ordering: .acquiring) }

  public func set() { flag.store(true, ordering: .releasing) }
}
