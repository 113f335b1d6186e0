/* CPU backend internals: the backend and buffer structs, view helpers, the
 * scratch arena, deterministic reduction helpers and one entry point per op.
 *
 * Threading: every parallel loop is an OpenMP region with an explicit
 * num_threads(cb->threads); SGEMM runs on one thread per call and heavy GEMMs
 * are split into column slices inside those regions, so the two thread pools
 * never compete for the cores. */
#ifndef SINREQ_CPU_INTERNAL_H
#define SINREQ_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend_impl.h"

#define SR_CPU_ALIGN 64

/* Loops that the compiler vectorises well are built for several
 * instruction sets and the loader picks the best one the CPU has (GCC
 * function multiversioning). The clones compute the same operations in the
 * same order (no FMA contraction in C11 mode), so results do not change. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define SR_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SR_CPU_CLONES
#endif

/* Fixed reduction block (elements). Partial sums are taken per block in
 * float64 and combined in block order, so results do not depend on the
 * thread count or the schedule. */
#define SR_CPU_RED_BLOCK 8192

/* SINREQ_CPU_PROFILE: wall time per op kind (and conv shape). */
#define SR_CPU_PROF_MAX 128
#define SR_CPU_PROF_KEY 64
typedef struct sr_cpu_prof {
    char key[SR_CPU_PROF_KEY];
    double seconds;
    long calls;
} sr_cpu_prof;

typedef struct sr_cpu_backend {
    sr_backend base;   /* must stay first */
    int threads;       /* OpenMP team size for every parallel region */
    float *scratch;    /* grows on demand, reused across ops */
    size_t scratch_words;
    sr_cpu_prof *prof; /* NULL unless SINREQ_CPU_PROFILE is set */
    int prof_n;
} sr_cpu_backend;

typedef struct sr_cpu_buf {
    sr_buf base;       /* must stay first */
    float *data;       /* SR_CPU_ALIGN-aligned host memory */
} sr_cpu_buf;

static inline sr_cpu_backend *sr_cpu(sr_backend *be)
{
    return (sr_cpu_backend *)be;
}

/* Host pointer of a view; NULL for an absent operand (SR_NONE). */
static inline float *sr_cpu_f(sr_view v)
{
    return v.buf ? ((sr_cpu_buf *)v.buf)->data + v.off : NULL;
}

static inline uint32_t *sr_cpu_u(sr_view v)
{
    return v.buf ? (uint32_t *)((sr_cpu_buf *)v.buf)->data + v.off : NULL;
}

/* Scratch memory of at least `words` floats, valid until the next call. */
sr_status sr_cpu_scratch(sr_cpu_backend *cb, size_t words, float **out);

/* Column slice [*lo, *hi) of n columns for thread tid of nt, aligned to 16
 * so GEMM micro-kernels see full tiles except at the end. */
void sr_cpu_split(size_t n, int tid, int nt, size_t *lo, size_t *hi);

/* C[m][n] = op(A) op(B) + beta C, row-major, on the calling thread only
 * (cpu_sgemm.c: oneDNN). */
void sr_cpu_sgemm(int trans_a, int trans_b, int m, int n, int k,
                  const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc);

/* Thread tid's share of C[m][n] = op(A) op(B) (row-major, beta 0 or 1),
 * split over the larger of m and n; call from every thread of a parallel
 * region. */
void sr_cpu_gemm_slice(int tid, int nt, int trans_a, int trans_b, int m,
                       int n, int k, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc);

/* Ops, one family per file. All receive validated ops (backend.c). */
sr_status sr_cpu_fill(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_copy(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_add(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_add_relu(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_relu_fwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_relu_bwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_dropout(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_sgd(sr_cpu_backend *cb, const sr_op *op);

sr_status sr_cpu_conv2d_fwd(sr_cpu_backend *cb, const sr_op *op);
/* The direct-convolution engine (cpu_conv_direct.c) and its kernel set. */
struct sr_conv_kernels;
const struct sr_conv_kernels *sr_cpu_conv_kernels(void);
const char *sr_cpu_conv_kernels_name(void);
int sr_cpu_conv_use_gemm(void);
int sr_cpu_dconv_suits(const sr_conv2d_desc *d);
sr_status sr_cpu_dconv_fwd(sr_cpu_backend *cb, const sr_conv2d_desc *d,
                           const float *x, const float *w, const float *b,
                           float *y);
sr_status sr_cpu_dconv_bwd_data(sr_cpu_backend *cb, const sr_conv2d_desc *d,
                                const float *dy, const float *w,
                                const float *x, float *dx);
sr_status sr_cpu_dconv_bwd_weight(sr_cpu_backend *cb,
                                  const sr_conv2d_desc *d, const float *x,
                                  const float *dy, float *dw);
sr_status sr_cpu_conv2d_bwd_data(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_conv2d_bwd_weight(sr_cpu_backend *cb, const sr_op *op);

/* Depthwise convolution (cpu_dwconv.c). */
sr_status sr_cpu_dwconv2d_fwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_dwconv2d_bwd_data(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_dwconv2d_bwd_weight(sr_cpu_backend *cb, const sr_op *op);

sr_status sr_cpu_linear_fwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_linear_bwd_data(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_linear_bwd_weight(sr_cpu_backend *cb, const sr_op *op);

sr_status sr_cpu_bn_fwd_train(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_bn_fwd_eval(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_bn_bwd(sr_cpu_backend *cb, const sr_op *op);

sr_status sr_cpu_maxpool_fwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_maxpool_bwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_avgpool_fwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_avgpool_bwd(sr_cpu_backend *cb, const sr_op *op);

sr_status sr_cpu_softmax_xent(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_top1_count(sr_cpu_backend *cb, const sr_op *op);

sr_status sr_cpu_dorefa_w_fwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_dorefa_w_bwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_wrpn_w_fwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_wrpn_w_bwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_actq_fwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_actq_bwd(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_sinreq(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_waveq(sr_cpu_backend *cb, const sr_op *op);
sr_status sr_cpu_mean_abs_diff(sr_cpu_backend *cb, const sr_op *op);

#endif
