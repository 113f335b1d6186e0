/* `sinreq export`: a model file's quantized layers as k-bit integer codes
 * (ckpt_io.h has the layout). The codes are computed on the host with the
 * CPU backend's own arithmetic (qmath.h, same scan order for DoReFa's
 * max |tanh w|), so decoding them gives the fake-quantized weights bit for
 * bit as the CPU backend computes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sinreq/ckpt_io.h"
#include "sinreq/qmath.h"
#include "train_internal.h"

static sr_status quantize_layer(const float *w, size_t n, int bits, int dor,
                                uint32_t *codes)
{
    if (dor) {
        float m = -1.0f, mx = (float)((1u << bits) - 1u);
        for (size_t i = 0; i < n; i++)
            if (fabsf(tanhf(w[i])) > m)
                m = fabsf(tanhf(w[i]));
        float two_m = 2.0f * m;
        for (size_t i = 0; i < n; i++) {
            float x = m > 0.0f ? tanhf(w[i]) / two_m + 0.5f : 0.5f;
            float c = x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
            codes[i] = (uint32_t)sr_round(c * mx);
        }
    } else {
        float mx = (float)((1u << (bits - 1)) - 1u);
        for (size_t i = 0; i < n; i++) {
            float c = w[i] < -1.0f ? -1.0f : (w[i] > 1.0f ? 1.0f : w[i]);
            codes[i] = (uint32_t)(sr_round(c * mx) + mx);
        }
    }
    return SR_OK;
}

/* --out naming the model itself (another spelling, a link) would replace
 * the model with its export. */
static sr_status check_out(const char *model, const char *out)
{
    struct stat a, b;

    if (stat(model, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return sr_error(SR_E_ARG, "--out %s is the model file %s itself; "
                        "the export needs another path", out, model);
    return SR_OK;
}

sr_status sr_train_export(const char *model, const char *out)
{
    sr_export_opts o = {.force = 1, .allow_float = 1};
    return sr_train_export_ex(model, out, &o, NULL);
}

sr_status sr_train_export_ex(const char *model, const char *out,
                             const sr_export_opts *o, sr_export_summary *sum)
{
    sr_model_file *f = NULL;
    sr_train_src src = {.path = model};
    sr_nn *net = NULL;
    const sr_model_meta *m;
    int nt, nf = 0, nq = 0, dor;
    sr_model_tensor *ft = NULL;
    sr_export_layer *ql = NULL;
    sr_status st;

    struct stat os;

    SR_TRY(check_out(model, out));
    /* an earlier export (or any other file) is kept unless asked */
    if (!o->force && stat(out, &os) == 0)
        return sr_error(SR_E_ARG, "%s exists; --force replaces it", out);
    SR_TRY(sr_model_open(model, &f));
    m = sr_model_file_meta(f);
    src.meta = m;
    src.file = f;
    dor = strcmp(m->quantizer, "dorefa") == 0;
    /* exactly eval's checks: the network and plan the file describes, and
     * every tensor of it at its shape with finite values */
    st = sr_train_net_build(&src, 1, &net);
    if (st != SR_OK)
        goto out;
    nt = sr_nn_tensor_count(net);
    ft = calloc((size_t)nt + 1, sizeof *ft);
    ql = calloc((size_t)nt + 1, sizeof *ql);
    st = ft && ql ? SR_OK : sr_error(SR_E_NOMEM, "out of memory");
    for (int i = 0; st == SR_OK && i < nt; i++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, i);
        sr_nn_layer_info li;
        float *v = malloc(ti->numel * sizeof *v);
        if (!v) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            break;
        }
        st = sr_train_src_read(&src, net, ti, v);
        if (st == SR_OK)
            st = sr_nn_layer(net, ti->layer, &li);
        if (st != SR_OK) {
            free(v);
            break;
        }
        if (ti->role == SR_NN_WEIGHT && li.qidx >= 0) {
            sr_export_layer *q = &ql[nq];
            int k = li.quant.bits;
            uint32_t *codes = malloc(ti->numel * sizeof *codes);
            if (!codes) {
                free(v);
                st = sr_error(SR_E_NOMEM, "out of memory");
                break;
            }
            quantize_layer(v, ti->numel, k, dor, codes);
            free(v);
            q->tensor = ti->name;
            q->layer = li.name;
            q->ndim = ti->ndim;
            memcpy(q->dims, ti->dims, sizeof q->dims);
            q->numel = ti->numel;
            q->bits = k;
            q->quantizer = dor ? "dorefa" : "wrpn";
            if (dor) {
                q->scale = 2.0 / (double)((1u << k) - 1u);
                q->offset = -1.0;
            } else {
                q->scale = 1.0 / (double)((1u << (k - 1)) - 1u);
                q->offset = -1.0;
            }
            q->codes = codes;
            nq++;
        } else {
            ft[nf].name = ti->name;
            ft[nf].ndim = ti->ndim;
            memcpy(ft[nf].dims, ti->dims, sizeof ft[nf].dims);
            ft[nf].data = v;
            nf++;
        }
    }
    /* a full-precision model's export would be the model again, all
     * float32: most likely the wrong file */
    if (st == SR_OK && nq == 0 && !o->allow_float)
        st = sr_error(SR_E_ARG, "%s has no quantized layer (a full-precision "
                      "model): its export would be all float32; "
                      "--allow-float writes it anyway", model);
    if (st == SR_OK)
        st = sr_export_save(out, m, ft, nf, ql, nq);
    if (st == SR_OK && sum) {
        memset(sum, 0, sizeof *sum);
        sum->quantized = nq;
        sum->floats = nf;
        for (int i = 0; i < nq; i++)
            if (ql[i].bits >= 0 && ql[i].bits < 33)
                sum->layers_by_bits[ql[i].bits]++;
        sum->bytes = stat(out, &os) == 0 ? (long long)os.st_size : -1;
    }
out:
    for (int i = 0; ft && i < nf; i++)
        free((float *)ft[i].data);
    for (int i = 0; ql && i < nq; i++)
        free((uint32_t *)ql[i].codes);
    free(ft);
    free(ql);
    sr_nn_free(net);
    sr_model_close(f);
    return st;
}
