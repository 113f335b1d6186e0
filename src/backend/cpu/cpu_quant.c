/* Weight/activation quantizers (DoReFa, WRPN, k-bit activations), the
 * SinReQ and WaveQ regularizers and the mean quantization error.
 *
 * Reductions are taken in float64 per fixed block of SR_CPU_RED_BLOCK
 * elements and the block partials combined in block order, so values are
 * bit-identical for any thread count. */
#include "cpu_internal.h"

#include <math.h>

#include "sinreq/qmath.h"

#define EW_PAR_MIN 32768

static size_t nblocks(size_t n)
{
    return (n + SR_CPU_RED_BLOCK - 1) / SR_CPU_RED_BLOCK;
}

static void block_range(size_t blk, size_t n, size_t *lo, size_t *hi)
{
    *lo = blk * SR_CPU_RED_BLOCK;
    *hi = *lo + SR_CPU_RED_BLOCK < n ? *lo + SR_CPU_RED_BLOCK : n;
}

/* Room for `bytes` of any type in scratch (malloc'd: aligned for any). */
static sr_status scratch_bytes(sr_cpu_backend *cb, size_t bytes, void **out)
{
    float *p;
    SR_TRY(sr_cpu_scratch(cb, (bytes + sizeof *p - 1) / sizeof *p, &p));
    *out = p;
    return SR_OK;
}

/* Room for `count` doubles in scratch. */
static sr_status scratch_f64(sr_cpu_backend *cb, size_t count, double **out)
{
    void *p;
    SR_TRY(scratch_bytes(cb, count * sizeof(double), &p));
    *out = p;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* DoReFa weights                                                      */

/* Per block: max |tanh w| with its first index, and sum dwq * tanh w
 * (only when dwq is given). */
typedef struct dorefa_part {
    double dot;
    float amax;
    size_t at;
} dorefa_part;

static sr_status dorefa_scan(sr_cpu_backend *cb, size_t n, const float *w,
                             const float *dwq, float *t_out, float *m,
                             size_t *at, double *dot)
{
    size_t nb = nblocks(n);
    dorefa_part *part;
    void *mem;
    SR_TRY(scratch_bytes(cb, nb * sizeof *part, &mem));
    part = mem;

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t lo, hi;
        block_range(b, n, &lo, &hi);
        dorefa_part p = {0.0, -1.0f, lo};
        for (size_t i = lo; i < hi; i++) {
            float t = tanhf(w[i]);
            if (t_out) t_out[i] = t;
            if (fabsf(t) > p.amax) {
                p.amax = fabsf(t);
                p.at = i;
            }
            if (dwq) p.dot += (double)dwq[i] * t;
        }
        part[b] = p;
    }
    /* Blocks in order with a strict '>' keep the first arg-max. */
    dorefa_part all = part[0];
    for (size_t b = 1; b < nb; b++) {
        if (part[b].amax > all.amax) {
            all.amax = part[b].amax;
            all.at = part[b].at;
        }
        all.dot += part[b].dot;
    }
    *m = all.amax;
    *at = all.at;
    *dot = all.dot;
    return SR_OK;
}

/* wq = 2 q_k(t / (2M) + 1/2) - 1; an all-zero layer (M = 0) maps every
 * weight to x = 1/2 instead of 0/0. */
sr_status sr_cpu_dorefa_w_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    int bits = op->p.ew.bits;
    const float *w = sr_cpu_f(op->v[0]);
    float *wq = sr_cpu_f(op->v[1]);
    float m;
    size_t at;
    double dot;
    /* wq holds tanh(w) between the two passes (w and wq never alias). */
    SR_TRY(dorefa_scan(cb, n, w, NULL, wq, &m, &at, &dot));
    float two_m = 2.0f * m;

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = m > 0.0f ? wq[i] / two_m + 0.5f : 0.5f;
        wq[i] = 2.0f * sr_quantize01(x, bits) - 1.0f;
    }
    return SR_OK;
}

/* 1 - tanh^2(w) without the cancellation of 1 - t*t near |t| = 1
 * (coshf overflowing to inf gives the right limit, 0). */
static float sech2(float w)
{
    float c = coshf(w);
    return 1.0f / (c * c);
}

/* With x = t/(2M) + 1/2, M = |t_a| (a = first arg-max) and STE on round
 * (dwq/dx = 2):
 *   dw_j  = dwq_j (1 - t_j^2) / M
 *   dw_a += -sign(t_a) (1 - t_a^2) sum_i dwq_i t_i / M^2   (through M). */
sr_status sr_cpu_dorefa_w_bwd(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    const float *w = sr_cpu_f(op->v[0]), *dwq = sr_cpu_f(op->v[1]);
    float *dw = sr_cpu_f(op->v[2]); /* may alias dwq: read before write */
    float m;
    size_t at;
    double dot;
    SR_TRY(dorefa_scan(cb, n, w, dwq, NULL, &m, &at, &dot));

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dw[i] = m > 0.0f ? dwq[i] * sech2(w[i]) / m : 0.0f;
    if (m > 0.0f) {
        double sign = w[at] < 0.0f ? -1.0 : 1.0;
        dw[at] += (float)(-sign * sech2(w[at]) * dot /
                          ((double)m * (double)m));
    }
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* WRPN weights, k-bit activations                                     */

sr_status sr_cpu_wrpn_w_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    int bits = op->p.ew.bits;
    const float *w = sr_cpu_f(op->v[0]);
    float *wq = sr_cpu_f(op->v[1]);

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) wq[i] = sr_wrpn_quantize(w[i], bits);
    return SR_OK;
}

sr_status sr_cpu_wrpn_w_bwd(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    const float *w = sr_cpu_f(op->v[0]), *dwq = sr_cpu_f(op->v[1]);
    float *dw = sr_cpu_f(op->v[2]);

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dw[i] = fabsf(w[i]) <= 1.0f ? dwq[i] : 0.0f;
    return SR_OK;
}

sr_status sr_cpu_actq_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    int bits = op->p.ew.bits;
    const float *x = sr_cpu_f(op->v[0]);
    float *y = sr_cpu_f(op->v[1]);

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = sr_quantize01(x[i], bits);
    return SR_OK;
}

sr_status sr_cpu_actq_bwd(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    const float *x = sr_cpu_f(op->v[0]), *dy = sr_cpu_f(op->v[1]);
    float *dx = sr_cpu_f(op->v[2]);

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] >= 0.0f && x[i] <= 1.0f ? dy[i] : 0.0f;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Regularizers                                                        */

/* Domain X (backend.h): on DoReFa's x_j = t_j / (2M) + 1/2, phi_j = pi L x_j,
 *   value  = (1/div) sum sin^2(phi_j)
 *   g_j    = coef pi L / div sin(2 phi_j)
 *   dw_j  += g_j (1 - t_j^2) / (2M)
 *   dw_a  += -sign(t_a) (1 - t_a^2) / (2M^2) sum_i g_i t_i
 * M and its first arg-max come from DoReFa's own scan (the layer-wide max
 * the quantizer divides by); the rest is in double from tanh(double w). */
static sr_status sinreq_x(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_sinreq_desc *d = &op->p.sinreq;
    size_t n = d->n, nb = nblocks(n), at;
    const float *w = sr_cpu_f(op->v[0]);
    float *dw = sr_cpu_f(op->v[1]), *value = sr_cpu_f(op->v[2]);
    float mf;
    double unused, *part;
    SR_TRY(dorefa_scan(cb, n, w, NULL, NULL, &mf, &at, &unused));
    double L = (double)((1u << d->bits) - 1u);
    double m = fabs(tanh((double)w[at]));
    /* M = 0: every x is 1/2 (as the quantizer maps it), no gradient */
    double inv2m = mf > 0.0f && m > 0.0 ? 0.5 / m : 0.0;
    double gscale = (double)sr_scalar_f(&cb->base, d->coef_slot) * M_PI * L /
                    (double)d->divisor;
    SR_TRY(scratch_f64(cb, 2 * nb, &part));

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t lo, hi;
        block_range(b, n, &lo, &hi);
        double acc = 0.0, dot = 0.0;
        for (size_t i = lo; i < hi; i++) {
            double t = tanh((double)w[i]);
            double phi = M_PI * L * (t * inv2m + 0.5);
            double s = sin(phi), g = gscale * sin(2.0 * phi);
            double c = cosh((double)w[i]);
            acc += s * s;
            dot += g * t;
            dw[i] += (float)(g * inv2m / (c * c)); /* 1/cosh^2 = 1 - t^2 */
        }
        part[2 * b] = acc;
        part[2 * b + 1] = dot;
    }
    double total = 0.0, dot = 0.0;
    for (size_t b = 0; b < nb; b++) {
        total += part[2 * b];
        dot += part[2 * b + 1];
    }
    if (inv2m > 0.0) {
        double c = cosh((double)w[at]);
        double sign = w[at] < 0.0f ? -1.0 : 1.0;
        dw[at] += (float)(-sign / (c * c) * 2.0 * inv2m * inv2m * dot);
    }
    *value = (float)(total / (double)d->divisor);
    return SR_OK;
}

/* value = (1/div) sum sin^2(phi_j), phi_j = pi (w_j + s) / D;
 * dw_j += coef pi / (D div) sin(2 phi_j). */
sr_status sr_cpu_sinreq(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_sinreq_desc *d = &op->p.sinreq;
    if (d->domain == SR_SINREQ_DOMAIN_X) return sinreq_x(cb, op);
    size_t n = d->n, nb = nblocks(n);
    const float *w = sr_cpu_f(op->v[0]);
    float *dw = sr_cpu_f(op->v[1]), *value = sr_cpu_f(op->v[2]);
    float period, shift;
    sr_sinreq_period(d->quantizer == SR_QUANT_DOREFA, d->bits, &period, &shift);
    double coef = sr_scalar_f(&cb->base, d->coef_slot);
    double freq = M_PI / (double)period;
    double gscale = coef * freq / (double)d->divisor;
    double *part;
    SR_TRY(scratch_f64(cb, nb, &part));

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t lo, hi;
        block_range(b, n, &lo, &hi);
        double acc = 0.0;
        for (size_t i = lo; i < hi; i++) {
            double phi = freq * ((double)w[i] + (double)shift);
            double s = sin(phi), c = cos(phi);
            acc += s * s;
            dw[i] += (float)(gscale * 2.0 * s * c);
        }
        part[b] = acc;
    }
    double total = 0.0;
    for (size_t b = 0; b < nb; b++) total += part[b];
    *value = (float)(total / (double)d->divisor);
    return SR_OK;
}

/* m = 2^beta - 1, phi_j = pi w_j m:
 *   value  = (1/div) sum sin^2(phi_j) / 2^beta
 *   dw_j  += coef_w pi m / (2^beta div) sin(2 phi_j)
 *   dbeta += coef_w ln2 / div sum [pi w_j sin(2 phi_j) - sin^2(phi_j)/2^beta]
 *            + coef_beta */
sr_status sr_cpu_waveq(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_waveq_desc *d = &op->p.waveq;
    size_t n = d->n, nb = nblocks(n);
    const float *w = sr_cpu_f(op->v[0]), *beta = sr_cpu_f(op->v[1]);
    float *dw = sr_cpu_f(op->v[2]), *dbeta = sr_cpu_f(op->v[3]);
    float *value = sr_cpu_f(op->v[4]);
    double coef_w = sr_scalar_f(&cb->base, d->coef_w_slot);
    double coef_beta = sr_scalar_f(&cb->base, d->coef_beta_slot);
    double div = d->divisor;
    double p2 = exp2((double)beta[0]), m = p2 - 1.0;
    double gscale = coef_w * M_PI * m / (p2 * div);
    double *part;
    SR_TRY(scratch_f64(cb, 2 * nb, &part));

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t lo, hi;
        block_range(b, n, &lo, &hi);
        double sv = 0.0, sb = 0.0;
        for (size_t i = lo; i < hi; i++) {
            double wi = w[i];
            double phi = M_PI * wi * m;
            double s = sin(phi), c = cos(phi);
            double s2 = s * s, sin2 = 2.0 * s * c;
            sv += s2;
            sb += M_PI * wi * sin2 - s2 / p2;
            dw[i] += (float)(gscale * sin2);
        }
        part[2 * b] = sv;
        part[2 * b + 1] = sb;
    }
    double sv = 0.0, sb = 0.0;
    for (size_t b = 0; b < nb; b++) {
        sv += part[2 * b];
        sb += part[2 * b + 1];
    }
    *value = (float)(sv / (p2 * div));
    dbeta[0] += (float)(coef_w * M_LN2 * sb / div + coef_beta);
    return SR_OK;
}

sr_status sr_cpu_mean_abs_diff(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n, nb = nblocks(n);
    const float *a = sr_cpu_f(op->v[0]), *b = sr_cpu_f(op->v[1]);
    float *out = sr_cpu_f(op->v[2]);
    double *part;
    SR_TRY(scratch_f64(cb, nb, &part));

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t blk = 0; blk < nb; blk++) {
        size_t lo, hi;
        block_range(blk, n, &lo, &hi);
        double acc = 0.0;
        for (size_t i = lo; i < hi; i++)
            acc += fabs((double)a[i] - (double)b[i]);
        part[blk] = acc;
    }
    double total = 0.0;
    for (size_t blk = 0; blk < nb; blk++) total += part[blk];
    *out = (float)(total / (double)n);
    return SR_OK;
}
