/* Batch norm over (n, hw) per channel. Statistics are float64 sums taken
 * per channel in a fixed order (one channel per loop iteration, 8 lanes
 * within it), so they do not depend on the thread count. */
#include "cpu_internal.h"

#include <math.h>

/* Float64 sums in SR_BN_LANES independent lanes: element i of a plane
 * goes to lane i % SR_BN_LANES, the lanes are combined in a fixed tree at
 * the end. The order depends only on the shape (not on threads), and the
 * independent lanes let the compiler vectorise the loop instead of waiting
 * on one serial add chain. */
#define SR_BN_LANES 8

static double lanes_total(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* Sum of channel c over all n planes. */
SR_CPU_CLONES static double channel_sum(const sr_bn_desc *d, const float *x, int c)
{
    size_t hw = (size_t)d->hw, chw = (size_t)d->c * hw;
    double acc[SR_BN_LANES] = {0};
    for (int b = 0; b < d->n; b++) {
        const float *p = x + (size_t)b * chw + (size_t)c * hw;
        size_t i = 0;
        for (; i + SR_BN_LANES <= hw; i += SR_BN_LANES)
            for (int l = 0; l < SR_BN_LANES; l++) acc[l] += p[i + l];
        for (; i < hw; i++) acc[i % SR_BN_LANES] += p[i];
    }
    return lanes_total(acc);
}

/* Sum of squared deviations from mean over channel c. */
SR_CPU_CLONES static double channel_sq(const sr_bn_desc *d, const float *x, int c,
                         double mean)
{
    size_t hw = (size_t)d->hw, chw = (size_t)d->c * hw;
    double acc[SR_BN_LANES] = {0};
    for (int b = 0; b < d->n; b++) {
        const float *p = x + (size_t)b * chw + (size_t)c * hw;
        size_t i = 0;
        for (; i + SR_BN_LANES <= hw; i += SR_BN_LANES)
            for (int l = 0; l < SR_BN_LANES; l++) {
                double v = (double)p[i + l] - mean;
                acc[l] += v * v;
            }
        for (; i < hw; i++) {
            double v = (double)p[i] - mean;
            acc[i % SR_BN_LANES] += v * v;
        }
    }
    return lanes_total(acc);
}

/* y = (x - mean) * scale + shift over channel c, then max(y, 0) when the
 * ReLU is fused (d->relu): the same float operations as the two ops. */
SR_CPU_CLONES static void channel_affine(const sr_bn_desc *d, const float *x, float *y,
                           int c, float mean, float scale, float shift)
{
    size_t hw = (size_t)d->hw, chw = (size_t)d->c * hw;
    for (int b = 0; b < d->n; b++) {
        size_t o = (size_t)b * chw + (size_t)c * hw;
        if (d->relu) {
            for (size_t i = 0; i < hw; i++) {
                float v = (x[o + i] - mean) * scale + shift;
                y[o + i] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (size_t i = 0; i < hw; i++)
                y[o + i] = (x[o + i] - mean) * scale + shift;
        }
    }
}

sr_status sr_cpu_bn_fwd_train(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_bn_desc *d = &op->p.bn;
    const float *x = sr_cpu_f(op->v[0]), *gamma = sr_cpu_f(op->v[1]);
    const float *beta = sr_cpu_f(op->v[2]);
    float *run_mean = sr_cpu_f(op->v[3]), *run_var = sr_cpu_f(op->v[4]);
    float *save_mean = sr_cpu_f(op->v[5]), *save_invstd = sr_cpu_f(op->v[6]);
    float *y = sr_cpu_f(op->v[7]);
    double cnt = (double)d->n * (double)d->hw;
    double mom = d->momentum;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (int c = 0; c < d->c; c++) {
        /* Two passes: the mean, then squared deviations from it (stable
         * where sum x^2 - n mean^2 would cancel). */
        double mean = channel_sum(d, x, c) / cnt;
        double var = channel_sq(d, x, c, mean) / cnt;
        double invstd = 1.0 / sqrt(var + (double)d->eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        run_mean[c] = (float)((1.0 - mom) * run_mean[c] + mom * mean);
        run_var[c] = (float)((1.0 - mom) * run_var[c] +
                             mom * var * cnt / (cnt - 1.0));
        channel_affine(d, x, y, c, (float)mean, gamma[c] * (float)invstd,
                       beta[c]);
    }
    return SR_OK;
}

sr_status sr_cpu_bn_fwd_eval(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_bn_desc *d = &op->p.bn;
    const float *x = sr_cpu_f(op->v[0]), *gamma = sr_cpu_f(op->v[1]);
    const float *beta = sr_cpu_f(op->v[2]), *run_mean = sr_cpu_f(op->v[3]);
    const float *run_var = sr_cpu_f(op->v[4]);
    float *y = sr_cpu_f(op->v[5]);

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (int c = 0; c < d->c; c++) {
        float invstd = (float)(1.0 / sqrt((double)run_var[c] + (double)d->eps));
        channel_affine(d, x, y, c, run_mean[c], gamma[c] * invstd, beta[c]);
    }
    return SR_OK;
}

/* One channel of bn_bwd: the two sums, then dx. */
SR_CPU_CLONES static void bn_bwd_channel(const sr_bn_desc *d, const float *x,
                                         const float *dy, float gamma_c,
                                         double mean, double invstd, int c,
                                         float *dx, float *dgamma,
                                         float *dbeta)
{
    size_t hw = (size_t)d->hw, chw = (size_t)d->c * hw;
    double cnt = (double)d->n * (double)d->hw;
    double ady[SR_BN_LANES] = {0}, adyx[SR_BN_LANES] = {0};
    for (int b = 0; b < d->n; b++) {
        size_t o = (size_t)b * chw + (size_t)c * hw;
        const float *g = dy + o, *xp = x + o;
        size_t i = 0;
        for (; i + SR_BN_LANES <= hw; i += SR_BN_LANES)
            for (int l = 0; l < SR_BN_LANES; l++) {
                ady[l] += g[i + l];
                adyx[l] += (double)g[i + l] * ((double)xp[i + l] - mean);
            }
        for (; i < hw; i++) {
            ady[i % SR_BN_LANES] += g[i];
            adyx[i % SR_BN_LANES] += (double)g[i] * ((double)xp[i] - mean);
        }
    }
    double sdy = lanes_total(ady), sdyx = lanes_total(adyx) * invstd;
    dbeta[c] = (float)sdy;
    dgamma[c] = (float)sdyx;
    /* double: dy - mean(dy) - xhat mean(dy xhat) cancels almost
     * completely when a channel has few values (n * hw = 2 gives 0
     * up to eps), and float32 there lost 1e-3 relative */
    double k = (double)gamma_c * invstd;
    double mdy = sdy / cnt, mdyx = sdyx / cnt;
    for (int b = 0; b < d->n; b++) {
        size_t o = (size_t)b * chw + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++) {
            double xh = ((double)x[o + i] - mean) * invstd;
            dx[o + i] = (float)(k * ((double)dy[o + i] - mdy - xh * mdyx));
        }
    }
}

/* Training-mode backward with xhat = (x - mean) invstd:
 *   dbeta = sum dy, dgamma = sum dy xhat,
 *   dx = gamma invstd (dy - dbeta/N - xhat dgamma/N). */
sr_status sr_cpu_bn_bwd(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_bn_desc *d = &op->p.bn;
    const float *x = sr_cpu_f(op->v[0]), *dy = sr_cpu_f(op->v[1]);
    const float *gamma = sr_cpu_f(op->v[2]), *save_mean = sr_cpu_f(op->v[3]);
    const float *save_invstd = sr_cpu_f(op->v[4]);
    float *dx = sr_cpu_f(op->v[5]), *dgamma = sr_cpu_f(op->v[6]);
    float *dbeta = sr_cpu_f(op->v[7]);

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (int c = 0; c < d->c; c++)
        bn_bwd_channel(d, x, dy, gamma[c], save_mean[c], save_invstd[c], c,
                       dx, dgamma, dbeta);
    return SR_OK;
}
