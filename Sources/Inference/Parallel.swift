import CDNNL

/// Splits the encoder's products, element-wise work and attention over GNU OpenMP's threads
/// (`GOMP_parallel`), the pool oneDNN's attention products also run on: one pool, its threads
/// already awake from the previous step, rather than two competing for the cores.
struct Parallel {
  let threads: Int

  /// Rows that are not worth waking a second thread for: a row of LayerNorm is a fraction of a
  /// microsecond on AVX2, a parallel region a few microseconds.
  static let minimumRowsPerThread = 16

  /// Runs `body` on contiguous slices of `0..<count` rows, one per thread.
  func rows(_ count: Int, _ body: (Range<Int>) -> Void) {
    split(count, minimumPerThread: Self.minimumRowsPerThread, body)
  }

  /// Runs `body` on contiguous slices of `0..<count`, one per thread, each of at least
  /// `minimumPerThread` items (fewer threads where there are too few items).
  func split(_ count: Int, minimumPerThread: Int, _ body: (Range<Int>) -> Void) {
    let team = min(threads, count / minimumPerThread)
    guard team > 1 else {
      body(0..<count)
      return
    }
    Self.run(team) { thread in
      body(count * thread / team..<count * (thread + 1) / team)
    }
  }

  /// Runs `body(item, thread)` for every item of `costs.indices`, the items split into one
  /// contiguous run per thread of about equal total cost; on one thread when the total is below
  /// `minimumCost`.
  func items(costs: [Int], minimumCost: Int = 0, _ body: (Int, Int) -> Void) {
    let count = costs.count
    let total = costs.reduce(0, +)
    let team = total < minimumCost ? 1 : min(threads, count)
    guard team > 1 else {
      for item in 0..<count { body(item, 0) }
      return
    }
    var bounds = [0]
    var running = 0
    for (item, cost) in costs.enumerated() where bounds.count < team {
      running += cost
      if running * team >= total * bounds.count { bounds.append(item + 1) }
    }
    while bounds.count <= team { bounds.append(count) }
    bounds[team] = count
    Self.run(team) { thread in
      for item in bounds[thread]..<bounds[thread + 1] { body(item, thread) }
    }
  }

  /// `body(thread)` on `team` threads, the calling one as thread 0; returns when all are done.
  private static func run(_ team: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
      var context = body
      withUnsafeMutablePointer(to: &context) { pointer in
        GOMP_parallel(
          { raw in
            let body = raw!.assumingMemoryBound(to: ((Int) -> Void).self).pointee
            body(Int(omp_get_thread_num()))
          }, pointer, UInt32(team), 0)
      }
    }
  }
}
