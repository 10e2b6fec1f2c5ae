/// A linear layer `y = x·W + b` whose weight is kept in column panels, and its product over
/// packed rows.
///
/// Panel `p` holds outputs `p·w ..< (p+1)·w` (w = `panelWidth`) for every input, as an
/// [inputs, w] row-major block, one panel after the other: a product reads the weight front to
/// back, each panel once per block of rows, and each panel's product is one LIBXSMM kernel
/// generated for this CPU (`SmallProduct`). Against oneDNN 2.6's `dnnl_sgemm` on the whole
/// weight (its general driver copies blocks of the weight into packed buffers on every call):
/// 5-30 % less time for the six layers' products at 8 rows on a Zen 3 with AVX2, and less at
/// every row count tried up to 256 (docs/performance.md).
struct PackedLinear: Sendable {
  /// Outputs per panel: four AVX2 (two AVX-512) vectors, and a panel of 384 inputs is 48 KiB,
  /// about what a core's L1 and L2 keep while a block of rows streams past it.
  static let panelWidth = 32
  /// Rows per kernel call: a block of 32 rows of 1,536 inputs (192 KiB) stays in L2 while the
  /// panels stream.
  static let rowBlock = 32

  let panels: [Float]
  let bias: [Float]
  let inputs: Int
  let outputs: Int

  /// From PyTorch's layout, `y = x Wᵀ + b` with `weight` [outputs, inputs].
  init(pytorch weight: [Float], bias: [Float], inputs: Int, outputs: Int) {
    let w = Self.panelWidth
    precondition(outputs % w == 0, "a linear layer of \(outputs) outputs, not a multiple of \(w)")
    var panels = [Float](repeating: 0, count: weight.count)
    for output in 0..<outputs {
      let panel = output / w
      let column = output % w
      for input in 0..<inputs {
        panels[(panel * inputs + input) * w + column] = weight[output * inputs + input]
      }
    }
    self.panels = panels
    self.bias = bias
    self.inputs = inputs
    self.outputs = outputs
  }

  /// `out = input · W` (or `out += input · W` when `accumulate`) for `rows` rows, the panels
  /// split over `parallel`'s threads; each thread then runs `finish` on the output columns it
  /// computed (for all rows), in the same parallel region.
  func product(
    _ input: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
    accumulate: Bool = false, parallel: Parallel, finish: ((Range<Int>) -> Void)? = nil
  ) {
    let w = Self.panelWidth
    let panelSize = inputs * w
    panels.withUnsafeBufferPointer { panels in
      let panels = panels.baseAddress!
      parallel.split(outputs / w, minimumPerThread: 2) { range in
        for first in stride(from: 0, to: rows, by: Self.rowBlock) {
          // Column-major, as LIBXSMM computes: the panel is A (w × inputs), the block of rows
          // B (inputs × rows), its slice of the output C (w × rows, `outputs` apart).
          let kernel = SmallProduct(
            m: w, n: min(Self.rowBlock, rows - first), k: inputs, lda: w, ldb: inputs,
            ldc: outputs, accumulate: accumulate)
          for panel in range {
            kernel.run(
              panels + panel * panelSize, input + first * inputs,
              out + first * outputs + panel * w)
          }
        }
        finish?(range.lowerBound * w..<range.upperBound * w)
      }
    }
  }
}
