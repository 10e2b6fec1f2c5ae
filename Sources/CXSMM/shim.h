// LIBXSMM (Debian: libxsmm-dev 1.17, a static library): matrix products of small shapes with
// kernels generated at run time for the CPU's vector units (SSE, AVX, AVX2, AVX-512), called
// without the packing and set-up a general matrix product pays on every call. The encoder keeps
// each weight in column panels (`Linear`) and runs one generated kernel per panel
// (`PanelKernel`). libxsmmnoblas satisfies the BLAS symbols that libxsmm's fallback references;
// the encoder never takes that fallback (it asks only for kernels and checks it got one).
#include <libxsmm.h>

// A generated kernel's declared type is variadic (some variants take prefetch pointers), which
// Swift cannot call; these two pass kernels to Swift as opaque pointers and call them.

// The kernel for C (+)= A·B in column-major order: A m×k (leading dimension lda), B k×n (ldb),
// C m×n (ldc); C = A·B when accumulate is 0, C += A·B otherwise. NULL where LIBXSMM generates
// no code for the shape or the CPU.
static inline const void *hb_xsmm_dispatch(
    int m, int n, int k, int lda, int ldb, int ldc, int accumulate) {
  const libxsmm_blasint lda_ = lda, ldb_ = ldb, ldc_ = ldc;
  const float alpha = 1, beta = accumulate ? 1 : 0;
  const int flags = LIBXSMM_GEMM_FLAGS('N', 'N');
  const int prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
  return (const void *)libxsmm_smmdispatch(
      m, n, k, &lda_, &ldb_, &ldc_, &alpha, &beta, &flags, &prefetch);
}

static inline void hb_xsmm_run(const void *kernel, const float *a, const float *b, float *c) {
  ((libxsmm_smmfunction)kernel)(a, b, c);
}
