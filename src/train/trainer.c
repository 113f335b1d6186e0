/* The training loop and the run directory (include/sinreq/train.h). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinreq/backend.h"
#include "sinreq/ckpt_io.h"
#include "sinreq/dataset.h"
#include "sinreq/dist.h"
#include "sinreq/hist_io.h"
#include "sinreq/loader.h"
#include "sinreq/model_io.h"
#include "sinreq/models.h"
#include "sinreq/nn.h"
#include "sinreq/parse.h"
#include "sinreq/version.h"
#include "run_io.h"
#include "train_internal.h"

struct qlayer {
    const char *name;
    int layer;          /* index in the graph */
    int bits;
    float reg, qerr, beta;
};

/* What a checkpoint carries besides the network: the position and the
 * running sums that make the metrics of a resumed run exact. */
struct progress {
    int epoch;          /* 1-based epoch in progress (or just finished) */
    long step;          /* steps done in it */
    int complete;       /* it was evaluated and logged */
    double sum;         /* sum of loss * rows this epoch */
    long right, seen;
    double best, fin_acc, fin_loss, val_acc;
    int best_epoch;
    double lr, lam;
    double first_loss;  /* the run's first step's loss (divergence guard);
                           0: not yet */
};

/* A backward segment: backward down to `layer`, after which gradient
 * buckets [0, ready) are final. */
struct seg {
    int layer;
    int ready;
};

/* SIGTERM / SIGUSR1: the only state the handler touches. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* CPU seconds of this process, every thread, user + system. */
static double cpu_now(void)
{
    struct rusage u;

    if (getrusage(RUSAGE_SELF, &u))
        return 0;
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
           (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

struct trainer {
    const sr_train_config *c;
    struct progress p;
    int resumed, requeue;
    sr_ckpt_file *ck;   /* the checkpoint to resume from */
    char *cfg_text;     /* resolved config as YAML */
    double test_sleep;  /* SINREQ_TEST_STEP_SLEEP: seconds after each step
                           (tests kill a run at a step of their choice) */
    /* --resume auto: the checkpoints, oldest first; cand is the one tried
     * now; those that failed to load are passed over, each reported */
    sr_ckpt_entry *cands;
    int ncand, cand;
    int n_skipped;
    char *skipped;      /* "PATH: reason" lines, for train.log */
    sr_train_sched s;
    sr_train_plan plan;
    sr_augment aug;
    sr_model_file *init;
    sr_loader *train, *test, *val;
    sr_backend *be;
    sr_nn *net;
    sr_program *prog;
    int nq;
    struct qlayer *q;
    float *x;
    uint32_t *y;
    FILE *log, *metrics;
    FILE *steps;  /* steps.tsv: the loss of every step */
    char path[4096 + 32];
    int tty;
    long steps_per_epoch, T, t;
    double t0;
    int hist[SR_TRAIN_MAX_HIST], n_hist, hist_last;
    /* data parallelism (docs/distributed.md); one rank: d is a local
     * rank 0 of 1 and every path below is the single-process one */
    sr_dist *d;
    int rank, nranks;
    int root;               /* rank 0: the only one that writes files */
    sr_program *prog_upd;   /* nranks > 1: the update (prog unused) */
    sr_dist_grad *grad;     /* nranks > 1: gradient averaging */
    /* nranks > 1: backward in segments that end where gradient buckets
     * complete (seg_plan); seg_prog[k] is segment k captured, the first
     * with forward and loss. One segment: the serial schedule. */
    struct seg *seg;
    int nseg;
    sr_program **seg_prog;
    /* this epoch's step timings (metrics.jsonl) */
    struct ep_times {
        long steps;
        double step_s, wait_s, copy_s, progress_s, early;
        double cpu_s;   /* the loop's CPU time, summed over ranks */
    } et;
    int stop;               /* a stop signal, agreed by every rank */
    int stop_sig;           /* its number; -1: seen by another rank */
    int bn_synced;          /* BN running statistics averaged since the
                               last step */
    int agreed;             /* the error being returned is every rank's */
    long ck_nranks;         /* ranks of the run that wrote tr->ck */
    char ck_last[4300];     /* nranks > 1, not rank 0: the checkpoint rank 0
                               is writing; good once the next step's
                               collectives show rank 0 got past it */
    /* the first failed write to train.log, metrics.jsonl or steps.tsv:
     * the file and errno, reported by run_files_ok */
    const char *werr_file;
    int werr;
};

static const char *run_file(struct trainer *tr, const char *name)
{
    snprintf(tr->path, sizeof tr->path, "%s/%s", tr->c->out, name);
    return tr->path;
}

/* Writes to the run's text files are checked: the first failure is kept
 * (file and errno) and stops the run at the next run_files_ok, so that no
 * line is lost while the run goes on with exit 0. */
static void note_write_error(struct trainer *tr, const char *file)
{
    if (!tr->werr_file) {
        tr->werr_file = file;
        tr->werr = errno ? errno : EIO;
    }
}

/* Flush train.log, metrics.jsonl and steps.tsv; SR_E_WRITE naming the
 * file and the reason when a write to one of them failed. */
static sr_status run_files_ok(struct trainer *tr)
{
    FILE *f[3] = {tr->log, tr->metrics, tr->steps};
    const char *name[3] = {"train.log", "metrics.jsonl", "steps.tsv"};

    for (int i = 0; i < 3; i++) {
        if (!f[i])
            continue;
        errno = 0;
        if (fflush(f[i]) != 0 || ferror(f[i]))
            note_write_error(tr, name[i]);
    }
    if (tr->werr_file)
        return sr_error(SR_E_WRITE, "cannot write %s/%s: %s; the run stops "
                        "(once there is space again, --resume auto continues "
                        "from the last checkpoint)", tr->c->out,
                        tr->werr_file, strerror(tr->werr));
    return SR_OK;
}

/* A line for the human log, echoed to stderr unless quiet. */
static void say(struct trainer *tr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(struct trainer *tr, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!tr->root)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (tr->log && (fprintf(tr->log, "%s\n", line) < 0 || fflush(tr->log)))
        note_write_error(tr, "train.log");
    if (!tr->c->quiet)
        fprintf(stderr, "%s%s\n", tr->tty ? "\r\033[K" : "", line);
}

/* ---- set-up ---- */

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
    sr_ds_close(ds);
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
    SR_TRY(sr_loader_open(&o, &tr->train));
    if (tr->nranks > 1)
        SR_CHECK(sr_loader_batches_per_epoch(tr->train) > 0, SR_E_FORMAT,
                 "%s: /train has %llu images, fewer than one global batch "
                 "of %d x %d ranks", c->data,
                 (unsigned long long)sr_loader_samples(tr->train), c->batch,
                 tr->nranks);
    SR_CHECK(sr_loader_batches_per_epoch(tr->train) > 0, SR_E_FORMAT,
             "%s: /train has %llu images, fewer than one batch of %d",
             c->data, (unsigned long long)sr_loader_samples(tr->train),
             c->batch);
    /* evaluation uses the training split's normalisation */
    sr_loader_norm(tr->train, o.mean, o.std);
    o.split = "test";
    o.shuffle = 0;
    o.drop_last = 0;
    o.augment = tr->aug == SR_AUG_IMAGENET ? SR_AUG_CENTER : SR_AUG_NONE;
    SR_TRY(sr_loader_open(&o, &tr->test));
    if (c->val && has_val) {
        o.split = "val";
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
    if (st != SR_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sr_last_error());
        return sr_error(st, "%s: images are %dx%dx%d, which %s cannot take: %s",
                        c->data, ch, h, w, c->net, msg);
    }
    sr_quant_opts_default(&qo);
    qo.quantizer = tr->s.quantizer;
    qo.bits = c->bits;
    qo.act_bits = c->act_bits;
    qo.reg = tr->s.reg;
    qo.norm = tr->s.norm;
    qo.sinreq_domain = tr->s.domain;
    qo.beta_init = (float)c->waveq_beta_init;
    qo.quantize_ends = tr->s.quantize_ends;
    qo.overrides = tr->plan.ov;
    qo.n_overrides = tr->plan.n;
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
            }
        }
    }
    SR_TRY(sr_backend_create(c->backend, &bo, &tr->be));
    sr_nn_opts_default(&no);
    no.seed = (uint32_t)c->seed;
    no.momentum = (float)c->momentum;
    no.weight_decay = (float)c->weight_decay;
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

/* Grows a scratch array of floats to at least n (tensor-by-tensor copies). */
static sr_status grow_floats(float **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return SR_OK;
    float *p = realloc(*buf, n * sizeof **buf);
    SR_CHECK(p, SR_E_NOMEM, "out of memory for a %zu-float tensor copy", n);
    *buf = p;
    *cap = n;
    return SR_OK;
}

/* Every tensor of the network from the --init file, by name and shape,
 * checked as eval checks them. */
sr_status sr_train_load_tensors(sr_nn *net, sr_model_file *f)
{
    sr_train_src s = {.path = sr_model_file_path(f),
                      .meta = sr_model_file_meta(f), .file = f};

    return sr_train_load_src(net, &s);
}

/* ---- model file ---- */

sr_status sr_train_save_model(sr_nn *net, const char *path,
                              const sr_model_meta *base)
{
    int nt = sr_nn_tensor_count(net);
    sr_model_tensor *t = calloc((size_t)nt, sizeof *t);
    float **data = calloc((size_t)nt, sizeof *data);
    sr_status st = SR_OK;

    if (!t || !data) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nt; i++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, i);
        data[i] = malloc(ti->numel * sizeof(float));
        if (!data[i]) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            goto out;
        }
        st = sr_nn_read_tensor(net, i, data[i]);
        if (st != SR_OK)
            goto out;
        /* never save a broken network */
        for (size_t j = 0; j < ti->numel; j++)
            if (!isfinite(data[i][j])) {
                st = sr_error(SR_E_NUMERIC, "%s has a non-finite value at "
                              "element %zu; the model is not saved",
                              ti->name, j);
                goto out;
            }
        t[i].name = ti->name;
        t[i].ndim = ti->ndim;
        memcpy(t[i].dims, ti->dims, sizeof t[i].dims);
        t[i].data = data[i];
    }
    st = sr_model_save(path, base, t, nt);
out:
    for (int i = 0; data && i < nt; i++)
        free(data[i]);
    free(data);
    free(t);
    return st;
}

static sr_status model_meta(struct trainer *tr, sr_model_meta *m)
{
    const sr_train_config *c = tr->c;
    int L = 0, ch, h, w;

    memset(m, 0, sizeof *m);
    for (int i = 0; i < sr_nn_layer_count(tr->net); i++) {
        sr_nn_layer_info li;
        SR_TRY(sr_nn_layer(tr->net, i, &li));
        L += li.kind == SR_NN_CONV2D || li.kind == SR_NN_LINEAR;
    }
    m->layers = calloc((size_t)(L ? L : 1), sizeof *m->layers);
    SR_CHECK(m->layers, SR_E_NOMEM, "out of memory");
    for (int i = 0; i < sr_nn_layer_count(tr->net); i++) {
        sr_nn_layer_info li;
        SR_TRY(sr_nn_layer(tr->net, i, &li));
        if (li.kind != SR_NN_CONV2D && li.kind != SR_NN_LINEAR)
            continue;
        sr_model_layer_meta *lm = &m->layers[m->n_layers++];
        snprintf(lm->name, sizeof lm->name, "%s", li.name);
        lm->quantized = li.qidx >= 0;
        lm->bits = li.qidx >= 0 ? tr->q[li.qidx].bits : 0;
        lm->act_bits = li.quant.act_bits;
        lm->beta = li.qidx >= 0 && c->waveq ? tr->q[li.qidx].beta : 0.0f;
    }
    sr_loader_shape(tr->train, &ch, &h, &w);
    snprintf(m->net, sizeof m->net, "%s", c->net);
    m->width = c->width_mult;
    m->classes = sr_nn_classes(tr->net);
    m->in_c = ch;
    m->in_h = h;
    m->in_w = w;
    snprintf(m->quantizer, sizeof m->quantizer, "%s",
             sr_quant_quantizer_name(tr->s.quantizer));
    m->act_bits = c->act_bits;
    snprintf(m->regularizer, sizeof m->regularizer, "%s",
             sr_quant_reg_name(tr->s.reg));
    sr_loader_norm(tr->train, m->norm_mean, m->norm_std);
    snprintf(m->program_version, sizeof m->program_version, "sinreq %s",
             sr_version());
    return SR_OK;
}

/* ---- histograms ---- */

static sr_status write_hist(struct trainer *tr, int epoch)
{
    const sr_train_config *c = tr->c;
    int nb = c->hist_bins, n = 0, cap = 0;
    sr_hist_layer *hl = NULL;
    float **bufs = NULL;
    sr_status st = SR_OK;

    for (int i = 0; i < sr_nn_layer_count(tr->net); i++) {
        sr_nn_layer_info li;
        SR_TRY(sr_nn_layer(tr->net, i, &li));
        cap += li.kind == SR_NN_CONV2D || li.kind == SR_NN_LINEAR;
    }
    hl = calloc((size_t)(cap ? cap : 1), sizeof *hl);
    bufs = calloc((size_t)(cap ? cap : 1) * 3, sizeof *bufs);
    SR_CHECK(hl && bufs, SR_E_NOMEM, "out of memory");
    for (int i = 0; st == SR_OK && i < sr_nn_layer_count(tr->net); i++) {
        sr_nn_layer_info li;
        char tname[256];
        float *w, *counts, *lv, maxabs = 0, maxtanh = 0;
        int ti, nl = 0, nm = 0;

        sr_nn_layer(tr->net, i, &li);
        if (li.kind != SR_NN_CONV2D && li.kind != SR_NN_LINEAR)
            continue;
        snprintf(tname, sizeof tname, "%s.weight", li.name);
        ti = sr_nn_find_tensor(tr->net, tname);
        if (ti < 0)
            continue;
        w = malloc(li.weight_numel * sizeof *w);
        counts = calloc((size_t)nb, sizeof *counts);
        lv = malloc(2 * 4096 * sizeof *lv);
        bufs[3 * n] = w;
        bufs[3 * n + 1] = counts;
        bufs[3 * n + 2] = lv;
        if (!w || !counts || !lv) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            break;
        }
        st = sr_nn_read_tensor(tr->net, ti, w);
        if (st != SR_OK)
            break;
        for (size_t j = 0; j < li.weight_numel; j++) {
            maxabs = fmaxf(maxabs, fabsf(w[j]));
            maxtanh = fmaxf(maxtanh, fabsf(tanhf(w[j])));
        }
        float lo = -fmaxf(maxabs, 1e-8f), hi = -lo;
        for (size_t j = 0; j < li.weight_numel; j++) {
            int b = (int)((w[j] - lo) / (hi - lo) * (float)nb);
            counts[b < 0 ? 0 : b >= nb ? nb - 1 : b] += 1.0f;
        }
        sr_hist_layer *h = &hl[n++];
        h->name = li.name;
        h->bins = nb;
        h->lo = lo;
        h->hi = hi;
        h->counts = counts;
        h->quantizer = sr_quant_quantizer_name(li.qidx >= 0 ? tr->s.quantizer
                                                            : SR_QUANT_NONE);
        if (li.qidx < 0)
            continue;
        struct qlayer *q = &tr->q[li.qidx];
        int k = q->bits;
        h->bits = k;
        h->reg = q->reg;
        h->qerr = q->qerr;
        /* levels: raw weights that land exactly on each quantized value */
        if (tr->s.quantizer == SR_QUANT_WRPN) {
            long m = (1L << (k - 1)) - 1;
            for (long j = -m; j <= m && nl < 4096; j++)
                if ((float)j / (float)m >= lo && (float)j / (float)m <= hi)
                    lv[nl++] = (float)j / (float)m;
        } else {
            long m = (1L << k) - 1;
            for (long j = 0; j <= m && nl < 4096; j++) {
                double v = atanh((double)maxtanh *
                                 (double)(2 * j - m) / (double)m);
                if (v >= lo && v <= hi)
                    lv[nl++] = (float)v;
            }
        }
        /* the regularizer's minima: SinReQ at jD - s, WaveQ at j / m */
        double D, s;
        if (c->waveq) {
            D = 1.0 / (exp2((double)q->beta) - 1.0);
            s = 0;
        } else if (tr->s.quantizer == SR_QUANT_WRPN) {
            D = 1.0 / (double)((1L << (k - 1)) - 1);
            s = 0;
        } else {
            D = 2.0 / (double)((1L << k) - 1);
            s = D / 2;
        }
        if (tr->s.reg != SR_QUANT_REG_NONE && (hi - lo) / D < 4096) {
            for (long j = (long)floor((lo + s) / D); nm < 4096; j++) {
                double v = (double)j * D - s;
                if (v > hi)
                    break;
                if (v >= lo)
                    lv[4096 + nm++] = (float)v;
            }
        }
        h->levels = nl ? lv : NULL;
        h->n_levels = nl;
        h->minima = nm ? lv + 4096 : NULL;
        h->n_minima = nm;
    }
    if (st == SR_OK)
        st = sr_hist_write(run_file(tr, "histograms.h5"), epoch, hl, n);
    for (int i = 0; i < 3 * cap; i++)
        free(bufs[i]);
    free(bufs);
    free(hl);
    return st;
}

static int hist_wanted(struct trainer *tr, int epoch, int last)
{
    if (last && tr->hist_last)
        return 1;
    for (int i = 0; i < tr->n_hist; i++)
        if (tr->hist[i] == epoch)
            return 1;
    return 0;
}

/* ---- steps ---- */

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

static void free_progs(struct trainer *tr)
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
static sr_status capture(struct trainer *tr)
{
    sr_status st = SR_OK, st2 = SR_OK;

    free_progs(tr);
    if (!tr->c->capture)
        return SR_OK;
    if (tr->nranks == 1) {
        SR_TRY(sr_backend_begin_capture(tr->be));
        st = sr_nn_train_step(tr->net);
        st2 = sr_backend_end_capture(tr->be, &tr->prog);
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
        free_progs(tr);
        say(tr, "note: step capture unsupported (%s); running immediately",
            sr_last_error());
        return SR_OK;
    }
    SR_TRY(st);
    return st2;
}

static sr_status evaluate(struct trainer *tr, sr_loader *ld, double *loss,
                          double *acc)
{
    double sum = 0;
    long n = 0, right = 0;

    SR_TRY(sr_loader_seek(ld, 0, 0));
    for (;;) {
        int nv = 0;
        float l;
        uint32_t ok;
        SR_TRY(sr_loader_next(ld, tr->x, tr->y, &nv));
        if (nv == 0)
            break;
        SR_TRY(sr_nn_set_batch(tr->net, tr->x, tr->y));
        SR_TRY(sr_nn_eval_step(tr->net, nv));
        SR_TRY(sr_nn_read_stats(tr->net, &l, &ok));
        sum += (double)l * nv;
        right += ok;
        n += nv;
    }
    if (tr->nranks > 1) {
        /* each rank evaluated its shard of the split */
        double v[3] = {sum, (double)right, (double)n};
        SR_TRY(sr_dist_sum_f64(tr->d, v, 3));
        sum = v[0];
        right = (long)v[1];
        n = (long)v[2];
    }
    *loss = n ? sum / (double)n : NAN;
    *acc = n ? (double)right / (double)n : NAN;
    return SR_OK;
}

/* WaveQ: each layer takes ceil(beta) bits (sr_quant_waveq_bits); a change
 * invalidates the captured step. */
static sr_status waveq_bits(struct trainer *tr)
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
        st = capture(tr);
    return st;
}

static void progress(struct trainer *tr, int epoch, long step, long nsteps,
                     double loss, double acc, double ips, double *last)
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

static sr_status metrics_line(struct trainer *tr, int epoch, double lr,
                              double lam, double trl, double tra, double tel,
                              double tea, double val_l, double val_a,
                              double ips, long steps)
{
    FILE *f = tr->metrics;

    fprintf(f, "{\"epoch\": %d, \"steps\": %ld, \"lr\": ", epoch, steps);
    sr_json_num(f, lr);
    fputs(", \"lambda\": ", f);
    sr_json_num(f, lam);
    fputs(", \"train_loss\": ", f);
    sr_json_num(f, trl);
    fputs(", \"train_acc\": ", f);
    sr_json_num(f, tra);
    fputs(", \"test_loss\": ", f);
    sr_json_num(f, tel);
    fputs(", \"test_acc\": ", f);
    sr_json_num(f, tea);
    if (tr->val) {
        fputs(", \"val_loss\": ", f);
        sr_json_num(f, val_l);
        fputs(", \"val_acc\": ", f);
        sr_json_num(f, val_a);
    }
    fputs(", \"images_per_s\": ", f);
    sr_json_num(f, ips);
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
        note_write_error(tr, "metrics.jsonl");
    return run_files_ok(tr);
}

static sr_status write_result(struct trainer *tr, int epochs_done,
                              double final_acc, double final_loss,
                              double best_acc, int best_epoch, double val_acc,
                              const char *cmdline)
{
    FILE *f;
    char tmp[4200], dst[4200];

    snprintf(tmp, sizeof tmp, "%s/result.json.tmp", tr->c->out);
    snprintf(dst, sizeof dst, "%s/result.json", tr->c->out);
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
    sr_json_num(f, final_acc);
    fputs(", \"final_test_loss\": ", f);
    sr_json_num(f, final_loss);
    fputs(", \"best_test_acc\": ", f);
    sr_json_num(f, best_acc);
    fprintf(f, ", \"best_epoch\": %d", best_epoch);
    if (tr->val) {
        fputs(", \"final_val_acc\": ", f);
        sr_json_num(f, val_acc);
    }
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

/* Written whole and renamed: --resume auto without a checkpoint compares
 * it, so a cut one would make the run unresumable. */
static sr_status write_config(struct trainer *tr)
{
    char tmp[4200], dst[4200];
    FILE *f;
    sr_status st;

    snprintf(tmp, sizeof tmp, "%s/config.yaml.tmp", tr->c->out);
    snprintf(dst, sizeof dst, "%s/config.yaml", tr->c->out);
    f = fopen(tmp, "w");
    if (!f)
        return sr_error(SR_E_WRITE, "cannot create %s: %s", tmp,
                        strerror(errno));
    st = sr_train_config_write_yaml(tr->c, f);
    if (st != SR_OK) {
        fclose(f);
        unlink(tmp);
        return st;
    }
    return sr_text_commit(f, tmp, dst);
}

static sr_status trim_run_files(struct trainer *tr);

static sr_status open_run_files(struct trainer *tr)
{
    /* what a run leaves besides its text logs; *.tmp and *.trim: files
     * a killed run was writing */
    static const char *stale[] = {"model.h5", "result.json", "histograms.h5",
                                  "metrics.jsonl", "steps.tsv"};
    static const char *partial[] = {"model.h5.tmp", "result.json.tmp",
                                    "histograms.h5.tmp", "config.yaml.tmp",
                                    "metrics.jsonl.trim", "steps.tsv.trim"};
    const char *mode = tr->resumed ? "a" : "w";
    struct stat sb;
    int had_steps;

    SR_TRY(sr_run_dir_prepare(tr->c->out, tr->c->force || tr->c->resume[0],
                              1));
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++)
        unlink(run_file(tr, partial[i]));
    if (tr->resumed) {
        SR_TRY(trim_run_files(tr));
    } else {
        /* --force (or --resume auto with nothing to resume): an earlier
         * run's files, its checkpoints first, must not pass for this
         * run's, nor be resumed by a later --resume auto */
        SR_TRY(sr_ckpt_remove_all(tr->c->out));
        for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
            unlink(run_file(tr, stale[i]));
    }
    tr->log = fopen(run_file(tr, "train.log"), mode);
    SR_CHECK(tr->log, SR_E_WRITE, "cannot write %s: %s", tr->path,
             strerror(errno));
    tr->metrics = fopen(run_file(tr, "metrics.jsonl"), mode);
    SR_CHECK(tr->metrics, SR_E_WRITE, "cannot write %s: %s", tr->path,
             strerror(errno));
    had_steps = stat(run_file(tr, "steps.tsv"), &sb) == 0 && sb.st_size > 0;
    tr->steps = fopen(tr->path, mode);
    SR_CHECK(tr->steps, SR_E_WRITE, "cannot write %s: %s", tr->path,
             strerror(errno));
    if ((!tr->resumed || !had_steps) &&
        fputs("step\tepoch\tloss\tcorrect\trows\n", tr->steps) < 0)
        note_write_error(tr, "steps.tsv");
    SR_TRY(run_files_ok(tr));
    return write_config(tr);
}

/* ---- checkpoints ---- */

/* Every conv/linear layer's plan, in network order (as model files). */
static sr_status put_plan(struct trainer *tr, sr_ckpt_writer *w)
{
    int L = 0, n = sr_nn_layer_count(tr->net);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    int *qd = calloc((size_t)n + 1, sizeof *qd);
    int *bits = calloc((size_t)n + 1, sizeof *bits);
    int *ab = calloc((size_t)n + 1, sizeof *ab);
    sr_status st = SR_OK;

    if (!names || !qd || !bits || !ab) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        sr_nn_layer_info li;
        st = sr_nn_layer(tr->net, i, &li);
        if (st != SR_OK)
            goto out;
        if (li.kind != SR_NN_CONV2D && li.kind != SR_NN_LINEAR)
            continue;
        names[L] = li.name;
        qd[L] = li.qidx >= 0;
        bits[L] = li.qidx >= 0 ? tr->q[li.qidx].bits : 0;
        ab[L] = li.quant.act_bits;
        L++;
    }
    if (L) {
        st = sr_ckpt_attr_strs(w, "quant", "layers", names, L);
        if (st == SR_OK)
            st = sr_ckpt_attr_i32s(w, "quant", "quantized", qd, L);
        if (st == SR_OK)
            st = sr_ckpt_attr_i32s(w, "quant", "bits", bits, L);
        if (st == SR_OK)
            st = sr_ckpt_attr_i32s(w, "quant", "act_bits", ab, L);
    }
    if (st == SR_OK)
        st = sr_ckpt_attr_str(w, "quant", "quantizer",
                              sr_quant_quantizer_name(tr->s.quantizer));
    if (st == SR_OK && tr->nq) {
        float *beta = malloc((size_t)tr->nq * sizeof *beta);
        int d = tr->nq;
        st = beta ? sr_nn_read_betas(tr->net, beta)
                  : sr_error(SR_E_NOMEM, "out of memory");
        if (st == SR_OK)
            st = sr_ckpt_put_f32(w, "quant", "waveq_beta", 1, &d, beta);
        free(beta);
    }
out:
    free(names);
    free(qd);
    free(bits);
    free(ab);
    return st;
}

static sr_status put_state(struct trainer *tr, sr_ckpt_writer *w)
{
    const sr_train_config *c = tr->c;
    const struct progress *p = &tr->p;
    int nt = sr_nn_tensor_count(tr->net);
    float *buf = NULL;
    size_t cap = 0;
    sr_status st = SR_OK;

#define A(call) do { if (st == SR_OK) st = (call); } while (0)
    {
        char pv[96];
        snprintf(pv, sizeof pv, "sinreq %s", sr_version());
        A(sr_ckpt_attr_str(w, "", "program_version", pv));
    }
    A(sr_ckpt_attr_i64(w, "", "nranks", tr->nranks));
    A(sr_ckpt_attr_str(w, "", "net", c->net));
    A(sr_ckpt_attr_str(w, "", "backend", sr_backend_name(tr->be)));
    A(sr_ckpt_attr_str(w, "", "device", sr_backend_device_name(tr->be)));
    A(sr_ckpt_attr_str(w, "", "config", tr->cfg_text));
    for (int i = 0; st == SR_OK && i < nt; i++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(tr->net, i);
        st = grow_floats(&buf, &cap, ti->numel);
        if (st != SR_OK)
            break;
        for (int pass = 0; st == SR_OK && pass < 2; pass++) {
            if (pass == 0) {
                st = sr_nn_read_tensor(tr->net, i, buf);
            } else {
                sr_buf *pb, *gb, *mb;
                size_t words;
                if (!ti->trainable)
                    break;
                st = sr_nn_slab(tr->net, ti->slab, &pb, &gb, &mb, &words);
                if (st == SR_OK)
                    st = sr_buf_read(tr->be, mb, ti->off, ti->numel, buf);
            }
            /* never checkpoint a broken state */
            for (size_t j = 0; st == SR_OK && j < ti->numel; j++)
                if (!isfinite(buf[j]))
                    st = sr_error(SR_E_NUMERIC, "%s%s has a non-finite value "
                                  "at element %zu at step %ld; no checkpoint "
                                  "is written", ti->name,
                                  pass ? " (momentum)" : "", j, tr->t);
            A(sr_ckpt_put_f32(w, pass ? "momentum" : "model", ti->name,
                              ti->ndim, ti->dims, buf));
        }
    }
    free(buf);
    A(put_plan(tr, w));
    A(sr_ckpt_attr_i64(w, "progress", "epoch", p->epoch));
    A(sr_ckpt_attr_i64(w, "progress", "step_in_epoch", p->step));
    A(sr_ckpt_attr_i64(w, "progress", "epoch_complete", p->complete));
    A(sr_ckpt_attr_i64(w, "progress", "global_step", tr->t));
    A(sr_ckpt_attr_i64(w, "progress", "total_steps", tr->T));
    A(sr_ckpt_attr_i64(w, "progress", "steps_per_epoch", tr->steps_per_epoch));
    A(sr_ckpt_attr_i64(w, "progress", "epochs", c->epochs));
    /* sr_loader_seek(data_epoch, data_batch) resumes the data stream; the
     * order is a pure function of (seed, epoch) */
    A(sr_ckpt_attr_i64(w, "progress", "data_epoch",
                       p->complete ? p->epoch : p->epoch - 1));
    A(sr_ckpt_attr_i64(w, "progress", "data_batch", p->complete ? 0 : p->step));
    A(sr_ckpt_attr_i64(w, "rng", "seed", c->seed));
    A(sr_ckpt_attr_i64(w, "rng", "step", tr->t));
    A(sr_ckpt_attr_str(w, "rng", "kind", "counter-based (lowbias32), keyed by "
                       "(seed, stream, step): no other state"));
    A(sr_ckpt_attr_f64(w, "schedule", "lr", p->lr));
    A(sr_ckpt_attr_f64(w, "schedule", "lambda", p->lam));
    A(sr_ckpt_attr_f64(w, "metrics", "train_loss_sum", p->sum));
    A(sr_ckpt_attr_i64(w, "metrics", "train_correct", p->right));
    A(sr_ckpt_attr_i64(w, "metrics", "train_seen", p->seen));
    A(sr_ckpt_attr_f64(w, "metrics", "best_test_acc", p->best));
    A(sr_ckpt_attr_i64(w, "metrics", "best_epoch", p->best_epoch));
    A(sr_ckpt_attr_f64(w, "metrics", "final_test_acc", p->fin_acc));
    A(sr_ckpt_attr_f64(w, "metrics", "final_test_loss", p->fin_loss));
    A(sr_ckpt_attr_f64(w, "metrics", "final_val_acc", p->val_acc));
    A(sr_ckpt_attr_f64(w, "metrics", "first_loss", p->first_loss));
#undef A
    return st;
}

static sr_status sync_bn(struct trainer *tr);

/* Divergence guard on the weights: every trainable tensor's largest |w|
 * against max_abs_weight, before a checkpoint (every epoch end and every
 * checkpoint_interval steps). Every rank holds the same parameters, so every
 * rank stops with the same message. */
static sr_status check_weights(struct trainer *tr)
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
        st = grow_floats(&buf, &cap, ti->numel);
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
static sr_status check_loss(struct trainer *tr, double loss, int e)
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

static sr_status write_ckpt(struct trainer *tr)
{
    char dir[4200], path[4300];
    sr_ckpt_writer *w;
    sr_status st;

    SR_TRY(check_weights(tr));
    if (tr->nranks > 1) {
        /* every rank finished the step (and holds the same state, BN
         * statistics averaged); rank 0 alone writes */
        int all = 0;
        SR_TRY(sync_bn(tr));
        SR_TRY(sr_dist_all(tr->d, 1, &all));
        SR_CHECK(all, SR_E_INTERNAL, "a rank did not reach the checkpoint");
        if (!tr->root) {
            snprintf(tr->ck_last, sizeof tr->ck_last,
                     "%s/ckpt/ckpt-e%04d-s%09ld.h5", tr->c->out, tr->p.epoch,
                     tr->t);
            return SR_OK;
        }
    }
    /* the run files hold everything up to this step before the
     * checkpoint does: a resumed run trims, never has to fill in */
    SR_TRY(run_files_ok(tr));
    snprintf(dir, sizeof dir, "%s/ckpt", tr->c->out);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return sr_error(SR_E_WRITE, "cannot create %s: %s", dir,
                        strerror(errno));
    snprintf(path, sizeof path, "%s/ckpt-e%04d-s%09ld.h5", dir, tr->p.epoch,
             tr->t);
    SR_TRY(sr_ckpt_create(path, &w));
    st = put_state(tr, w);
    if (st != SR_OK) {
        sr_ckpt_abort(w);
        return st;
    }
    SR_TRY(sr_ckpt_commit(w));
    /* the rank watchdog's "last good checkpoint" */
    sr_dist_set_context(tr->d, tr->t, path);
    sr_ckpt_prune(tr->c->out, tr->c->keep_last);
    if (tr->log && (fprintf(tr->log, "checkpoint %s (epoch %d, step %ld)\n",
                            path, tr->p.epoch, tr->t) < 0 || fflush(tr->log)))
        note_write_error(tr, "train.log");
    return run_files_ok(tr);
}

/* Open and fully read-check one candidate. */
static sr_status try_ckpt(struct trainer *tr, const char *path)
{
    sr_ckpt_file *f = NULL;
    char *old = NULL;
    sr_status st = sr_ckpt_open(path, &f);

    if (st == SR_OK)
        st = sr_ckpt_verify(f);
    if (st == SR_OK)
        st = sr_ckpt_get_str(f, "", "config", &old);
    if (st == SR_OK) {
        /* an incompatible config is the user's error, not a bad file */
        st = sr_train_config_compare(old, tr->cfg_text, path);
        free(old);
        if (st != SR_OK) {
            sr_ckpt_close(f);
            return st == SR_E_CONFIG ? SR_E_ARG : st;
        }
        tr->ck = f;
        return SR_OK;
    }
    sr_ckpt_close(f);
    return st;
}

/* --resume auto: a checkpoint that failed to load, reported now on stderr
 * and again in train.log once it is open. */
static void skip_ckpt(struct trainer *tr, const char *path, const char *why)
{
    size_t old = tr->skipped ? strlen(tr->skipped) : 0;
    size_t add = strlen(path) + strlen(why) + 4;
    char *p = realloc(tr->skipped, old + add);

    fprintf(stderr, "sinreq train: skipping checkpoint %s: %s\n", path, why);
    tr->n_skipped++;
    if (p) {
        snprintf(p + old, add, "%s: %s\n", path, why);
        tr->skipped = p;
    }
}

/* --resume auto: from tr->cand down, the newest candidate whose file opens,
 * verifies and has this run's config becomes tr->ck. */
static sr_status next_ckpt(struct trainer *tr)
{
    for (; tr->cand >= 0; tr->cand--) {
        const char *path = tr->cands[tr->cand].path;
        sr_status st = try_ckpt(tr, path);
        if (st == SR_OK)
            return SR_OK;
        if (st == SR_E_ARG)
            return SR_E_CONFIG;
        skip_ckpt(tr, path, sr_last_error());
    }
    return SR_OK;
}

static sr_status none_loads(struct trainer *tr)
{
    return sr_error(SR_E_FORMAT, "--resume auto: none of the %d checkpoint(s) "
                    "in %s/ckpt loads (each reason above); nothing is "
                    "overwritten: move them away or use --force to start "
                    "over", tr->ncand, tr->c->out);
}

/* --resume: pick the checkpoint (before anything is built). */
static sr_status find_resume(struct trainer *tr)
{
    const sr_train_config *c = tr->c;
    sr_status st;

    if (strcmp(c->resume, "auto") != 0) {
        st = try_ckpt(tr, c->resume);
        return st == SR_E_ARG ? SR_E_CONFIG : st;
    }
    SR_TRY(sr_ckpt_list(c->out, &tr->cands, &tr->ncand));
    tr->cand = tr->ncand - 1;
    SR_TRY(next_ckpt(tr));
    if (!tr->ck && tr->ncand > 0)
        return none_loads(tr);
    if (!tr->ck) {
        /* nothing to resume: a fresh start, if the directory's config (if
         * any) is this one */
        char cfg[4200], *old = NULL;
        FILE *f;
        snprintf(cfg, sizeof cfg, "%s/config.yaml", c->out);
        f = fopen(cfg, "r");
        if (f) {
            size_t len = 0;
            FILE *m = open_memstream(&old, &len);
            int ch;
            while (m && (ch = fgetc(f)) != EOF)
                fputc(ch, m);
            fclose(f);
            if (m)
                fclose(m);
            st = old ? sr_train_config_compare(old, tr->cfg_text, cfg)
                     : SR_OK;
            free(old);
            SR_TRY(st);
        }
    }
    return SR_OK;
}

static sr_status load_ckpt(struct trainer *tr);

/* Restore from tr->ck; with --resume auto, a checkpoint that fails at any
 * point of loading is reported and the next older one is tried (every
 * tensor, the plan and the progress are set again by the next load). */
static sr_status resume_load(struct trainer *tr)
{
    for (;;) {
        sr_status st = load_ckpt(tr);
        if (st == SR_OK || strcmp(tr->c->resume, "auto") != 0 ||
            st == SR_E_NOMEM || st == SR_E_DEVICE || st == SR_E_INTERNAL)
            return st;
        skip_ckpt(tr, sr_ckpt_path(tr->ck), sr_last_error());
        sr_ckpt_close(tr->ck);
        tr->ck = NULL;
        tr->cand--;
        SR_TRY(next_ckpt(tr));
        if (!tr->ck)
            return none_loads(tr);
    }
}

/* One tensor of the network from the checkpoint: at its full shape, its
 * values checked as eval checks a model's. */
static sr_status ckpt_tensor(sr_ckpt_file *f, const char *group,
                             const sr_nn_tensor_info *ti, float *buf)
{
    char obj[512];

    SR_TRY(sr_ckpt_get_f32(f, group, ti->name, ti->ndim, ti->dims, buf));
    snprintf(obj, sizeof obj, "/%s/%s", group, ti->name);
    return sr_train_check_values(sr_ckpt_path(f), obj, ti, buf);
}

/* The checkpoint's per-layer plan is this run's: the same layers quantized,
 * the same activation bits, the configured bits (WaveQ: bits it can reach). */
static sr_status check_ckpt_plan(struct trainer *tr, sr_ckpt_file *f)
{
    int L = 0, n = sr_nn_layer_count(tr->net);
    int *qd = NULL, *bits = NULL, *ab = NULL;
    int lo = sr_quant_waveq_bits(0.0f, tr->s.quantizer);   /* its minimum */
    char *qz = NULL;
    sr_status st;

    for (int i = 0; i < n; i++) {
        sr_nn_layer_info li;
        SR_TRY(sr_nn_layer(tr->net, i, &li));
        L += li.kind == SR_NN_CONV2D || li.kind == SR_NN_LINEAR;
    }
    qd = calloc((size_t)L + 1, sizeof *qd);
    bits = calloc((size_t)L + 1, sizeof *bits);
    ab = calloc((size_t)L + 1, sizeof *ab);
    st = qd && bits && ab ? SR_OK : sr_error(SR_E_NOMEM, "out of memory");
    if (st == SR_OK)
        st = sr_ckpt_get_i32s(f, "quant", "quantized", qd, L);
    if (st == SR_OK)
        st = sr_ckpt_get_i32s(f, "quant", "bits", bits, L);
    if (st == SR_OK)
        st = sr_ckpt_get_i32s(f, "quant", "act_bits", ab, L);
    if (st == SR_OK)
        st = sr_ckpt_get_str(f, "quant", "quantizer", &qz);
    if (st == SR_OK &&
        strcmp(qz, sr_quant_quantizer_name(tr->s.quantizer)) != 0)
        st = sr_error(SR_E_FORMAT, "%s: /quant@quantizer is '%s' but this "
                      "run's is '%s'", sr_ckpt_path(f), qz,
                      sr_quant_quantizer_name(tr->s.quantizer));
    for (int i = 0, l = 0; st == SR_OK && i < n; i++) {
        sr_nn_layer_info li;
        st = sr_nn_layer(tr->net, i, &li);
        if (st != SR_OK || (li.kind != SR_NN_CONV2D &&
                            li.kind != SR_NN_LINEAR))
            continue;
        int q = li.qidx >= 0;
        int ok_bits = !q ? bits[l] == 0
                    : tr->c->waveq ? bits[l] >= lo && bits[l] <= SR_MAX_BITS
                                   : bits[l] == tr->q[li.qidx].bits;
        if (qd[l] != q || ab[l] != li.quant.act_bits || !ok_bits)
            st = sr_error(SR_E_FORMAT, "%s: layer %s: /quant@quantized, "
                          "@bits, @act_bits are %d, %d, %d but this run's "
                          "plan has %d, %s, %d", sr_ckpt_path(f), li.name,
                          qd[l], bits[l], ab[l], q,
                          !q ? "0" : tr->c->waveq ? "WaveQ's range" : "its bits",
                          li.quant.act_bits);
        l++;
    }
    free(qz);
    free(qd);
    free(bits);
    free(ab);
    return st;
}

/* The progress fields agree with each other and with this run: a damaged
 * field must not silently skip or repeat steps. */
static sr_status check_progress(struct trainer *tr, sr_ckpt_file *f,
                                long spe_ck, int64_t epochs)
{
    const struct progress *p = &tr->p;
    const char *path = sr_ckpt_path(f);
    long rows = spe_ck * (long)tr->c->batch * tr->ck_nranks;

    SR_CHECK(epochs == tr->c->epochs, SR_E_FORMAT, "%s: /progress@epochs is "
             "%lld but this run has %d", path, (long long)epochs,
             tr->c->epochs);
    SR_CHECK(p->epoch >= 1 && p->epoch <= tr->c->epochs, SR_E_FORMAT,
             "%s: /progress@epoch is %d (1..%d expected)", path, p->epoch,
             tr->c->epochs);
    SR_CHECK(p->complete == 0 || p->complete == 1, SR_E_FORMAT,
             "%s: /progress@epoch_complete is %d (0 or 1 expected)", path,
             p->complete);
    SR_CHECK(p->complete ? p->step == spe_ck
                         : p->step >= 0 && p->step < spe_ck, SR_E_FORMAT,
             "%s: /progress@step_in_epoch is %ld with epoch_complete %d, "
             "but an epoch has %ld steps (inconsistent progress)", path,
             p->step, p->complete, spe_ck);
    SR_CHECK(tr->t == (long)(p->epoch - 1) * spe_ck + p->step, SR_E_FORMAT,
             "%s: inconsistent progress (epoch %d, step %ld, global step "
             "%ld)", path, p->epoch, p->step, tr->t);
    SR_CHECK(p->seen >= p->step && p->right >= 0 && p->right <= p->seen &&
             p->seen <= rows, SR_E_FORMAT, "%s: /metrics@train_seen %ld, "
             "@train_correct %ld do not fit %ld steps of at most %d x %ld "
             "images", path, p->seen, p->right, p->step, tr->c->batch,
             tr->ck_nranks);
    SR_CHECK(isfinite(p->sum) && p->sum >= 0, SR_E_FORMAT,
             "%s: /metrics@train_loss_sum is %g", path, p->sum);
    {
        /* the data stream's position, written from the same progress
         * (write_ckpt); files from other tools or damaged ones disagree */
        int64_t de = -1, db = -1;
        SR_TRY(sr_ckpt_get_i64(f, "progress", "data_epoch", &de));
        SR_TRY(sr_ckpt_get_i64(f, "progress", "data_batch", &db));
        SR_CHECK(de == (p->complete ? p->epoch : p->epoch - 1) &&
                 db == (p->complete ? 0 : p->step), SR_E_FORMAT,
                 "%s: /progress@data_epoch %lld, @data_batch %lld do not "
                 "match epoch %d, step %ld, epoch_complete %d "
                 "(inconsistent progress)", path, (long long)de,
                 (long long)db, p->epoch, p->step, p->complete);
    }
    SR_CHECK(p->best_epoch >= 0 && p->best_epoch <= p->epoch &&
             (p->best == -1 || (p->best >= 0 && p->best <= 1)), SR_E_FORMAT,
             "%s: /metrics@best_test_acc %g, @best_epoch %d out of range",
             path, p->best, p->best_epoch);
    /* not evaluated yet: NaN */
    SR_CHECK((isnan(p->fin_acc) || (p->fin_acc >= 0 && p->fin_acc <= 1)) &&
             (isnan(p->val_acc) || (p->val_acc >= 0 && p->val_acc <= 1)) &&
             !isinf(p->fin_loss), SR_E_FORMAT, "%s: /metrics@final_test_acc "
             "%g, @final_test_loss %g, @final_val_acc %g out of range",
             path, p->fin_acc, p->fin_loss, p->val_acc);
    SR_CHECK(isfinite(p->lr) && isfinite(p->lam), SR_E_FORMAT,
             "%s: /schedule@lr %g, @lambda %g (finite expected)", path, p->lr,
             p->lam);
    return SR_OK;
}

/* Restore the network and the progress from tr->ck (after build_net). */
static sr_status load_ckpt(struct trainer *tr)
{
    sr_ckpt_file *f = tr->ck;
    int nt = sr_nn_tensor_count(tr->net);
    float *buf = NULL;
    size_t cap = 0;
    int64_t v[8];
    struct progress *p = &tr->p;
    sr_status st = SR_OK;

    int64_t ckn = 1;
    long spe_ck;

    /* the number of ranks that wrote it (a checkpoint without it: 1) */
    if (sr_ckpt_get_i64(f, "", "nranks", &ckn) != SR_OK || ckn < 1) {
        ckn = 1;
        sr_clear_error();
    }
    tr->ck_nranks = (long)ckn;
    SR_TRY(sr_ckpt_get_i64(f, "progress", "total_steps", &v[0]));
    SR_TRY(sr_ckpt_get_i64(f, "progress", "steps_per_epoch", &v[1]));
    spe_ck = (long)v[1];
    if (ckn == tr->nranks)
        SR_CHECK(v[0] == tr->T && v[1] == tr->steps_per_epoch, SR_E_FORMAT,
                 "%s: %lld steps of which %lld per epoch, but this run has "
                 "%ld and %ld (another dataset?)", sr_ckpt_path(f),
                 (long long)v[0], (long long)v[1], tr->T,
                 tr->steps_per_epoch);
    else
        /* another number of ranks: another global batch, so other step
         * counts; the epochs must still match */
        SR_CHECK(v[1] > 0 && v[0] == v[1] * (int64_t)tr->c->epochs,
                 SR_E_FORMAT, "%s: %lld steps of which %lld per epoch do not "
                 "make this run's %d epochs", sr_ckpt_path(f),
                 (long long)v[0], (long long)v[1], tr->c->epochs);
    for (int i = 0; st == SR_OK && i < nt; i++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(tr->net, i);
        st = grow_floats(&buf, &cap, ti->numel);
        if (st != SR_OK)
            break;
        st = ckpt_tensor(f, "model", ti, buf);
        if (st == SR_OK)
            st = sr_nn_write_tensor(tr->net, i, buf);
        if (st == SR_OK && ti->trainable) {
            sr_buf *pb, *gb, *mb;
            size_t words;
            st = ckpt_tensor(f, "momentum", ti, buf);
            if (st == SR_OK)
                st = sr_nn_slab(tr->net, ti->slab, &pb, &gb, &mb, &words);
            if (st == SR_OK)
                st = sr_buf_write(tr->be, mb, ti->off, ti->numel, buf);
        }
    }
    free(buf);
    SR_TRY(st);
    SR_TRY(check_ckpt_plan(tr, f));
    if (tr->nq) {
        float *beta = malloc((size_t)tr->nq * sizeof *beta);
        int L = 0, *bits = NULL, nq = tr->nq;
        SR_CHECK(beta, SR_E_NOMEM, "out of memory");
        st = sr_ckpt_get_f32(f, "quant", "waveq_beta", 1, &nq, beta);
        for (int i = 0; st == SR_OK && i < tr->nq; i++)
            if (!isfinite(beta[i]))
                st = sr_error(SR_E_FORMAT, "%s: /quant/waveq_beta has a "
                              "non-finite value %g at element %d",
                              sr_ckpt_path(f), (double)beta[i], i);
        if (st == SR_OK)
            st = sr_nn_write_betas(tr->net, beta);
        for (int i = 0; st == SR_OK && i < tr->nq; i++)
            tr->q[i].beta = beta[i];
        free(beta);
        SR_TRY(st);
        /* bits per conv/linear layer, in network order */
        for (int i = 0; i < sr_nn_layer_count(tr->net); i++) {
            sr_nn_layer_info li;
            SR_TRY(sr_nn_layer(tr->net, i, &li));
            L += li.kind == SR_NN_CONV2D || li.kind == SR_NN_LINEAR;
        }
        bits = calloc((size_t)L + 1, sizeof *bits);
        SR_CHECK(bits, SR_E_NOMEM, "out of memory");
        st = sr_ckpt_get_i32s(f, "quant", "bits", bits, L);
        for (int i = 0, l = 0; st == SR_OK && i < sr_nn_layer_count(tr->net);
             i++) {
            sr_nn_layer_info li;
            st = sr_nn_layer(tr->net, i, &li);
            if (st != SR_OK || (li.kind != SR_NN_CONV2D &&
                                li.kind != SR_NN_LINEAR))
                continue;
            if (li.qidx >= 0 && bits[l] != tr->q[li.qidx].bits) {
                st = sr_nn_set_layer_bits(tr->net, li.qidx, bits[l]);
                tr->q[li.qidx].bits = bits[l];
            }
            l++;
        }
        free(bits);
        SR_TRY(st);
    }
    SR_TRY(sr_ckpt_get_i64(f, "progress", "epoch", &v[0]));
    SR_TRY(sr_ckpt_get_i64(f, "progress", "step_in_epoch", &v[1]));
    SR_TRY(sr_ckpt_get_i64(f, "progress", "epoch_complete", &v[2]));
    SR_TRY(sr_ckpt_get_i64(f, "progress", "global_step", &v[3]));
    SR_TRY(sr_ckpt_get_i64(f, "metrics", "train_correct", &v[4]));
    SR_TRY(sr_ckpt_get_i64(f, "metrics", "train_seen", &v[5]));
    SR_TRY(sr_ckpt_get_i64(f, "metrics", "best_epoch", &v[6]));
    SR_TRY(sr_ckpt_get_f64(f, "metrics", "train_loss_sum", &p->sum));
    SR_TRY(sr_ckpt_get_f64(f, "metrics", "best_test_acc", &p->best));
    SR_TRY(sr_ckpt_get_f64(f, "metrics", "final_test_acc", &p->fin_acc));
    SR_TRY(sr_ckpt_get_f64(f, "metrics", "final_test_loss", &p->fin_loss));
    SR_TRY(sr_ckpt_get_f64(f, "metrics", "final_val_acc", &p->val_acc));
    /* the divergence guard's reference (absent in older checkpoints: the
     * first step after the resume sets it) */
    if (sr_ckpt_get_f64(f, "metrics", "first_loss", &p->first_loss) !=
            SR_OK || !(isfinite(p->first_loss) && p->first_loss > 0))
        p->first_loss = 0;
    SR_TRY(sr_ckpt_get_f64(f, "schedule", "lr", &p->lr));
    SR_TRY(sr_ckpt_get_f64(f, "schedule", "lambda", &p->lam));
    p->epoch = (int)v[0];
    p->step = (long)v[1];
    p->complete = (int)v[2];
    tr->t = (long)v[3];
    p->right = (long)v[4];
    p->seen = (long)v[5];
    p->best_epoch = (int)v[6];
    SR_TRY(sr_ckpt_get_i64(f, "progress", "epochs", &v[7]));
    SR_TRY(check_progress(tr, f, spe_ck, v[7]));
    if (ckn != tr->nranks) {
        /* the same epoch, at the step that has seen (about) as many of its
         * images: the global order of an epoch does not depend on the
         * number of ranks; at most one global batch is repeated or
         * skipped. Not bit-identical (docs/usage.md). */
        long st_new = p->complete ? tr->steps_per_epoch
                                  : (long)(p->step * ckn / tr->nranks);
        if (st_new > tr->steps_per_epoch)
            st_new = tr->steps_per_epoch;
        p->step = st_new;
        tr->t = (long)(p->epoch - 1) * tr->steps_per_epoch + st_new;
    }
    tr->resumed = 1;
    return SR_OK;
}

static int keep_metrics(const char *line, long epochs_done)
{
    int e;

    return sscanf(line, "{\"epoch\": %d", &e) == 1 && e <= epochs_done;
}

static int keep_steps(const char *line, long t)
{
    long s;

    return sscanf(line, "%ld", &s) == 1 && s <= t;
}

/* A resumed run continues its files: what a killed run logged after the
 * checkpoint goes. */
static sr_status trim_run_files(struct trainer *tr)
{
    long done = tr->p.complete ? tr->p.epoch : tr->p.epoch - 1;

    SR_TRY(sr_trim_lines(run_file(tr, "metrics.jsonl"), 0, keep_metrics,
                         done));
    SR_TRY(sr_trim_lines(run_file(tr, "steps.tsv"), 1, keep_steps, tr->t));
    /* epochs after the checkpoint's are written again */
    return sr_hist_trim(run_file(tr, "histograms.h5"), (int)done);
}

/* A stop signal: one process reads its flag; several ranks use the value
 * they agreed on (the step's reduction, or stop_agree at an epoch end), so
 * that all stop at the same step. */
static int stopping(struct trainer *tr)
{
    return tr->nranks > 1 ? tr->stop : stop_signal != 0;
}

static int stop_which(struct trainer *tr)
{
    return tr->nranks > 1 ? tr->stop_sig : stop_signal;
}

static sr_status stop_agree(struct trainer *tr)
{
    int any = 0;

    if (tr->nranks == 1)
        return SR_OK;
    SR_TRY(sr_dist_any(tr->d, stop_signal != 0, &any));
    tr->stop = any;
    tr->stop_sig = stop_signal ? stop_signal : any ? -1 : 0;
    return SR_OK;
}

/* After a step: a checkpoint is due (interval), or a signal asks for one. */
static int step_ckpt_due(struct trainer *tr)
{
    long n = tr->c->checkpoint_interval;

    /* the epoch's last step is checkpointed at the epoch end instead */
    if (tr->p.step >= tr->steps_per_epoch)
        return 0;
    return stopping(tr) || (n > 0 && tr->t % n == 0);
}

static const char *signal_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" :
           sig < 0 ? "a signal to another rank" : "signal";
}

/* ---- data parallelism (nranks > 1) ---- */

/* BN running statistics := their average over the ranks (each rank's
 * follow its own batches): before an evaluation, a checkpoint, the model
 * file. Linear, so averaging at these points only does not change the
 * average at the end. */
static sr_status sync_bn(struct trainer *tr)
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
static sr_status bcast_state(struct trainer *tr)
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
static sr_status grad_plan(struct trainer *tr)
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
    v[3] = stop_signal != 0;
    SR_TRY(sr_dist_sum_f64(tr->d, v, 4));
    /* rank 0 took part: the checkpoint it wrote before this step is whole */
    if (tr->ck_last[0]) {
        sr_dist_set_context(tr->d, tr->t + 1, tr->ck_last);
        tr->ck_last[0] = '\0';
    }
    tr->stop = v[3] > 0;
    tr->stop_sig = stop_signal ? stop_signal : tr->stop ? -1 : 0;
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

static sr_status train_loop(struct trainer *tr, const char *cmdline)
{
    const sr_train_config *c = tr->c;
    struct progress *p = &tr->p;
    int e, stop = 0;

    if (!tr->resumed) {
        p->epoch = 1;
        p->best = -1;
        p->fin_acc = p->fin_loss = p->val_acc = NAN;
    } else if (p->complete) {
        p->epoch++;
        p->step = 0;
        p->sum = 0;
        p->right = p->seen = 0;
    }
    p->complete = 0;
    for (e = p->epoch; e <= c->epochs && !stop; e++) {
        double te = sr_now(), last = 0, tel, tea, vl = NAN, va = NAN;
        long seen0 = p->seen;   /* > 0 when resumed within the epoch */

        p->epoch = e;
        memset(&tr->et, 0, sizeof tr->et);
        tr->et.cpu_s = cpu_now();
        SR_TRY(sr_loader_seek(tr->train, e - 1, (int)p->step));
        for (;;) {
            int nv = 0;
            float loss;
            uint32_t ok;
            sr_nn_scalars sc = {0};
            double ts;

            if (p->step >= tr->steps_per_epoch)
                break;
            SR_TRY(sr_loader_next(tr->train, tr->x, tr->y, &nv));
            if (nv == 0)
                break;
            p->lr = sr_train_lr(c, &tr->s, tr->t, tr->steps_per_epoch, tr->T);
            p->lam = sr_quant_lambda(&tr->s.lambda, tr->t, tr->T);
            sc.lr = (float)p->lr;
            sc.step = (uint32_t)tr->t;
            sc.lambda = (float)p->lam;
            if (c->waveq) {
                sr_quant_waveq_coefs(&tr->s.waveq, tr->t, tr->T, &sc.waveq_w,
                                     &sc.waveq_beta);
                sc.beta_lr = sr_quant_waveq_beta_lr(&tr->s.waveq, tr->t, tr->T);
            }
            /* dropout masks are keyed by the step: another key per rank */
            if (tr->nranks > 1)
                sc.step = (uint32_t)(tr->t * tr->nranks + tr->rank);
            /* the step's time: from the upload of the batch to its
             * statistics on the host (loading excluded) */
            ts = sr_now();
            sr_dist_set_context(tr->d, tr->t + 1, NULL);
            SR_TRY(sr_nn_set_batch(tr->net, tr->x, tr->y));
            SR_TRY(sr_nn_set_scalars(tr->net, &sc));
            if (tr->nranks > 1) {
                double v[4];
                SR_TRY(dist_step(tr, nv, v));
                tr->et.step_s += sr_now() - ts;
                tr->et.steps++;
                tr->t++;
                p->step++;
                /* the global batch: mean loss, correct and rows of all
                 * ranks */
                if (tr->steps &&
                    fprintf(tr->steps, "%ld\t%d\t%.9g\t%.0f\t%.0f\n", tr->t,
                            e, v[0] / v[2], v[1], v[2]) < 0)
                    note_write_error(tr, "steps.tsv");
                if (!isfinite(v[0])) {
                    tr->agreed = 1;
                    return sr_error(SR_E_NUMERIC, "non-finite training loss "
                                    "(%g) at epoch %d step %ld (lr %g): "
                                    "training diverged; try a smaller --lr. "
                                    "No model is saved and no checkpoint of "
                                    "this state is written.", v[0] / v[2], e,
                                    p->step, p->lr);
                }
                SR_TRY(check_loss(tr, v[0] / v[2], e));
                p->sum += v[0];
                p->right += (long)v[1];
                p->seen += (long)v[2];
            } else {
                if (tr->prog)
                    SR_TRY(sr_program_run(tr->be, tr->prog));
                else
                    SR_TRY(sr_nn_train_step(tr->net));
                SR_TRY(sr_nn_read_stats(tr->net, &loss, &ok));
                tr->et.step_s += sr_now() - ts;
                tr->et.steps++;
                tr->t++;
                p->step++;
                /* %.9g: every float32 loss round-trips, so backends compare
                 * exactly from this file */
                if (fprintf(tr->steps, "%ld\t%d\t%.9g\t%u\t%d\n", tr->t, e,
                            (double)loss, (unsigned)ok, nv) < 0)
                    note_write_error(tr, "steps.tsv");
                if (!isfinite(loss))
                    return sr_error(SR_E_NUMERIC, "non-finite training loss "
                                    "(%g) at epoch %d step %ld (lr %g): "
                                    "training diverged; try a smaller --lr. "
                                    "No model is saved and no checkpoint of "
                                    "this state is written.", (double)loss, e,
                                    p->step, p->lr);
                SR_TRY(check_loss(tr, (double)loss, e));
                p->sum += (double)loss * nv;
                p->right += ok;
                p->seen += nv;
            }
            if (tr->werr_file)
                SR_TRY(run_files_ok(tr));
            if (tr->root)
                progress(tr, e, p->step, tr->steps_per_epoch,
                         p->sum / p->seen, (double)p->right / p->seen,
                         (p->seen - seen0) / (sr_now() - te), &last);
            if (c->max_steps && tr->t >= c->max_steps)
                stop = 1;
            if (tr->test_sleep > 0)
                usleep((useconds_t)(tr->test_sleep * 1e6));
            if (step_ckpt_due(tr) || (stop && p->step < tr->steps_per_epoch)) {
                SR_TRY(write_ckpt(tr));
                if (stopping(tr)) {
                    tr->requeue = 1;
                    say(tr, "%s: checkpoint written at epoch %d step %ld "
                        "(global step %ld); exiting with %d (requeue, then "
                        "--resume auto)", signal_name(stop_which(tr)), e,
                        p->step, tr->t, SR_EXIT_REQUEUE);
                    return run_files_ok(tr);
                }
            }
            if (stop)
                break;
        }
        double ips = (p->seen - seen0) / (sr_now() - te);
        /* CPU time of the loop: with images_per_s, how much of the machine
         * a step took (a shared machine's load changes the one, much less
         * the other) */
        tr->et.cpu_s = cpu_now() - tr->et.cpu_s;
        if (tr->nranks > 1)
            SR_TRY(sr_dist_sum_f64(tr->d, &tr->et.cpu_s, 1));
        long seen = p->seen, right = p->right;
        double sum = p->sum;
        SR_TRY(sync_bn(tr));
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
        SR_TRY(waveq_bits(tr));
        SR_TRY(evaluate(tr, tr->test, &tel, &tea));
        if (tr->val)
            SR_TRY(evaluate(tr, tr->val, &vl, &va));
        p->fin_acc = tea;
        p->fin_loss = tel;
        p->val_acc = va;
        if (tea > p->best) {
            p->best = tea;
            p->best_epoch = e;
        }
        if (tr->root)
            SR_TRY(metrics_line(tr, e, p->lr, p->lam, seen ? sum / seen : NAN,
                                seen ? (double)right / seen : NAN, tel, tea,
                                vl, va, ips, tr->t));
        if (tr->val)
            say(tr, "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f "
                "acc %.4f | val acc %.4f | %.0f img/s", e, c->epochs,
                sum / (seen ? seen : 1), (double)right / (seen ? seen : 1),
                tel, tea, va, ips);
        else
            say(tr, "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f "
                "acc %.4f | %.0f img/s", e, c->epochs,
                sum / (seen ? seen : 1), (double)right / (seen ? seen : 1),
                tel, tea, ips);
        int is_last = stop || e == c->epochs;
        if (tr->root && hist_wanted(tr, e, is_last))
            SR_TRY(write_hist(tr, e));
        if (p->step >= tr->steps_per_epoch) {
            /* the epoch is done and logged: the next starts from zero */
            p->complete = 1;
            /* several ranks: a signal that came during the evaluation */
            SR_TRY(stop_agree(tr));
            SR_TRY(write_ckpt(tr));
            p->complete = 0;
            if (stopping(tr)) {
                tr->requeue = 1;
                say(tr, "%s: checkpoint written at the end of epoch %d "
                    "(global step %ld); exiting with %d (requeue, then "
                    "--resume auto)", signal_name(stop_which(tr)), e, tr->t,
                    SR_EXIT_REQUEUE);
                return run_files_ok(tr);
            }
        }
        p->step = 0;
        p->sum = 0;
        p->right = p->seen = 0;
    }
    e--;
    if (e > c->epochs)
        e = c->epochs;
    if (tr->root) {
        sr_model_meta m;
        sr_status st;
        memset(&m, 0, sizeof m);
        st = run_files_ok(tr);
        if (st == SR_OK)
            st = model_meta(tr, &m);
        if (st == SR_OK)
            st = sr_train_save_model(tr->net, run_file(tr, "model.h5"), &m);
        free(m.layers);
        SR_TRY(st);
    }
    if (tr->root)
        SR_TRY(write_result(tr, e, p->fin_acc, p->fin_loss, p->best,
                            p->best_epoch, p->val_acc, cmdline));
    say(tr, "done: %d epochs, %ld steps, final test acc %.4f (best %.4f at "
        "epoch %d), %.1f s; run in %s", e, tr->t, p->fin_acc, p->best,
        p->best_epoch, sr_now() - tr->t0, c->out);
    return run_files_ok(tr);
}

static void trainer_free(struct trainer *tr)
{
    free_progs(tr);
    free(tr->seg);
    sr_dist_grad_free(tr->grad);
    sr_nn_free(tr->net);
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

static sr_status train_run(const sr_train_config *c, const char *cmdline,
                           int *requeue, sr_dist *d)
{
    struct trainer tr = {0};
    sr_status st;

    if (requeue)
        *requeue = 0;
    tr.c = c;
    tr.d = d;
    tr.rank = sr_dist_rank(d);
    tr.nranks = sr_dist_size(d);
    tr.root = tr.rank == 0;
    tr.ck_nranks = tr.nranks;
    tr.t0 = sr_now();
    tr.tty = isatty(2);
    if (getenv("SINREQ_TEST_STEP_SLEEP"))
        SR_TRY(sr_parse_double("SINREQ_TEST_STEP_SLEEP",
                               getenv("SINREQ_TEST_STEP_SLEEP"), 0, 3600,
                               &tr.test_sleep));
    /* the same on every rank: no agreement needed */
    SR_TRY(sr_train_config_check(c));
    /* several ranks: a rank silent for rank_timeout s ends the job; a stop
     * signal (mpirun's SIGTERM when a rank died) makes a wait say whom it
     * waits for */
    if (tr.nranks > 1) {
        SR_TRY(sr_dist_set_timeout(d, c->rank_timeout));
        sr_dist_set_stop_flag(d, &stop_signal);
        sr_dist_set_context(d, 0, "");
    }
    SR_TRY(sr_train_sched_parse(c, &tr.s));
    SR_TRY(sr_train_augment(c, &tr.aug));
    SR_TRY(sr_train_hist_epochs(c, tr.hist, &tr.n_hist, &tr.hist_last));
    /* Every check before the run directory is touched: nothing is
     * overwritten by a run that cannot start. With --resume the directory
     * may hold a run: its config must be this one (find_resume). Rank 0
     * alone looks at the run directory and reads the checkpoint; the other
     * ranks get its state by broadcast (bcast_state). */
    st = tr.root ? sr_run_dir_prepare(c->out, c->force || c->resume[0], 0)
                 : SR_OK;
    if (st == SR_OK) {
        tr.cfg_text = sr_train_config_text(c);
        if (!tr.cfg_text)
            st = sr_error(SR_E_NOMEM, "out of memory");
    }
    if (st == SR_OK && tr.root && c->resume[0])
        st = find_resume(&tr);
    st = agree(&tr, st);
    if (st != SR_OK)
        goto out;
    st = sr_train_plan_parse(c, &tr.plan);
    if (st == SR_OK && c->init[0])
        st = sr_model_open(c->init, &tr.init);
    if (st == SR_OK)
        st = open_loaders(&tr);
    if (st == SR_OK)
        st = build_net(&tr);
    /* only tensors come from --init; its plan and betas are not reused */
    if (st == SR_OK && tr.init)
        st = sr_train_load_tensors(tr.net, tr.init);
    if (st == SR_OK) {
        tr.steps_per_epoch = sr_loader_batches_per_epoch(tr.train);
        tr.T = tr.steps_per_epoch * c->epochs;
    }
    if (st == SR_OK && tr.ck)
        st = resume_load(&tr);
    st = agree(&tr, st);
    if (st != SR_OK)
        goto out;
    if (tr.nranks > 1) {
        /* collectives from here on: a failure on one rank ends the job
         * (sr_dist_abort below) */
        st = bcast_state(&tr);
        if (st == SR_OK && tr.resumed)
            sr_dist_set_context(d, tr.t, tr.root && tr.ck ? sr_ckpt_path(tr.ck) :
                                "the one rank 0 resumed from");
        if (st == SR_OK)
            st = grad_plan(&tr);
        if (st != SR_OK)
            goto out;
    }
    if (tr.root) {
        sr_ckpt_remove_tmp(c->out);
        st = open_run_files(&tr);
    }
    st = agree(&tr, st);
    if (st != SR_OK)
        goto out;
    if (tr.n_skipped) {
        say(&tr, "note: %d newer checkpoint(s) invalid and skipped:",
            tr.n_skipped);
        for (char *l = tr.skipped, *e; l && *l; l = e + 1) {
            e = strchr(l, '\n');
            *e = '\0';
            say(&tr, "  skipped %s", l);
        }
    }
    if (tr.ck)
        say(&tr, "resuming from %s: epoch %d, step %ld of it (global step "
            "%ld)%s", sr_ckpt_path(tr.ck), tr.p.epoch, tr.p.step, tr.t,
            tr.p.complete ? ", epoch complete" : "");
    else if (c->resume[0])
        say(&tr, "--resume auto: no checkpoint in %s/ckpt; starting from the "
            "beginning", c->out);
    if (tr.ck && tr.ck_nranks != tr.nranks)
        say(&tr, "note: the checkpoint was written by %ld rank(s), this run "
            "has %d: another global batch (%d x %d), so the run continues "
            "from the same epoch at the nearest step and is not "
            "bit-identical to either", tr.ck_nranks, tr.nranks, c->batch,
            tr.nranks);
    say(&tr, "sinreq train: %s (%zu parameters) on %s [%s], %s %d-bit, "
        "regularizer %s, %d epochs x %ld steps of %d", c->net,
        sr_nn_param_count(tr.net), sr_backend_device_name(tr.be),
        sr_backend_name(tr.be), sr_quant_quantizer_name(tr.s.quantizer),
        tr.s.quantizer == SR_QUANT_NONE ? 32 : c->bits,
        sr_quant_reg_name(tr.s.reg), c->epochs, tr.steps_per_epoch, c->batch);
    if (tr.nranks > 1) {
        say(&tr, "data parallel: %d ranks (MPI), batch %d per rank = global "
            "batch %d; rank 0 writes the run directory", tr.nranks, c->batch,
            c->batch * tr.nranks);
        say(&tr, "gradient averaging: %d bucket(s) of up to %g MiB; "
            "backward in %d segment(s), %d bucket(s) started before its "
            "end%s", sr_dist_grad_bucket_count(tr.grad), c->bucket_mb,
            tr.nseg, tr.nseg > 1 ? tr.seg[tr.nseg - 2].ready : 0,
            tr.nseg > 1 ? "" : " (serial schedule)");
    }
    if (c->init[0])
        say(&tr, "initialised from %s", c->init);
    if (c->val && !tr.val)
        say(&tr, "note: %s has no /val split; --val ignored", c->data);
    if (tr.root && !tr.resumed && hist_wanted(&tr, 0, 0))
        st = write_hist(&tr, 0);
    /* after the restore: a changed layer bitwidth needs a new capture */
    if (st == SR_OK)
        st = capture(&tr);
    st = agree(&tr, st);
    if (st == SR_OK) {
        st = train_loop(&tr, cmdline);
        if (requeue)
            *requeue = tr.requeue;
    }
    if (st != SR_OK && tr.log) {
        fprintf(tr.log, "error: %s\n", sr_last_error());
        fflush(tr.log);
    }
out:
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
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    stop_signal = 0;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);
    st = train_run(c, cmdline, requeue, d);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    if (!dist)
        sr_dist_finalize(d);
    return st;
}
