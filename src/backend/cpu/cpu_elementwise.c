/* Elementwise ops: fill, copy, add, add + ReLU, ReLU, dropout, SGD. Each element is
 * computed independently, so any schedule gives the same bits. */
#include "cpu_internal.h"

#include <string.h>

#include "sinreq/rng.h"

/* Below this many elements a parallel region costs more than it saves. */
#define EW_PAR_MIN 32768

sr_status sr_cpu_fill(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    float v = op->p.ew.value;
    float *dst = sr_cpu_f(op->v[0]);

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = v;
    return SR_OK;
}

sr_status sr_cpu_copy(sr_cpu_backend *cb, const sr_op *op)
{
    /* memmove: views into one slab may overlap. */
    memmove(sr_cpu_f(op->v[1]), sr_cpu_f(op->v[0]), op->p.ew.n * sizeof(float));
    return SR_OK;
}

/* y = a + b, then max(y, 0) with relu (the same float add either way) */
static void add_maybe_relu(sr_cpu_backend *cb, const sr_op *op, int relu)
{
    size_t n = op->p.ew.n;
    const float *a = sr_cpu_f(op->v[0]), *b = sr_cpu_f(op->v[1]);
    float *y = sr_cpu_f(op->v[2]); /* may alias a */

    /* the test on relu is loop-invariant: the compiler splits the loop */
#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = a[i] + b[i];
        y[i] = !relu || v > 0.0f ? v : 0.0f; /* NaN stays NaN in an add */
    }
}

sr_status sr_cpu_add(sr_cpu_backend *cb, const sr_op *op)
{
    add_maybe_relu(cb, op, 0);
    return SR_OK;
}

sr_status sr_cpu_add_relu(sr_cpu_backend *cb, const sr_op *op)
{
    add_maybe_relu(cb, op, 1);
    return SR_OK;
}

sr_status sr_cpu_relu_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    const float *x = sr_cpu_f(op->v[0]);
    float *y = sr_cpu_f(op->v[1]); /* may alias x */

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return SR_OK;
}

sr_status sr_cpu_relu_bwd(sr_cpu_backend *cb, const sr_op *op)
{
    size_t n = op->p.ew.n;
    const float *y = sr_cpu_f(op->v[0]), *dy = sr_cpu_f(op->v[1]);
    float *dx = sr_cpu_f(op->v[2]);

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        /* Both loads unconditional: the select then vectorises instead of
         * a data-dependent branch (mispredicted half the time). */
        float g = dy[i];
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
    return SR_OK;
}

/* Forward and backward are the same map: out = keep(i) ? in * scale : 0,
 * with the mask regenerated from (seed, stream, step, i). */
sr_status sr_cpu_dropout(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_dropout_desc *d = &op->p.dropout;
    size_t n = d->n;
    const float *in = sr_cpu_f(op->v[0]);
    float *out = sr_cpu_f(op->v[1]);
    uint32_t key = sr_rng_key(d->seed, d->stream,
                              sr_scalar_u(&cb->base, d->step_slot));
    float p = d->p;
    float scale = 1.0f / (1.0f - p);

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        int keep = sr_rng_uniform(key, (uint32_t)i) >= p;
        out[i] = keep ? in[i] * scale : 0.0f;
    }
    return SR_OK;
}

/* PyTorch's SGD: d = s g + wd w; v = momentum v + d; w -= lr v (nesterov:
 * w -= lr (d + momentum v)). s = 1 skips the multiply: the same bits. */
sr_status sr_cpu_sgd(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_sgd_desc *d = &op->p.sgd;
    size_t n = d->n;
    float *w = sr_cpu_f(op->v[0]), *v = sr_cpu_f(op->v[2]);
    const float *g = sr_cpu_f(op->v[1]);
    float mom = d->momentum, wd = d->weight_decay;
    float lr = sr_scalar_f(&cb->base, d->lr_slot);
    float gs = d->grad_scale_slot ? sr_scalar_f(&cb->base, d->grad_scale_slot)
                                  : 1.0f;
    int nesterov = d->nesterov;

#pragma omp parallel for schedule(static) num_threads(cb->threads) \
    if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = gs == 1.0f ? g[i] : gs * g[i];
        float di = gi + wd * w[i];
        float vi = mom * v[i] + di;
        v[i] = vi;
        w[i] -= lr * (nesterov ? di + mom * vi : vi);
    }
    return SR_OK;
}
