/* Depthwise convolution (one kh x kw kernel per channel), direct loops.
 *
 * Depthwise layers do c*kh*kw multiply-adds per output pixel instead of
 * c*k*kh*kw, so they are memory bound and a GEMM formulation gains nothing.
 * Every output element (forward: y, backward: dx, dw, db) is computed by
 * one thread from start to end in a fixed order, so the result does not
 * depend on the thread count or the schedule. The weight gradient sums in
 * float64 over images and pixels, as the other reductions here. */
#include "cpu_internal.h"

#include <string.h>

#include "sinreq/qmath.h"

typedef struct dw_geom {
    int n, c, h, w, kh, kw, st, pad, oh, ow, bits;
} dw_geom;

static dw_geom dw_geom_of(const sr_conv2d_desc *d)
{
    dw_geom g = {d->n, d->c, d->h, d->w, d->kh, d->kw, d->stride, d->pad,
                 sr_conv2d_out_h(d), sr_conv2d_out_w(d), d->act_bits};
    return g;
}

/* The input as the layer sees it: quantized on read when bits > 0. */
static inline float dw_in(const float *x, size_t i, int bits)
{
    return bits ? sr_quantize01(x[i], bits) : x[i];
}

sr_status sr_cpu_dwconv2d_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    const dw_geom g = dw_geom_of(&op->p.conv);
    const float *x = sr_cpu_f(op->v[0]), *w = sr_cpu_f(op->v[1]);
    const float *b = sr_cpu_f(op->v[2]);
    float *y = sr_cpu_f(op->v[3]);
    long planes = (long)g.n * g.c;
    size_t hw = (size_t)g.h * (size_t)g.w, ohw = (size_t)g.oh * (size_t)g.ow;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (long pl = 0; pl < planes; pl++) {
        int ch = (int)(pl % g.c);
        const float *wc = w + (size_t)ch * (size_t)(g.kh * g.kw);
        size_t xb = (size_t)pl * hw;
        float *yp = y + (size_t)pl * ohw;
        float bias = b ? b[ch] : 0.0f;
        for (int oy = 0; oy < g.oh; oy++)
            for (int ox = 0; ox < g.ow; ox++) {
                float acc = 0.0f;
                for (int r = 0; r < g.kh; r++) {
                    int iy = oy * g.st - g.pad + r;
                    if (iy < 0 || iy >= g.h) continue;
                    for (int s = 0; s < g.kw; s++) {
                        int ix = ox * g.st - g.pad + s;
                        if (ix < 0 || ix >= g.w) continue;
                        acc += wc[r * g.kw + s] *
                               dw_in(x, xb + (size_t)iy * g.w + ix, g.bits);
                    }
                }
                yp[(size_t)oy * g.ow + ox] = acc + bias;
            }
    }
    return SR_OK;
}

/* dx as a gather: each input pixel sums the outputs whose window covers
 * it; the STE of the fused activation quantizer zeroes dx outside [0, 1]. */
sr_status sr_cpu_dwconv2d_bwd_data(sr_cpu_backend *cb, const sr_op *op)
{
    const dw_geom g = dw_geom_of(&op->p.conv);
    const float *dy = sr_cpu_f(op->v[0]), *w = sr_cpu_f(op->v[1]);
    const float *x = g.bits ? sr_cpu_f(op->v[2]) : NULL;
    float *dx = sr_cpu_f(op->v[3]);
    long planes = (long)g.n * g.c;
    size_t hw = (size_t)g.h * (size_t)g.w, ohw = (size_t)g.oh * (size_t)g.ow;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (long pl = 0; pl < planes; pl++) {
        int ch = (int)(pl % g.c);
        const float *wc = w + (size_t)ch * (size_t)(g.kh * g.kw);
        const float *dyp = dy + (size_t)pl * ohw;
        float *dxp = dx + (size_t)pl * hw;
        for (int iy = 0; iy < g.h; iy++)
            for (int ix = 0; ix < g.w; ix++) {
                float acc = 0.0f;
                for (int r = 0; r < g.kh; r++) {
                    int ty = iy + g.pad - r;
                    if (ty < 0 || ty % g.st) continue;
                    int oy = ty / g.st;
                    if (oy >= g.oh) continue;
                    for (int s = 0; s < g.kw; s++) {
                        int tx = ix + g.pad - s;
                        if (tx < 0 || tx % g.st) continue;
                        int ox = tx / g.st;
                        if (ox >= g.ow) continue;
                        acc += wc[r * g.kw + s] * dyp[(size_t)oy * g.ow + ox];
                    }
                }
                size_t i = (size_t)iy * g.w + ix;
                if (x) {
                    float v = x[(size_t)pl * hw + i];
                    if (!(v >= 0.0f && v <= 1.0f)) acc = 0.0f;
                }
                dxp[i] = acc;
            }
    }
    return SR_OK;
}

/* dw[c][r][s] and db[c]: one channel per iteration, all its taps summed in
 * one pass over images and output pixels. */
sr_status sr_cpu_dwconv2d_bwd_weight(sr_cpu_backend *cb, const sr_op *op)
{
    const dw_geom g = dw_geom_of(&op->p.conv);
    const float *x = sr_cpu_f(op->v[0]), *dy = sr_cpu_f(op->v[1]);
    float *dw = sr_cpu_f(op->v[2]), *db = sr_cpu_f(op->v[3]);
    size_t hw = (size_t)g.h * (size_t)g.w, ohw = (size_t)g.oh * (size_t)g.ow;
    int taps = g.kh * g.kw;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (int ch = 0; ch < g.c; ch++) {
        double acc[11 * 11], bacc = 0.0;
        memset(acc, 0, sizeof acc);
        for (int b = 0; b < g.n; b++) {
            size_t pl = (size_t)b * (size_t)g.c + (size_t)ch;
            const float *dyp = dy + pl * ohw;
            size_t xb = pl * hw;
            for (int oy = 0; oy < g.oh; oy++)
                for (int ox = 0; ox < g.ow; ox++) {
                    double gy = dyp[(size_t)oy * g.ow + ox];
                    bacc += gy;
                    for (int r = 0; r < g.kh; r++) {
                        int iy = oy * g.st - g.pad + r;
                        if (iy < 0 || iy >= g.h) continue;
                        for (int s = 0; s < g.kw; s++) {
                            int ix = ox * g.st - g.pad + s;
                            if (ix < 0 || ix >= g.w) continue;
                            acc[r * g.kw + s] +=
                                gy * dw_in(x, xb + (size_t)iy * g.w + ix,
                                           g.bits);
                        }
                    }
                }
        }
        for (int t = 0; t < taps; t++)
            dw[(size_t)ch * (size_t)taps + (size_t)t] = (float)acc[t];
        if (db) db[ch] = (float)bacc;
    }
    return SR_OK;
}
