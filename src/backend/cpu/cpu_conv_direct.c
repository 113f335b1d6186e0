/* Direct convolution: forward, backward-data and weight gradient without
 * im2col, on the NCHW tensors the rest of the backend uses.
 *
 * Each image is copied once into a zero-padded, stride-phase-split "plane
 * set" (with the activation quantizer fused into that copy). In it every
 * tap (r, s) of the kernel is a constant offset along the flat index
 * q = row * width + col, so one register-blocked micro-kernel
 * (kernels/conv_kernels.c) serves every kernel size and stride:
 *   forward   y[k][q]  = sum_c sum_t w[k][c][t] x[c][q + off_t]
 *   bwd-data  one such pass per stride phase of dx, over dy padded, with
 *             the taps of that phase and the transposed kernel
 *   weights   dw[k][c][t] = sum_n sum_q dy[k][q] x[c][q + off_t]
 * The planes are as wide as the output plus the kernel's reach, so the
 * columns past the output width hold values that are computed and then
 * dropped; scattering the valid ones back to NCHW also adds the bias and
 * applies the activation quantizer's STE mask.
 *
 * Determinism: every output value (and every lane partial of a weight
 * gradient) is accumulated by one thread in an order fixed by the shape
 * alone, so results are identical for any thread count and run to run.
 * The kernel set (SINREQ_CPU_ISA=avx512|avx2|generic, default the best the
 * CPU has) changes the vector width and so the rounding of the weight
 * gradient's lane sums; one machine always picks the same set. */
#include "cpu_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kernels/conv_kernels.h"
#include "sinreq/qmath.h"

/* Floats of padded images staged at once (16 MiB); images are processed in
 * chunks that fit. */
#define STAGE_BUDGET ((size_t)4 << 20)
#define MAX_TAPS (11 * 11)
/* Floats of images per weight-gradient chunk (768 KiB, within a core's
 * L2 on current x86 server parts) */
#define WGRAD_CHUNK ((size_t)192 << 10)
/* The weight gradient sums at most this many groups of images (fixed by
 * the shape), each in its own partial sum, combined in group order: the
 * groups go to the threads whole (no barrier inside), and the result does
 * not depend on the thread count. */
#define WGRAD_GROUPS 16

const sr_conv_kernels *sr_cpu_conv_kernels(void)
{
    static const sr_conv_kernels *chosen;
    if (chosen) return chosen;
    const sr_conv_kernels *best = &sr_conv_kernels_generic;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        best = &sr_conv_kernels_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = &sr_conv_kernels_avx2;
#endif
    const char *want = getenv("SINREQ_CPU_ISA");
    if (want && *want) {
        const sr_conv_kernels *all[] = {
#if defined(__x86_64__)
            &sr_conv_kernels_avx512, &sr_conv_kernels_avx2,
#endif
            &sr_conv_kernels_generic};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (!strcasecmp(want, all[i]->name)) {
                /* never pick a set the CPU cannot run */
                if (all[i] == &sr_conv_kernels_generic || best != &sr_conv_kernels_generic) {
#if defined(__x86_64__)
                    if (all[i] == &sr_conv_kernels_avx512 &&
                        best != &sr_conv_kernels_avx512)
                        break;
#endif
                    best = all[i];
                }
                break;
            }
    }
    chosen = best;
    return chosen;
}

const char *sr_cpu_conv_kernels_name(void)
{
    return sr_cpu_conv_use_gemm() ? "im2col+sgemm" : sr_cpu_conv_kernels()->name;
}

/* SINREQ_CPU_CONV=gemm runs every convolution on im2col + SGEMM,
 * SINREQ_CPU_CONV=direct every one on the direct engine (tests and
 * comparison benchmarks); unset, each shape takes the faster
 * (sr_cpu_dconv_suits). */
int sr_cpu_conv_use_gemm(void)
{
    const char *v = getenv("SINREQ_CPU_CONV");
    return v && !strcasecmp(v, "gemm");
}

const char *sr_cpu_kernel_set(void) { return sr_cpu_conv_kernels_name(); }

static double peak_clock(int cpu_time)
{
    struct timespec ts;
    clock_gettime(cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double sr_cpu_measure_peak(int threads, double seconds, int cpu_time)
{
    const sr_conv_kernels *kr = sr_cpu_conv_kernels();
    if (threads < 1) threads = omp_get_max_threads();
    /* calibrate the iteration count on one thread, then time all */
    long n = 1 << 16;
    volatile float sink = 0.0f;
    double t0 = peak_clock(cpu_time), t = 0.0;
    while ((t = peak_clock(cpu_time) - t0) < 0.05) {
        sink += kr->fma_loop(n);
        n *= 2;
    }
    n = (long)(n * (seconds / (t > 0 ? t : 1e-3)) / 2) + 1;
    double start = peak_clock(cpu_time);
#pragma omp parallel num_threads(threads)
    sink += kr->fma_loop(n);
    double el = peak_clock(cpu_time) - start;
    if (cpu_time) el /= threads;
    (void)sink;
    return (double)n * kr->fma_acc * kr->vl * 2.0 * threads / el / 1e9;
}

/* Where im2col + SGEMM stays (docs/design.md has the measurements): 1x1
 * kernels on planes of at least 256 outputs, where the image itself is the
 * GEMM operand (no staging copy, which would cost as much as the few
 * FLOPs); output planes under 8x8, mostly padding in the engine's q-plane;
 * and wide layers (64+ in, 128+ out channels), where oneDNN's SGEMM beats
 * our kernels in every direction. Everything else runs on the direct
 * engine. */
int sr_cpu_dconv_suits(const sr_conv2d_desc *d)
{
    const char *v = getenv("SINREQ_CPU_CONV");
    if (v && !strcasecmp(v, "gemm")) return 0;
    if (v && !strcasecmp(v, "direct")) return 1;
    int plane = sr_conv2d_out_h(d) * sr_conv2d_out_w(d);
    if (d->kh * d->kw == 1 && plane >= 256) return 0;
    if (plane < 64) return 0;
    return !(d->c >= 64 && d->k >= 128);
}

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

/* The padded, phase-split input of a forward (and weight-gradient) pass. */
typedef struct plane_geom {
    int c, h, w, st, pad, kh, kw, oh, ow, bits;
    int hq, wq;     /* rows and width of one stride phase */
    int nph, npw;   /* phases stored: rows r % st < nph, cols s % st < npw
                     * (a 1x1 kernel of stride 2 reads one phase of four) */
    size_t phase;   /* hq * wq */
    size_t cs;      /* floats per channel (its stored phases) */
    size_t img;     /* floats per image, with read slack */
    long nvec;      /* vectors covering oh rows of wq */
    int ntaps;
    long toff[MAX_TAPS]; /* tap r*kw+s -> offset inside a channel */
} plane_geom;

static void plane_geom_init(plane_geom *g, const sr_conv2d_desc *d, int vl)
{
    g->c = d->c;
    g->h = d->h;
    g->w = d->w;
    g->st = d->stride;
    g->pad = d->pad;
    g->kh = d->kh;
    g->kw = d->kw;
    g->bits = d->act_bits;
    g->oh = sr_conv2d_out_h(d);
    g->ow = sr_conv2d_out_w(d);
    g->hq = g->oh + (g->kh - 1) / g->st;
    g->wq = g->ow + (g->kw - 1) / g->st;
    g->phase = (size_t)g->hq * (size_t)g->wq;
    g->nph = g->kh < g->st ? g->kh : g->st;
    g->npw = g->kw < g->st ? g->kw : g->st;
    g->cs = round_up((size_t)g->nph * g->npw * g->phase, (size_t)vl);
    g->nvec = (long)round_up((size_t)g->oh * (size_t)g->wq, (size_t)vl) / vl;
    g->ntaps = g->kh * g->kw;
    long reach = 0;
    for (int r = 0; r < g->kh; r++)
        for (int s = 0; s < g->kw; s++) {
            long o = (long)((r % g->st) * g->npw + s % g->st) * (long)g->phase +
                     (long)(r / g->st) * g->wq + s / g->st;
            g->toff[r * g->kw + s] = o;
            if (o > reach) reach = o;
        }
    /* the last channel's reads run up to reach + nvec * vl */
    size_t last = (size_t)(g->c - 1) * g->cs + (size_t)reach +
                  (size_t)g->nvec * (size_t)vl;
    size_t all = (size_t)g->c * g->cs;
    g->img = round_up(last > all ? last : all, 16);
}

/* Short runs (a row's padding) are written inline: a libc call per
 * padding run cost more than the convolution's own staging. */
static inline void zero_run(float *p, long n)
{
    for (long i = 0; i < n; i++) p[i] = 0.0f;
}

static inline void copy_run(float *dst, const float *src, long n)
{
    for (long i = 0; i < n; i++) dst[i] = src[i];
}

/* x[c][h][w] -> dst[c][ph][pw][hq][wq] = xpad[i*st+ph][j*st+pw], with the
 * activation quantizer applied on the way. */
SR_CPU_CLONES static void stage_image(const plane_geom *g, const float *x,
                                      float *dst)
{
    size_t used = (size_t)g->nph * g->npw * g->phase;
    for (int c = 0; c < g->c; c++) {
        const float *xc = x + (size_t)c * g->h * g->w;
        float *dc = dst + (size_t)c * g->cs;
        for (int ph = 0; ph < g->nph; ph++)
            for (int pw = 0; pw < g->npw; pw++) {
                float *p = dc + (size_t)(ph * g->npw + pw) * g->phase;
                /* columns j with 0 <= j*st + pw - pad < w */
                int j0 = g->pad > pw ? (g->pad - pw + g->st - 1) / g->st : 0;
                int j1 = g->w - 1 + g->pad - pw < 0
                             ? 0 : (g->w - 1 + g->pad - pw) / g->st + 1;
                if (j1 > g->wq) j1 = g->wq;
                if (j0 > j1) j0 = j1;
                /* every float of the row written once: zeros, data, zeros */
                for (int i = 0; i < g->hq; i++) {
                    int y = i * g->st + ph - g->pad;
                    float *row = p + (size_t)i * g->wq;
                    if (y < 0 || y >= g->h) {
                        zero_run(row, g->wq);
                        continue;
                    }
                    const float *src = xc + (size_t)y * g->w + pw - g->pad;
                    zero_run(row, j0);
                    if (g->bits)
                        for (int j = j0; j < j1; j++)
                            row[j] = sr_quantize01(src[j * g->st], g->bits);
                    else if (g->st == 1)
                        copy_run(row + j0, src + j0, j1 - j0);
                    else
                        for (int j = j0; j < j1; j++) row[j] = src[j * g->st];
                    zero_run(row + j1, g->wq - j1);
                }
            }
        zero_run(dc + used, (long)(g->cs - used));
    }
    /* read slack past the last channel */
    memset(dst + (size_t)g->c * g->cs, 0,
           (g->img - (size_t)g->c * g->cs) * sizeof(float));
}

/* Copies valid outputs of a q-plane (rows of `width`) to NCHW:
 * dst[i * row + j * col] = src[i * width + j] (+ bias), i < rows, j < cols;
 * where mask is given, dst = 0 where mask[i * row + j * col] is outside
 * [0, 1] (the activation quantizer's STE). */
SR_CPU_CLONES static void scatter_plane(const float *src, long width,
                                        int rows, int cols, float bias,
                                        float *dst, long row, long col,
                                        const float *mask)
{
    for (int i = 0; i < rows; i++) {
        const float *s = src + (size_t)i * width;
        float *d = dst + i * row;
        if (mask) {
            const float *m = mask + i * row;
            for (int j = 0; j < cols; j++)
                d[j * col] = (m[j * col] >= 0.0f && m[j * col] <= 1.0f)
                                 ? s[j] + bias : 0.0f;
        } else if (col == 1) {
            for (int j = 0; j < cols; j++) d[j] = s[j] + bias;
        } else {
            for (int j = 0; j < cols; j++) d[j * col] = s[j] + bias;
        }
    }
}

/* planes[k][rows][cols] -> dst[k] (dcs floats each): rows of width wd,
 * the data at row pt + r, column pl + j, zeros everywhere else up to
 * dcs (rows of data and padding, then the plane's slack). */
SR_CPU_CLONES static void stage_planes(const float *planes, int k_count,
                                       int rows, int cols, float *dst,
                                       size_t dcs, int wd, int pt, int pl)
{
    size_t ohw = (size_t)rows * (size_t)cols;
    for (int k = 0; k < k_count; k++) {
        float *dk = dst + (size_t)k * dcs;
        const float *src = planes + (size_t)k * ohw;
        zero_run(dk, (long)pt * wd);
        for (int r = 0; r < rows; r++) {
            float *row = dk + (size_t)(r + pt) * wd;
            zero_run(row, pl);
            copy_run(row + pl, src + (size_t)r * cols, cols);
            zero_run(row + pl + cols, wd - pl - cols);
        }
        zero_run(dk + (size_t)(pt + rows) * wd,
                 (long)(dcs - (size_t)(pt + rows) * wd));
    }
}

/* Images per chunk so that nb staged images fit the budget. */
static int chunk_images(int n, size_t per_image)
{
    size_t nb = STAGE_BUDGET / (per_image ? per_image : 1);
    if (nb < 1) nb = 1;
    return nb > (size_t)n ? n : (int)nb;
}

/* Carves n floats (64-byte aligned) off *cur. */
static float *carve(float **cur, size_t n)
{
    float *p = *cur;
    *cur += round_up(n, 16);
    return p;
}

/* ------------------------------------------------------------------ */
/* Forward                                                             */

sr_status sr_cpu_dconv_fwd(sr_cpu_backend *cb, const sr_conv2d_desc *d,
                           const float *x, const float *w, const float *b,
                           float *y)
{
    const sr_conv_kernels *kr = sr_cpu_conv_kernels();
    plane_geom g;
    plane_geom_init(&g, d, kr->vl);
    int K = d->k, C = d->c, T = g.ntaps, km = kr->kmax;
    int nkb = (K + km - 1) / km;
    size_t wp_blk = (size_t)C * T * km;
    size_t tmp = (size_t)km * g.nvec * kr->vl;
    int nb = chunk_images(d->n, g.img);
    int threads = cb->threads > 0 ? cb->threads : omp_get_max_threads();
    float *s, *cur;
    SR_TRY(sr_cpu_scratch(cb, round_up((size_t)nb * g.img, 16) +
                                  round_up(wp_blk * nkb, 16) +
                                  round_up(tmp, 16) * (size_t)threads, &s));
    cur = s;
    float *stage = carve(&cur, (size_t)nb * g.img);
    float *wp = carve(&cur, wp_blk * nkb);
    float *tmps = cur;
    size_t ohw = (size_t)g.oh * g.ow, chw = (size_t)C * g.h * g.w;
    /* No padding columns (1x1 kernels), whole vectors, no bias: the kernel
     * can store straight into y, no scatter. */
    int direct_out = g.wq == g.ow && ohw == (size_t)g.nvec * kr->vl && !b;

    /* wp[kb][c][t][kk] = w[kb*km + kk][c][t] (0 past K) */
#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (size_t i = 0; i < wp_blk * nkb; i++) {
        size_t kk = i % km, t = i / km % T, c = i / km / T % C,
               k = i / wp_blk * km + kk;
        wp[i] = k < (size_t)K ? w[(k * C + c) * T + t] : 0.0f;
    }
    for (int n0 = 0; n0 < d->n; n0 += nb) {
        int cnt = d->n - n0 < nb ? d->n - n0 : nb;
#pragma omp parallel num_threads(cb->threads)
        {
            float *out = tmps + round_up(tmp, 16) * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
            for (int i = 0; i < cnt; i++)
                stage_image(&g, x + (size_t)(n0 + i) * chw,
                            stage + (size_t)i * g.img);
#pragma omp for schedule(static)
            for (int u = 0; u < cnt * nkb; u++) {
                int i = u / nkb, kb = u % nkb, k0 = kb * km;
                int kn = K - k0 < km ? K - k0 : km;
                size_t ocs = (size_t)g.nvec * kr->vl;
                float *yk = y + ((size_t)(n0 + i) * K + k0) * ohw;
                if (direct_out) { /* the q-plane is y's plane itself */
                    kr->fwd(stage + (size_t)i * g.img, g.cs, C, g.toff, T,
                            wp + (size_t)kb * wp_blk, kn, yk, ohw, g.nvec);
                    continue;
                }
                kr->fwd(stage + (size_t)i * g.img, g.cs, C, g.toff, T,
                        wp + (size_t)kb * wp_blk, kn, out, ocs, g.nvec);
                for (int kk = 0; kk < kn; kk++)
                    scatter_plane(out + kk * ocs, g.wq, g.oh, g.ow,
                                  b ? b[k0 + kk] : 0.0f,
                                  y + ((size_t)(n0 + i) * K + k0 + kk) * ohw,
                                  g.ow, 1, NULL);
            }
        }
    }
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Backward data: per stride phase (a, b) of dx, a stride-1 correlation of
 * dy with the taps r = a + pad (mod st), s = b + pad (mod st):
 *   dx[c][st*i + a][st*j + b] = sum_k sum_(r,s) w[k][c][r][s]
 *                               dy[k][i + (a+pad-r)/st][j + (b+pad-s)/st] */

typedef struct dphase {
    int a, b, rows, cols; /* rows x cols outputs of this phase */
    int ntaps;
    int tap[MAX_TAPS];    /* r*kw+s of each tap */
    long toff[MAX_TAPS];
    long nvec;
    size_t wp_off;        /* its packed weights */
} dphase;

static int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

sr_status sr_cpu_dconv_bwd_data(sr_cpu_backend *cb, const sr_conv2d_desc *d,
                                const float *dy, const float *w,
                                const float *x, float *dx)
{
    const sr_conv_kernels *kr = sr_cpu_conv_kernels();
    int vl = kr->vl, km = kr->kmax;
    int K = d->k, C = d->c, st = d->stride, pad = d->pad;
    int oh = sr_conv2d_out_h(d), ow = sr_conv2d_out_w(d);
    int nph = st * st, T = d->kh * d->kw;
    dphase *ph = calloc((size_t)nph, sizeof *ph);
    SR_CHECK(ph, SR_E_NOMEM, "conv2d_bwd_data: out of memory");

    /* padding of dy so that every tap of every phase reads inside */
    int pt = 0, pl = 0, drmax = 0, dsmax = 0, rows_max = 0, cols_max = 0;
    for (int p = 0; p < nph; p++) {
        dphase *f = &ph[p];
        f->a = p / st;
        f->b = p % st;
        f->rows = f->a < d->h ? (d->h - f->a + st - 1) / st : 0;
        f->cols = f->b < d->w ? (d->w - f->b + st - 1) / st : 0;
        if (f->rows > rows_max) rows_max = f->rows;
        if (f->cols > cols_max) cols_max = f->cols;
        for (int r = 0; r < d->kh; r++)
            for (int s = 0; s < d->kw; s++) {
                if ((f->a + pad - r) % st || (f->b + pad - s) % st) continue;
                int dr = floor_div(f->a + pad - r, st);
                int ds = floor_div(f->b + pad - s, st);
                if (-dr > pt) pt = -dr;
                if (-ds > pl) pl = -ds;
                if (dr > drmax) drmax = dr;
                if (ds > dsmax) dsmax = ds;
                f->tap[f->ntaps++] = r * d->kw + s;
            }
    }
    int hd = pt + (oh > rows_max + drmax ? oh : rows_max + drmax);
    int wd = pl + (ow > cols_max + dsmax ? ow : cols_max + dsmax);
    long reach = 0, nvec_max = 0;
    size_t wp_total = 0;
    int ncb = (C + km - 1) / km;
    for (int p = 0; p < nph; p++) {
        dphase *f = &ph[p];
        for (int t = 0; t < f->ntaps; t++) {
            int r = f->tap[t] / d->kw, s = f->tap[t] % d->kw;
            int dr = floor_div(f->a + pad - r, st), ds = floor_div(f->b + pad - s, st);
            f->toff[t] = (long)(dr + pt) * wd + (ds + pl);
            if (f->toff[t] > reach) reach = f->toff[t];
        }
        f->nvec = (long)round_up((size_t)f->rows * wd, (size_t)vl) / vl;
        if (f->nvec > nvec_max) nvec_max = f->nvec;
        f->wp_off = wp_total;
        wp_total += (size_t)ncb * K * f->ntaps * km;
    }
    size_t dcs = (size_t)hd * wd;
    size_t last = (size_t)(K - 1) * dcs + (size_t)reach + (size_t)nvec_max * vl;
    size_t img = round_up(last > (size_t)K * dcs ? last : (size_t)K * dcs, 16);
    size_t tmp = (size_t)km * nvec_max * vl;
    int nb = chunk_images(d->n, img);
    int threads = cb->threads > 0 ? cb->threads : omp_get_max_threads();
    float *s, *cur;
    sr_status stt = sr_cpu_scratch(cb, round_up((size_t)nb * img, 16) +
                                           round_up(wp_total, 16) +
                                           round_up(tmp, 16) * (size_t)threads,
                                   &s);
    if (stt != SR_OK) {
        free(ph);
        return stt;
    }
    cur = s;
    float *stage = carve(&cur, (size_t)nb * img);
    float *wp = carve(&cur, wp_total);
    float *tmps = cur;
    size_t hw = (size_t)d->h * d->w, ohw = (size_t)oh * ow;

    /* per phase: wp[cb][k][t][cc] = w[k][cb*km + cc][tap t] (0 past C) */
    for (int p = 0; p < nph; p++) {
        const dphase *f = &ph[p];
        float *q = wp + f->wp_off;
        size_t n = (size_t)ncb * K * f->ntaps * km;
        for (size_t i = 0; i < n; i++) {
            size_t cc = i % km, t = i / km % f->ntaps,
                   k = i / km / f->ntaps % K, c = i / km / f->ntaps / K * km + cc;
            q[i] = c < (size_t)C ? w[(k * C + c) * T + f->tap[t]] : 0.0f;
        }
    }
    for (int n0 = 0; n0 < d->n; n0 += nb) {
        int cnt = d->n - n0 < nb ? d->n - n0 : nb;
        int units = cnt * nph * ncb;
#pragma omp parallel num_threads(cb->threads)
        {
            float *out = tmps + round_up(tmp, 16) * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
            for (int i = 0; i < cnt; i++) {
                float *dst = stage + (size_t)i * img;
                stage_planes(dy + (size_t)(n0 + i) * K * ohw, K, oh, ow, dst,
                             dcs, wd, pt, pl);
                memset(dst + (size_t)K * dcs, 0,
                       (img - (size_t)K * dcs) * sizeof(float));
            }
#pragma omp for schedule(static)
            for (int u = 0; u < units; u++) {
                int i = u / (nph * ncb), p = u / ncb % nph, cb0 = u % ncb;
                const dphase *f = &ph[p];
                int c0 = cb0 * km, cn = C - c0 < km ? C - c0 : km;
                size_t ocs = (size_t)f->nvec * vl;
                if (!f->rows || !f->cols) continue;
                kr->fwd(stage + (size_t)i * img, dcs, K, f->toff, f->ntaps,
                        wp + f->wp_off + (size_t)cb0 * K * f->ntaps * km, cn,
                        out, ocs, f->nvec);
                for (int cc = 0; cc < cn; cc++) {
                    size_t base = ((size_t)(n0 + i) * C + c0 + cc) * hw +
                                  (size_t)f->a * d->w + f->b;
                    scatter_plane(out + cc * ocs, wd, f->rows, f->cols, 0.0f,
                                  dx + base, (long)st * d->w, st,
                                  d->act_bits ? x + base : NULL);
                }
            }
        }
    }
    free(ph);
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Weight gradient                                                     */

/* Item it of a weight gradient: output channels [k0, k0 + kn) (nkb blocks
 * as even as possible) x (channel, tap) pairs [j0, j0 + jn) (runs of wj). */
static void wgrad_item(int it, int K, int nkb, int njc, int wj, int pairs,
                       int *k0, int *kn, int *j0, int *jn)
{
    int kb = it / njc, jc = it % njc;
    *k0 = (int)((long)K * kb / nkb);
    *kn = (int)((long)K * (kb + 1) / nkb) - *k0;
    *j0 = jc * wj;
    *jn = pairs - *j0 < wj ? pairs - *j0 : wj;
}

sr_status sr_cpu_dconv_bwd_weight(sr_cpu_backend *cb,
                                  const sr_conv2d_desc *d, const float *x,
                                  const float *dy, float *dw)
{
    const sr_conv_kernels *kr = sr_cpu_conv_kernels();
    plane_geom g;
    plane_geom_init(&g, d, kr->vl);
    int vl = kr->vl, K = d->k, C = d->c, T = g.ntaps;
    int wk = kr->wk_max, wj = kr->wj_max;
    /* K blocks of at most wk, as even as possible; (c, t) pairs in runs of
     * at most wj */
    int nkb = (K + wk - 1) / wk;
    int pairs = C * T, njc = (pairs + wj - 1) / wj;
    int items = nkb * njc;
    size_t dcs = (size_t)g.nvec * vl;  /* dy plane: oh rows of wq */
    size_t per_img = g.img + (size_t)K * dcs;
    size_t acc_item = (size_t)wj * wk;
    /* chunks that stay in a core's L2 (the kernel walks them once per
     * item) */
    size_t nbl = WGRAD_CHUNK / per_img;
    int nb = nbl < 1 ? 1 : nbl > (size_t)d->n ? d->n : (int)nbl;
    long *xoff = malloc((size_t)pairs * sizeof *xoff);
    SR_CHECK(xoff, SR_E_NOMEM, "conv2d_bwd_weight: out of memory");
    for (int j = 0; j < pairs; j++)
        xoff[j] = (long)(j / T) * (long)g.cs + g.toff[j % T];
    /* at most WGRAD_GROUPS groups of at least one chunk each: each kernel
     * call's lane sums are paid once per chunk, so chunks stay full */
    int groups = (d->n + nb - 1) / nb;
    if (groups > WGRAD_GROUPS) groups = WGRAD_GROUPS;
    int threads = cb->threads > 0 ? cb->threads : omp_get_max_threads();
    size_t per_thread = round_up((size_t)nb * g.img, 16) +
                        round_up((size_t)nb * K * dcs, 16);
    size_t acc_group = round_up(acc_item * items, 16);
    float *s;
    sr_status stt = sr_cpu_scratch(
        cb, per_thread * (size_t)threads + acc_group * groups, &s);
    if (stt != SR_OK) {
        free(xoff);
        return stt;
    }
    float *acc = s + per_thread * (size_t)threads;
    memset(acc, 0, acc_group * groups * sizeof(float));
    size_t ohw = (size_t)g.oh * g.ow, chw = (size_t)C * g.h * g.w;

#pragma omp parallel num_threads(cb->threads)
    {
        float *cur = s + per_thread * (size_t)omp_get_thread_num();
        float *stage = carve(&cur, (size_t)nb * g.img);
        float *dys = carve(&cur, (size_t)nb * K * dcs);
#pragma omp for schedule(static)
        for (int grp = 0; grp < groups; grp++) {
            int b0 = (int)((long)d->n * grp / groups);
            int b1 = (int)((long)d->n * (grp + 1) / groups);
            float *accg = acc + acc_group * (size_t)grp;
            /* chunks of the group that stay in this core's cache: the
             * kernel walks a chunk once per item */
            for (int n0 = b0; n0 < b1; n0 += nb) {
                int cnt = b1 - n0 < nb ? b1 - n0 : nb;
                for (int i = 0; i < cnt; i++) {
                    stage_image(&g, x + (size_t)(n0 + i) * chw,
                                stage + (size_t)i * g.img);
                    stage_planes(dy + (size_t)(n0 + i) * K * ohw, K, g.oh,
                                 g.ow, dys + (size_t)i * K * dcs, dcs, g.wq,
                                 0, 0);
                }
                for (int it = 0; it < items; it++) {
                    int k0, kn, j0, jn;
                    wgrad_item(it, K, nkb, njc, wj, pairs, &k0, &kn, &j0,
                               &jn);
                    kr->wgrad(stage, g.img, xoff + j0, jn,
                              dys + (size_t)k0 * dcs, (size_t)K * dcs, dcs,
                              kn, cnt, g.nvec, accg + acc_item * it);
                }
            }
        }
        /* dw[k][c][t] = the groups' sums in group order */
#pragma omp for schedule(static)
        for (int it = 0; it < items; it++) {
            int k0, kn, j0, jn;
            wgrad_item(it, K, nkb, njc, wj, pairs, &k0, &kn, &j0, &jn);
            for (int j = 0; j < jn; j++)
                for (int k = 0; k < kn; k++) {
                    float sum = 0.0f;
                    for (int grp = 0; grp < groups; grp++)
                        sum += acc[acc_group * (size_t)grp + acc_item * it +
                                   (size_t)(j * kn + k)];
                    dw[(size_t)(k0 + k) * C * T + (size_t)(j0 + j)] = sum;
                }
        }
    }
    free(xoff);
    return SR_OK;
}
