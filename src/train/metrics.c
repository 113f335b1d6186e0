/* metrics.jsonl (a line per epoch), result.json (the run's summary) and the
 * progress line on stderr. */
#include <errno.h>
#include <string.h>

#include "run_io.h"
#include "trainer.h"

/* The run's step count: --max-steps ends it early. */
long sr_train_total_steps(const struct trainer *tr)
{
    long m = tr->c->max_steps;

    return m > 0 && m < tr->T ? m : tr->T;
}

/* A line at most every 0.1 s on a terminal (rewritten in place), else a
 * plain line every progress_every steps or seconds (a log file). The step
 * count and the ETA are the run's: global steps out of the total that
 * --max-steps leaves. */
void sr_train_show_progress(struct trainer *tr, int epoch, double loss,
                            double acc, double ips)
{
    const sr_train_config *c = tr->c;
    double now = sr_now();
    long total = sr_train_total_steps(tr);
    double eta = ips > 0 ? (double)(total - tr->t) * c->batch * tr->nranks /
                               ips : 0;
    char e[32];

    if (c->quiet)
        return;
    if (tr->tty) {
        if (now - tr->progress_last < 0.1 && tr->t != total)
            return;
    } else if (tr->progress_steps > 0) {
        if (tr->t % tr->progress_steps)
            return;
    } else if (now - tr->progress_last < tr->progress_s) {
        return;
    }
    sr_fmt_duration(e, sizeof e, eta);
    fprintf(stderr, "%sstep %ld/%ld epoch %d/%d loss %.4f acc %.3f %.0f "
            "img/s ETA %s%s", tr->tty ? "\r\033[K" : "", tr->t, total, epoch,
            c->epochs, loss, acc, ips, e, tr->tty ? "" : "\n");
    fflush(stderr);
    tr->progress_last = now;
}

sr_status sr_train_metrics_line(struct trainer *tr,
                                const sr_train_epoch_metrics *m)
{
    FILE *f = tr->metrics;

    fprintf(f, "{\"epoch\": %d, \"steps\": %ld, \"lr\": ", m->epoch,
            m->steps);
    sr_json_num(f, m->lr);
    fputs(", \"lambda\": ", f);
    sr_json_num(f, m->lam);
    if (tr->c->waveq) {
        /* the coefficients of the epoch's last step (lambda is lambda_w) */
        long t = m->steps > 0 ? m->steps - 1 : 0;
        float cw, cb;
        sr_quant_waveq_coefs(&tr->s.waveq, t, tr->T, &cw, &cb);
        fputs(", \"waveq_lambda_w\": ", f);
        sr_json_num(f, cw);
        fputs(", \"waveq_lambda_beta\": ", f);
        sr_json_num(f, cb);
        fputs(", \"waveq_beta_lr\": ", f);
        sr_json_num(f, sr_quant_waveq_beta_lr(&tr->s.waveq, t, tr->T));
    }
    fputs(", \"train_loss\": ", f);
    sr_json_num(f, m->train_loss);
    fputs(", \"train_acc\": ", f);
    sr_json_num(f, m->train_acc);
    fputs(", \"test_loss\": ", f);
    sr_json_num(f, m->test_loss);
    fputs(", \"test_acc\": ", f);
    sr_json_num(f, m->test_acc);
    if (tr->val) {
        fputs(", \"val_loss\": ", f);
        sr_json_num(f, m->val_loss);
        fputs(", \"val_acc\": ", f);
        sr_json_num(f, m->val_acc);
    }
    if (tr->c->clip_grad_norm > 0 && tr->p.step > 0) {
        /* the epoch's mean norm before clipping; checkpoints keep the sums */
        fputs(", \"grad_norm\": ", f);
        sr_json_num(f, tr->p.gnorm_sum / (double)tr->p.step);
        fprintf(f, ", \"clipped_steps\": %ld", tr->p.clipped);
    }
    fputs(", \"images_per_s\": ", f);
    sr_json_num(f, m->ips);
    /* per step, means over this epoch's steps (this process's, when
     * resumed within the epoch) */
    if (tr->et.steps > 0) {
        double n = (double)tr->et.steps;
        fputs(", \"step_s\": ", f);
        sr_json_num(f, tr->et.step_s / n);
        fputs(", \"cpu_s\": ", f);
        sr_json_num(f, tr->et.cpu_s / n);
        if (tr->nranks > 1) {
            fputs(", \"allreduce_wait_s\": ", f);
            sr_json_num(f, tr->et.wait_s / n);
            fputs(", \"allreduce_copy_s\": ", f);
            sr_json_num(f, tr->et.copy_s / n);
            fputs(", \"allreduce_progress_s\": ", f);
            sr_json_num(f, tr->et.progress_s / n);
            fputs(", \"allreduce_early\": ", f);
            sr_json_num(f, tr->et.early / n);
            fprintf(f, ", \"allreduce_buckets\": %d",
                    sr_dist_grad_bucket_count(tr->grad));
        }
    }
    fputs(", \"wall_s\": ", f);
    sr_json_num(f, sr_now() - tr->t0);
    fputs(", \"layers\": [", f);
    for (int i = 0; i < tr->nq; i++) {
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        sr_json_str(f, tr->q[i].name);
        fprintf(f, ", \"bits\": %d, \"R\": ", tr->q[i].bits);
        sr_json_num(f, tr->q[i].reg);
        fputs(", \"qerr\": ", f);
        sr_json_num(f, tr->q[i].qerr);
        if (tr->c->waveq) {
            fputs(", \"beta\": ", f);
            sr_json_num(f, tr->q[i].beta);
        }
        fputc('}', f);
    }
    if (fputs("]}\n", f) < 0 || fflush(f) || ferror(f))
        sr_train_note_write_error(tr, "metrics.jsonl");
    return sr_train_files_ok(tr);
}

/* Written whole and renamed: a result.json is never a cut one. */
sr_status sr_train_write_result(struct trainer *tr, int epochs_done,
                                const char *cmdline)
{
    const struct progress *p = &tr->p;
    FILE *f;
    char tmp[4200], dst[4200];

    snprintf(dst, sizeof dst, "%s/result.json", tr->c->out);
    SR_TRY(sr_tmp_path(tmp, sizeof tmp, dst));
    f = fopen(tmp, "w");
    if (!f)
        return sr_error(SR_E_WRITE, "cannot create %s: %s", tmp,
                        strerror(errno));
    fputs("{\"sinreq_version\": ", f);
    sr_json_str(f, sr_version());
    fputs(", \"net\": ", f);
    sr_json_str(f, tr->c->net);
    fputs(", \"quantizer\": ", f);
    sr_json_str(f, sr_quant_quantizer_name(tr->s.quantizer));
    fputs(", \"regularizer\": ", f);
    sr_json_str(f, sr_quant_reg_name(tr->s.reg));
    fputs(", \"sinreq_domain\": ", f);
    sr_json_str(f, sr_quant_domain_name(tr->s.domain));
    fprintf(f, ", \"epochs\": %d, \"steps\": %ld, \"final_test_acc\": ",
            epochs_done, tr->t);
    sr_json_num(f, p->fin_acc);
    fputs(", \"final_test_loss\": ", f);
    sr_json_num(f, p->fin_loss);
    fputs(", \"final_test_top5\": ", f);
    sr_json_num(f, tr->fin_eval.top5);
    /* the best epoch: chosen on the validation split when there is one,
     * its weights in best.h5 */
    fputs(", \"best_selected_on\": ", f);
    sr_json_str(f, tr->val ? "val" : "test");
    fprintf(f, ", \"best_epoch\": %d, \"best_acc\": ", p->best_epoch);
    sr_json_num(f, p->best);
    fputs(", \"best_test_acc\": ", f);
    sr_json_num(f, p->best_test);
    fputs(", \"best_test_top5\": ", f);
    sr_json_num(f, p->best_top5);
    fputs(", \"best_model\": ", f);
    /* none when no evaluation had a number (an empty split) */
    if (p->best_epoch > 0)
        sr_json_str(f, "best.h5");
    else
        fputs("null", f);
    if (tr->val) {
        fputs(", \"final_val_acc\": ", f);
        sr_json_num(f, p->val_acc);
    }
    /* the data the run used: a short experiment says so */
    fprintf(f, ", \"train_images\": %llu, \"test_images\": %llu",
            (unsigned long long)sr_loader_samples(tr->train),
            (unsigned long long)sr_loader_samples(tr->test));
    if (tr->val)
        fprintf(f, ", \"val_images\": %llu",
                (unsigned long long)sr_loader_samples(tr->val));
    fprintf(f, ", \"train_limit\": %ld, \"test_limit\": %ld, "
            "\"val_limit\": %ld, \"eval_every\": %d", tr->c->train_limit,
            tr->c->test_limit, tr->c->val_limit, tr->c->eval_every);
    /* the last epoch's test evaluation in full */
    fputs(", \"final_test\": {", f);
    sr_eval_result_json(&tr->fin_eval, f);
    fputc('}', f);
    fputs(", \"wall_s\": ", f);
    sr_json_num(f, sr_now() - tr->t0);
    fputs(", \"bits\": {", f);
    for (int i = 0; i < tr->nq; i++) {
        fprintf(f, "%s", i ? ", " : "");
        sr_json_str(f, tr->q[i].name);
        fprintf(f, ": %d", tr->q[i].bits);
    }
    fputs("}", f);
    if (tr->c->waveq) {
        fputs(", \"waveq_beta\": {", f);
        for (int i = 0; i < tr->nq; i++) {
            fprintf(f, "%s", i ? ", " : "");
            sr_json_str(f, tr->q[i].name);
            fputs(": ", f);
            sr_json_num(f, tr->q[i].beta);
        }
        fputs("}, \"waveq_bits_rule\": \"ceil(beta), clamped\"", f);
    }
    fputs(", \"backend\": ", f);
    sr_json_str(f, sr_backend_name(tr->be));
    fputs(", \"device\": ", f);
    sr_json_str(f, sr_backend_device_name(tr->be));
    fputs(", \"command\": ", f);
    sr_json_str(f, cmdline ? cmdline : "");
    fputs("}\n", f);
    return sr_text_commit(f, tmp, dst);
}
