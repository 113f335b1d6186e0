/* Max pooling (with arg-max indices) and adaptive average pooling. Every
 * loop runs over whole (image, channel) planes, so each output element is
 * written by exactly one thread and backward scatter-adds stay ordered. */
#include "cpu_internal.h"

#include <math.h>
#include <string.h>

sr_status sr_cpu_maxpool_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_pool_desc *d = &op->p.pool;
    const float *x = sr_cpu_f(op->v[0]);
    float *y = sr_cpu_f(op->v[1]);
    uint32_t *idx = sr_cpu_u(op->v[2]);
    int oh = sr_pool_out_h(d), ow = sr_pool_out_w(d);
    size_t hw = (size_t)d->h * (size_t)d->w, ohw = (size_t)oh * (size_t)ow;
    size_t planes = (size_t)d->n * (size_t)d->c;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * hw;
        float *yp = y + pl * ohw;
        uint32_t *ip = idx + pl * ohw;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                /* Scan the in-image part of the window row-major; the
                 * first strict maximum wins, padding is never a candidate
                 * and a NaN wins (as PyTorch) so it is not hidden. */
                float best = 0.0f;
                int at = -1;
                for (int r = 0; r < d->k; r++) {
                    int iy = oy * d->stride - d->pad + r;
                    if (iy < 0 || iy >= d->h) continue;
                    for (int s = 0; s < d->k; s++) {
                        int ix = ox * d->stride - d->pad + s;
                        if (ix < 0 || ix >= d->w) continue;
                        int i = iy * d->w + ix;
                        float v = xp[i];
                        if (at < 0 || v > best ||
                            (isnan(v) && !isnan(best))) {
                            best = v;
                            at = i;
                        }
                    }
                }
                yp[oy * ow + ox] = best;
                ip[oy * ow + ox] = (uint32_t)at;
            }
        }
    }
    return SR_OK;
}

sr_status sr_cpu_maxpool_bwd(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_pool_desc *d = &op->p.pool;
    const float *dy = sr_cpu_f(op->v[0]);
    const uint32_t *idx = sr_cpu_u(op->v[1]);
    float *dx = sr_cpu_f(op->v[2]);
    size_t hw = (size_t)d->h * (size_t)d->w;
    size_t ohw = (size_t)sr_pool_out_h(d) * (size_t)sr_pool_out_w(d);
    size_t planes = (size_t)d->n * (size_t)d->c;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (size_t pl = 0; pl < planes; pl++) {
        float *dp = dx + pl * hw;
        const float *g = dy + pl * ohw;
        const uint32_t *ip = idx + pl * ohw;
        memset(dp, 0, hw * sizeof(float));
        /* Overlapping windows may share an arg-max: accumulate. */
        for (size_t j = 0; j < ohw; j++) dp[ip[j]] += g[j];
    }
    return SR_OK;
}

/* PyTorch's adaptive bins: [floor(i in / out), ceil((i + 1) in / out)). */
static void bin(int i, int in, int out, int *lo, int *hi)
{
    *lo = (int)(((long)i * in) / out);
    *hi = (int)(((long)(i + 1) * in + out - 1) / out);
}

sr_status sr_cpu_avgpool_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_avgpool_desc *d = &op->p.avgpool;
    const float *x = sr_cpu_f(op->v[0]);
    float *y = sr_cpu_f(op->v[1]);
    size_t hw = (size_t)d->h * (size_t)d->w;
    size_t ohw = (size_t)d->oh * (size_t)d->ow;
    size_t planes = (size_t)d->n * (size_t)d->c;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * hw;
        for (int oy = 0; oy < d->oh; oy++) {
            int y0, y1;
            bin(oy, d->h, d->oh, &y0, &y1);
            for (int ox = 0; ox < d->ow; ox++) {
                int x0, x1;
                bin(ox, d->w, d->ow, &x0, &x1);
                double acc = 0.0;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++)
                        acc += xp[(size_t)iy * (size_t)d->w + (size_t)ix];
                y[pl * ohw + (size_t)oy * (size_t)d->ow + (size_t)ox] =
                    (float)(acc / ((double)(y1 - y0) * (double)(x1 - x0)));
            }
        }
    }
    return SR_OK;
}

sr_status sr_cpu_avgpool_bwd(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_avgpool_desc *d = &op->p.avgpool;
    const float *dy = sr_cpu_f(op->v[0]);
    float *dx = sr_cpu_f(op->v[1]);
    size_t hw = (size_t)d->h * (size_t)d->w;
    size_t ohw = (size_t)d->oh * (size_t)d->ow;
    size_t planes = (size_t)d->n * (size_t)d->c;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (size_t pl = 0; pl < planes; pl++) {
        float *dp = dx + pl * hw;
        memset(dp, 0, hw * sizeof(float));
        for (int oy = 0; oy < d->oh; oy++) {
            int y0, y1;
            bin(oy, d->h, d->oh, &y0, &y1);
            for (int ox = 0; ox < d->ow; ox++) {
                int x0, x1;
                bin(ox, d->w, d->ow, &x0, &x1);
                float g = dy[pl * ohw + (size_t)oy * (size_t)d->ow +
                             (size_t)ox] /
                          (float)((y1 - y0) * (x1 - x0));
                /* Bins overlap when the size does not divide: add. */
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++)
                        dp[(size_t)iy * (size_t)d->w + (size_t)ix] += g;
            }
        }
    }
    return SR_OK;
}
