import Foundation
import Synchronization
import Testing

@testable import Inference

/// The encoder's element-wise kernels against Foundation's `exp` and `erf` in double precision.
@Suite struct VectorMathTests {
  @Test func theExponentIsWithinTwoMillionthsOfExp() {
    var worst = 0.0
    for step in 0...20_000 {
      let x = -Float(step) * 0.004  // 0 down to -80
      let ours = Double(VectorMath.exponentOfNonPositive(x))
      let exact = Foundation.exp(Double(x))
      worst = max(worst, abs(ours - exact) / exact)
    }
    #expect(worst < 2e-6, "worst relative error \(worst)")
    // Far below float's range it flushes towards zero rather than wrapping around.
    #expect(VectorMath.exponentOfNonPositive(Float(-1000)) < 1e-37)
  }

  @Test func geluWithItsBiasMatchesTheErfDefinition() {
    let count = 1536
    var x = (0..<count).map { Float($0 - count / 2) / 96 }  // -8 to 8
    let bias = (0..<count).map { Float($0 % 7) / 50 - 0.06 }
    let inputs = zip(x, bias).map { Double($0) + Double($1) }
    x.withUnsafeMutableBufferPointer { x in
      bias.withUnsafeBufferPointer { bias in
        VectorMath.addBiasAndGELU(x.baseAddress!, bias.baseAddress!, count: count)
      }
    }
    var worst = 0.0
    for (ours, input) in zip(x, inputs) {
      let exact = input * 0.5 * (1 + Foundation.erf(input / 2.0.squareRoot()))
      worst = max(worst, abs(Double(ours) - exact))
    }
    #expect(worst < 2e-6, "worst absolute error \(worst)")
  }

  @Test(arguments: [1, 7, 16, 33, 128, 250], [1, 0.176_776_7])
  func softmaxMatchesTheDefinitionAtEveryLength(count: Int, scale: Float) {
    var row = (0..<count).map { Float(($0 * 37) % 23) / 3 - 4 }
    let peak = Double(row.max()!)
    let exps = row.map { Foundation.exp((Double($0) - peak) * Double(scale)) }
    let total = exps.reduce(0, +)
    row.withUnsafeMutableBufferPointer {
      VectorMath.softmax($0.baseAddress!, count: count, scale: scale)
    }
    for (ours, e) in zip(row, exps) {
      #expect(abs(Double(ours) - e / total) < 1e-6)
    }
  }

  @Test func layerNormOfARowWithItsResidualMatchesTheDefinition() {
    let count = 384
    var x = (0..<count).map { Float(($0 * 31) % 17) / 4 - 2 }
    let residual = (0..<count).map { Float(($0 * 13) % 11) / 8 - 0.7 }
    let bias = (0..<count).map { Float($0 % 5) / 10 }
    let weight = (0..<count).map { 0.5 + Float($0 % 3) / 4 }
    let shift = (0..<count).map { Float($0 % 7) / 20 - 0.1 }
    let sum = (0..<count).map { Double(x[$0]) + Double(residual[$0]) + Double(bias[$0]) }
    let mean = sum.reduce(0, +) / Double(count)
    let variance = sum.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(count)
    let expected = (0..<count).map {
      (sum[$0] - mean) / (variance + 1e-12).squareRoot() * Double(weight[$0]) + Double(shift[$0])
    }
    VectorMath.addAndNormalize(
      &x, residual: residual, bias: bias, weight: weight, shift: shift, count: count,
      epsilon: 1e-12)
    let worst = zip(x, expected).map { abs(Double($0) - $1) }.max()!
    #expect(worst < 1e-5, "worst difference \(worst)")
  }

  @Test func parallelWorkCoversEveryItemOnceSplitByCost() {
    // Items 0-11 cost 10 each, 12-23 cost 1 (132 in all): the first thread's run ends where
    // the cost passes half, after item 6.
    let seen = Mutex<[(item: Int, thread: Int)]>([])
    let costs = (0..<24).map { $0 < 12 ? 10 : 1 }
    Parallel(threads: 2).items(costs: costs) { item, thread in
      seen.withLock { $0.append((item, thread)) }
    }
    let pairs = seen.withLock { $0 }
    #expect(pairs.map(\.item).sorted() == Array(0..<24))
    #expect(pairs.filter { $0.thread == 0 }.map(\.item).sorted() == Array(0..<7))
    #expect(pairs.filter { $0.thread == 1 }.map(\.item).sorted() == Array(7..<24))
    // Rows: contiguous slices, every row once.
    let slices = Mutex<[Range<Int>]>([])
    Parallel(threads: 2).rows(40) { range in slices.withLock { $0.append(range) } }
    #expect(slices.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound } == [0..<20, 20..<40])
    // Too few rows, or too little attention, to wake a second thread for: one slice, one run.
    slices.withLock { $0 = [] }
    Parallel(threads: 2).rows(10) { range in slices.withLock { $0.append(range) } }
    #expect(slices.withLock { $0 } == [0..<10])
    let threads = Mutex<Set<Int>>([])
    Parallel(threads: 2).items(costs: [5, 5, 5], minimumCost: 16) { _, thread in
      threads.withLock { _ = $0.insert(thread) }
    }
    #expect(threads.withLock { $0 } == [0])
  }
}
