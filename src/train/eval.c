/* `sinreq eval`: a model file on a dataset split. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>

#include "sinreq/backend.h"
#include "sinreq/ckpt_io.h"
#include "sinreq/dataset.h"
#include "sinreq/loader.h"
#include "sinreq/models.h"
#include "train_internal.h"

/* ---- a model's tensors against the network ---- */

sr_status sr_train_check_values(const char *path, const char *obj,
                                const sr_nn_tensor_info *ti, const float *v)
{
    for (size_t j = 0; j < ti->numel; j++) {
        int finite = isfinite(v[j]);
        if (finite && (ti->role != SR_NN_RUNNING_VAR || v[j] >= 0.0f))
            continue;
        /* the first bad element, flat and as a PyTorch index */
        char idx[96] = "";
        size_t rest = j, o = 0, stride = ti->numel;
        for (int d = 0; d < ti->ndim && o < sizeof idx; d++) {
            stride /= (size_t)ti->dims[d];
            o += (size_t)snprintf(idx + o, sizeof idx - o, "[%zu]",
                                  rest / stride);
            rest %= stride;
        }
        return sr_error(SR_E_FORMAT, "%s: %s has %s value %g at element %zu "
                        "%s", path, obj, finite ? "a negative (running "
                        "variance)" : "a non-finite", (double)v[j], j, idx);
    }
    return SR_OK;
}

static int find_decoded(const sr_export_decoded *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->t[i].name, name) == 0)
            return i;
    return -1;
}

static void shape_text(char *buf, size_t n, int ndim, const int *dims)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? "x" : "", dims[i]);
}

/* A decoded export's tensor: a quantized layer's weight must have come as
 * codes of the layer's bits, every other tensor as float32. */
static sr_status read_decoded(const sr_train_src *s, const sr_nn *net,
                              const sr_nn_tensor_info *ti, float *dst)
{
    const sr_export_decoded *d = s->dec;
    int j = find_decoded(d, ti->name), want = 0, same;
    sr_nn_layer_info li;
    char a[64], b[64];

    if (j < 0)
        return sr_error(SR_E_FORMAT, "%s: tensor %s is missing (neither "
                        "under /float nor under /quantized)", s->path,
                        ti->name);
    same = d->t[j].ndim == ti->ndim;
    for (int i = 0; same && i < ti->ndim; i++)
        same = d->t[j].dims[i] == ti->dims[i];
    if (!same) {
        shape_text(a, sizeof a, d->t[j].ndim, d->t[j].dims);
        shape_text(b, sizeof b, ti->ndim, ti->dims);
        return sr_error(SR_E_FORMAT, "%s: tensor %s has shape %s but the "
                        "network needs %s", s->path, ti->name, a, b);
    }
    SR_TRY(sr_nn_layer(net, ti->layer, &li));
    if (ti->role == SR_NN_WEIGHT && li.quant.quantized)
        want = li.quant.bits;
    if (d->bits[j] != want) {
        if (d->bits[j])
            snprintf(a, sizeof a, "%d-bit codes", d->bits[j]);
        else
            snprintf(a, sizeof a, "float32");
        if (want)
            snprintf(b, sizeof b, "quantized to %d bits", want);
        else
            snprintf(b, sizeof b, "float");
        return sr_error(SR_E_FORMAT, "%s: tensor %s is stored as %s but "
                        "layer %s is %s", s->path, ti->name, a, li.name, b);
    }
    memcpy(dst, d->t[j].data, ti->numel * sizeof *dst);
    return SR_OK;
}

sr_status sr_train_src_read(const sr_train_src *s, const sr_nn *net,
                            const sr_nn_tensor_info *ti, float *dst)
{
    char obj[SR_MODEL_NAME_MAX + 16];

    if (s->dec) {
        SR_TRY(read_decoded(s, net, ti, dst));
        snprintf(obj, sizeof obj, "tensor %s", ti->name);
    } else if (s->ck) {
        SR_TRY(sr_ckpt_get_f32(s->ck, "model", ti->name, ti->ndim, ti->dims,
                               dst));
        snprintf(obj, sizeof obj, "/model/%s", ti->name);
    } else {
        SR_TRY(sr_model_read(s->file, ti->name, ti->ndim, ti->dims, dst));
        snprintf(obj, sizeof obj, "/model/%s", ti->name);
    }
    return sr_train_check_values(s->path, obj, ti, dst);
}

sr_status sr_train_load_src(sr_nn *net, const sr_train_src *s)
{
    float *buf = NULL;
    size_t cap = 0;
    sr_status st = SR_OK;

    for (int i = 0; st == SR_OK && i < sr_nn_tensor_count(net); i++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, i);
        if (ti->numel > cap) {
            float *p = realloc(buf, ti->numel * sizeof *p);
            if (!p) {
                st = sr_error(SR_E_NOMEM, "out of memory for a %zu-float "
                              "tensor", ti->numel);
                break;
            }
            buf = p;
            cap = ti->numel;
        }
        st = sr_train_src_read(s, net, ti, buf);
        if (st == SR_OK)
            st = sr_nn_write_tensor(net, i, buf);
    }
    free(buf);
    return st;
}

/* The stored per-layer plan must name the network's layers, in order, and
 * (resolved: after sr_nn_set_quant) resolve to itself: nothing in the file
 * is silently ignored. */
static sr_status check_layers(const sr_train_src *s, const sr_nn *net,
                               int resolved)
{
    const sr_model_meta *m = s->meta;
    int L = 0;

    for (int i = 0; i < sr_nn_layer_count(net); i++) {
        sr_nn_layer_info li;
        SR_TRY(sr_nn_layer(net, i, &li));
        L += li.kind == SR_NN_CONV2D || li.kind == SR_NN_LINEAR;
    }
    SR_CHECK(L == m->n_layers, SR_E_FORMAT, "%s: /quant@layers has %d "
             "entries but %s has %d conv/linear layers", s->path,
             m->n_layers, m->net, L);
    for (int i = 0, k = 0; i < sr_nn_layer_count(net); i++) {
        sr_nn_layer_info li;
        SR_TRY(sr_nn_layer(net, i, &li));
        if (li.kind != SR_NN_CONV2D && li.kind != SR_NN_LINEAR)
            continue;
        const sr_model_layer_meta *l = &m->layers[k];
        SR_CHECK(strcmp(l->name, li.name) == 0, SR_E_FORMAT, "%s: "
                 "/quant@layers[%d] is '%s' but conv/linear layer %d of %s "
                 "is '%s'", s->path, k, l->name, k, m->net, li.name);
        SR_CHECK(!resolved || (l->quantized == li.quant.quantized &&
                               l->bits == li.quant.bits &&
                               l->act_bits == li.quant.act_bits),
                 SR_E_FORMAT, "%s: layer %s: the stored plan (quantized %d, "
                 "%d bits, activations %d bits) is not one %s can run (it "
                 "resolves to quantized %d, %d bits, activations %d bits)",
                 s->path, li.name, l->quantized, l->bits, l->act_bits, m->net,
                 li.quant.quantized, li.quant.bits, li.quant.act_bits);
        k++;
    }
    return SR_OK;
}

sr_status sr_train_net_build(const sr_train_src *s, int batch, sr_nn **out)
{
    const sr_model_meta *m = s->meta;
    sr_model_opts mo = {0};
    sr_quant_opts qo;
    sr_quant_override *ov = NULL;
    sr_nn *net = NULL;
    sr_status st;

    *out = NULL;
    mo.name = m->net;
    mo.text = m->net_text;  /* the stored network file, if any */
    mo.batch = batch;
    mo.num_classes = m->classes;
    mo.width = m->width;
    mo.in_c = m->in_c;
    mo.in_h = m->in_h;
    mo.in_w = m->in_w;
    st = sr_model_build(&mo, &net);
    if (st != SR_OK)
        return sr_error_wrap(SR_E_FORMAT, "%s: its network cannot be built",
                             s->path);
    /* The stored per-layer plan, layer by layer. */
    sr_quant_opts_default(&qo);
    st = sr_quant_quantizer_parse(m->quantizer, &qo.quantizer);
    if (st != SR_OK) {
        st = sr_error(SR_E_FORMAT, "%s: unknown quantizer '%s'", s->path,
                      m->quantizer);
        goto fail;
    }
    ov = calloc((size_t)(m->n_layers ? m->n_layers : 1), sizeof *ov);
    if (!ov) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < m->n_layers; i++) {
        if (m->layers[i].quantized && qo.quantizer == SR_QUANT_NONE) {
            st = sr_error(SR_E_FORMAT, "%s: layer %s is quantized but the "
                          "quantizer is 'none'", s->path, m->layers[i].name);
            goto fail;
        }
        ov[i].layer = m->layers[i].name;
        ov[i].quantize = m->layers[i].quantized;
        ov[i].bits = m->layers[i].quantized ? m->layers[i].bits : 0;
        ov[i].act_bits = m->layers[i].act_bits;
    }
    qo.bits = 4;
    for (int i = 0; i < m->n_layers; i++)
        if (ov[i].quantize) {
            qo.bits = ov[i].bits;
            break;
        }
    qo.overrides = ov;
    qo.n_overrides = m->n_layers;
    qo.weights_quantized = s->dec != NULL;
    st = check_layers(s, net, 0);
    if (st != SR_OK)
        goto fail;
    st = sr_nn_set_quant(net, &qo);
    if (st != SR_OK) {
        st = sr_error_wrap(st, "%s: its quantization plan", s->path);
        goto fail;
    }
    st = check_layers(s, net, 1);
    if (st != SR_OK)
        goto fail;
    free(ov);
    *out = net;
    return SR_OK;
fail:
    free(ov);
    sr_nn_free(net);
    return st;
}

sr_status sr_train_net_from_src(const sr_train_src *s, int batch,
                                sr_backend *be, sr_nn **out)
{
    sr_nn *net = NULL;
    sr_nn_opts no;
    sr_status st;

    *out = NULL;
    SR_TRY(sr_train_net_build(s, batch, &net));
    sr_nn_opts_default(&no);
    st = sr_nn_alloc(net, be, &no);
    if (st == SR_OK)
        st = sr_train_load_src(net, s);
    if (st != SR_OK) {
        sr_nn_free(net);
        return st;
    }
    *out = net;
    return SR_OK;
}

/* --dump-logits: every evaluated image's logits and label, in order. */
typedef struct sr_logits_dump {
    float *v;
    uint32_t *labels;
    long n, cap;
} sr_logits_dump;

/* Keep the first nv rows of a batch's logits (k classes each). */
static sr_status logits_add(sr_logits_dump *d, const float *logits, size_t k,
                            const uint32_t *y, int nv)
{
    if (d->n + nv > d->cap) {
        long cap = 2 * (d->n + nv);
        float *v = realloc(d->v, (size_t)cap * k * sizeof *v);
        if (v)
            d->v = v;
        uint32_t *l = realloc(d->labels, (size_t)cap * sizeof *l);
        if (l)
            d->labels = l;
        if (!v || !l)
            return sr_error(SR_E_NOMEM, "out of memory for the logits");
        d->cap = cap;
    }
    memcpy(d->v + (size_t)d->n * k, logits, (size_t)nv * k * sizeof *logits);
    memcpy(d->labels + d->n, y, (size_t)nv * sizeof *y);
    d->n += nv;
    return SR_OK;
}

sr_status sr_train_src_open(const char *path, sr_train_src_file *sf)
{
    sr_train_src *s = &sf->s;
    sr_status st;

    memset(sf, 0, sizeof *sf);
    s->path = path;
    /* An export, decoded to the fake quantizer's float32 values, which the
     * network then multiplies as they are (weights_quantized) with the
     * stored plan, activation bits included. */
    if (sr_export_probe(path)) {
        SR_TRY(sr_export_load(path, &sf->dec));
        s->meta = &sf->dec.meta;
        s->dec = &sf->dec;
        return SR_OK;
    }
    st = sr_ckpt_open(path, &s->ck);
    if (st == SR_OK) {
        st = sr_ckpt_get_meta(s->ck, &sf->ck_meta);
        if (st != SR_OK) {
            sr_train_src_close(sf);
            return st;
        }
        s->meta = &sf->ck_meta;
        return SR_OK;
    }
    if (st != SR_E_FORMAT)
        return st;
    /* not a checkpoint: a model file, with the model reader's messages */
    sr_clear_error();
    SR_TRY(sr_model_open(path, &s->file));
    s->meta = sr_model_file_meta(s->file);
    return SR_OK;
}

void sr_train_src_close(sr_train_src_file *sf)
{
    if (sf->s.dec)
        sr_export_decoded_free(&sf->dec);
    sr_ckpt_close(sf->s.ck);
    sr_model_meta_free(&sf->ck_meta);
    sr_model_close(sf->s.file);
    memset(sf, 0, sizeof *sf);
}

const char *sr_train_src_kind(const sr_train_src *s)
{
    return s->dec ? "export" : s->ck ? "checkpoint" : "model";
}

static sr_status eval_src(const sr_eval_opts *o, const sr_train_src *s,
                          sr_eval_result *r);

sr_status sr_train_eval_ex(const sr_eval_opts *o, sr_eval_result *r)
{
    sr_train_src_file sf;
    sr_status st;

    memset(r, 0, sizeof *r);
    SR_TRY(sr_train_src_open(o->model, &sf));
    st = eval_src(o, &sf.s, r);
    sr_train_src_close(&sf);
    if (st != SR_OK)
        sr_eval_result_free(r);
    return st;
}

sr_status sr_train_eval(const sr_eval_opts *o, double *loss, double *acc,
                        long *count)
{
    sr_eval_result r;

    SR_TRY(sr_train_eval_ex(o, &r));
    *loss = r.loss;
    *acc = r.acc;
    *count = r.n;
    sr_eval_result_free(&r);
    return SR_OK;
}

static const char *ds_class_name(const void *ds, int k)
{
    return sr_ds_class_name(ds, (uint32_t)k);
}

static sr_status eval_src(const sr_eval_opts *o, const sr_train_src *s,
                          sr_eval_result *r)
{
    sr_backend *be = NULL;
    sr_nn *net = NULL;
    sr_loader *ld = NULL;
    sr_ds *ds = NULL;
    sr_loader_opts lo = {0};
    float *x = NULL, *logits = NULL;
    uint32_t *y = NULL;
    const sr_model_meta *m;
    const char *split = o->split ? o->split : "test";
    int batch = o->batch > 0 ? o->batch : 256;
    double sum = 0;
    long n = 0, right = 0;
    sr_logits_dump dump = {0};
    sr_status st;

    m = s->meta;
    st = sr_ds_open(&ds, o->data);
    if (st != SR_OK)
        goto out;
    if (sr_ds_find_split(ds, split) < 0) {
        st = sr_error(SR_E_FORMAT, "%s has no /%s split", o->data, split);
        goto out;
    }
    if (sr_ds_num_classes(ds) != (uint32_t)m->classes) {
        st = sr_error(SR_E_FORMAT, "%s has %u classes but the model %s was "
                      "trained on %d", o->data, sr_ds_num_classes(ds),
                      o->model, m->classes);
        goto out;
    }
    st = sr_eval_result_init(r, m->classes);
    if (st == SR_OK)
        st = sr_eval_result_names(r, ds_class_name, ds);
    if (st != SR_OK)
        goto out;
    lo.path = o->data;
    lo.split = split;
    lo.batch = batch;
    lo.nranks = 1;
    lo.augment = sr_train_is_imagenet(m->net) ? SR_AUG_CENTER : SR_AUG_NONE;
    lo.crop = lo.augment == SR_AUG_CENTER ? m->in_h : 0;
    memcpy(lo.mean, m->norm_mean, sizeof lo.mean);
    memcpy(lo.std, m->norm_std, sizeof lo.std);
    st = sr_loader_open(&lo, &ld);
    if (st != SR_OK)
        goto out;
    {
        int c, h, w;
        sr_loader_shape(ld, &c, &h, &w);
        if (c != m->in_c || h != m->in_h || w != m->in_w) {
            st = sr_error(SR_E_SHAPE, "%s: images are %dx%dx%d but the model "
                          "%s takes %dx%dx%d", o->data, c, h, w, o->model,
                          m->in_c, m->in_h, m->in_w);
            goto out;
        }
        x = malloc((size_t)batch * (size_t)(c * h * w) * sizeof *x);
        y = malloc((size_t)batch * sizeof *y);
        logits = malloc((size_t)batch * (size_t)m->classes * sizeof *logits);
        if (!x || !y || !logits) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            goto out;
        }
    }
    {
        sr_backend_opts bo = {0};
        bo.device = o->device && o->device[0] ? o->device : NULL;
        bo.threads = o->threads;
        st = sr_backend_create(o->backend ? o->backend : "cpu", &bo, &be);
    }
    if (st == SR_OK)
        st = sr_train_net_from_src(s, batch, be, &net);
    if (st == SR_OK)
        st = sr_loader_seek(ld, 0, 0);
    while (st == SR_OK) {
        int nv = 0;
        float l;
        uint32_t ok;
        st = sr_loader_next(ld, x, y, &nv);
        if (st != SR_OK || nv == 0)
            break;
        st = sr_nn_set_batch(net, x, y);
        if (st == SR_OK)
            st = sr_nn_eval_step(net, nv);
        if (st == SR_OK)
            st = sr_nn_read_stats(net, &l, &ok);
        if (st == SR_OK)
            st = sr_nn_read_logits(net, logits);
        if (st == SR_OK && o->dump_logits)
            st = logits_add(&dump, logits, (size_t)m->classes, y, nv);
        /* l and ok are set only when every call above succeeded */
        if (st != SR_OK)
            break;
        sr_eval_result_add(r, logits, y, nv);
        sum += (double)l * nv;
        right += ok;
        n += nv;
    }
    if (st == SR_OK) {
        r->loss = n ? sum / (double)n : NAN;
        r->acc = n ? (double)right / (double)n : NAN;
        r->top5 = n ? (double)r->correct5 / (double)n : NAN;
        r->n = n;
    }
    if (st == SR_OK && o->dump_logits)
        st = sr_logits_save(o->dump_logits, o->model, dump.v, dump.labels,
                            dump.n, sr_nn_classes(net));
out:
    free(dump.v);
    free(dump.labels);
    free(x);
    free(y);
    free(logits);
    sr_nn_free(net);
    if (be)
        sr_backend_free(be);
    sr_loader_free(ld);
    sr_ds_close(ds);
    return st;
}

sr_status sr_train_check_model(const char *path)
{
    sr_backend_opts bo = {0};
    sr_train_src_file sf;
    sr_backend *be = NULL;
    sr_nn *net = NULL;
    sr_status st;

    bo.threads = 1;
    SR_TRY(sr_train_src_open(path, &sf));
    st = sr_backend_create("cpu", &bo, &be);
    if (st == SR_OK)
        st = sr_train_net_from_src(&sf.s, 1, be, &net);
    sr_nn_free(net);
    sr_backend_free(be);
    sr_train_src_close(&sf);
    return st;
}
