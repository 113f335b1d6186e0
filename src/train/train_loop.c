/* The training loop: steps, the end of each epoch, the end of the run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "run_io.h"
#include "trainer.h"

/* CPU seconds of this process, every thread, user + system. */
static double cpu_now(void)
{
    struct rusage u;

    if (getrusage(RUSAGE_SELF, &u))
        return 0;
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
           (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

static const char *loader_class_name(const void *ld, int k)
{
    return sr_loader_class_name(ld, k);
}

/* Loss and accuracy over a whole split (every rank's shard); r (may be
 * NULL) gets the whole result: top-5, per class, confusion. */
static sr_status evaluate(struct trainer *tr, sr_loader *ld, double *loss,
                          double *acc, sr_eval_result *r)
{
    double sum = 0;
    long n = 0, right = 0;
    float *logits = NULL;
    sr_status st = SR_OK;

    if (r) {
        SR_TRY(sr_eval_result_init(r, sr_nn_classes(tr->net)));
        logits = malloc((size_t)sr_nn_batch(tr->net) *
                        (size_t)r->classes * sizeof *logits);
        st = logits ? sr_eval_result_names(r, loader_class_name, ld)
                    : sr_error(SR_E_NOMEM, "out of memory");
    }
    if (st == SR_OK)
        st = sr_loader_seek(ld, 0, 0);
    while (st == SR_OK) {
        int nv = 0;
        float l;
        uint32_t ok;
        st = sr_loader_next(ld, tr->x, tr->y, &nv);
        if (st != SR_OK || nv == 0)
            break;
        st = sr_nn_set_batch(tr->net, tr->x, tr->y);
        if (st == SR_OK)
            st = sr_nn_eval_step(tr->net, nv);
        if (st == SR_OK)
            st = sr_nn_read_stats(tr->net, &l, &ok);
        if (st == SR_OK && r)
            st = sr_nn_read_logits(tr->net, logits);
        if (st != SR_OK)
            break;
        if (r)
            sr_eval_result_add(r, logits, tr->y, nv);
        sum += (double)l * nv;
        right += ok;
        n += nv;
    }
    free(logits);
    if (st == SR_OK && tr->nranks > 1) {
        /* each rank evaluated its shard of the split */
        double v[4] = {sum, (double)right, (double)n,
                       r ? (double)r->correct5 : 0};
        st = sr_dist_sum_f64(tr->d, v, 4);
        sum = v[0];
        right = (long)v[1];
        n = (long)v[2];
        if (st == SR_OK && r) {
            r->correct5 = (long)v[3];
            st = sr_dist_sum_f64(tr->d, r->confusion,
                                 r->classes * r->classes);
        }
    }
    if (st != SR_OK) {
        sr_eval_result_free(r);
        return st;
    }
    *loss = n ? sum / (double)n : NAN;
    *acc = n ? (double)right / (double)n : NAN;
    if (r) {
        r->n = n;
        r->loss = *loss;
        r->acc = *acc;
        r->top5 = n ? (double)r->correct5 / (double)n : NAN;
    }
    return SR_OK;
}

/* After a step: a checkpoint is due (interval), or a signal asks for one. */
static int step_ckpt_due(struct trainer *tr)
{
    long n = tr->c->checkpoint_interval;

    /* the epoch's last step is checkpointed at the epoch end instead */
    if (tr->p.step >= tr->steps_per_epoch)
        return 0;
    return sr_train_stopping(tr) || (n > 0 && tr->t % n == 0);
}

/* The position the loop starts from: the beginning, or the checkpoint's
 * (an epoch it completed: the next one). */
static void start_position(struct trainer *tr)
{
    struct progress *p = &tr->p;

    if (!tr->resumed) {
        p->epoch = 1;
        p->best = p->best_test = -1;
        p->best_top5 = NAN;
        p->fin_acc = p->fin_loss = p->val_acc = p->fin_top5 = NAN;
    } else if (p->complete) {
        p->epoch++;
        p->step = 0;
        p->sum = 0;
        p->right = p->seen = 0;
        p->gnorm_sum = 0, p->clipped = 0;
    }
    p->complete = 0;
}

/* One epoch's clock: when it started and the rows it had seen then (> 0
 * when resumed within the epoch). */
struct epoch_clock {
    double start;
    long seen0;
};

static sr_status begin_epoch(struct trainer *tr, int e,
                             struct epoch_clock *clk)
{
    clk->start = sr_now();
    clk->seen0 = tr->p.seen;
    tr->p.epoch = e;
    memset(&tr->et, 0, sizeof tr->et);
    tr->et.cpu_s = cpu_now();
    return sr_loader_seek(tr->train, e - 1, (int)tr->p.step);
}

/* The step's learning rate, lambda, WaveQ coefficients and dropout key. */
static void step_scalars(struct trainer *tr, sr_nn_scalars *sc)
{
    const sr_train_config *c = tr->c;
    struct progress *p = &tr->p;

    memset(sc, 0, sizeof *sc);
    p->lr = sr_train_lr(c, &tr->s, tr->t, tr->steps_per_epoch, tr->T);
    p->lam = sr_quant_lambda(&tr->s.lambda, tr->t, tr->T);
    sc->lr = (float)p->lr;
    sc->step = (uint32_t)tr->t;
    sc->lambda = (float)p->lam;
    if (c->waveq) {
        sr_quant_waveq_coefs(&tr->s.waveq, tr->t, tr->T, &sc->waveq_w,
                             &sc->waveq_beta);
        sc->beta_lr = sr_quant_waveq_beta_lr(&tr->s.waveq, tr->t, tr->T);
        /* the logged lambda is the active regularizer's: WaveQ's lambda_w */
        p->lam = sc->waveq_w;
    }
    /* dropout masks are keyed by the step: another key per rank */
    if (tr->nranks > 1)
        sc->step = (uint32_t)(tr->t * tr->nranks + tr->rank);
}

/* steps.tsv, the divergence guards and the epoch's sums for one step's
 * global loss x rows, correct rows and rows (v). */
static sr_status account_step(struct trainer *tr, int e, const double v[3])
{
    struct progress *p = &tr->p;

    /* %.9g: every float32 loss round-trips, so backends compare exactly
     * from this file */
    if (tr->steps && fprintf(tr->steps, "%ld\t%d\t%.9g\t%.0f\t%.0f\n", tr->t,
                             e, v[0] / v[2], v[1], v[2]) < 0)
        sr_train_note_write_error(tr, "steps.tsv");
    if (!isfinite(v[0])) {
        tr->agreed = 1;
        return sr_error(SR_E_NUMERIC, "non-finite training loss (%g) at "
                        "epoch %d step %ld (lr %g): training diverged; try a "
                        "smaller --lr. No model is saved and no checkpoint "
                        "of this state is written.", v[0] / v[2], e, p->step,
                        p->lr);
    }
    SR_TRY(sr_train_check_loss(tr, v[0] / v[2], e));
    p->sum += v[0];
    p->right += (long)v[1];
    p->seen += (long)v[2];
    return SR_OK;
}

/* A checkpoint within the epoch (interval, signal, --max-steps); after a
 * signal, tr->requeue: the run exits for the scheduler to requeue it. */
static sr_status step_checkpoint(struct trainer *tr, int stop)
{
    struct progress *p = &tr->p;

    if (!step_ckpt_due(tr) && !(stop && p->step < tr->steps_per_epoch))
        return SR_OK;
    SR_TRY(sr_train_write_ckpt(tr));
    if (sr_train_stopping(tr)) {
        tr->requeue = 1;
        sr_train_say(tr, "%s: checkpoint written at epoch %d step %ld "
                     "(global step %ld); exiting with %d (requeue, then "
                     "--resume auto)", sr_train_stop_name(tr), p->epoch,
                     p->step, tr->t, SR_EXIT_REQUEUE);
    }
    return SR_OK;
}

/* One step of epoch e: the next batch, the step, its accounting, then a
 * checkpoint if one is due. *more = 0: the data ran out or the run
 * requeues; *stop = 1: --max-steps reached. */
static sr_status step(struct trainer *tr, struct epoch_clock *clk, int *more,
                      int *stop)
{
    struct progress *p = &tr->p;
    int e = p->epoch, nv = 0;
    sr_nn_scalars sc;
    double v[4], ts;

    SR_TRY(sr_loader_next(tr->train, tr->x, tr->y, &nv));
    if (nv == 0) {
        *more = 0;
        return SR_OK;
    }
    step_scalars(tr, &sc);
    /* the step's time: from the upload of the batch to its statistics on
     * the host (loading excluded) */
    ts = sr_now();
    sr_dist_set_context(tr->d, tr->t + 1, NULL);
    SR_TRY(sr_nn_set_batch(tr->net, tr->x, tr->y));
    SR_TRY(sr_nn_set_scalars(tr->net, &sc));
    SR_TRY(sr_train_step(tr, nv, v));
    tr->et.step_s += sr_now() - ts;
    tr->et.steps++;
    tr->t++;
    p->step++;
    SR_TRY(account_step(tr, e, v));
    if (tr->werr_file)
        SR_TRY(sr_train_files_ok(tr));
    if (tr->root)
        sr_train_show_progress(tr, e, p->sum / p->seen,
                               (double)p->right / p->seen,
                               (p->seen - clk->seen0) /
                                   (sr_now() - clk->start));
    if (tr->c->max_steps && tr->t >= tr->c->max_steps)
        *stop = 1;
    if (tr->test_sleep > 0)
        usleep((useconds_t)(tr->test_sleep * 1e6));
    SR_TRY(step_checkpoint(tr, *stop));
    if (tr->requeue)
        *more = 0;
    return SR_OK;
}

/* The quantized layers' R and quantization error as the epoch left them,
 * BN statistics averaged, WaveQ's bits followed. */
static sr_status epoch_layer_state(struct trainer *tr)
{
    SR_TRY(sr_train_sync_bn(tr));
    if (tr->nq) {
        float *r = malloc((size_t)tr->nq * 2 * sizeof *r);
        SR_CHECK(r, SR_E_NOMEM, "out of memory");
        sr_status st = sr_nn_read_quant_metrics(tr->net, r, r + tr->nq);
        for (int i = 0; st == SR_OK && i < tr->nq; i++) {
            tr->q[i].reg = r[i];
            tr->q[i].qerr = r[tr->nq + i];
        }
        free(r);
        SR_TRY(st);
    }
    return sr_train_waveq_bits(tr);
}

/* The best epoch so far, on the validation split when there is one (the
 * test split otherwise): its numbers, and its weights as best.h5 (rank 0),
 * written before the epoch's checkpoint records it as the best. */
static sr_status select_best(struct trainer *tr, double acc, double test_acc)
{
    struct progress *p = &tr->p;
    sr_model_meta m;
    sr_status st;

    if (!(acc > p->best))
        return SR_OK;
    p->best = acc;
    p->best_epoch = p->epoch;
    p->best_test = test_acc;
    p->best_top5 = tr->fin_eval.top5;
    if (!tr->root)
        return SR_OK;
    st = sr_train_model_meta(tr, &m);
    if (st == SR_OK)
        st = sr_train_save_model(tr->net, sr_train_path(tr, "best.h5"), &m);
    sr_model_meta_free(&m);
    return st;
}

/* The end of an epoch: evaluation, metrics.jsonl, train.log, histograms,
 * and (the epoch complete) its checkpoint; stop: the run's last epoch. */
static sr_status end_epoch(struct trainer *tr, const struct epoch_clock *clk,
                           int stop)
{
    const sr_train_config *c = tr->c;
    struct progress *p = &tr->p;
    int e = p->epoch;
    sr_train_epoch_metrics m = {.epoch = e, .test_loss = NAN,
                                .test_acc = NAN, .val_loss = NAN,
                                .val_acc = NAN};
    double ips = (p->seen - clk->seen0) / (sr_now() - clk->start);
    long seen = p->seen, right = p->right;
    double n = seen ? (double)seen : 1;
    /* the run's last epoch is always evaluated: the result is measured */
    int last = stop || e == c->epochs;
    int eval = last || (c->eval_every > 0 && e % c->eval_every == 0);
    char test[96], val[48], lr[64], secs[32];

    /* CPU time of the loop: with images_per_s, how much of the machine a
     * step took (a shared machine's load changes the one, much less the
     * other) */
    tr->et.cpu_s = cpu_now() - tr->et.cpu_s;
    if (tr->nranks > 1)
        SR_TRY(sr_dist_sum_f64(tr->d, &tr->et.cpu_s, 1));
    SR_TRY(epoch_layer_state(tr));
    if (eval) {
        sr_eval_result_free(&tr->fin_eval);
        SR_TRY(evaluate(tr, tr->test, &m.test_loss, &m.test_acc, &tr->fin_eval));
        if (tr->val)
            SR_TRY(evaluate(tr, tr->val, &m.val_loss, &m.val_acc, NULL));
        p->fin_acc = m.test_acc;
        p->fin_loss = m.test_loss;
        p->val_acc = m.val_acc;
        p->fin_top5 = tr->fin_eval.top5;
        /* a partial epoch (--max-steps) is no candidate: a resumed run, which
         * completes it, must choose as a run done in one go */
        if (p->step >= tr->steps_per_epoch)
            SR_TRY(select_best(tr, tr->val ? m.val_acc : m.test_acc,
                               m.test_acc));
    }
    m.steps = tr->t;
    m.lr = p->lr;
    m.lam = p->lam;
    m.train_loss = seen ? p->sum / (double)seen : NAN;
    m.train_acc = seen ? (double)right / (double)seen : NAN;
    m.ips = ips;
    if (tr->root)
        SR_TRY(sr_train_metrics_line(tr, &m));
    if (eval)
        snprintf(test, sizeof test, "test loss %.4f acc %.4f", m.test_loss,
                 m.test_acc);
    else
        snprintf(test, sizeof test, "test not evaluated (eval_every %d)",
                 c->eval_every);
    val[0] = '\0';
    if (eval && tr->val)
        snprintf(val, sizeof val, " | val acc %.4f", m.val_acc);
    snprintf(lr, sizeof lr, "lr %.4g lambda %.4g", p->lr, p->lam);
    sr_fmt_duration(secs, sizeof secs, sr_now() - clk->start);
    sr_train_say(tr, "epoch %d/%d: train loss %.4f acc %.4f | %s%s | %s | "
                 "%s, %.0f img/s", e, c->epochs, p->sum / n,
                 (double)right / n, test, val, lr, secs, ips);
    if (tr->root && sr_train_hist_wanted(tr, e, last))
        SR_TRY(sr_train_write_hist(tr, e));
    if (p->step >= tr->steps_per_epoch) {
        /* the epoch is done and logged: the next starts from zero */
        p->complete = 1;
        /* several ranks: a signal that came during the evaluation */
        SR_TRY(sr_train_stop_agree(tr));
        SR_TRY(sr_train_write_ckpt(tr));
        p->complete = 0;
        if (sr_train_stopping(tr)) {
            tr->requeue = 1;
            sr_train_say(tr, "%s: checkpoint written at the end of epoch %d "
                         "(global step %ld); exiting with %d (requeue, then "
                         "--resume auto)", sr_train_stop_name(tr), e, tr->t,
                         SR_EXIT_REQUEUE);
            return SR_OK;
        }
    }
    p->step = 0;
    p->sum = 0;
    p->right = p->seen = 0;
    p->gnorm_sum = 0, p->clipped = 0;
    return SR_OK;
}

/* The end of the run: model.h5 and result.json (rank 0), the last line. */
static sr_status finish(struct trainer *tr, const char *cmdline)
{
    struct progress *p = &tr->p;
    int epochs_done = p->epoch < tr->c->epochs ? p->epoch : tr->c->epochs;

    /* resumed after the last epoch's checkpoint: its test evaluation
     * again (the same weights, the same numbers) for result.json */
    if (!tr->fin_eval.confusion) {
        double loss, acc;
        SR_TRY(evaluate(tr, tr->test, &loss, &acc, &tr->fin_eval));
    }
    /* stopped before any epoch was complete: the final state is the best */
    if (p->best_epoch == 0)
        SR_TRY(select_best(tr, tr->val ? p->val_acc : p->fin_acc,
                           p->fin_acc));
    if (tr->root) {
        sr_model_meta m;
        sr_status st;
        memset(&m, 0, sizeof m);
        st = sr_train_files_ok(tr);
        if (st == SR_OK)
            st = sr_train_model_meta(tr, &m);
        if (st == SR_OK)
            st = sr_train_save_model(tr->net, sr_train_path(tr, "model.h5"),
                                     &m);
        sr_model_meta_free(&m);
        SR_TRY(st);
        SR_TRY(sr_train_write_result(tr, epochs_done, cmdline));
        /* keep_last 0: the checkpoints served the run until it finished
         * (a --max-steps stop keeps the newest: the run may continue) */
        if (tr->c->keep_last == 0 && tr->t >= tr->T)
            SR_TRY(sr_ckpt_remove_all(tr->c->out));
    }
    sr_train_say(tr, "done: %d epochs, %ld steps, final test acc %.4f top-5 "
                 "%.4f; best epoch %d chosen on %s (%s acc %.4f, test acc "
                 "%.4f), in best.h5; %.1f s; run in %s", epochs_done, tr->t,
                 p->fin_acc, tr->fin_eval.top5, p->best_epoch,
                 tr->val ? "the validation split" : "the test split: no --val",
                 tr->val ? "val" : "test", p->best, p->best_test,
                 sr_now() - tr->t0, tr->c->out);
    return sr_train_files_ok(tr);
}

sr_status sr_train_loop(struct trainer *tr, const char *cmdline)
{
    int stop = 0;

    start_position(tr);
    for (int e = tr->p.epoch; e <= tr->c->epochs && !stop; e++) {
        struct epoch_clock clk;
        int more = 1;

        SR_TRY(begin_epoch(tr, e, &clk));
        while (more && !stop && tr->p.step < tr->steps_per_epoch)
            SR_TRY(step(tr, &clk, &more, &stop));
        if (!tr->requeue)
            SR_TRY(end_epoch(tr, &clk, stop));
        if (tr->requeue)
            return sr_train_files_ok(tr);
    }
    return finish(tr, cmdline);
}
