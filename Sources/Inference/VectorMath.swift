import EncoderKernels

/// The encoder's element-wise kernels. They are C (`EncoderKernels`), compiled for AVX-512,
/// AVX2 with FMA and baseline x86-64, and the widest variant the CPU runs is chosen when the
/// binary loads (`variant` names it): Swift compiles a binary for one instruction set, and the
/// baseline's 128-bit vectors took twice the instructions of AVX2's on the machines that have it.
enum VectorMath {
  /// The instruction set of the variant chosen on this CPU: "x86-64-v4" (AVX-512),
  /// "x86-64-v3" (AVX2, FMA) or "x86-64".
  static var variant: String { String(cString: hb_encoder_kernels_variant()) }

  /// `eˣ` for `x ≤ 0` (below -87 about 2⁻¹²⁶), relative error below 2e-6.
  static func exponentOfNonPositive(_ x: Float) -> Float {
    var x = x
    var out: Float = 0
    hb_exponent_of_nonpositive(&x, &out, 1)
    return out
  }

  /// Softmax of one row of `count` scores multiplied by `scale` (> 0), in place.
  @inline(__always)
  static func softmax(_ row: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
    hb_softmax(row, count, scale)
  }

  /// `x = GELU(x + bias)` over `count` elements, a multiple of 16; GELU with erf (absolute
  /// error ≤ 1.5e-7).
  @inline(__always)
  static func addBiasAndGELU(
    _ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, count: Int
  ) {
    hb_add_bias_gelu(x, bias, count)
  }

  /// `x = LayerNorm(x + residual + bias) · weight + shift` over one row of `count` elements (a
  /// multiple of 16), or LayerNorm of `x` alone without a residual.
  @inline(__always)
  static func addAndNormalize(
    _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>? = nil,
    bias: UnsafePointer<Float>? = nil, weight: UnsafePointer<Float>, shift: UnsafePointer<Float>,
    count: Int, epsilon: Float
  ) {
    precondition((residual == nil) == (bias == nil), "a residual comes with its bias")
    hb_add_and_layer_norm(x, residual, bias, weight, shift, count, epsilon)
  }
}
