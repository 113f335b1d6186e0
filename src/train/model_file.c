/* model.h5: the trained network with its plan and metadata. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/model_io.h"
#include "trainer.h"

/* Grows a scratch array of floats to at least n (tensor-by-tensor copies). */
sr_status sr_train_grow_floats(float **buf, size_t *cap, size_t n)
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

sr_status sr_train_model_meta(struct trainer *tr, sr_model_meta *m)
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
    if (sr_nn_source(tr->net)) {
        m->net_text = strdup(sr_nn_source(tr->net));
        SR_CHECK(m->net_text, SR_E_NOMEM, "out of memory");
    }
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
    snprintf(m->program_version, sizeof m->program_version, "%s",
             sr_program_version());
    return SR_OK;
}
