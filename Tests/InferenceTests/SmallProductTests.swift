import Testing

@testable import Inference

/// The products behind the encoder's projections and attention against the definition.
@Suite struct SmallProductTests {
  /// A deterministic matrix of `count` values in [-1, 1).
  static func values(_ count: Int, seed: Int) -> [Float] {
    (0..<count).map { Float(($0 * 7919 + seed * 104_729) % 2001) / 1000 - 1 }
  }

  @Test(arguments: [true, false])
  func aColumnMajorProductWithLeadingDimensionsMatchesTheDefinition(generated: Bool) {
    // A 5×3 (lda 7), B 3×4 (ldb 6), C 5×4 (ldc 9), accumulated onto C's values.
    let (m, n, k, lda, ldb, ldc) = (5, 4, 3, 7, 6, 9)
    let a = Self.values(lda * k, seed: 1)
    let b = Self.values(ldb * n, seed: 2)
    let start = Self.values(ldc * n, seed: 3)
    var c = start
    let product = SmallProduct(
      m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, accumulate: true, generated: generated)
    if generated { #expect(product.isGenerated, "LIBXSMM made no kernel on this CPU") }
    product.run(a, b, &c)
    for column in 0..<n {
      for row in 0..<m {
        var expected = start[row + column * ldc]
        for i in 0..<k { expected += a[row + i * lda] * b[i + column * ldb] }
        #expect(abs(c[row + column * ldc] - expected) < 1e-5)
      }
      // Rows past m within the leading dimension are left alone.
      for row in m..<ldc { #expect(c[row + column * ldc] == start[row + column * ldc]) }
    }
  }

  @Test(arguments: [1, 8, 33, 70], [1, 2])
  func aPackedLinearLayerMatchesXTimesWTransposed(rows: Int, threads: Int) {
    let (inputs, outputs) = (48, 96)
    let weight = Self.values(outputs * inputs, seed: 4)  // PyTorch's [outputs, inputs]
    let linear = PackedLinear(
      pytorch: weight, bias: [Float](repeating: 0, count: outputs), inputs: inputs,
      outputs: outputs)
    let x = Self.values(rows * inputs, seed: 5)
    var out = [Float](repeating: 0, count: rows * outputs)
    x.withUnsafeBufferPointer { x in
      out.withUnsafeMutableBufferPointer { out in
        linear.product(
          x.baseAddress!, rows: rows, into: out.baseAddress!, parallel: Parallel(threads: threads))
      }
    }
    var worst: Float = 0
    for row in 0..<rows {
      for output in 0..<outputs {
        var expected: Float = 0
        for input in 0..<inputs {
          expected += x[row * inputs + input] * weight[output * inputs + input]
        }
        worst = max(worst, abs(out[row * outputs + output] - expected))
      }
    }
    #expect(worst < 1e-4, "worst difference \(worst)")
  }

  @Test func theKernelsAreNamedForThisCPU() {
    #expect(["x86-64-v4", "x86-64-v3", "x86-64"].contains(VectorMath.variant))
    #expect(!SmallProduct.targetArchitecture.isEmpty)
  }
}
