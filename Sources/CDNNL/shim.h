// oneDNN (Debian: libdnnl-dev 2.6): dnnl_sgemm, its row-major single-precision matrix product,
// and the CPU instruction set its kernels were generated for. Debian builds oneDNN on GNU
// OpenMP (libgomp), so a calling thread's OpenMP thread count is the product's thread count.
#include <oneapi/dnnl/dnnl.h>

// From GNU OpenMP's omp.h (GCC's private include directory, which the Swift toolchain's clang
// does not search). omp_set_num_threads sets the count for the calling thread's next parallel
// regions; the other two say, inside one, which thread of how many runs.
extern void omp_set_num_threads(int);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);
// GNU OpenMP's entry for `#pragma omp parallel` (what GCC compiles the pragma to; in libgomp's
// ABI since GCC 4.9): runs fn(data) on the calling thread and up to num_threads - 1 threads of
// the same pool oneDNN's products use, and returns when all are done. num_threads 0 means the
// calling thread's current count.
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
