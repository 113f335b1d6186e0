/* sr_train_run: set-up (checks, resume, data, network, run directory),
 * the loop, and the exit (include/sinreq/train.h). */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_io.h"
#include "sinreq/dataset.h"
#include "sinreq/models.h"
#include "sinreq/parse.h"
#include "trainer.h"

static sr_status open_loaders(struct trainer *tr)
{
    const sr_train_config *c = tr->c;
    sr_loader_opts o = {0};
    sr_ds *ds = NULL;
    int has_test, has_val;
    uint32_t k;

    /* The dataset's facts first, for messages that name the file. */
    SR_TRY(sr_ds_open(&ds, c->data));
    has_test = sr_ds_find_split(ds, "test") >= 0;
    has_val = sr_ds_find_split(ds, "val") >= 0;
    k = sr_ds_num_classes(ds);
    int has_train = sr_ds_find_split(ds, "train") >= 0;
    struct sr_ds_split_info si = {0};
    if (has_train)
        sr_ds_split_info(ds, sr_ds_find_split(ds, "train"), &si);
    sr_ds_close(ds);
    /* the ImageNet-style nets evaluate on a 224x224 centre crop: name the
     * network, not the loader's crop, when the images are smaller */
    SR_CHECK(tr->aug != SR_AUG_IMAGENET || !has_train ||
             (si.height >= 224 && si.width >= 224), SR_E_FORMAT,
             "%s: %s needs images of at least 224x224 (it is trained on "
             "random crops and evaluated on the centre 224x224 crop), but "
             "%s has %ux%u images; use a network for %ux%u input "
             "(cifar10net, resnet20, vgg11, svhnnet) or an ImageNet-size "
             "dataset", sr_train_where(c, "net"), c->net, c->data, si.height,
             si.width, si.height, si.width);
    SR_CHECK(has_train, SR_E_FORMAT, "%s has no /train split", c->data);
    SR_CHECK(has_test, SR_E_FORMAT, "%s has no /test split to evaluate on",
             c->data);
    SR_CHECK(!c->classes || (uint32_t)c->classes == k, SR_E_FORMAT,
             "%s has %u classes but %s asks for %d", c->data, k,
             sr_train_where(c, "classes"), c->classes);
    if (tr->init) {
        const sr_model_meta *m = sr_model_file_meta(tr->init);
        SR_CHECK((uint32_t)m->classes == k, SR_E_FORMAT, "%s has %u classes "
                 "but the --init model %s was trained on %d", c->data, k,
                 c->init, m->classes);
        memcpy(o.mean, m->norm_mean, sizeof o.mean);
        memcpy(o.std, m->norm_std, sizeof o.std);
    }

    o.path = c->data;
    o.split = "train";
    o.batch = c->batch;
    o.shuffle = 1;
    o.drop_last = 1;   /* a step always sees a full batch */
    o.augment = tr->aug;
    o.crop = tr->aug == SR_AUG_IMAGENET ? 224 : 0;
    o.seed = (uint32_t)c->seed;
    o.rank = tr->rank;
    o.nranks = tr->nranks;
    o.limit = (uint64_t)c->train_limit;
    SR_TRY(sr_loader_open(&o, &tr->train));
    if (tr->nranks > 1)
        SR_CHECK(sr_loader_batches_per_epoch(tr->train) > 0, SR_E_FORMAT,
                 "%s: /train has %llu images, fewer than one global batch "
                 "of %d x %d ranks", c->data,
                 (unsigned long long)sr_loader_samples(tr->train), c->batch,
                 tr->nranks);
    SR_CHECK(sr_loader_batches_per_epoch(tr->train) > 0, SR_E_FORMAT,
             "%s: /train has %llu images%s, fewer than one batch of %d",
             c->data, (unsigned long long)sr_loader_samples(tr->train),
             c->train_limit ? " (train_limit)" : "", c->batch);
    /* evaluation uses the training split's normalisation */
    sr_loader_norm(tr->train, o.mean, o.std);
    o.split = "test";
    o.shuffle = 0;
    o.drop_last = 0;
    o.augment = tr->aug == SR_AUG_IMAGENET ? SR_AUG_CENTER : SR_AUG_NONE;
    o.limit = (uint64_t)c->test_limit;
    SR_TRY(sr_loader_open(&o, &tr->test));
    if (c->val && has_val) {
        o.split = "val";
        o.limit = (uint64_t)c->val_limit;
        SR_TRY(sr_loader_open(&o, &tr->val));
    }
    return SR_OK;
}

static sr_status build_net(struct trainer *tr)
{
    const sr_train_config *c = tr->c;
    sr_model_opts mo = {0};
    sr_quant_opts qo;
    sr_nn_opts no;
    int ch, h, w;
    sr_status st;

    sr_loader_shape(tr->train, &ch, &h, &w);
    mo.name = c->net;
    mo.batch = c->batch;
    mo.num_classes = sr_loader_classes(tr->train);
    mo.width = c->width_mult;
    mo.in_c = ch;
    mo.in_h = h;
    mo.in_w = w;
    st = sr_model_build(&mo, &tr->net);
    if (st != SR_OK)
        return sr_error_wrap(st, "%s: images are %dx%dx%d, which %s cannot "
                             "take", c->data, ch, h, w, c->net);
    sr_train_quant_opts(c, &tr->s, &tr->plan, &qo);
    SR_TRY(sr_nn_set_quant(tr->net, &qo));

    sr_backend_opts bo = {0};
    char dev[32] = "";
    bo.device = c->device[0] ? c->device : NULL;
    bo.threads = c->threads;
    if (tr->nranks > 1) {
        /* one device per rank, from the local rank, unless --device (or
         * SINREQ_VK_DEVICE) names one; threads shared among the node's
         * ranks unless --threads */
        bo.threads = sr_train_rank_threads(tr->d, c->threads);
        if (strcmp(c->backend, "vulkan") == 0) {
            sr_train_rank_lp_threads(bo.threads);
            if (!bo.device && !getenv("SINREQ_VK_DEVICE")) {
                SR_TRY(sr_train_rank_device(tr->d, dev, sizeof dev));
                bo.device = dev[0] ? dev : NULL;
                snprintf(tr->rank_device, sizeof tr->rank_device, "%s", dev);
            }
        }
    }
    SR_TRY(sr_backend_create(c->backend, &bo, &tr->be));
    sr_nn_opts_default(&no);
    no.seed = (uint32_t)c->seed;
    no.momentum = (float)c->momentum;
    no.weight_decay = (float)c->weight_decay;
    no.nesterov = c->nesterov;
    no.label_smoothing = (float)c->label_smoothing;
    no.grad_scale = c->clip_grad_norm > 0;
    SR_TRY(sr_nn_alloc(tr->net, tr->be, &no));

    tr->nq = sr_nn_quant_count(tr->net);
    tr->q = calloc((size_t)(tr->nq ? tr->nq : 1), sizeof *tr->q);
    SR_CHECK(tr->q, SR_E_NOMEM, "out of memory");
    for (int i = 0; i < sr_nn_layer_count(tr->net); i++) {
        sr_nn_layer_info li;
        SR_TRY(sr_nn_layer(tr->net, i, &li));
        if (li.qidx < 0)
            continue;
        tr->q[li.qidx].name = li.name;
        tr->q[li.qidx].layer = i;
        tr->q[li.qidx].bits = li.quant.bits;
        tr->q[li.qidx].beta = (float)c->waveq_beta_init;
        /* unknown until the first training step */
        tr->q[li.qidx].reg = NAN;
        tr->q[li.qidx].qerr = NAN;
    }
    size_t xn = (size_t)c->batch * (size_t)ch * (size_t)h * (size_t)w;
    tr->x = malloc(xn * sizeof *tr->x);
    tr->y = malloc((size_t)c->batch * sizeof *tr->y);
    SR_CHECK(tr->x && tr->y, SR_E_NOMEM, "out of memory for a batch");
    return SR_OK;
}


/* Set-up phases: every rank learns whether all got through, so that all
 * stop together (none is left waiting in a collective). A rank other than
 * 0 prints its own error when rank 0 got through (rank 0's is printed by
 * the command). */
static sr_status agree(struct trainer *tr, sr_status st)
{
    double v[2];

    if (tr->nranks == 1)
        return st;
    v[0] = (double)st;
    v[1] = tr->root ? (double)st : 0.0;
    SR_TRY(sr_dist_max_f64(tr->d, v, 2));
    if (v[0] == 0.0)
        return SR_OK;
    tr->agreed = 1;
    if (st != SR_OK) {
        if (!tr->root && v[1] == 0.0)
            fprintf(stderr, "sinreq train: rank %d: %s\n", tr->rank,
                    sr_last_error());
        return st;
    }
    return sr_error((sr_status)(int)v[0], "%s failed during set-up (see "
                    "its message)", v[1] != 0.0 ? "rank 0" : "another rank");
}

static void trainer_free(struct trainer *tr)
{
    sr_train_free_progs(tr);
    free(tr->seg);
    sr_dist_grad_free(tr->grad);
    sr_nn_free(tr->net);
    sr_eval_result_free(&tr->fin_eval);
    if (tr->be)
        sr_backend_free(tr->be);
    sr_loader_free(tr->train);
    sr_loader_free(tr->test);
    sr_loader_free(tr->val);
    sr_model_close(tr->init);
    sr_ckpt_close(tr->ck);
    free(tr->cands);
    free(tr->skipped);
    free(tr->cfg_text);
    sr_train_plan_free(&tr->plan);
    free(tr->q);
    free(tr->x);
    free(tr->y);
    if (tr->log)
        fclose(tr->log);
    if (tr->metrics)
        fclose(tr->metrics);
    if (tr->steps)
        fclose(tr->steps);
}

sr_status sr_train_run(const sr_train_config *c, const char *cmdline)
{
    return sr_train_run_ex(c, cmdline, NULL);
}

/* The run's fixed facts and parsed settings; the same on every rank, so no
 * agreement is needed. */
static sr_status trainer_init(struct trainer *tr, const sr_train_config *c,
                              sr_dist *d)
{
    tr->c = c;
    tr->d = d;
    tr->rank = sr_dist_rank(d);
    tr->nranks = sr_dist_size(d);
    tr->root = tr->rank == 0;
    tr->ck_nranks = tr->nranks;
    tr->t0 = sr_now();
    tr->tty = isatty(2);
    if (getenv("SINREQ_TEST_STEP_SLEEP"))
        SR_TRY(sr_parse_double("SINREQ_TEST_STEP_SLEEP",
                               getenv("SINREQ_TEST_STEP_SLEEP"), 0, 3600,
                               &tr->test_sleep));
    SR_TRY(sr_train_config_check(c));
    SR_TRY(sr_train_progress_every(c, &tr->progress_steps, &tr->progress_s));
    /* several ranks: a rank silent for rank_timeout s ends the job; a stop
     * signal (mpirun's SIGTERM when a rank died) makes a wait say whom it
     * waits for */
    if (tr->nranks > 1) {
        SR_TRY(sr_dist_set_timeout(d, c->rank_timeout));
        sr_dist_set_stop_flag(d, &sr_train_stop_signal);
        sr_dist_set_context(d, 0, "");
    }
    SR_TRY(sr_train_sched_parse(c, &tr->s));
    SR_TRY(sr_train_augment(c, &tr->aug));
    return sr_train_hist_epochs(c, tr->hist, &tr->n_hist, &tr->hist_last);
}

/* Every check before the run directory is touched: nothing is overwritten
 * by a run that cannot start. With --resume the directory may hold a run:
 * its config must be this one (sr_train_find_resume). Rank 0 alone looks at
 * the run directory and reads the checkpoint; the other ranks get its state
 * by broadcast (sr_train_bcast_state). */
static sr_status pick_checkpoint(struct trainer *tr)
{
    const sr_train_config *c = tr->c;

    if (tr->root)
        SR_TRY(sr_run_dir_prepare(c->out, c->force || c->resume[0], 0));
    tr->cfg_text = sr_train_config_text(c);
    SR_CHECK(tr->cfg_text, SR_E_NOMEM, "out of memory");
    if (tr->root && c->resume[0])
        SR_TRY(sr_train_find_resume(tr));
    return SR_OK;
}

/* Data, network, --init tensors, and the checkpoint's state. */
static sr_status build(struct trainer *tr)
{
    const sr_train_config *c = tr->c;

    SR_TRY(sr_train_plan_parse(c, &tr->plan));
    if (c->init[0])
        SR_TRY(sr_model_open(c->init, &tr->init));
    SR_TRY(open_loaders(tr));
    SR_TRY(build_net(tr));
    /* only tensors come from --init; its plan and betas are not reused */
    if (tr->init)
        SR_TRY(sr_train_load_tensors(tr->net, tr->init));
    tr->steps_per_epoch = sr_loader_batches_per_epoch(tr->train);
    tr->T = tr->steps_per_epoch * c->epochs;
    if (tr->ck)
        SR_TRY(sr_train_resume_load(tr));
    return SR_OK;
}

/* nranks > 1: rank 0's state everywhere, and the gradient plan. Collectives
 * from here on: a failure on one rank ends the job (train_run). */
static sr_status join_ranks(struct trainer *tr)
{
    SR_TRY(sr_train_bcast_state(tr));
    if (tr->resumed)
        sr_dist_set_context(tr->d, tr->t, tr->root && tr->ck ?
                            sr_ckpt_path(tr->ck) :
                            "the one rank 0 resumed from");
    return sr_train_grad_plan(tr);
}

/* --quick: the values it set (keys the user set are theirs). */
static void announce_quick(struct trainer *tr)
{
    static const char *const keys[] = {"epochs", "train_limit",
                                       "test_limit", "val_limit"};
    char buf[256];
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *k = keys[i];
        long v = strcmp(k, "epochs") == 0 ? tr->c->epochs :
                 strcmp(k, "train_limit") == 0 ? tr->c->train_limit :
                 strcmp(k, "test_limit") == 0 ? tr->c->test_limit :
                 tr->c->val_limit;
        if (strcmp(sr_train_where(tr->c, k), "--quick") != 0 ||
            o >= sizeof buf)
            continue;
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s %ld",
                              o ? ", " : "", k, v);
    }
    sr_train_say(tr, "--quick (smoke run): set %s", o ? buf :
                 "nothing (every key it sets was given)");
}

/* train.log's opening lines: what was resumed or skipped, the run. */
static void announce(struct trainer *tr)
{
    const sr_train_config *c = tr->c;

    if (tr->n_skipped) {
        sr_train_say(tr, "note: %d newer checkpoint(s) invalid and skipped:",
                     tr->n_skipped);
        for (char *l = tr->skipped, *e; l && *l; l = e + 1) {
            e = strchr(l, '\n');
            *e = '\0';
            sr_train_say(tr, "  skipped %s", l);
        }
    }
    if (tr->ck)
        sr_train_say(tr, "resuming from %s: epoch %d, step %ld of it (global "
                     "step %ld)%s", sr_ckpt_path(tr->ck), tr->p.epoch,
                     tr->p.step, tr->t,
                     tr->p.complete ? ", epoch complete" : "");
    else if (c->resume[0])
        sr_train_say(tr, "--resume auto: no checkpoint in %s/ckpt; starting "
                     "from the beginning", c->out);
    if (tr->ck && tr->ck_nranks != tr->nranks)
        sr_train_say(tr, "note: the checkpoint was written by %ld rank(s), "
                     "this run has %d: another global batch (%d x %d), so "
                     "the run continues from the same epoch at the nearest "
                     "step and is not bit-identical to either", tr->ck_nranks,
                     tr->nranks, c->batch, tr->nranks);
    {
        /* WaveQ learns the bitwidths: --bits plays no part */
        char bits[64];
        if (c->waveq)
            snprintf(bits, sizeof bits, "bits learned (ceil beta, from beta "
                     "%g)", c->waveq_beta_init);
        else
            snprintf(bits, sizeof bits, "%d-bit",
                     tr->s.quantizer == SR_QUANT_NONE ? 32 : c->bits);
        sr_train_say(tr, "sinreq train: %s (%zu parameters) on %s [%s], %s "
                     "%s, regularizer %s, %d epochs x %ld steps of %d",
                     c->net, sr_nn_param_count(tr->net),
                     sr_backend_device_name(tr->be), sr_backend_name(tr->be),
                     sr_quant_quantizer_name(tr->s.quantizer), bits,
                     sr_quant_reg_name(tr->s.reg), c->epochs,
                     tr->steps_per_epoch, c->batch);
    }
    if (c->nesterov || c->warmup_epochs > 0 || c->label_smoothing > 0 ||
        c->clip_grad_norm > 0)
        sr_train_say(tr, "SGD%s momentum %g; warm-up %g epoch(s); label "
                     "smoothing %g; gradient norm clipped to %g%s",
                     c->nesterov ? " (Nesterov)" : "", c->momentum,
                     c->warmup_epochs, c->label_smoothing, c->clip_grad_norm,
                     c->clip_grad_norm > 0 ? "" : " (off)");
    if (tr->nranks > 1) {
        sr_train_say(tr, "data parallel: %d ranks (MPI), batch %d per rank = "
                     "global batch %d; rank 0 writes the run directory",
                     tr->nranks, c->batch, c->batch * tr->nranks);
        sr_train_say(tr, "gradient averaging: %d bucket(s) of up to %g MiB; "
                     "backward in %d segment(s), %d bucket(s) started before "
                     "its end%s", sr_dist_grad_bucket_count(tr->grad),
                     c->bucket_mb, tr->nseg,
                     tr->nseg > 1 ? tr->seg[tr->nseg - 2].ready : 0,
                     tr->nseg > 1 ? "" : " (serial schedule)");
    }
    if (c->quick)
        announce_quick(tr);
    if (c->train_limit || c->test_limit || (tr->val && c->val_limit))
        sr_train_say(tr, "short experiment: train on %llu of %llu images, "
                     "test on %llu of %llu%s (a fixed subset of each split, "
                     "the same for every seed)",
                     (unsigned long long)sr_loader_samples(tr->train),
                     (unsigned long long)sr_loader_records(tr->train),
                     (unsigned long long)sr_loader_samples(tr->test),
                     (unsigned long long)sr_loader_records(tr->test),
                     tr->val && c->val_limit ? ", val limited too" : "");
    if (c->eval_every > 1)
        sr_train_say(tr, "evaluation every %d epochs and after the last",
                     c->eval_every);
    else if (c->eval_every == 0)
        sr_train_say(tr, "evaluation after the last epoch only "
                     "(eval_every 0)");
    if (c->init[0])
        sr_train_say(tr, "initialised from %s", c->init);
    if (c->val && !tr->val)
        sr_train_say(tr, "note: %s has no /val split; --val ignored",
                     c->data);
}

/* nranks > 1: every rank's node and device in train.log (rank 0 writes). */
static sr_status say_ranks(struct trainer *tr)
{
    enum { LINE = 256 };
    char mine[LINE], *all;
    sr_status st;

    /* the device name last: it may be long */
    snprintf(mine, sizeof mine, "node %s, local rank %d of %d, %s%s%s: %s",
             sr_dist_node(tr->d), sr_dist_local_rank(tr->d),
             sr_dist_local_size(tr->d), sr_backend_name(tr->be),
             tr->rank_device[0] ? " device " : "", tr->rank_device,
             sr_backend_device_name(tr->be));
    all = malloc((size_t)tr->nranks * LINE);
    SR_CHECK(all, SR_E_NOMEM, "out of memory");
    st = sr_dist_gather_bytes(tr->d, mine, LINE, all);
    for (int r = 0; st == SR_OK && r < tr->nranks; r++)
        sr_train_say(tr, "rank %d: %s", r, all + (size_t)r * LINE);
    free(all);
    return st;
}

/* The epoch-0 histograms, and the step captured after the restore (a
 * changed layer bitwidth needs a new capture). */
static sr_status ready_to_train(struct trainer *tr)
{
    if (tr->root && !tr->resumed && sr_train_hist_wanted(tr, 0, 0))
        SR_TRY(sr_train_write_hist(tr, 0));
    return sr_train_capture(tr);
}

/* Set-up phases, each agreed by every rank, then the loop. */
static sr_status train_run(const sr_train_config *c, const char *cmdline,
                           int *requeue, sr_dist *d)
{
    struct trainer tr = {0};
    sr_status st;
    int opened;

    if (requeue)
        *requeue = 0;
    SR_TRY(trainer_init(&tr, c, d));
    st = agree(&tr, pick_checkpoint(&tr));
    if (st == SR_OK)
        st = agree(&tr, build(&tr));
    if (st == SR_OK && tr.nranks > 1)
        st = join_ranks(&tr);
    if (st == SR_OK) {
        if (tr.root) {
            sr_ckpt_remove_tmp(c->out);
            st = sr_train_open_run_files(&tr);
        }
        st = agree(&tr, st);
    }
    /* from here on a failure is also train.log's last line */
    opened = st == SR_OK;
    if (st == SR_OK) {
        announce(&tr);
        if (tr.nranks > 1)
            st = say_ranks(&tr);
        if (st == SR_OK)
            st = agree(&tr, ready_to_train(&tr));
    }
    if (st == SR_OK) {
        st = sr_train_loop(&tr, cmdline);
        if (requeue)
            *requeue = tr.requeue;
    }
    if (st != SR_OK && opened && tr.log) {
        fprintf(tr.log, "error: %s\n", sr_last_error());
        fflush(tr.log);
    }
    if (st != SR_OK && tr.nranks > 1 && !tr.agreed) {
        /* this rank alone failed while the others may wait in a
         * collective: end the job */
        fprintf(stderr, "sinreq train: rank %d of %d: %s\n", tr.rank,
                tr.nranks, sr_last_error());
        sr_dist_abort(d, sr_train_exit_code(st));
    }
    trainer_free(&tr);
    return st;
}

sr_status sr_train_run_ex(const sr_train_config *c, const char *cmdline,
                          int *requeue)
{
    return sr_train_run_dist(c, cmdline, requeue, NULL);
}

sr_status sr_train_run_dist(const sr_train_config *c, const char *cmdline,
                            int *requeue, sr_dist *dist)
{
    struct sigaction sa, old_term, old_usr1;
    sr_dist *d = dist;
    sr_status st;

    if (!d) {
        /* a single process, without MPI */
        sr_dist_opts o;
        sr_dist_opts_default(&o);
        o.mode = SR_DIST_NONE;
        SR_TRY(sr_dist_init(NULL, NULL, &o, &d));
    }

    /* SIGTERM / SIGUSR1 (Slurm preemption) from the start: a signal during
     * set-up is served after the first step. Finish the step, checkpoint,
     * exit SR_EXIT_REQUEUE; the handler only sets a flag. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sr_train_on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sr_train_stop_signal = 0;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);
    st = train_run(c, cmdline, requeue, d);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    if (!dist)
        sr_dist_finalize(d);
    return st;
}
