/* Divergence guards: a loss or a weight far beyond where a healthy run
 * goes stops the run before the state is saved. */
#include <math.h>
#include <stdlib.h>

#include "trainer.h"

/* Divergence guard on the weights: every trainable tensor's largest |w|
 * against max_abs_weight, before a checkpoint (every epoch end and every
 * checkpoint_interval steps). Every rank holds the same parameters, so every
 * rank stops with the same message. */
sr_status sr_train_check_weights(struct trainer *tr)
{
    double bound = tr->c->max_abs_weight;
    int nt = sr_nn_tensor_count(tr->net);
    float *buf = NULL;
    size_t cap = 0;
    sr_status st = SR_OK;

    if (bound <= 0)
        return SR_OK;
    for (int i = 0; st == SR_OK && i < nt; i++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(tr->net, i);
        double mx = 0;
        size_t at = 0;

        if (!ti->trainable)
            continue;
        st = sr_train_grow_floats(&buf, &cap, ti->numel);
        if (st == SR_OK)
            st = sr_nn_read_tensor(tr->net, i, buf);
        for (size_t j = 0; st == SR_OK && j < ti->numel; j++)
            if (fabs((double)buf[j]) > mx) {
                mx = fabs((double)buf[j]);
                at = j;
            }
        if (st == SR_OK && mx > bound) {
            tr->agreed = 1;
            st = sr_error(SR_E_NUMERIC, "weight %s reached %g (element %zu) "
                          "at epoch %d step %ld (global step %ld), above "
                          "max_abs_weight %g: training diverged; try a "
                          "smaller --lr (--max-abs-weight 0 turns this check "
                          "off). No checkpoint of this state is written.",
                          ti->name, (double)buf[at], at, tr->p.epoch,
                          tr->p.step, tr->t, bound);
        }
    }
    free(buf);
    return st;
}

/* Divergence guard on the loss: a step's loss (the mean cross-entropy over
 * the global batch, the same on every rank) above diverge_factor x the
 * larger of ln(classes), a uniform guess's loss, and the run's first loss
 * (kept in checkpoints: a resumed run stops where the uninterrupted one
 * would). A healthy run only goes down from its start; DoReFa on a network
 * without batch norm starts at ~1e4 and may recover from there. */
sr_status sr_train_check_loss(struct trainer *tr, double loss, int e)
{
    double f = tr->c->diverge_factor, ref;
    int k = sr_nn_classes(tr->net);

    /* recorded even while the check is off: a resume may turn it on */
    if (tr->p.first_loss <= 0 && isfinite(loss) && loss > 0)
        tr->p.first_loss = loss;
    if (f <= 0)
        return SR_OK;
    ref = log(k > 2 ? (double)k : 2.0);
    if (tr->p.first_loss > ref)
        ref = tr->p.first_loss;
    if (!(loss > f * ref))
        return SR_OK;
    tr->agreed = 1;
    return sr_error(SR_E_NUMERIC, "training loss %g at epoch %d step %ld "
                    "(global step %ld, lr %g) is above diverge_factor %g x "
                    "%g = %g (the larger of ln(%d classes) and the run's "
                    "first loss): training diverged; try a smaller --lr "
                    "(--diverge-factor 0 turns this check off). No model is "
                    "saved and no checkpoint of this state is written.",
                    loss, e, tr->p.step, tr->t, tr->p.lr, f, ref, f * ref, k);
}
