import CDNNL
import CXSMM

/// `C (+)= A·B` for matrices in column-major order — A m×k, B k×n, C m×n, with leading
/// dimensions `lda`, `ldb`, `ldc` — by a LIBXSMM kernel generated for the shape and this CPU's
/// vector units. LIBXSMM keeps every kernel it generates, so making a `SmallProduct` again for
/// a shape is a table lookup. Where LIBXSMM generates no code (a CPU it does not know), the
/// same product by oneDNN's general `dnnl_sgemm`.
///
/// Row-major callers read it transposed: a row-major [rows, columns] matrix with rows `ld`
/// apart is the column-major [columns, rows] matrix with leading dimension `ld`.
struct SmallProduct {
  let m: Int
  let n: Int
  let k: Int
  let lda: Int
  let ldb: Int
  let ldc: Int
  let accumulate: Bool
  private let kernel: UnsafeRawPointer?

  /// `generated: false` takes oneDNN's product even where LIBXSMM has a kernel (for tests).
  init(
    m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int, accumulate: Bool = false,
    generated: Bool = true
  ) {
    self.m = m
    self.n = n
    self.k = k
    self.lda = lda
    self.ldb = ldb
    self.ldc = ldc
    self.accumulate = accumulate
    kernel =
      generated
      ? hb_xsmm_dispatch(
        Int32(m), Int32(n), Int32(k), Int32(lda), Int32(ldb), Int32(ldc), accumulate ? 1 : 0)
      : nil
  }

  /// Whether LIBXSMM generated code for this shape on this CPU.
  var isGenerated: Bool { kernel != nil }

  @inline(__always)
  func run(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
    if let kernel {
      hb_xsmm_run(kernel, a, b, c)
      return
    }
    // Column-major C = A·B is row-major Cᵀ = Bᵀ·Aᵀ, which is what dnnl_sgemm takes.
    let status = dnnl_sgemm(
      CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")), dnnl_dim_t(n), dnnl_dim_t(m),
      dnnl_dim_t(k), 1, b, dnnl_dim_t(ldb), a, dnnl_dim_t(lda), accumulate ? 1 : 0, c,
      dnnl_dim_t(ldc))
    precondition(status == dnnl_success, "dnnl_sgemm failed with status \(status.rawValue)")
  }

  /// The instruction set LIBXSMM generates kernels for on this CPU: "hsw" for AVX2, "skx",
  /// "clx", "cpx" or "spr" for generations of AVX-512, "generic" where it generates none.
  static var targetArchitecture: String {
    String(cString: libxsmm_get_target_arch())
  }
}
