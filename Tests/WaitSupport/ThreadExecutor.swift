import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A task executor with one thread of its own. A task that prefers it
/// (`withTaskExecutorPreference`) runs its nonisolated code there, so a test body that blocks
/// (`Thread.sleep`, a semaphore, a synchronous poll loop, a long computation) holds this thread
/// and not one of the cooperative pool's.
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
  private let condition = NSCondition()
  private var jobs: [UnownedJob] = []
  private var finished = false

  /// `lowestPriority`: the thread gets the CPU mostly when nothing else wants it (Linux's
  /// SCHED_IDLE, which holds whatever nice value the process runs at, and nice 19 besides).
  init(name: String, lowestPriority: Bool = false) {
    let thread = Thread { [self] in
      ThreadName.set(name)
      #if canImport(Glibc)
        if lowestPriority {
          // On Linux both apply to the calling thread only.
          var parameters = sched_param()
          _ = sched_setscheduler(0, ThreadExecutor.idlePolicy, &parameters)
          _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        }
      #endif
      runJobs()
    }
    // What the cooperative pool's threads have: a test's synchronous calls run on this stack.
    thread.stackSize = 8 << 20
    thread.start()
  }

  /// SCHED_IDLE (glibc names it only for _GNU_SOURCE).
  static let idlePolicy: Int32 = 5

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  /// Lets the thread end once it has run every job enqueued so far.
  func finish() {
    condition.lock()
    finished = true
    condition.signal()
    condition.unlock()
  }

  private func runJobs() {
    while true {
      condition.lock()
      while jobs.isEmpty && !finished { condition.wait() }
      if jobs.isEmpty {
        condition.unlock()
        return
      }
      let job = jobs.removeFirst()
      condition.unlock()
      job.runSynchronously(on: asUnownedTaskExecutor())
    }
  }
}
