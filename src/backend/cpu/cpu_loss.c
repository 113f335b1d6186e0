/* Softmax cross-entropy (mean over the batch) and top-1 counting. Rows are
 * independent; the batch mean sums per-row float64 losses in row order. */
#include "cpu_internal.h"

#include <math.h>

static sr_status check_labels(const uint32_t *labels, int n, int classes,
                              const char *op)
{
    for (int i = 0; i < n; i++)
        SR_CHECK(labels[i] < (uint32_t)classes, SR_E_ARG,
                 "%s: label %u of row %d outside [0, %d)", op, labels[i], i,
                 classes);
    return SR_OK;
}

sr_status sr_cpu_softmax_xent(sr_cpu_backend *cb, const sr_op *op)
{
    int n = op->p.xent.n, classes = op->p.xent.classes;
    const float *logits = sr_cpu_f(op->v[0]);
    const uint32_t *labels = sr_cpu_u(op->v[1]);
    float *loss = sr_cpu_f(op->v[2]), *dlogits = sr_cpu_f(op->v[3]);
    double eps = op->p.xent.smoothing;
    double *row_loss;
    float *scratch;
    SR_TRY(check_labels(labels, n, classes, "softmax_xent"));
    SR_CHECK(classes > 0, SR_E_ARG, "softmax_xent: %d classes", classes);
    /* n doubles in the (aligned) float scratch */
    SR_TRY(sr_cpu_scratch(cb, 2 * (size_t)n, &scratch));
    row_loss = (double *)(void *)scratch;

#pragma omp parallel for schedule(static) num_threads(cb->threads)
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * (size_t)classes;
        float *g = dlogits + (size_t)i * (size_t)classes;
        /* Shift by the row max so exp never overflows. */
        float mx = l[0];
        for (int j = 1; j < classes; j++) mx = l[j] > mx ? l[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < classes; j++) sum += exp((double)l[j] - mx);
        double lse = log(sum);
        uint32_t y = labels[i];
        if (eps == 0.0) {
            row_loss[i] = lse - ((double)l[y] - mx);
            for (int j = 0; j < classes; j++) {
                double p = exp((double)l[j] - mx) / sum;
                g[j] = (float)((p - (j == (int)y ? 1.0 : 0.0)) / n);
            }
            continue;
        }
        /* target (1 - eps) onehot + eps / classes */
        double shifted = 0.0, off = eps / classes;
        for (int j = 0; j < classes; j++) shifted += (double)l[j] - mx;
        row_loss[i] = lse - (1.0 - eps) * ((double)l[y] - mx) -
                      off * shifted;
        for (int j = 0; j < classes; j++) {
            double p = exp((double)l[j] - mx) / sum;
            g[j] = (float)((p - (j == (int)y ? 1.0 - eps + off : off)) / n);
        }
    }
    double total = 0.0;
    for (int i = 0; i < n; i++) total += row_loss[i];
    *loss = (float)(total / n);
    return SR_OK;
}

sr_status sr_cpu_top1_count(sr_cpu_backend *cb, const sr_op *op)
{
    int n = op->p.xent.n, classes = op->p.xent.classes;
    const float *logits = sr_cpu_f(op->v[0]);
    const uint32_t *labels = sr_cpu_u(op->v[1]);
    uint32_t *correct = sr_cpu_u(op->v[2]);
    uint32_t count = 0;

    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * (size_t)classes;
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (l[j] > l[best]) best = j; /* first on ties */
        count += (uint32_t)best == labels[i];
    }
    *correct = count;
    return SR_OK;
}
