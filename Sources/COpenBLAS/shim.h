// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). cblas.h there also declares
// openblas_set_num_threads and openblas_get_num_threads.
#include <cblas.h>
