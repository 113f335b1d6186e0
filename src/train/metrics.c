/* metrics.jsonl (a line per epoch), result.json (the run's summary) and the
 * progress line on stderr. */
#include <errno.h>
#include <string.h>

#include "run_io.h"
#include "trainer.h"

/* At most every 0.1 s on a terminal, else every tenth of the epoch. */
void sr_train_show_progress(struct trainer *tr, int epoch, long step,
                            long nsteps, double loss, double acc, double ips,
                            double *last)
{
    double now = sr_now();
    const sr_train_config *c = tr->c;

    if (c->quiet)
        return;
    if (tr->tty) {
        if (now - *last < 0.1 && step != nsteps)
            return;
        double eta = ips > 0 ? (double)(tr->T - tr->t) * c->batch / ips : 0;
        char e[32];
        sr_fmt_duration(e, sizeof e, eta);
        fprintf(stderr, "\r\033[Kepoch %d/%d step %ld/%ld loss %.4f acc %.3f "
                "%.0f img/s ETA %s", epoch, c->epochs, step, nsteps, loss, acc,
                ips, e);
        fflush(stderr);
    } else {
        long every = nsteps / 10 > 0 ? nsteps / 10 : 1;
        if (step % every && step != nsteps)
            return;
        fprintf(stderr, "epoch %d/%d step %ld/%ld loss %.4f acc %.3f %.0f "
                "img/s\n", epoch, c->epochs, step, nsteps, loss, acc, ips);
    }
    *last = now;
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
