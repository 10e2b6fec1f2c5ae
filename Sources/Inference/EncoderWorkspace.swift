/// The encoder's scratch buffers for one call: 64-byte aligned (what the products' AVX-512
/// loads like), grown when a batch needs more and kept for the next call.
final class EncoderWorkspace: @unchecked Sendable {
  // Unchecked: a workspace is used by one `embed` call at a time (the encoder pools them).
  // Six distinct buffers (`repeating:` would share one allocation).
  private var buffers = (0..<6).map { _ in Buffer() }
  private var scoreSize = 0
  private var scoreStride = 0

  /// The layer's input and output, [rows, 384].
  var x: UnsafeMutablePointer<Float> { buffers[0].pointer }
  /// Queries, keys and values, [rows, 3·384].
  var qkv: UnsafeMutablePointer<Float> { buffers[1].pointer }
  /// Attention's output before its projection, [rows, 384].
  var context: UnsafeMutablePointer<Float> { buffers[2].pointer }
  /// A projection's output before the residual, [rows, 384].
  var projected: UnsafeMutablePointer<Float> { buffers[3].pointer }
  /// The feed-forward's inner activations, [rows, 1536].
  var expanded: UnsafeMutablePointer<Float> { buffers[4].pointer }

  /// An aligned float buffer that only grows (a value, but the workspace frees it).
  struct Buffer {
    private(set) var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 16)
    private(set) var capacity = 16

    mutating func fit(_ count: Int) {
      guard count > capacity else { return }
      pointer.deallocate()
      let raw = UnsafeMutableRawPointer.allocate(
        byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
      pointer = raw.bindMemory(to: Float.self, capacity: count)
      capacity = count
    }

    func free() { pointer.deallocate() }
  }

  func fit(rows: Int, longest: Int, threads: Int) {
    let h = MiniLMEncoder.hidden
    for (index, width) in [h, 3 * h, h, h, MiniLMEncoder.intermediate].enumerated() {
      buffers[index].fit(rows * width)
    }
    // One longest² score matrix and one head's keys transposed per thread, each rounded to
    // whole cache lines so threads do not share one.
    scoreSize = (longest * longest + 15) / 16 * 16
    scoreStride = scoreSize + (MiniLMEncoder.headSize * longest + 15) / 16 * 16
    buffers[5].fit(scoreStride * threads)
  }

  /// A `longest²` score matrix for `thread`'s attention.
  func scores(thread: Int) -> UnsafeMutablePointer<Float> {
    buffers[5].pointer + thread * scoreStride
  }

  /// Room for one head's keys transposed, [32, longest], for `thread`'s attention.
  func transposedKeys(thread: Int) -> UnsafeMutablePointer<Float> {
    scores(thread: thread) + scoreSize
  }

  deinit {
    for buffer in buffers { buffer.free() }
  }
}
