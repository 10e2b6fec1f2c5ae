import Dispatch
import PipelineCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// SIGINT and SIGTERM turned into calls of `handler` (with the signal and how many of them have
/// arrived so far), instead of the default "die at once", so that services can drain and leave.
/// `cancel()` gives the signals their default action back.
// @unchecked: `sources` is written once in init and afterwards only cancelled.
final class SignalTrap: @unchecked Sendable {
  private var sources: [any DispatchSourceSignal] = []
  private let count = Atomic<Int>(0)

  init(_ handler: @escaping @Sendable (_ signal: Int32, _ count: Int) -> Void) {
    let queue = DispatchQueue(label: "harmonybatch-signals")
    let made: [any DispatchSourceSignal] = [SIGINT, SIGTERM].map { number in
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler { [weak self] in
        guard let self else { return }
        handler(number, count.add(1, ordering: .relaxed).newValue)
      }
      source.resume()
      return source
    }
    sources = made
  }

  func cancel() {
    for source in sources { source.cancel() }
    for number in [SIGINT, SIGTERM] { signal(number, SIG_DFL) }
  }

  static func name(_ number: Int32) -> String {
    switch number {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    default: "signal \(number)"
    }
  }
}
