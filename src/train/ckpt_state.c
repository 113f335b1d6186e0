/* Checkpoint state: what a checkpoint holds and how it is checked when
 * read back (docs/usage.md lists every object). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "trainer.h"


/* ---- scalar attributes: one table for writing, reading and checking ---- */

/* The checkpoint's scalar attributes as stored. Filled from the run before
 * a write (record_of_run); read, checked and then applied to the run on a
 * resume (record_to_run). */
struct ckpt_record {
    const char *program_version, *net, *backend, *device, *config;
    int64_t nranks;
    int64_t epoch, step_in_epoch, epoch_complete, global_step, total_steps,
        steps_per_epoch, epochs, data_epoch, data_batch;
    int64_t seed, rng_step;
    const char *rng_kind;
    double lr, lambda;
    double train_loss_sum;
    int64_t train_correct, train_seen;
    double best_test_acc;
    int64_t best_epoch;
    double final_test_acc, final_test_loss, final_val_acc, first_loss;
    double grad_norm_sum;
    int64_t clipped_steps;
    /* the best epoch's accuracy on the split that chose it (validation,
     * else test) and its test top-5; the last evaluation's top-5 */
    double best_acc, best_test_top5, final_test_top5;
};

/* A field's check on a resume: SR_E_FORMAT naming the file and the
 * field(s), the record read whole before any check runs. */
typedef sr_status (*ckpt_check)(const struct ckpt_record *r,
                                const struct trainer *tr, const char *path);

enum ckpt_type { CK_I64, CK_F64, CK_STR };
enum ckpt_read {
    CK_REQUIRED,    /* missing or unreadable: the checkpoint is refused */
    CK_OPTIONAL,    /* absent in older checkpoints: record_to_run's default */
    CK_NOT_READ     /* provenance; /@config is compared by resume.c */
};

struct ckpt_field {
    const char *group, *name;
    enum ckpt_type type;
    size_t off;         /* in struct ckpt_record */
    enum ckpt_read read;
    ckpt_check check;   /* NULL: any value */
};

static sr_status check_steps(const struct ckpt_record *r,
                             const struct trainer *tr, const char *path)
{
    if (r->nranks == tr->nranks)
        SR_CHECK(r->total_steps == tr->T &&
                 r->steps_per_epoch == tr->steps_per_epoch, SR_E_FORMAT,
                 "%s: %lld steps of which %lld per epoch, but this run has "
                 "%ld and %ld (another dataset?)", path,
                 (long long)r->total_steps, (long long)r->steps_per_epoch,
                 tr->T, tr->steps_per_epoch);
    else
        /* another number of ranks: another global batch, so other step
         * counts; the epochs must still match */
        SR_CHECK(r->steps_per_epoch > 0 &&
                 r->steps_per_epoch <= INT64_MAX / tr->c->epochs &&
                 r->total_steps == r->steps_per_epoch * tr->c->epochs,
                 SR_E_FORMAT, "%s: %lld steps of which %lld per epoch do "
                 "not make this run's %d epochs", path,
                 (long long)r->total_steps, (long long)r->steps_per_epoch,
                 tr->c->epochs);
    return SR_OK;
}

static sr_status check_epochs(const struct ckpt_record *r,
                              const struct trainer *tr, const char *path)
{
    SR_CHECK(r->epochs == tr->c->epochs, SR_E_FORMAT, "%s: /progress@epochs "
             "is %lld but this run has %d", path, (long long)r->epochs,
             tr->c->epochs);
    return SR_OK;
}

static sr_status check_epoch(const struct ckpt_record *r,
                             const struct trainer *tr, const char *path)
{
    SR_CHECK(r->epoch >= 1 && r->epoch <= tr->c->epochs, SR_E_FORMAT,
             "%s: /progress@epoch is %lld (1..%d expected)", path,
             (long long)r->epoch, tr->c->epochs);
    return SR_OK;
}

static sr_status check_complete(const struct ckpt_record *r,
                                const struct trainer *tr, const char *path)
{
    (void)tr;
    SR_CHECK(r->epoch_complete == 0 || r->epoch_complete == 1, SR_E_FORMAT,
             "%s: /progress@epoch_complete is %lld (0 or 1 expected)", path,
             (long long)r->epoch_complete);
    return SR_OK;
}

static sr_status check_step(const struct ckpt_record *r,
                            const struct trainer *tr, const char *path)
{
    int64_t spe = r->steps_per_epoch;

    (void)tr;
    SR_CHECK(r->epoch_complete ? r->step_in_epoch == spe
                               : r->step_in_epoch >= 0 &&
                                     r->step_in_epoch < spe, SR_E_FORMAT,
             "%s: /progress@step_in_epoch is %lld with epoch_complete %lld, "
             "but an epoch has %lld steps (inconsistent progress)", path,
             (long long)r->step_in_epoch, (long long)r->epoch_complete,
             (long long)spe);
    return SR_OK;
}

static sr_status check_global_step(const struct ckpt_record *r,
                                   const struct trainer *tr, const char *path)
{
    (void)tr;
    SR_CHECK(r->global_step ==
                 (r->epoch - 1) * r->steps_per_epoch + r->step_in_epoch,
             SR_E_FORMAT, "%s: inconsistent progress (epoch %lld, step %lld, "
             "global step %lld)", path, (long long)r->epoch,
             (long long)r->step_in_epoch, (long long)r->global_step);
    return SR_OK;
}

/* The data stream's position, written from the same progress (record_of_run);
 * files from other tools or damaged ones disagree. */
static sr_status check_data_position(const struct ckpt_record *r,
                                     const struct trainer *tr,
                                     const char *path)
{
    (void)tr;
    SR_CHECK(r->data_epoch == (r->epoch_complete ? r->epoch : r->epoch - 1) &&
             r->data_batch == (r->epoch_complete ? 0 : r->step_in_epoch),
             SR_E_FORMAT, "%s: /progress@data_epoch %lld, @data_batch %lld "
             "do not match epoch %lld, step %lld, epoch_complete %lld "
             "(inconsistent progress)", path, (long long)r->data_epoch,
             (long long)r->data_batch, (long long)r->epoch,
             (long long)r->step_in_epoch, (long long)r->epoch_complete);
    return SR_OK;
}

static sr_status check_seen(const struct ckpt_record *r,
                            const struct trainer *tr, const char *path)
{
    /* at most a full batch on every rank of the writing run each step */
    double rows = (double)r->steps_per_epoch * tr->c->batch *
                  (double)r->nranks;

    SR_CHECK(r->train_seen >= r->step_in_epoch && r->train_correct >= 0 &&
             r->train_correct <= r->train_seen &&
             (double)r->train_seen <= rows, SR_E_FORMAT, "%s: "
             "/metrics@train_seen %lld, @train_correct %lld do not fit %lld "
             "steps of at most %d x %lld images", path,
             (long long)r->train_seen, (long long)r->train_correct,
             (long long)r->step_in_epoch, tr->c->batch,
             (long long)r->nranks);
    return SR_OK;
}

static sr_status check_loss_sum(const struct ckpt_record *r,
                                const struct trainer *tr, const char *path)
{
    (void)tr;
    SR_CHECK(isfinite(r->train_loss_sum) && r->train_loss_sum >= 0,
             SR_E_FORMAT, "%s: /metrics@train_loss_sum is %g", path,
             r->train_loss_sum);
    return SR_OK;
}

static sr_status check_best(const struct ckpt_record *r,
                            const struct trainer *tr, const char *path)
{
    double b = r->best_test_acc;

    (void)tr;
    SR_CHECK(r->best_epoch >= 0 && r->best_epoch <= r->epoch &&
             (b == -1 || (b >= 0 && b <= 1)), SR_E_FORMAT, "%s: "
             "/metrics@best_test_acc %g, @best_epoch %lld out of range", path,
             b, (long long)r->best_epoch);
    return SR_OK;
}

/* the best on its split as the best test accuracy; top-5s NaN (not yet
 * evaluated) or in [0, 1] */
static sr_status check_top5(const struct ckpt_record *r,
                            const struct trainer *tr, const char *path)
{
    double b = r->best_acc, t5 = r->best_test_top5, f5 = r->final_test_top5;

    (void)tr;
    SR_CHECK((b == -1 || (b >= 0 && b <= 1)) &&
             (isnan(t5) || (t5 >= 0 && t5 <= 1)) &&
             (isnan(f5) || (f5 >= 0 && f5 <= 1)), SR_E_FORMAT, "%s: "
             "/metrics@best_acc %g, @best_test_top5 %g, @final_test_top5 %g "
             "out of range", path, b, t5, f5);
    return SR_OK;
}

/* not evaluated yet: NaN */
static sr_status check_finals(const struct ckpt_record *r,
                              const struct trainer *tr, const char *path)
{
    double a = r->final_test_acc, v = r->final_val_acc;

    (void)tr;
    SR_CHECK((isnan(a) || (a >= 0 && a <= 1)) &&
             (isnan(v) || (v >= 0 && v <= 1)) && !isinf(r->final_test_loss),
             SR_E_FORMAT, "%s: /metrics@final_test_acc %g, @final_test_loss "
             "%g, @final_val_acc %g out of range", path, a,
             r->final_test_loss, v);
    return SR_OK;
}

static sr_status check_schedule(const struct ckpt_record *r,
                                const struct trainer *tr, const char *path)
{
    (void)tr;
    SR_CHECK(isfinite(r->lr) && isfinite(r->lambda), SR_E_FORMAT,
             "%s: /schedule@lr %g, @lambda %g (finite expected)", path, r->lr,
             r->lambda);
    return SR_OK;
}

#define F(group, name, type, member, read, check) \
    {group, name, type, offsetof(struct ckpt_record, member), read, check}
/* Checks run in this order, each after every field is read; a check that
 * uses another field comes after that field's own check. */
static const struct ckpt_field ckpt_fields[] = {
    F("", "program_version", CK_STR, program_version, CK_NOT_READ, NULL),
    F("", "nranks", CK_I64, nranks, CK_OPTIONAL, NULL),
    F("", "net", CK_STR, net, CK_NOT_READ, NULL),
    F("", "backend", CK_STR, backend, CK_NOT_READ, NULL),
    F("", "device", CK_STR, device, CK_NOT_READ, NULL),
    F("", "config", CK_STR, config, CK_NOT_READ, NULL),
    F("progress", "steps_per_epoch", CK_I64, steps_per_epoch, CK_REQUIRED,
      NULL),
    F("progress", "total_steps", CK_I64, total_steps, CK_REQUIRED,
      check_steps),
    F("progress", "epochs", CK_I64, epochs, CK_REQUIRED, check_epochs),
    F("progress", "epoch", CK_I64, epoch, CK_REQUIRED, check_epoch),
    F("progress", "epoch_complete", CK_I64, epoch_complete, CK_REQUIRED,
      check_complete),
    F("progress", "step_in_epoch", CK_I64, step_in_epoch, CK_REQUIRED,
      check_step),
    F("progress", "global_step", CK_I64, global_step, CK_REQUIRED,
      check_global_step),
    F("metrics", "train_correct", CK_I64, train_correct, CK_REQUIRED, NULL),
    F("metrics", "train_seen", CK_I64, train_seen, CK_REQUIRED, check_seen),
    F("metrics", "train_loss_sum", CK_F64, train_loss_sum, CK_REQUIRED,
      check_loss_sum),
    /* sr_loader_seek(data_epoch, data_batch) resumes the data stream; the
     * order is a pure function of (seed, epoch) */
    F("progress", "data_epoch", CK_I64, data_epoch, CK_REQUIRED, NULL),
    F("progress", "data_batch", CK_I64, data_batch, CK_REQUIRED,
      check_data_position),
    F("metrics", "best_test_acc", CK_F64, best_test_acc, CK_REQUIRED, NULL),
    F("metrics", "best_epoch", CK_I64, best_epoch, CK_REQUIRED, check_best),
    /* absent in older checkpoints: the best was the best test accuracy */
    F("metrics", "best_acc", CK_F64, best_acc, CK_OPTIONAL, NULL),
    F("metrics", "best_test_top5", CK_F64, best_test_top5, CK_OPTIONAL, NULL),
    F("metrics", "final_test_top5", CK_F64, final_test_top5, CK_OPTIONAL,
      check_top5),
    F("metrics", "final_test_loss", CK_F64, final_test_loss, CK_REQUIRED,
      NULL),
    F("metrics", "final_val_acc", CK_F64, final_val_acc, CK_REQUIRED, NULL),
    F("metrics", "final_test_acc", CK_F64, final_test_acc, CK_REQUIRED,
      check_finals),
    /* the divergence guard's reference */
    F("metrics", "first_loss", CK_F64, first_loss, CK_OPTIONAL, NULL),
    /* --clip-grad-norm's epoch sums (0 in older files: they had none) */
    F("metrics", "grad_norm_sum", CK_F64, grad_norm_sum, CK_OPTIONAL, NULL),
    F("metrics", "clipped_steps", CK_I64, clipped_steps, CK_OPTIONAL, NULL),
    F("schedule", "lambda", CK_F64, lambda, CK_REQUIRED, NULL),
    F("schedule", "lr", CK_F64, lr, CK_REQUIRED, check_schedule),
    /* the step is /progress's; these only describe the generator */
    F("rng", "seed", CK_I64, seed, CK_NOT_READ, NULL),
    F("rng", "step", CK_I64, rng_step, CK_NOT_READ, NULL),
    F("rng", "kind", CK_STR, rng_kind, CK_NOT_READ, NULL),
};
#undef F
#define N_CKPT_FIELDS (sizeof ckpt_fields / sizeof ckpt_fields[0])

static void record_of_run(const struct trainer *tr, struct ckpt_record *r)
{
    const sr_train_config *c = tr->c;
    const struct progress *p = &tr->p;

    memset(r, 0, sizeof *r);
    r->program_version = sr_program_version();
    r->nranks = tr->nranks;
    r->net = c->net;
    r->backend = sr_backend_name(tr->be);
    r->device = sr_backend_device_name(tr->be);
    r->config = tr->cfg_text;
    r->epoch = p->epoch;
    r->step_in_epoch = p->step;
    r->epoch_complete = p->complete;
    r->global_step = tr->t;
    r->total_steps = tr->T;
    r->steps_per_epoch = tr->steps_per_epoch;
    r->epochs = c->epochs;
    r->data_epoch = p->complete ? p->epoch : p->epoch - 1;
    r->data_batch = p->complete ? 0 : p->step;
    r->seed = c->seed;
    r->rng_step = tr->t;
    r->rng_kind = "counter-based (lowbias32), keyed by (seed, stream, step): "
                  "no other state";
    r->lr = p->lr;
    r->lambda = p->lam;
    r->train_loss_sum = p->sum;
    r->train_correct = p->right;
    r->train_seen = p->seen;
    r->best_test_acc = p->best_test;
    r->best_acc = p->best;
    r->best_test_top5 = p->best_top5;
    r->final_test_top5 = p->fin_top5;
    r->best_epoch = p->best_epoch;
    r->final_test_acc = p->fin_acc;
    r->final_test_loss = p->fin_loss;
    r->final_val_acc = p->val_acc;
    r->first_loss = p->first_loss;
    r->grad_norm_sum = p->gnorm_sum;
    r->clipped_steps = p->clipped;
}

/* The defaults of optional fields: a record_of_run's values for files
 * that predate them. */
static void record_defaults(struct ckpt_record *r)
{
    memset(r, 0, sizeof *r);
    r->nranks = 1;          /* a checkpoint without it: one rank */
    r->first_loss = 0;      /* the first step after the resume sets it */
    r->best_acc = NAN;      /* best_test_acc's, below */
    r->best_test_top5 = r->final_test_top5 = NAN;
}

/* The progress of a checked record (record_read) to the run. */
static void record_to_run(const struct ckpt_record *r, struct trainer *tr)
{
    struct progress *p = &tr->p;

    tr->ck_nranks = (long)r->nranks;
    p->epoch = (int)r->epoch;
    p->step = (long)r->step_in_epoch;
    p->complete = (int)r->epoch_complete;
    tr->t = (long)r->global_step;
    p->lr = r->lr;
    p->lam = r->lambda;
    p->sum = r->train_loss_sum;
    p->right = (long)r->train_correct;
    p->seen = (long)r->train_seen;
    p->best = r->best_acc;
    p->best_test = r->best_test_acc;
    p->best_top5 = r->best_test_top5;
    p->fin_top5 = r->final_test_top5;
    p->best_epoch = (int)r->best_epoch;
    p->fin_acc = r->final_test_acc;
    p->fin_loss = r->final_test_loss;
    p->val_acc = r->final_val_acc;
    p->first_loss = r->first_loss;
    p->gnorm_sum = r->grad_norm_sum;
    p->clipped = (long)r->clipped_steps;
}

static sr_status record_write(sr_ckpt_writer *w, const struct ckpt_record *r)
{
    for (size_t i = 0; i < N_CKPT_FIELDS; i++) {
        const struct ckpt_field *fd = &ckpt_fields[i];
        const char *at = (const char *)r + fd->off;
        switch (fd->type) {
        case CK_I64:
            SR_TRY(sr_ckpt_attr_i64(w, fd->group, fd->name,
                                    *(const int64_t *)(const void *)at));
            break;
        case CK_F64:
            SR_TRY(sr_ckpt_attr_f64(w, fd->group, fd->name,
                                    *(const double *)(const void *)at));
            break;
        case CK_STR:
            SR_TRY(sr_ckpt_attr_str(w, fd->group, fd->name,
                                    *(const char *const *)(const void *)at));
            break;
        }
    }
    return SR_OK;
}

/* Read every field that is read back, then run every check in table
 * order. */
static sr_status record_read(sr_ckpt_file *f, const struct trainer *tr,
                             struct ckpt_record *r)
{
    const char *path = sr_ckpt_path(f);

    record_defaults(r);
    for (size_t i = 0; i < N_CKPT_FIELDS; i++) {
        const struct ckpt_field *fd = &ckpt_fields[i];
        char *at = (char *)r + fd->off;
        sr_status st = SR_OK;

        if (fd->read == CK_NOT_READ)
            continue;
        if (fd->type == CK_I64) {
            int64_t v = 0;
            st = sr_ckpt_get_i64(f, fd->group, fd->name, &v);
            if (st == SR_OK)
                *(int64_t *)(void *)at = v;
        } else if (fd->type == CK_F64) {
            double v = 0;
            st = sr_ckpt_get_f64(f, fd->group, fd->name, &v);
            if (st == SR_OK)
                *(double *)(void *)at = v;
        } else {
            st = sr_error(SR_E_INTERNAL, "checkpoint string field %s read",
                          fd->name);
        }
        if (st != SR_OK && fd->read == CK_OPTIONAL)
            sr_clear_error();
        else
            SR_TRY(st);
    }
    /* out-of-range optional values fall back to their defaults */
    if (r->nranks < 1)
        r->nranks = 1;
    if (!(isfinite(r->first_loss) && r->first_loss > 0))
        r->first_loss = 0;
    if (isnan(r->best_acc))
        r->best_acc = r->best_test_acc;
    for (size_t i = 0; i < N_CKPT_FIELDS; i++)
        if (ckpt_fields[i].check)
            SR_TRY(ckpt_fields[i].check(r, tr, path));
    return SR_OK;
}

/* ---- the network's tensors: /model/NAME, and /momentum/NAME for the
 * trainable ones ---- */

static const char *const tensor_group[2] = {"model", "momentum"};

static sr_status momentum_buf(struct trainer *tr, const sr_nn_tensor_info *ti,
                              sr_buf **mb)
{
    sr_buf *pb, *gb;
    size_t words;

    return sr_nn_slab(tr->net, ti->slab, &pb, &gb, mb, &words);
}

static sr_status put_tensors(struct trainer *tr, sr_ckpt_writer *w)
{
    int nt = sr_nn_tensor_count(tr->net);
    float *buf = NULL;
    size_t cap = 0;
    sr_status st = SR_OK;

    for (int i = 0; st == SR_OK && i < nt; i++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(tr->net, i);
        st = sr_train_grow_floats(&buf, &cap, ti->numel);
        for (int g = 0; st == SR_OK && g < (ti->trainable ? 2 : 1); g++) {
            sr_buf *mb;
            if (g == 0) {
                st = sr_nn_read_tensor(tr->net, i, buf);
            } else {
                st = momentum_buf(tr, ti, &mb);
                if (st == SR_OK)
                    st = sr_buf_read(tr->be, mb, ti->off, ti->numel, buf);
            }
            /* never checkpoint a broken state */
            for (size_t j = 0; st == SR_OK && j < ti->numel; j++)
                if (!isfinite(buf[j]))
                    st = sr_error(SR_E_NUMERIC, "%s%s has a non-finite value "
                                  "at element %zu at step %ld; no checkpoint "
                                  "is written", ti->name,
                                  g ? " (momentum)" : "", j, tr->t);
            if (st == SR_OK)
                st = sr_ckpt_put_f32(w, tensor_group[g], ti->name, ti->ndim,
                                     ti->dims, buf);
        }
    }
    free(buf);
    return st;
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

static sr_status load_tensors(struct trainer *tr, sr_ckpt_file *f)
{
    int nt = sr_nn_tensor_count(tr->net);
    float *buf = NULL;
    size_t cap = 0;
    sr_status st = SR_OK;

    for (int i = 0; st == SR_OK && i < nt; i++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(tr->net, i);
        st = sr_train_grow_floats(&buf, &cap, ti->numel);
        for (int g = 0; st == SR_OK && g < (ti->trainable ? 2 : 1); g++) {
            sr_buf *mb;
            st = ckpt_tensor(f, tensor_group[g], ti, buf);
            if (st == SR_OK && g == 0)
                st = sr_nn_write_tensor(tr->net, i, buf);
            if (st == SR_OK && g == 1)
                st = momentum_buf(tr, ti, &mb);
            if (st == SR_OK && g == 1)
                st = sr_buf_write(tr->be, mb, ti->off, ti->numel, buf);
        }
    }
    free(buf);
    return st;
}

/* ---- the quantization plan: /quant ---- */

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

/* The checkpoint's WaveQ betas and the bits they reached, after
 * check_ckpt_plan. */
static sr_status load_plan(struct trainer *tr, sr_ckpt_file *f)
{
    float *beta;
    int L = 0, *bits = NULL, nq = tr->nq;
    sr_status st;

    if (!tr->nq)
        return SR_OK;
    beta = malloc((size_t)tr->nq * sizeof *beta);
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
    return st;
}

/* ---- the whole state ---- */

static sr_status put_state(struct trainer *tr, sr_ckpt_writer *w)
{
    struct ckpt_record r;

    sr_model_meta m;
    sr_status st;

    record_of_run(tr, &r);
    SR_TRY(record_write(w, &r));
    SR_TRY(put_tensors(tr, w));
    SR_TRY(put_plan(tr, w));
    /* the model file's description: eval and info read a checkpoint */
    st = sr_train_model_meta(tr, &m);
    if (st == SR_OK)
        st = sr_ckpt_put_meta(w, &m);
    sr_model_meta_free(&m);
    return st;
}

sr_status sr_train_write_ckpt(struct trainer *tr)
{
    char dir[4200], path[4300];
    sr_ckpt_writer *w;
    sr_status st;

    SR_TRY(sr_train_check_weights(tr));
    if (tr->nranks > 1) {
        /* every rank finished the step (and holds the same state, BN
         * statistics averaged); rank 0 alone writes */
        int all = 0;
        SR_TRY(sr_train_sync_bn(tr));
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
    SR_TRY(sr_train_files_ok(tr));
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
    /* keep_last 0 keeps the newest until the run finished (a preempted
     * run resumes from it); all: none pruned */
    if (tr->c->keep_last != SR_KEEP_ALL)
        sr_ckpt_prune(tr->c->out, tr->c->keep_last > 0 ? tr->c->keep_last
                                                       : 1);
    if (tr->log && (fprintf(tr->log, "checkpoint %s (epoch %d, step %ld)\n",
                            path, tr->p.epoch, tr->t) < 0 || fflush(tr->log)))
        sr_train_note_write_error(tr, "train.log");
    return sr_train_files_ok(tr);
}

sr_status sr_train_load_ckpt(struct trainer *tr)
{
    sr_ckpt_file *f = tr->ck;
    struct ckpt_record r;

    SR_TRY(record_read(f, tr, &r));
    SR_TRY(load_tensors(tr, f));
    SR_TRY(check_ckpt_plan(tr, f));
    SR_TRY(load_plan(tr, f));
    record_to_run(&r, tr);
    if (r.nranks != tr->nranks) {
        /* the same epoch, at the step that has seen (about) as many of its
         * images: the global order of an epoch does not depend on the
         * number of ranks; at most one global batch is repeated or
         * skipped. Not bit-identical (docs/usage.md). */
        struct progress *p = &tr->p;
        long st_new = p->complete ? tr->steps_per_epoch
                                  : (long)(p->step * r.nranks / tr->nranks);
        if (st_new > tr->steps_per_epoch)
            st_new = tr->steps_per_epoch;
        p->step = st_new;
        tr->t = (long)(p->epoch - 1) * tr->steps_per_epoch + st_new;
    }
    tr->resumed = 1;
    return SR_OK;
}
