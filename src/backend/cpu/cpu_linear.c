/* Fully connected layer: y = x w^T + b via SGEMM, split across the OpenMP
 * team by sr_cpu_gemm_slice. With act_bits the input is quantized into
 * scratch first (linear inputs are small next to conv activations). */
#include "cpu_internal.h"

#include <omp.h>

#include "sinreq/qmath.h"

/* x, or its quantized copy in scratch when act_bits > 0. */
static sr_status linear_input(sr_cpu_backend *cb, const sr_linear_desc *d,
                              const float *x, const float **out)
{
    if (!d->act_bits) {
        *out = x;
        return SR_OK;
    }
    size_t n = (size_t)d->n * (size_t)d->in;
    float *xq;
    SR_TRY(sr_cpu_scratch(cb, n, &xq));
    int bits = d->act_bits;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (size_t i = 0; i < n; i++) xq[i] = sr_quantize01(x[i], bits);
    *out = xq;
    return SR_OK;
}

sr_status sr_cpu_linear_fwd(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_linear_desc *d = &op->p.linear;
    const float *x, *w = sr_cpu_f(op->v[1]), *bias = sr_cpu_f(op->v[2]);
    float *y = sr_cpu_f(op->v[3]);
    SR_TRY(linear_input(cb, d, sr_cpu_f(op->v[0]), &x));

#pragma omp parallel num_threads(cb->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        sr_cpu_gemm_slice(tid, nt, 0, 1, d->n, d->out, d->in, x, d->in, w,
                          d->in, 0.0f, y, d->out);
        if (bias) {
#pragma omp barrier
#pragma omp for schedule(static)
            for (int i = 0; i < d->n; i++) {
                float *row = y + (size_t)i * (size_t)d->out;
                for (int o = 0; o < d->out; o++) row[o] += bias[o];
            }
        }
    }
    return SR_OK;
}

sr_status sr_cpu_linear_bwd_data(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_linear_desc *d = &op->p.linear;
    const float *dy = sr_cpu_f(op->v[0]), *w = sr_cpu_f(op->v[1]);
    const float *x = d->act_bits ? sr_cpu_f(op->v[2]) : NULL;
    float *dx = sr_cpu_f(op->v[3]);
    size_t n = (size_t)d->n * (size_t)d->in;

#pragma omp parallel num_threads(cb->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        sr_cpu_gemm_slice(tid, nt, 0, 0, d->n, d->in, d->out, dy, d->out, w,
                          d->in, 0.0f, dx, d->in);
        if (x) {
            /* STE of the activation quantizer: no gradient outside [0,1]. */
#pragma omp barrier
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i++)
                if (!(x[i] >= 0.0f && x[i] <= 1.0f)) dx[i] = 0.0f;
        }
    }
    return SR_OK;
}

sr_status sr_cpu_linear_bwd_weight(sr_cpu_backend *cb, const sr_op *op)
{
    const sr_linear_desc *d = &op->p.linear;
    const float *x, *dy = sr_cpu_f(op->v[1]);
    float *dw = sr_cpu_f(op->v[2]), *db = sr_cpu_f(op->v[3]);
    SR_TRY(linear_input(cb, d, sr_cpu_f(op->v[0]), &x));

#pragma omp parallel num_threads(cb->threads)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        sr_cpu_gemm_slice(tid, nt, 1, 0, d->out, d->in, d->n, dy, d->out, x,
                          d->in, 0.0f, dw, d->in);
        if (db) {
            /* Per output, over the batch in a fixed order. */
#pragma omp for schedule(static)
            for (int o = 0; o < d->out; o++) {
                double acc = 0.0;
                for (int i = 0; i < d->n; i++)
                    acc += dy[(size_t)i * (size_t)d->out + (size_t)o];
                db[o] = (float)acc;
            }
        }
    }
    return SR_OK;
}
