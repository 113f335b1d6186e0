/* One training step: the captured program(s), and with several ranks the
 * gradient averaging overlapped with backward, BN and WaveQ state kept
 * equal on every rank. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/parse.h"
#include "trainer.h"

/* nranks > 1: a step is forward, loss and backward in segments; the
 * gradient average, each bucket started when the segment that completes it
 * has run; the update. Training batches are always full (drop_last).
 * Segment k's ops (the first also forward, loss and the pass's start): */
static sr_status seg_ops(struct trainer *tr, int k)
{
    if (k == 0) {
        SR_TRY(sr_nn_forward(tr->net, 1));
        SR_TRY(sr_nn_loss(tr->net, sr_nn_batch(tr->net)));
        SR_TRY(sr_nn_backward_begin(tr->net));
    }
    return sr_nn_backward_until(tr->net, tr->seg[k].layer);
}

/* One rank with clipping: forward, loss, backward (the update apart). */
static sr_status step_to_grads(sr_nn *net)
{
    SR_TRY(sr_nn_forward(net, 1));
    SR_TRY(sr_nn_loss(net, sr_nn_batch(net)));
    return sr_nn_backward(net);
}

/* --clip-grad-norm X: the global L2 norm of the parameters' gradients
 * (averaged over the ranks already: every rank computes the same), and the
 * update's scale min(1, X / (norm + 1e-6)), PyTorch's clip_grad_norm_. */
static sr_status clip_grads(struct trainer *tr)
{
    double sumsq, norm, scale = 1.0;

    if (tr->c->clip_grad_norm <= 0)
        return SR_OK;
    SR_TRY(sr_nn_grad_sumsq(tr->net, &sumsq));
    norm = sqrt(sumsq);
    if (norm + 1e-6 > tr->c->clip_grad_norm)   /* NaN: left to the guards */
        scale = tr->c->clip_grad_norm / (norm + 1e-6);
    tr->p.gnorm_sum += norm;
    tr->p.clipped += scale < 1.0;
    return sr_nn_set_grad_scale(tr->net, (float)scale);
}

void sr_train_free_progs(struct trainer *tr)
{
    if (tr->prog)
        sr_program_free(tr->be, tr->prog);
    if (tr->prog_upd)
        sr_program_free(tr->be, tr->prog_upd);
    for (int k = 0; tr->seg_prog && k < tr->nseg; k++)
        if (tr->seg_prog[k])
            sr_program_free(tr->be, tr->seg_prog[k]);
    free(tr->seg_prog);
    tr->prog = tr->prog_upd = NULL;
    tr->seg_prog = NULL;
}

/* One rank: the whole step as one program. Several: one program per
 * backward segment (so the trainer can start buckets between them), then
 * the update. */
sr_status sr_train_capture(struct trainer *tr)
{
    sr_status st = SR_OK, st2 = SR_OK;

    sr_train_free_progs(tr);
    if (!tr->c->capture)
        return SR_OK;
    if (tr->nranks == 1 && tr->c->clip_grad_norm <= 0) {
        SR_TRY(sr_backend_begin_capture(tr->be));
        st = sr_nn_train_step(tr->net);
        st2 = sr_backend_end_capture(tr->be, &tr->prog);
    } else if (tr->nranks == 1) {
        /* clipping reads the gradients between backward and the update */
        SR_TRY(sr_backend_begin_capture(tr->be));
        st = step_to_grads(tr->net);
        st2 = sr_backend_end_capture(tr->be, &tr->prog);
        if (st == SR_OK && st2 == SR_OK) {
            SR_TRY(sr_backend_begin_capture(tr->be));
            st = sr_nn_update(tr->net);
            st2 = sr_backend_end_capture(tr->be, &tr->prog_upd);
        }
    } else {
        tr->seg_prog = calloc((size_t)tr->nseg, sizeof *tr->seg_prog);
        SR_CHECK(tr->seg_prog, SR_E_NOMEM, "out of memory");
        for (int k = 0; st == SR_OK && st2 == SR_OK && k < tr->nseg; k++) {
            SR_TRY(sr_backend_begin_capture(tr->be));
            st = seg_ops(tr, k);
            st2 = sr_backend_end_capture(tr->be, &tr->seg_prog[k]);
        }
        if (st == SR_OK && st2 == SR_OK) {
            SR_TRY(sr_backend_begin_capture(tr->be));
            st = sr_nn_update(tr->net);
            st2 = sr_backend_end_capture(tr->be, &tr->prog_upd);
        }
    }
    if (st == SR_E_UNSUPPORTED || st2 == SR_E_UNSUPPORTED) {
        /* the graph cannot be replayed here: run steps immediately */
        sr_train_free_progs(tr);
        sr_train_say(tr, "note: step capture unsupported (%s); running immediately",
            sr_last_error());
        return SR_OK;
    }
    SR_TRY(st);
    return st2;
}

/* WaveQ: each layer takes ceil(beta) bits (sr_quant_waveq_bits); a change
 * invalidates the captured step. */
sr_status sr_train_waveq_bits(struct trainer *tr)
{
    float *beta;
    int changed = 0;
    sr_status st = SR_OK;

    if (!tr->c->waveq || !tr->nq)
        return SR_OK;
    beta = malloc((size_t)tr->nq * sizeof *beta);
    SR_CHECK(beta, SR_E_NOMEM, "out of memory");
    st = sr_nn_read_betas(tr->net, beta);
    for (int i = 0; st == SR_OK && i < tr->nq; i++) {
        int b = sr_quant_waveq_bits(beta[i], tr->s.quantizer);
        tr->q[i].beta = beta[i];
        if (b != tr->q[i].bits) {
            st = sr_nn_set_layer_bits(tr->net, i, b);
            tr->q[i].bits = b;
            changed = 1;
        }
    }
    free(beta);
    if (st == SR_OK && changed)
        st = sr_train_capture(tr);
    return st;
}

/* BN running statistics := their average over the ranks (each rank's
 * follow its own batches): before an evaluation, a checkpoint, the model
 * file. Linear, so averaging at these points only does not change the
 * average at the end. */
sr_status sr_train_sync_bn(struct trainer *tr)
{
    size_t words = 0;
    sr_buf *b;

    if (tr->nranks == 1 || tr->bn_synced)
        return SR_OK;
    b = sr_nn_state_buf(tr->net, &words);
    if (b && words) {
        sr_dist_range r = {b, 0, words};
        SR_TRY(sr_dist_avg_bufs(tr->d, tr->be, &r, 1));
    }
    tr->bn_synced = 1;
    return SR_OK;
}

/* WaveQ betas := their average over the ranks, after every update. nn does
 * not expose the betas' gradient; their SGD (with momentum) is linear in
 * the gradient and every rank starts the step from the same betas, so the
 * average of the updated betas is the betas updated with the averaged
 * gradient (training batches are full on every rank: equal weights). */
static sr_status sync_betas(struct trainer *tr)
{
    float *b;
    sr_status st;

    if (tr->nranks == 1 || !tr->c->waveq || !tr->nq)
        return SR_OK;
    b = malloc((size_t)tr->nq * sizeof *b);
    SR_CHECK(b, SR_E_NOMEM, "out of memory");
    st = sr_nn_read_betas(tr->net, b);
    if (st == SR_OK)
        st = sr_dist_sum_f32(tr->d, b, (size_t)tr->nq);
    for (int i = 0; st == SR_OK && i < tr->nq; i++)
        b[i] *= 1.0f / (float)tr->nranks;
    if (st == SR_OK)
        st = sr_nn_write_betas(tr->net, b);
    free(b);
    return st;
}

/* Rank 0's state to every rank after initialisation, --init or a resume:
 * parameters, momentum, BN statistics, betas, bitwidths, progress. */
sr_status sr_train_bcast_state(struct trainer *tr)
{
    int ns = sr_nn_slab_count(tr->net), nr = 0, nq = tr->nq;
    sr_dist_range *r = calloc((size_t)(2 * ns + 1), sizeof *r);
    float *beta = malloc((size_t)(nq ? nq : 1) * sizeof *beta);
    int *bits = malloc((size_t)(nq ? nq : 1) * sizeof *bits);
    struct {
        struct progress p;
        long t, ck_nranks;
        int resumed;
    } blob;
    sr_status st = SR_OK;

    if (!r || !beta || !bits) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; st == SR_OK && i < ns; i++) {
        sr_buf *pb, *gb, *mb;
        size_t w;
        st = sr_nn_slab(tr->net, i, &pb, &gb, &mb, &w);
        r[nr++] = (sr_dist_range){pb, 0, w};
        r[nr++] = (sr_dist_range){mb, 0, w};
    }
    if (st == SR_OK) {
        size_t w = 0;
        sr_buf *sb = sr_nn_state_buf(tr->net, &w);
        if (sb && w)
            r[nr++] = (sr_dist_range){sb, 0, w};
        st = sr_dist_bcast_bufs(tr->d, tr->be, r, nr);
    }
    if (st == SR_OK && nq) {
        for (int i = 0; i < nq; i++)
            bits[i] = tr->q[i].bits;
        st = sr_nn_read_betas(tr->net, beta);
        if (st == SR_OK)
            st = sr_dist_bcast_bytes(tr->d, beta, (size_t)nq * sizeof *beta);
        if (st == SR_OK)
            st = sr_dist_bcast_bytes(tr->d, bits, (size_t)nq * sizeof *bits);
        if (st == SR_OK)
            st = sr_nn_write_betas(tr->net, beta);
        for (int i = 0; st == SR_OK && i < nq; i++) {
            tr->q[i].beta = beta[i];
            if (bits[i] != tr->q[i].bits) {
                st = sr_nn_set_layer_bits(tr->net, i, bits[i]);
                tr->q[i].bits = bits[i];
            }
        }
    }
    if (st == SR_OK) {
        memset(&blob, 0, sizeof blob);
        blob.p = tr->p;
        blob.t = tr->t;
        blob.ck_nranks = tr->ck_nranks;
        blob.resumed = tr->resumed;
        st = sr_dist_bcast_bytes(tr->d, &blob, sizeof blob);
        tr->p = blob.p;
        tr->t = blob.t;
        tr->ck_nranks = blob.ck_nranks;
        tr->resumed = blob.resumed;
    }
out:
    free(r);
    free(beta);
    free(bits);
    return st;
}

/* Backward segments for the plan's buckets: walking backward from the
 * last layer, a segment ends at each layer after which more buckets are
 * final (sr_nn_grad_final_words counts over the slabs in plan order). The
 * last segment always ends at layer 0; the buckets it completes are started
 * by sr_dist_grad_finish. SINREQ_DIST_OVERLAP=0: one segment, i.e. the whole
 * backward and then every bucket (the serial schedule; the same sums). */
static sr_status seg_plan(struct trainer *tr)
{
    const char *ov = getenv("SINREQ_DIST_OVERLAP");
    int overlap = 1;
    int nb = sr_dist_grad_bucket_count(tr->grad), ns = sr_nn_slab_count(tr->net);
    size_t *start = calloc((size_t)ns + 1, sizeof *start);
    sr_status st = SR_OK;
    int b = 0;

    if (ov && sr_parse_int("SINREQ_DIST_OVERLAP", ov, 0, 1, &overlap) != SR_OK) {
        free(start);
        return SR_E_CONFIG;
    }
    free(tr->seg);
    tr->nseg = 0;
    tr->seg = calloc((size_t)nb + 1, sizeof *tr->seg);
    if (!start || !tr->seg) {
        free(start);
        return sr_error(SR_E_NOMEM, "out of memory");
    }
    /* where each slab (plan range) starts when laid end to end */
    for (int i = 0; st == SR_OK && i < ns; i++) {
        size_t w = 0;
        st = sr_nn_slab(tr->net, i, NULL, NULL, NULL, &w);
        start[i + 1] = start[i] + w;
    }
    if (st == SR_OK && sr_nn_grad_final_words(tr->net, 0) != start[ns])
        st = sr_error(SR_E_INTERNAL, "backward leaves %zu of %zu gradient "
                      "words final", sr_nn_grad_final_words(tr->net, 0),
                      start[ns]);
    for (int l = sr_nn_layer_count(tr->net) - 1;
         st == SR_OK && overlap && l >= 0 && b < nb; l--) {
        size_t done = sr_nn_grad_final_words(tr->net, l);
        int b0 = b;
        for (; st == SR_OK && b < nb; b++) {
            sr_dist_range r;
            int ri = 0;
            st = sr_dist_grad_bucket(tr->grad, b, &r, &ri);
            if (st != SR_OK || start[ri] + r.off + r.words > done)
                break;
        }
        if (b > b0)
            tr->seg[tr->nseg++] = (struct seg){l, b};
    }
    free(start);
    SR_TRY(st);
    if (!tr->nseg || tr->seg[tr->nseg - 1].layer != 0)
        tr->seg[tr->nseg++] = (struct seg){0, nb};
    return SR_OK;
}

/* The gradient plan: every gradient slab, in the order backward fills
 * them, in buckets of bucket_mb MiB. SINREQ_DIST_VERIFY=1 checks every step
 * that all ranks hold the same averaged gradient (tests). */
sr_status sr_train_grad_plan(struct trainer *tr)
{
    int ns = sr_nn_slab_count(tr->net);
    sr_dist_range *r = calloc((size_t)(ns ? ns : 1), sizeof *r);
    const char *v = getenv("SINREQ_DIST_VERIFY");
    size_t bytes = (size_t)(tr->c->bucket_mb * 1048576.0);
    sr_status st = SR_OK;

    SR_CHECK(r, SR_E_NOMEM, "out of memory");
    for (int i = 0; st == SR_OK && i < ns; i++) {
        sr_buf *pb, *gb, *mb;
        size_t w;
        st = sr_nn_slab(tr->net, i, &pb, &gb, &mb, &w);
        r[i] = (sr_dist_range){gb, 0, w};
    }
    if (st == SR_OK)
        st = sr_dist_grad_create(tr->d, tr->be, r, ns,
                                 bytes - bytes % sizeof(float), &tr->grad);
    free(r);
    if (st == SR_OK && v) {
        int verify = 0;
        st = sr_parse_int("SINREQ_DIST_VERIFY", v, 0, 1, &verify);
        if (st == SR_OK && verify)
            sr_dist_grad_set_verify(tr->grad, 1);
    }
    return st == SR_OK ? seg_plan(tr) : st;
}

/* One step on every rank: forward, loss, backward in segments, each
 * followed by the start of the buckets it completed (MPI_Iallreduce, while
 * the next segments run); the gradients averaged (weighted by valid rows);
 * the update. v gets the global sums of loss x rows, correct rows, rows,
 * and whether a rank saw a stop signal: one small allreduce. */
static sr_status dist_step(struct trainer *tr, int nv, double v[4])
{
    sr_dist_grad_times gt;
    float loss;
    uint32_t ok;

    for (int k = 0; k < tr->nseg; k++) {
        if (tr->seg_prog)
            SR_TRY(sr_program_run(tr->be, tr->seg_prog[k]));
        else
            SR_TRY(seg_ops(tr, k));
        /* Vulkan runs programs asynchronously; reading a bucket waits for
         * the segment anyway, so waiting here changes nothing but keeps
         * the device's time out of the copy time (allreduce_copy_s) */
        SR_TRY(sr_backend_sync(tr->be));
        /* begin's weight exchange after the first segment: no collective
         * before there is work to overlap it with */
        if (k == 0)
            SR_TRY(sr_dist_grad_begin(tr->grad, (double)nv));
        /* the last segment's buckets: finish starts them */
        if (k + 1 < tr->nseg)
            SR_TRY(sr_dist_grad_bucket_ready(tr->grad, tr->seg[k].ready - 1));
    }
    SR_TRY(sr_dist_grad_finish(tr->grad));
    sr_dist_grad_last_times(tr->grad, &gt);
    tr->et.wait_s += gt.wait_s;
    tr->et.copy_s += gt.copy_s;
    tr->et.progress_s += gt.progress_s;
    tr->et.early += gt.early;
    SR_TRY(clip_grads(tr));
    if (tr->prog_upd)
        SR_TRY(sr_program_run(tr->be, tr->prog_upd));
    else
        SR_TRY(sr_nn_update(tr->net));
    SR_TRY(sync_betas(tr));
    SR_TRY(sr_nn_read_stats(tr->net, &loss, &ok));
    tr->bn_synced = 0;
    v[0] = (double)loss * nv;
    v[1] = (double)ok;
    v[2] = (double)nv;
    v[3] = sr_train_stop_signal != 0;
    SR_TRY(sr_dist_sum_f64(tr->d, v, 4));
    /* rank 0 took part: the checkpoint it wrote before this step is whole */
    if (tr->ck_last[0]) {
        sr_dist_set_context(tr->d, tr->t + 1, tr->ck_last);
        tr->ck_last[0] = '\0';
    }
    tr->stop = v[3] > 0;
    tr->stop_sig = sr_train_stop_signal ? sr_train_stop_signal : tr->stop ? -1 : 0;
    return SR_OK;
}

sr_status sr_train_step(struct trainer *tr, int nv, double v[4])
{
    float loss;
    uint32_t ok;

    if (tr->nranks > 1)
        return dist_step(tr, nv, v);
    if (tr->c->clip_grad_norm > 0) {
        if (tr->prog)
            SR_TRY(sr_program_run(tr->be, tr->prog));
        else
            SR_TRY(step_to_grads(tr->net));
        SR_TRY(clip_grads(tr));
        if (tr->prog_upd)
            SR_TRY(sr_program_run(tr->be, tr->prog_upd));
        else
            SR_TRY(sr_nn_update(tr->net));
    } else if (tr->prog) {
        SR_TRY(sr_program_run(tr->be, tr->prog));
    } else {
        SR_TRY(sr_nn_train_step(tr->net));
    }
    SR_TRY(sr_nn_read_stats(tr->net, &loss, &ok));
    /* the same sums as several ranks report; loss x rows is exact in a
     * double, so v[0] / v[2] gives the float loss back */
    v[0] = (double)loss * nv;
    v[1] = (double)ok;
    v[2] = (double)nv;
    v[3] = sr_train_stop_signal != 0;
    return SR_OK;
}
