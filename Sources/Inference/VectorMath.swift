/// The encoder's element-wise kernels, written on 16-lane SIMD vectors so that they vectorise
/// whatever the target (a reduction written as a plain `+=` loop stays scalar, since reordering
/// a float sum changes it). The binary targets baseline x86-64, where a 16-lane operation is four
/// SSE instructions; the products, where the time goes, run oneDNN kernels generated at run time
/// for the machine's own vector units.
enum VectorMath {
  typealias Vector = SIMD16<Float>
  /// The lanes' bit patterns (a comparison's mask has the same layout: all ones or all zeros).
  typealias Bits = SIMD16<UInt32>
  static let width = Vector.scalarCount

  @inline(__always)
  static func load(_ p: UnsafePointer<Float>) -> Vector {
    UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
  }

  @inline(__always)
  static func store(_ value: Vector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: value, as: Vector.self)
  }

  /// `Σ aᵢ·bᵢ` over `count` elements, a multiple of 16 (every width here is).
  @inline(__always)
  static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    assert(count % width == 0)
    var total = Vector()
    for i in stride(from: 0, to: count, by: width) { total += load(a + i) * load(b + i) }
    return total.sum()
  }

  /// `Σ aᵢ` over `count` elements, a multiple of 16.
  @inline(__always)
  static func sum(_ a: UnsafePointer<Float>, count: Int) -> Float {
    assert(count % width == 0)
    var total = Vector()
    for i in stride(from: 0, to: count, by: width) { total += load(a + i) }
    return total.sum()
  }

  /// `eˣ` for `x ≤ 0` (below -87 it returns about 2⁻¹²⁶): `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`,
  /// `eʳ` by its Taylor polynomial to r⁶ (relative error below 2e-7), `2ⁿ` built in the exponent
  /// bits. libm's expf is a call per element.
  @inline(__always)
  static func exponentOfNonPositive(_ x: Vector) -> Vector {
    let clamped = maximum(x, Vector(repeating: -87))
    // Adding 1.5·2²³ rounds x·log₂e to an integer held in the low bits of the mantissa.
    let magic = Vector(repeating: 12_582_912)
    let shifted: Vector = clamped * 1.442_695_04 + magic
    let n: Vector = shifted - magic
    let r: Vector = clamped - n * 0.693_145_75 - n * 1.428_606_8e-6
    var series: Vector = r * 0.001_388_89 + 0.008_333_361
    series = series * r + 0.041_666_668
    series = series * r + 0.166_666_67
    series = series * r + 0.5
    series = series * r + 1
    series = series * r + 1
    let bits = unsafeBitCast(shifted, to: Bits.self)
    let power = unsafeBitCast((bits &- 0x4B40_0000 &+ 127) &<< 23, to: Vector.self)
    return series * power
  }

  /// `|x|`, lane by lane (the sign bit cleared).
  @inline(__always)
  static func magnitude(_ x: Vector) -> Vector {
    unsafeBitCast(unsafeBitCast(x, to: Bits.self) & 0x7FFF_FFFF, to: Vector.self)
  }

  /// The larger of `a` and `b`, lane by lane, as a comparison and a bitwise blend: the
  /// standard library's `pointwiseMax` and `replacing(with:where:)` are generic lane-by-lane
  /// loops that do not vectorise.
  @inline(__always)
  static func maximum(_ a: Vector, _ b: Vector) -> Vector {
    let mask = unsafeBitCast(a .> b, to: Bits.self)
    let blend = (unsafeBitCast(a, to: Bits.self) & mask) | (unsafeBitCast(b, to: Bits.self) & ~mask)
    return unsafeBitCast(blend, to: Vector.self)
  }

  /// The scalar form of `exponentOfNonPositive` (the same arithmetic), for tails.
  @inline(__always)
  static func exponentOfNonPositive(_ x: Float) -> Float {
    exponentOfNonPositive(Vector(repeating: x))[0]
  }

  /// Softmax of one row of `count` scores, in place.
  static func softmax(_ row: UnsafeMutablePointer<Float>, count: Int) {
    let whole = count / width * width
    var peaks = Vector(repeating: -.infinity)
    for j in stride(from: 0, to: whole, by: width) { peaks = maximum(peaks, load(row + j)) }
    var peak = peaks.max()
    for j in whole..<count { peak = max(peak, row[j]) }
    var sums = Vector()
    for j in stride(from: 0, to: whole, by: width) {
      let value = exponentOfNonPositive(load(row + j) - peak)
      store(value, row + j)
      sums += value
    }
    var total = sums.sum()
    for j in whole..<count {
      row[j] = exponentOfNonPositive(row[j] - peak)
      total += row[j]
    }
    let inverse = 1 / total
    for j in 0..<count { row[j] *= inverse }
  }

  /// `x = GELU(x + bias)` over `count` elements, a multiple of 16. GELU is
  /// `x · Φ(x) = x/2 · (1 + erf(x/√2))`, with erf from Abramowitz & Stegun 7.1.26 (absolute
  /// error ≤ 1.5e-7, below float32's resolution of the result): a polynomial and one exponential.
  static func addBiasAndGELU(
    _ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, count: Int
  ) {
    assert(count % width == 0)
    for i in stride(from: 0, to: count, by: width) {
      let value = load(x + i) + load(bias + i)
      let z: Vector = magnitude(value) * 0.707_106_77
      let t: Vector = 1 / (z * 0.327_591_1 + 1)
      var poly: Vector = t * 1.061_405_429 - 1.453_152_027
      poly = poly * t + 1.421_413_741
      poly = poly * t - 0.284_496_736
      poly = poly * t + 0.254_829_592
      poly = poly * t
      let erfAbs: Vector = 1 - poly * exponentOfNonPositive(-(z * z))
      // erf(x) takes the sign of x.
      let sign = unsafeBitCast(value, to: Bits.self) & 0x8000_0000
      let erf = unsafeBitCast(unsafeBitCast(erfAbs, to: Bits.self) | sign, to: Vector.self)
      store(0.5 * value * (1 + erf), x + i)
    }
  }
}
