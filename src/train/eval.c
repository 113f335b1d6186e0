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

sr_status sr_train_net_from_model(sr_model_file *f, int batch,
                                  sr_backend *be, sr_nn **out)
{
    const sr_model_meta *m = sr_model_file_meta(f);
    sr_model_opts mo = {0};
    sr_quant_opts qo;
    sr_quant_override *ov = NULL;
    sr_nn *net = NULL;
    sr_nn_opts no;
    sr_status st;

    mo.name = m->net;
    mo.batch = batch;
    mo.num_classes = m->classes;
    mo.width = m->width;
    mo.in_c = m->in_c;
    mo.in_h = m->in_h;
    mo.in_w = m->in_w;
    st = sr_model_build(&mo, &net);
    if (st != SR_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sr_last_error());
        return sr_error(SR_E_FORMAT, "%s: its network cannot be built: %s",
                        sr_model_file_path(f), msg);
    }
    /* The stored per-layer plan, layer by layer. */
    sr_quant_opts_default(&qo);
    st = sr_quant_quantizer_parse(m->quantizer, &qo.quantizer);
    if (st != SR_OK) {
        st = sr_error(SR_E_FORMAT, "%s: unknown quantizer '%s'",
                      sr_model_file_path(f), m->quantizer);
        goto fail;
    }
    ov = calloc((size_t)(m->n_layers ? m->n_layers : 1), sizeof *ov);
    if (!ov) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < m->n_layers; i++) {
        ov[i].layer = m->layers[i].name;
        ov[i].quantize = m->layers[i].quantized && qo.quantizer != SR_QUANT_NONE;
        ov[i].bits = ov[i].quantize ? m->layers[i].bits : 0;
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
    st = sr_nn_set_quant(net, &qo);
    if (st != SR_OK)
        goto fail;
    sr_nn_opts_default(&no);
    st = sr_nn_alloc(net, be, &no);
    if (st == SR_OK)
        st = sr_train_load_tensors(net, f);
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

static sr_status eval_model(const sr_eval_opts *o, double *loss, double *acc,
                            long *count);

/* An export (really quantized weights): decoded to float32 weights, exactly
 * the fake quantizer's values, in a temporary model file whose layers are
 * float (the weights are already quantized), then evaluated as any model. */
sr_status sr_train_eval(const sr_eval_opts *o, double *loss, double *acc,
                        long *count)
{
    sr_export_decoded d;
    sr_eval_opts o2 = *o;
    char dir[] = "/tmp/sinreq-export-XXXXXX", path[64];
    sr_status st;

    if (!sr_export_probe(o->model))
        return eval_model(o, loss, acc, count);
    SR_TRY(sr_export_load(o->model, &d));
    if (!mkdtemp(dir)) {
        sr_export_decoded_free(&d);
        return sr_error(SR_E_IO, "cannot create a temporary directory");
    }
    snprintf(path, sizeof path, "%s/model.h5", dir);
    st = sr_model_save(path, &d.meta, d.t, d.n);
    sr_export_decoded_free(&d);
    o2.model = path;
    if (st == SR_OK)
        st = eval_model(&o2, loss, acc, count);
    unlink(path);
    rmdir(dir);
    return st;
}

static sr_status eval_model(const sr_eval_opts *o, double *loss, double *acc,
                            long *count)
{
    sr_model_file *f = NULL;
    sr_backend *be = NULL;
    sr_nn *net = NULL;
    sr_loader *ld = NULL;
    sr_ds *ds = NULL;
    sr_loader_opts lo = {0};
    float *x = NULL;
    uint32_t *y = NULL;
    const sr_model_meta *m;
    const char *split = o->split ? o->split : "test";
    int batch = o->batch > 0 ? o->batch : 256;
    double sum = 0;
    long n = 0, right = 0;
    sr_status st;

    st = sr_model_open(o->model, &f);
    if (st != SR_OK)
        return st;
    m = sr_model_file_meta(f);
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
        if (!x || !y) {
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
        st = sr_train_net_from_model(f, batch, be, &net);
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
        sum += (double)l * nv;
        right += ok;
        n += nv;
    }
    if (st == SR_OK) {
        *loss = n ? sum / (double)n : NAN;
        *acc = n ? (double)right / (double)n : NAN;
        *count = n;
    }
out:
    free(x);
    free(y);
    sr_nn_free(net);
    if (be)
        sr_backend_free(be);
    sr_loader_free(ld);
    sr_ds_close(ds);
    sr_model_close(f);
    return st;
}

sr_status sr_train_check_model(const char *path)
{
    sr_backend_opts bo = {0};
    sr_model_file *f = NULL;
    sr_backend *be = NULL;
    sr_nn *net = NULL;
    sr_status st;

    bo.threads = 1;
    st = sr_model_open(path, &f);
    if (st == SR_OK)
        st = sr_backend_create("cpu", &bo, &be);
    if (st == SR_OK)
        st = sr_train_net_from_model(f, 1, be, &net);
    sr_nn_free(net);
    sr_backend_free(be);
    sr_model_close(f);
    return st;
}
