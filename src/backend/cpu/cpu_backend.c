/* CPU backend: lifecycle, host buffers, scratch arena and the op dispatch.
 * Ops run synchronously inside exec, so sync is a no-op and programs are
 * replayed through exec by backend.c. */
#include "cpu_internal.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static void *alloc_aligned(size_t bytes)
{
    return aligned_alloc(SR_CPU_ALIGN, round_up(bytes ? bytes : 1,
                                                SR_CPU_ALIGN));
}

sr_status sr_cpu_scratch(sr_cpu_backend *cb, size_t words, float **out)
{
    if (words > cb->scratch_words) {
        /* Grow by at least 1.5x so a slowly growing sequence of requests
         * does not reallocate every time. */
        size_t want = words + words / 2;
        float *p = alloc_aligned(want * sizeof(float));
        SR_CHECK(p, SR_E_NOMEM,
                 "cpu backend: out of memory for %zu MiB of scratch",
                 want * sizeof(float) >> 20);
        free(cb->scratch);
        cb->scratch = p;
        cb->scratch_words = want;
    }
    *out = cb->scratch;
    return SR_OK;
}

void sr_cpu_split(size_t n, int tid, int nt, size_t *lo, size_t *hi)
{
    size_t tiles = (n + 15) / 16;
    size_t per = tiles / (size_t)nt, extra = tiles % (size_t)nt;
    size_t t = (size_t)tid;
    size_t a = t * per + (t < extra ? t : extra);
    size_t b = a + per + (t < extra ? 1 : 0);
    *lo = a * 16 < n ? a * 16 : n;
    *hi = b * 16 < n ? b * 16 : n;
}

void sr_cpu_gemm_slice(int tid, int nt, int trans_a, int trans_b, int m,
                       int n, int k, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc)
{
    size_t lo, hi;

    if (m > n) {
        sr_cpu_split((size_t)m, tid, nt, &lo, &hi);
        if (hi <= lo) return;
        a += trans_a ? lo : lo * (size_t)lda;
        sr_cpu_sgemm(trans_a, trans_b, (int)(hi - lo), n, k, a, lda, b, ldb,
                     beta, c + lo * (size_t)ldc, ldc);
    } else {
        sr_cpu_split((size_t)n, tid, nt, &lo, &hi);
        if (hi <= lo) return;
        b += trans_b ? lo * (size_t)ldb : lo;
        sr_cpu_sgemm(trans_a, trans_b, m, (int)(hi - lo), k, a, lda, b, ldb,
                     beta, c + lo, ldc);
    }
}

/* "model name" from /proc/cpuinfo, or "unknown CPU". */
static void cpu_model(char *dst, size_t cap)
{
    snprintf(dst, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *v = strchr(line, ':');
        if (!v) break;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = '\0';
        snprintf(dst, cap, "%s", v);
        break;
    }
    fclose(f);
}

/* ------------------------------------------------------------------ */
/* Buffers                                                             */

static sr_status cpu_buf_alloc(sr_backend *be, sr_pool pool, size_t words,
                               sr_buf **out)
{
    sr_cpu_buf *b = calloc(1, sizeof *b);
    SR_CHECK(b, SR_E_NOMEM, "cpu backend: out of memory for a buffer handle");
    b->data = alloc_aligned(words * sizeof(float));
    if (!b->data) {
        free(b);
        return sr_error(SR_E_NOMEM,
                        "cpu backend: out of memory for a buffer of %zu MiB",
                        words * sizeof(float) >> 20);
    }
    /* Zeroed, so a fresh buffer reads the same on every run. */
    memset(b->data, 0, words * sizeof(float));
    b->base.words = words;
    b->base.pool = pool;
    *out = &b->base;
    return SR_OK;
}

static void cpu_buf_free(sr_backend *be, sr_buf *buf)
{
    sr_cpu_buf *b = (sr_cpu_buf *)buf;
    free(b->data);
    free(b);
}

static sr_status cpu_buf_write(sr_backend *be, sr_buf *buf, size_t off,
                               size_t words, const void *src)
{
    memcpy(((sr_cpu_buf *)buf)->data + off, src, words * sizeof(float));
    return SR_OK;
}

static sr_status cpu_buf_read(sr_backend *be, sr_buf *buf, size_t off,
                              size_t words, void *dst)
{
    memcpy(dst, ((sr_cpu_buf *)buf)->data + off, words * sizeof(float));
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

/* ------------------------------------------------------------------ */
/* Optional per-op timer: SINREQ_CPU_PROFILE=1 sums wall time per op kind
 * (convolutions per shape too) and prints the table to stderr when the
 * backend is destroyed. Off by default: one getenv at create. */

static double prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void prof_key(const sr_op *op, char *dst, size_t cap)
{
    const sr_conv2d_desc *d = &op->p.conv;
    switch (op->kind) {
    case SR_OP_CONV2D_FWD:
    case SR_OP_CONV2D_BWD_DATA:
    case SR_OP_CONV2D_BWD_WEIGHT:
    case SR_OP_DWCONV2D_FWD:
    case SR_OP_DWCONV2D_BWD_DATA:
    case SR_OP_DWCONV2D_BWD_WEIGHT:
        snprintf(dst, cap, "%s c%d %dx%d k%d %dx%d/%d%s", sr_op_name(op->kind),
                 d->c, d->h, d->w, d->k, d->kh, d->kw, d->stride,
                 d->act_bits ? " q" : "");
        break;
    default: snprintf(dst, cap, "%s", sr_op_name(op->kind)); break;
    }
}

static void prof_add(sr_cpu_backend *cb, const sr_op *op, double dt)
{
    char key[SR_CPU_PROF_KEY];
    prof_key(op, key, sizeof key);
    int i;
    for (i = 0; i < cb->prof_n; i++)
        if (!strcmp(cb->prof[i].key, key)) break;
    if (i == cb->prof_n) {
        if (cb->prof_n == SR_CPU_PROF_MAX) return;
        snprintf(cb->prof[i].key, sizeof cb->prof[i].key, "%s", key);
        cb->prof_n++;
    }
    cb->prof[i].seconds += dt;
    cb->prof[i].calls++;
}

static int prof_cmp(const void *a, const void *b)
{
    double x = ((const sr_cpu_prof *)a)->seconds;
    double y = ((const sr_cpu_prof *)b)->seconds;
    return (x < y) - (x > y);
}

static void prof_print(sr_cpu_backend *cb)
{
    double total = 0.0;
    for (int i = 0; i < cb->prof_n; i++) total += cb->prof[i].seconds;
    qsort(cb->prof, (size_t)cb->prof_n, sizeof cb->prof[0], prof_cmp);
    fprintf(stderr, "sinreq cpu profile: %.3f s in ops\n", total);
    for (int i = 0; i < cb->prof_n; i++)
        fprintf(stderr, "%9.3f ms %5.1f%% %7ld calls  %s\n",
                1e3 * cb->prof[i].seconds,
                total > 0 ? 100.0 * cb->prof[i].seconds / total : 0.0,
                cb->prof[i].calls, cb->prof[i].key);
}

static sr_status cpu_dispatch(sr_cpu_backend *cb, const sr_op *op);

static sr_status cpu_exec(sr_backend *be, const sr_op *op)
{
    sr_cpu_backend *cb = sr_cpu(be);
    if (!cb->prof) return cpu_dispatch(cb, op);
    double t0 = prof_now();
    sr_status st = cpu_dispatch(cb, op);
    prof_add(cb, op, prof_now() - t0);
    return st;
}

static sr_status cpu_dispatch(sr_cpu_backend *cb, const sr_op *op)
{
    switch (op->kind) {
    case SR_OP_FILL: return sr_cpu_fill(cb, op);
    case SR_OP_COPY: return sr_cpu_copy(cb, op);
    case SR_OP_ADD: return sr_cpu_add(cb, op);
    case SR_OP_ADD_RELU: return sr_cpu_add_relu(cb, op);
    case SR_OP_CONV2D_FWD: return sr_cpu_conv2d_fwd(cb, op);
    case SR_OP_CONV2D_BWD_DATA: return sr_cpu_conv2d_bwd_data(cb, op);
    case SR_OP_CONV2D_BWD_WEIGHT: return sr_cpu_conv2d_bwd_weight(cb, op);
    case SR_OP_DWCONV2D_FWD: return sr_cpu_dwconv2d_fwd(cb, op);
    case SR_OP_DWCONV2D_BWD_DATA: return sr_cpu_dwconv2d_bwd_data(cb, op);
    case SR_OP_DWCONV2D_BWD_WEIGHT:
        return sr_cpu_dwconv2d_bwd_weight(cb, op);
    case SR_OP_LINEAR_FWD: return sr_cpu_linear_fwd(cb, op);
    case SR_OP_LINEAR_BWD_DATA: return sr_cpu_linear_bwd_data(cb, op);
    case SR_OP_LINEAR_BWD_WEIGHT: return sr_cpu_linear_bwd_weight(cb, op);
    case SR_OP_BN_FWD_TRAIN: return sr_cpu_bn_fwd_train(cb, op);
    case SR_OP_BN_FWD_EVAL: return sr_cpu_bn_fwd_eval(cb, op);
    case SR_OP_BN_BWD: return sr_cpu_bn_bwd(cb, op);
    case SR_OP_RELU_FWD: return sr_cpu_relu_fwd(cb, op);
    case SR_OP_RELU_BWD: return sr_cpu_relu_bwd(cb, op);
    case SR_OP_DROPOUT_FWD:
    case SR_OP_DROPOUT_BWD: return sr_cpu_dropout(cb, op);
    case SR_OP_MAXPOOL_FWD: return sr_cpu_maxpool_fwd(cb, op);
    case SR_OP_MAXPOOL_BWD: return sr_cpu_maxpool_bwd(cb, op);
    case SR_OP_AVGPOOL_FWD: return sr_cpu_avgpool_fwd(cb, op);
    case SR_OP_AVGPOOL_BWD: return sr_cpu_avgpool_bwd(cb, op);
    case SR_OP_SOFTMAX_XENT: return sr_cpu_softmax_xent(cb, op);
    case SR_OP_TOP1_COUNT: return sr_cpu_top1_count(cb, op);
    case SR_OP_SGD: return sr_cpu_sgd(cb, op);
    case SR_OP_DOREFA_W_FWD: return sr_cpu_dorefa_w_fwd(cb, op);
    case SR_OP_DOREFA_W_BWD: return sr_cpu_dorefa_w_bwd(cb, op);
    case SR_OP_WRPN_W_FWD: return sr_cpu_wrpn_w_fwd(cb, op);
    case SR_OP_WRPN_W_BWD: return sr_cpu_wrpn_w_bwd(cb, op);
    case SR_OP_ACTQ_FWD: return sr_cpu_actq_fwd(cb, op);
    case SR_OP_ACTQ_BWD: return sr_cpu_actq_bwd(cb, op);
    case SR_OP_SINREQ: return sr_cpu_sinreq(cb, op);
    case SR_OP_WAVEQ: return sr_cpu_waveq(cb, op);
    case SR_OP_MEAN_ABS_DIFF: return sr_cpu_mean_abs_diff(cb, op);
    case SR_OP_COUNT: break;
    }
    return sr_error(SR_E_INTERNAL, "cpu backend: unknown op kind %d",
                    (int)op->kind);
}

static sr_status cpu_sync(sr_backend *be)
{
    return SR_OK;
}

static void cpu_destroy(sr_backend *be)
{
    sr_cpu_backend *cb = sr_cpu(be);
    if (cb->prof) {
        prof_print(cb);
        free(cb->prof);
    }
    free(cb->scratch);
    free(cb);
}

static const sr_backend_vt cpu_vt = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .buf_alloc = cpu_buf_alloc,
    .buf_free = cpu_buf_free,
    .buf_write = cpu_buf_write,
    .buf_read = cpu_buf_read,
    .exec = cpu_exec,
    .sync = cpu_sync,
    .scalars_will_change = NULL,
    .program_build = NULL,
    .program_run = NULL,
    .program_free = NULL,
};

sr_status sr_cpu_backend_create(const sr_backend_opts *opts, sr_backend **out)
{
    SR_CHECK(out, SR_E_ARG, "sr_cpu_backend_create: out is NULL");
    *out = NULL;
    SR_CHECK(!opts || (opts->threads >= 0 && opts->threads <= SR_MAX_THREADS),
             SR_E_ARG, "cpu backend: %d threads is outside 0..%d",
             opts ? opts->threads : 0, SR_MAX_THREADS);
    SR_CHECK((opts && opts->threads > 0) ||
             omp_get_max_threads() <= SR_MAX_THREADS, SR_E_ARG,
             "cpu backend: OMP_NUM_THREADS asks for %d threads, more than %d",
             omp_get_max_threads(), SR_MAX_THREADS);
    sr_cpu_backend *cb = calloc(1, sizeof *cb);
    SR_CHECK(cb, SR_E_NOMEM, "cpu backend: out of memory");
    cb->base.vt = &cpu_vt;

    int threads = opts && opts->threads > 0 ? opts->threads
                                             : omp_get_max_threads();
    if (threads < 1) threads = 1;
    cb->threads = threads;
    /* Parallel regions pass num_threads(cb->threads) explicitly; setting
     * the default too keeps any other OpenMP user in the process in step. */
    if (opts && opts->threads > 0) omp_set_num_threads(threads);

    const char *prof = getenv("SINREQ_CPU_PROFILE");
    if (prof && *prof && strcmp(prof, "0") != 0)
        cb->prof = calloc(SR_CPU_PROF_MAX, sizeof *cb->prof);

    char model[160];
    cpu_model(model, sizeof model);
    snprintf(cb->base.device_name, sizeof cb->base.device_name,
             "CPU (%s, %d thread%s, conv %s, oneDNN sgemm)", model, threads,
             threads == 1 ? "" : "s", sr_cpu_conv_kernels_name());
    if (opts && opts->verbose)
        fprintf(stderr, "sinreq: cpu backend on %s\n", cb->base.device_name);
    *out = &cb->base;
    return SR_OK;
}
