/* SGEMM for the CPU backend: oneDNN's dnnl_sgemm, always on one thread.
 *
 * Why oneDNN and not a BLAS: measured on a Zen 5 core, one thread, the
 * shapes of VGG-11's small-plane convolutions (M 512, N 128-2048,
 * K 4608), dnnl_sgemm runs at 150-180 GFLOP/s (its JIT picks AVX-512 from
 * the CPU's features) while Debian's OpenBLAS 0.3.21 does not know the
 * model, falls back to its Haswell kernels and runs at 57-100 GFLOP/s
 * (docs/design.md, "CPU convolution engine").
 *
 * Why one thread: the callers split every product into a fixed number of
 * slices over their own OpenMP team, so the result never depends on the
 * thread count. oneDNN's OpenMP runtime would otherwise start a team of
 * its own when called from a team of one. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include <oneapi/dnnl/dnnl.h>

#include "cpu_internal.h"

void sr_cpu_sgemm(int trans_a, int trans_b, int m, int n, int k,
                  const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc)
{
    int saved = omp_get_max_threads();
    omp_set_num_threads(1); /* this thread's nested teams only */
    dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N',
                                  m, n, k, 1.0f, a, lda, b, ldb, beta, c,
                                  ldc);
    omp_set_num_threads(saved);
    if (st != dnnl_success) {
        /* Only a caller's bad dimensions or an allocation failure inside
         * oneDNN get here; neither can be recovered mid-step. */
        fprintf(stderr, "sinreq: internal error: dnnl_sgemm(%c%c, m %d, n %d, "
                "k %d) failed with status %d\n", trans_a ? 'T' : 'N',
                trans_b ? 'T' : 'N', m, n, k, (int)st);
        abort();
    }
}
