/* 2-D convolution as im2col + SGEMM.
 *
 * The batch is processed in chunks of nb images so the column matrix
 * col[c*kh*kw][nb*oh*ow] stays within COL_BUDGET floats. Within a chunk one
 * OpenMP region does the im2col (with the activation quantizer fused into
 * the copy), a GEMM split into column slices (single-threaded SGEMM per
 * thread) and the scatter back to NCHW. Chunking depends only on the shape,
 * so results are the same for every run with the same thread count.
 *
 * Large output planes (oh*ow >= PER_IMAGE_MIN_P, ResNet's early stages)
 * make a one-image GEMM efficient, so there each thread takes whole images:
 * its column matrix stays in L2 and no staging copies are needed. The weight
 * gradient then sums WGRAD_GROUPS fixed groups of images, each in its own
 * partial, combined in group order, so the result does not depend on the
 * thread count (up to WGRAD_GROUPS threads).
 *
 * 1x1 stride-1 unpadded convolutions without activation quantization use
 * the input image itself as the column matrix (one image per chunk). */
#include "cpu_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/qmath.h"

/* Floats of scratch per chunk (columns + the K x cols staging matrix):
 * 6 Mi floats = 24 MiB, large enough that GEMMs stay efficient. */
#define COL_BUDGET ((size_t)6 << 20)
#define PER_IMAGE_MIN_P 256
#define WGRAD_GROUPS 8
/* GEMMs are split into this many column (or row) slices, a number that does
 * not depend on the thread count: SGEMM edge kernels round differently
 * for other slice widths, and results must not depend on the threads. */
#define GEMM_SLICES 16

typedef struct conv_geom {
    int n, c, h, w, k, kh, kw, st, pad, oh, ow, bits;
    size_t hw, p, crs; /* h*w, oh*ow, c*kh*kw */
    int direct;        /* 1x1/s1/p0, no act quantization: col = x */
    int per_image;     /* one image per GEMM, threads over images */
    int nb;            /* images per chunk */
} conv_geom;

static void conv_geom_init(conv_geom *g, const sr_conv2d_desc *d)
{
    g->n = d->n;
    g->c = d->c;
    g->h = d->h;
    g->w = d->w;
    g->k = d->k;
    g->kh = d->kh;
    g->kw = d->kw;
    g->st = d->stride;
    g->pad = d->pad;
    g->bits = d->act_bits;
    g->oh = sr_conv2d_out_h(d);
    g->ow = sr_conv2d_out_w(d);
    g->hw = (size_t)g->h * (size_t)g->w;
    g->p = (size_t)g->oh * (size_t)g->ow;
    g->crs = (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    g->direct = g->kh == 1 && g->kw == 1 && g->st == 1 && g->pad == 0 &&
                g->bits == 0;
    size_t image_words = (g->crs + (size_t)g->k) * g->p;
    size_t nb = COL_BUDGET / image_words;
    if (nb < 1) nb = 1;
    if (nb > (size_t)g->n) nb = (size_t)g->n;
    g->nb = g->direct ? 1 : (int)nb;
    g->per_image = !g->direct && g->p >= PER_IMAGE_MIN_P;
}

/* Scratch for one chunk: col[crs][nb*p] then stage[k][nb*p]. */
static sr_status conv_scratch(sr_cpu_backend *cb, const conv_geom *g,
                              float **col, float **stage)
{
    size_t cols = (size_t)g->nb * g->p;
    size_t ncol = (g->crs * cols + 15) / 16 * 16;
    float *s;
    SR_TRY(sr_cpu_scratch(cb, ncol + (size_t)g->k * cols, &s));
    *col = s;
    *stage = s + ncol;
    return SR_OK;
}

/* Output columns [lo, hi) of a kernel tap s along one output row read input
 * columns ox*st - pad + s inside [0, w). */
static void tap_range(const conv_geom *g, int s, int *lo, int *hi)
{
    int a = g->pad > s ? (g->pad - s + g->st - 1) / g->st : 0;
    int top = g->w - 1 + g->pad - s;
    int b = top >= 0 ? top / g->st + 1 : 0;
    if (b > g->ow) b = g->ow;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Stride 1 and ow == w ("same" width): output (oy, ox) of tap (r, s) reads
 * input element oy*w + ox + (r-pad)*w + (s-pad) of the plane, a constant
 * shift, so a whole tap row of one image is one contiguous copy (clipped
 * to the plane) followed by zeroing the padded rows and edge columns.
 * Far fewer, longer copies than one per output row (8x8 planes: 8 floats
 * per call). */
static void im2col_row_shift(const conv_geom *g, const float *xp, int r,
                             int s, float *dst)
{
    long plane = (long)g->hw, p = (long)g->p, w = g->w;
    long off = (long)(r - g->pad) * w + (s - g->pad);
    /* Output rows whose input row is inside the image. */
    long oy0 = g->pad > r ? g->pad - r : 0;
    long oy1 = (long)g->h + g->pad - r;
    if (oy0 > g->oh) oy0 = g->oh;
    if (oy1 > g->oh) oy1 = g->oh;
    if (oy1 < oy0) oy1 = oy0;
    long j0 = oy0 * w, j1 = oy1 * w;
    /* Keep the source inside the plane; what is clipped is edge columns,
     * zeroed below anyway. */
    if (j0 + off < 0) j0 = -off;
    if (j1 + off > plane) j1 = plane - off;
    if (j1 < j0) j1 = j0;
    for (long j = 0; j < j0; j++) dst[j] = 0.0f;
    if (g->bits) {
        for (long j = j0; j < j1; j++)
            dst[j] = sr_quantize01(xp[j + off], g->bits);
    } else {
        memcpy(dst + j0, xp + j0 + off, (size_t)(j1 - j0) * sizeof(float));
    }
    for (long j = j1; j < p; j++) dst[j] = 0.0f;
    int lo, hi;
    tap_range(g, s, &lo, &hi);
    for (long oy = oy0; oy < oy1; oy++) {
        float *d = dst + oy * w;
        for (int ox = 0; ox < lo; ox++) d[ox] = 0.0f;
        for (int ox = hi; ox < g->ow; ox++) d[ox] = 0.0f;
    }
}

/* col[row][b*p + oy*ow + ox] = q(x[b][c][oy*st-pad+r][ox*st-pad+s]), zero
 * outside the image, for one row (c, r, s). */
static void im2col_row(const conv_geom *g, const float *x, int nb, float *col,
                       size_t row)
{
    size_t cols = (size_t)nb * g->p;
    int rs = g->kh * g->kw;
    int shift = g->st == 1 && g->ow == g->w;
    {
        int c = (int)(row / (size_t)rs);
        int r = (int)(row % (size_t)rs) / g->kw;
        int s = (int)(row % (size_t)rs) % g->kw;
        int lo, hi;
        tap_range(g, s, &lo, &hi);
        for (int b = 0; b < nb; b++) {
            const float *xp = x + ((size_t)b * g->c + c) * g->hw;
            float *dst = col + row * cols + (size_t)b * g->p;
            if (shift) {
                im2col_row_shift(g, xp, r, s, dst);
                continue;
            }
            for (int oy = 0; oy < g->oh; oy++) {
                int iy = oy * g->st - g->pad + r;
                float *d = dst + (size_t)oy * g->ow;
                if (iy < 0 || iy >= g->h) {
                    memset(d, 0, (size_t)g->ow * sizeof(float));
                    continue;
                }
                const float *xr = xp + (size_t)iy * g->w - g->pad + s;
                for (int ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                if (g->bits) {
                    for (int ox = lo; ox < hi; ox++)
                        d[ox] = sr_quantize01(xr[ox * g->st], g->bits);
                } else if (g->st == 1) {
                    memcpy(d + lo, xr + lo, (size_t)(hi - lo) * sizeof(float));
                } else {
                    for (int ox = lo; ox < hi; ox++) d[ox] = xr[ox * g->st];
                }
                for (int ox = hi; ox < g->ow; ox++) d[ox] = 0.0f;
            }
        }
    }
}

/* Work-shared over rows: call inside a parallel region. */
static void im2col(const conv_geom *g, const float *x, int nb, float *col)
{
#pragma omp for schedule(static)
    for (size_t row = 0; row < g->crs; row++) im2col_row(g, x, nb, col, row);
}

/* One image, by the calling thread alone. */
static void im2col_image(const conv_geom *g, const float *x, float *col)
{
    for (size_t row = 0; row < g->crs; row++) im2col_row(g, x, 1, col, row);
}

/* stage[k][b*p + j] = dy[b][k][j]: the chunk's gradient as one matrix. */
static void gather_dy(const conv_geom *g, const float *dy, int nb,
                      float *stage)
{
    size_t cols = (size_t)nb * g->p;

#pragma omp for schedule(static)
    for (size_t i = 0; i < (size_t)nb * (size_t)g->k; i++) {
        size_t b = i / (size_t)g->k, k = i % (size_t)g->k;
        memcpy(stage + k * cols + b * g->p, dy + i * g->p,
               g->p * sizeof(float));
    }
}

/* C[m][cols] = op(A) B, B given row-major [kdim][cols], one column slice
 * per thread (each slice re-packs op(A), and static slices keep each
 * thread on the same data from op to op; finer dynamic slices measured
 * slower). Work-shared: call from every thread of a parallel region; ends
 * in a barrier. */
static void gemm_cols(int nt, int trans_a, int m, size_t cols,
                      int kdim, const float *a, int lda, const float *b,
                      float *c)
{
    int slices = GEMM_SLICES;
    (void)nt;
#pragma omp for schedule(static)
    for (int sl = 0; sl < slices; sl++) {
        size_t lo, hi;
        sr_cpu_split(cols, sl, slices, &lo, &hi);
        if (hi <= lo) continue;
        sr_cpu_sgemm(trans_a, 0, m, (int)(hi - lo), kdim, a, lda, b + lo,
                     (int)cols, 0.0f, c + lo, (int)cols);
    }
}

/* dx plane (b, c) = sum over taps of dcol, then the activation STE mask
 * (xp non-NULL). */
static void col2im_plane(const conv_geom *g, const float *dcol, size_t cols,
                         size_t b, size_t c, const float *xp, float *plane)
{
    int kh = g->kh, kw = g->kw, st = g->st, pad = g->pad;
    int h = g->h, w = g->w, oh = g->oh, ow = g->ow;

    memset(plane, 0, g->hw * sizeof(float));
    for (int r = 0; r < kh; r++) {
        for (int s = 0; s < kw; s++) {
            size_t row = (c * (size_t)kh + (size_t)r) * (size_t)kw + (size_t)s;
            const float *src = dcol + row * cols + b * g->p;
            int lo, hi;
            tap_range(g, s, &lo, &hi);
            for (int oy = 0; oy < oh; oy++) {
                int iy = oy * st - pad + r;
                if (iy < 0 || iy >= h) continue;
                float *d = plane + (size_t)iy * w - pad + s;
                const float *sr = src + (size_t)oy * ow;
                if (st == 1) {
                    for (int ox = lo; ox < hi; ox++) d[ox] += sr[ox];
                } else {
                    for (int ox = lo; ox < hi; ox++) d[ox * st] += sr[ox];
                }
            }
        }
    }
    if (xp) {
        for (size_t i = 0; i < g->hw; i++)
            if (!(xp[i] >= 0.0f && xp[i] <= 1.0f)) plane[i] = 0.0f;
    }
}

/* Work-shared over (image, channel) planes so no two threads touch one. */
static void col2im(const conv_geom *g, const float *dcol, int nb,
                   const float *x, float *dx)
{
    size_t cols = (size_t)nb * g->p;

#pragma omp for schedule(static)
    for (size_t pl = 0; pl < (size_t)nb * (size_t)g->c; pl++)
        col2im_plane(g, dcol, cols, pl / (size_t)g->c, pl % (size_t)g->c,
                     x ? x + pl * g->hw : NULL, dx + pl * g->hw);
}

/* ------------------------------------------------------------------ */
/* Per-image mode: each thread owns a column matrix and whole images.   */

static size_t col_stride(const conv_geom *g)
{
    return (g->crs * g->p + 15) / 16 * 16;
}

static sr_status fwd_per_image(sr_cpu_backend *cb, const conv_geom *g,
                               const float *x, const float *w,
                               const float *bias, float *y)
{
    size_t cs = col_stride(g), kp = (size_t)g->k * g->p;
    size_t chw = (size_t)g->c * g->hw;
    float *cols;
    SR_TRY(sr_cpu_scratch(cb, cs * (size_t)cb->threads, &cols));

#pragma omp parallel num_threads(cb->threads)
    {
        float *col = cols + cs * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
        for (int b = 0; b < g->n; b++) {
            float *yb = y + (size_t)b * kp;
            im2col_image(g, x + (size_t)b * chw, col);
            sr_cpu_sgemm(0, 0, g->k, (int)g->p, (int)g->crs, w, (int)g->crs,
                         col, (int)g->p, 0.0f, yb, (int)g->p);
            for (int k = 0; bias && k < g->k; k++) {
                float *row = yb + (size_t)k * g->p, bk = bias[k];
                for (size_t j = 0; j < g->p; j++) row[j] += bk;
            }
        }
    }
    return SR_OK;
}

static sr_status bwd_data_per_image(sr_cpu_backend *cb, const conv_geom *g,
                                    const sr_op *op)
{

    const float *dy = sr_cpu_f(op->v[0]), *w = sr_cpu_f(op->v[1]);
    const float *x = g->bits ? sr_cpu_f(op->v[2]) : NULL;
    float *dx = sr_cpu_f(op->v[3]);
    size_t cs = col_stride(g), kp = (size_t)g->k * g->p;
    float *cols;
    SR_TRY(sr_cpu_scratch(cb, cs * (size_t)cb->threads, &cols));

#pragma omp parallel num_threads(cb->threads)
    {
        float *dcol = cols + cs * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
        for (int b = 0; b < g->n; b++) {
            sr_cpu_sgemm(1, 0, (int)g->crs, (int)g->p, g->k, w, (int)g->crs,
                         dy + (size_t)b * kp, (int)g->p, 0.0f, dcol,
                         (int)g->p);
            for (int c = 0; c < g->c; c++) {
                size_t pl = (size_t)b * (size_t)g->c + (size_t)c;
                col2im_plane(g, dcol, g->p, 0, (size_t)c,
                             x ? x + pl * g->hw : NULL, dx + pl * g->hw);
            }
        }
    }
    return SR_OK;
}

static sr_status bwd_weight_per_image(sr_cpu_backend *cb, const conv_geom *g,
                                      const sr_op *op)
{
    const float *x = sr_cpu_f(op->v[0]), *dy = sr_cpu_f(op->v[1]);
    float *dw = sr_cpu_f(op->v[2]);
    size_t cs = col_stride(g), kp = (size_t)g->k * g->p;
    size_t chw = (size_t)g->c * g->hw, kc = (size_t)g->k * g->crs;
    int groups = cb->threads > WGRAD_GROUPS ? cb->threads : WGRAD_GROUPS;
    if (groups > g->n) groups = g->n;
    float *cols, *part;
    SR_TRY(sr_cpu_scratch(cb, cs * (size_t)cb->threads +
                                  kc * (size_t)(groups - 1), &cols));
    part = cols + cs * (size_t)cb->threads;

#pragma omp parallel num_threads(cb->threads)
    {
        float *col = cols + cs * (size_t)omp_get_thread_num();
        /* Group 0 accumulates in dw itself, the others in partials. */
#pragma omp for schedule(static)
        for (int grp = 0; grp < groups; grp++) {
            float *dst = grp == 0 ? dw : part + kc * (size_t)(grp - 1);
            int b0 = (int)((long)g->n * grp / groups);
            int b1 = (int)((long)g->n * (grp + 1) / groups);
            for (int b = b0; b < b1; b++) {
                im2col_image(g, x + (size_t)b * chw, col);
                sr_cpu_sgemm(0, 1, g->k, (int)g->crs, (int)g->p,
                             dy + (size_t)b * kp, (int)g->p, col, (int)g->p,
                             b == b0 ? 0.0f : 1.0f, dst, (int)g->crs);
            }
        }
#pragma omp for schedule(static)
        for (size_t i = 0; i < kc; i++) {
            float acc = dw[i];
            for (int grp = 1; grp < groups; grp++)
                acc += part[kc * (size_t)(grp - 1) + i];
            dw[i] = acc;
        }
    }
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Chunked mode                                                        */

static sr_status conv_fwd(sr_cpu_backend *cb, const conv_geom *gp,
                          const float *x, const float *w, const float *bias,
                          float *y)
{
    const conv_geom g = *gp;
    if (g.per_image) return fwd_per_image(cb, &g, x, w, bias, y);
    float *col, *stage;
    SR_TRY(conv_scratch(cb, &g, &col, &stage));
    size_t kp = (size_t)g.k * g.p;

    for (int n0 = 0; n0 < g.n; n0 += g.nb) {
        int nb = g.n - n0 < g.nb ? g.n - n0 : g.nb;
        size_t cols = (size_t)nb * g.p;
        const float *xn = x + (size_t)n0 * g.c * g.hw;
        float *yn = y + (size_t)n0 * kp;
        /* One image: the GEMM writes y directly. */
        float *out = nb == 1 ? yn : stage;
        const float *src = g.direct ? xn : col;

#pragma omp parallel num_threads(cb->threads)
        {
            int nt = omp_get_num_threads();
            if (!g.direct) im2col(&g, xn, nb, col); /* ends in a barrier */
            gemm_cols(nt, 0, g.k, cols, (int)g.crs, w,
                      (int)g.crs, src, out); /* ends in a barrier */
            /* Back to NCHW (in place when nb == 1) and add the bias. */
            if (nb > 1 || bias) {
#pragma omp for schedule(static)
                for (size_t i = 0; i < (size_t)nb * (size_t)g.k; i++) {
                    size_t b = i / (size_t)g.k, k = i % (size_t)g.k;
                    float *dst = yn + i * g.p;
                    const float *s = out + k * cols + b * g.p;
                    float bk = bias ? bias[k] : 0.0f;
                    for (size_t j = 0; j < g.p; j++) dst[j] = s[j] + bk;
                }
            }
        }
    }
    return SR_OK;
}

sr_status sr_cpu_conv2d_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    conv_geom g;
    if (sr_cpu_dconv_suits(&op->p.conv))
        return sr_cpu_dconv_fwd(cb, &op->p.conv, sr_cpu_f(op->v[0]),
                                sr_cpu_f(op->v[1]), sr_cpu_f(op->v[2]),
                                sr_cpu_f(op->v[3]));
    conv_geom_init(&g, &op->p.conv);
    return conv_fwd(cb, &g, sr_cpu_f(op->v[0]), sr_cpu_f(op->v[1]),
                    sr_cpu_f(op->v[2]), sr_cpu_f(op->v[3]));
}

/* Stride 1, square kernel: dx is the forward convolution of dy (padded by
 * kh-1-pad) with the flipped, transposed kernel w'[c][k][r][s] =
 * w[k][c][kh-1-r][kw-1-s]. Its GEMM has inner dimension k*kh*kw instead of
 * k and needs no col2im: much faster for large planes with small k
 * (ResNet's 16 channels at 32x32). On small planes (chunked mode) the
 * GEMM + col2im path measured faster. */
static sr_status bwd_data_as_fwd(sr_cpu_backend *cb, const conv_geom *g,
                                 const sr_op *op)
{
    const float *dy = sr_cpu_f(op->v[0]), *w = sr_cpu_f(op->v[1]);
    const float *x = g->bits ? sr_cpu_f(op->v[2]) : NULL;
    float *dx = sr_cpu_f(op->v[3]);
    sr_conv2d_desc td = {
        .n = g->n, .c = g->k, .h = g->oh, .w = g->ow, .k = g->c,
        .kh = g->kh, .kw = g->kw, .stride = 1, .pad = g->kh - 1 - g->pad,
    };
    conv_geom t;
    conv_geom_init(&t, &td);
    size_t kc = (size_t)g->k * g->crs, rs = (size_t)g->kh * (size_t)g->kw;
    size_t nx = (size_t)g->n * (size_t)g->c * g->hw;
    /* Own allocation: conv_fwd uses the scratch arena. */
    float *wt = aligned_alloc(SR_CPU_ALIGN, (kc * sizeof(float) + 63) / 64 * 64);
    SR_CHECK(wt, SR_E_NOMEM, "conv2d_bwd_data: out of memory for %zu weights",
             kc);

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (size_t i = 0; i < kc; i++) {
        size_t c = i / ((size_t)g->k * rs), k = i / rs % (size_t)g->k;
        wt[i] = w[(k * (size_t)g->c + c) * rs + (rs - 1 - i % rs)];
    }
    sr_status st = conv_fwd(cb, &t, dy, wt, NULL, dx);
    free(wt);
    if (st != SR_OK || !x) return st;

    /* STE of the fused activation quantizer. */
#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (size_t i = 0; i < nx; i++)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f)) dx[i] = 0.0f;
    return SR_OK;
}

sr_status sr_cpu_conv2d_bwd_data(sr_cpu_backend *cb, const sr_op *op)
{
    conv_geom g;
    if (sr_cpu_dconv_suits(&op->p.conv))
        return sr_cpu_dconv_bwd_data(
            cb, &op->p.conv, sr_cpu_f(op->v[0]), sr_cpu_f(op->v[1]),
            op->p.conv.act_bits ? sr_cpu_f(op->v[2]) : NULL,
            sr_cpu_f(op->v[3]));
    conv_geom_init(&g, &op->p.conv);
    if (g.per_image && g.st == 1 && g.kh == g.kw)
        return bwd_data_as_fwd(cb, &g, op);
    if (g.per_image) return bwd_data_per_image(cb, &g, op);
    const float *dy = sr_cpu_f(op->v[0]), *w = sr_cpu_f(op->v[1]);
    const float *x = g.bits ? sr_cpu_f(op->v[2]) : NULL;
    float *dx = sr_cpu_f(op->v[3]);
    float *col, *stage;
    SR_TRY(conv_scratch(cb, &g, &col, &stage));
    size_t chw = (size_t)g.c * g.hw;

    for (int n0 = 0; n0 < g.n; n0 += g.nb) {
        int nb = g.n - n0 < g.nb ? g.n - n0 : g.nb;
        size_t cols = (size_t)nb * g.p;
        const float *dyn = dy + (size_t)n0 * g.k * g.p;
        const float *dym = nb == 1 ? dyn : stage;
        const float *xn = x ? x + (size_t)n0 * chw : NULL;
        float *dxn = dx + (size_t)n0 * chw;
        /* 1x1 direct: the column gradient is dx itself. */
        float *dcol = g.direct ? dxn : col;

#pragma omp parallel num_threads(cb->threads)
        {
            int nt = omp_get_num_threads();
            if (nb > 1) gather_dy(&g, dyn, nb, stage); /* ends in a barrier */
            gemm_cols(nt, 1, (int)g.crs, cols, g.k, w,
                      (int)g.crs, dym, dcol); /* ends in a barrier */
            if (!g.direct) col2im(&g, col, nb, xn, dxn);
        }
    }
    return SR_OK;
}

/* db[k] = sum over images and pixels of dy[:, k], in a fixed order. */
static void bias_grad(sr_cpu_backend *cb, const conv_geom *g, const float *dy,
                      float *db)
{
    size_t kp = (size_t)g->k * g->p;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (int k = 0; k < g->k; k++) {
        double acc = 0.0;
        for (int b = 0; b < g->n; b++) {
            const float *s = dy + (size_t)b * kp + (size_t)k * g->p;
            for (size_t j = 0; j < g->p; j++) acc += s[j];
        }
        db[k] = (float)acc;
    }
}

sr_status sr_cpu_conv2d_bwd_weight(sr_cpu_backend *cb, const sr_op *op)
{
    conv_geom g;
    conv_geom_init(&g, &op->p.conv);
    const float *x = sr_cpu_f(op->v[0]), *dy = sr_cpu_f(op->v[1]);
    float *dw = sr_cpu_f(op->v[2]), *db = sr_cpu_f(op->v[3]);
    float *col, *stage;
    size_t kp = (size_t)g.k * g.p;

    if (db) bias_grad(cb, &g, dy, db);
    if (sr_cpu_dconv_suits(&op->p.conv))
        return sr_cpu_dconv_bwd_weight(cb, &op->p.conv, x, dy, dw);
    if (g.per_image) return bwd_weight_per_image(cb, &g, op);
    SR_TRY(conv_scratch(cb, &g, &col, &stage));

    /* dw[k][crs] (+)= dy_chunk[k][cols] . col[crs][cols]^T, sliced over the
     * larger of k and crs. */
    int slice_rows = (size_t)g.k > g.crs;
    for (int n0 = 0; n0 < g.n; n0 += g.nb) {
        int nb = g.n - n0 < g.nb ? g.n - n0 : g.nb;
        size_t cols = (size_t)nb * g.p;
        const float *xn = x + (size_t)n0 * g.c * g.hw;
        const float *dyn = dy + (size_t)n0 * kp;
        const float *dym = nb == 1 ? dyn : stage;
        const float *src = g.direct ? xn : col;
        float beta = n0 == 0 ? 0.0f : 1.0f;

#pragma omp parallel num_threads(cb->threads)
        {
            /* A fixed number of slices, whatever the thread count: each
             * GEMM call then has the same shape and rounds the same. */
            int slices = GEMM_SLICES;
            if (!g.direct) im2col(&g, xn, nb, col);
            if (nb > 1) gather_dy(&g, dyn, nb, stage);
#pragma omp for schedule(static)
            for (int sl = 0; sl < slices; sl++) {
                size_t lo, hi;
                if (slice_rows) {
                    sr_cpu_split((size_t)g.k, sl, slices, &lo, &hi);
                    if (hi > lo)
                        sr_cpu_sgemm(0, 1, (int)(hi - lo), (int)g.crs,
                                     (int)cols, dym + lo * cols, (int)cols,
                                     src, (int)cols, beta, dw + lo * g.crs,
                                     (int)g.crs);
                } else {
                    sr_cpu_split(g.crs, sl, slices, &lo, &hi);
                    if (hi > lo)
                        sr_cpu_sgemm(0, 1, g.k, (int)(hi - lo), (int)cols,
                                     dym, (int)cols, src + lo * cols,
                                     (int)cols, beta, dw + lo, (int)g.crs);
                }
            }
        }
    }
    return SR_OK;
}
