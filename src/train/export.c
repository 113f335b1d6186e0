/* `sinreq export`: a model file's quantized layers as k-bit integer codes
 * (ckpt_io.h has the layout). The codes are computed on the host with the
 * CPU backend's own arithmetic (qmath.h, same scan order for DoReFa's
 * max |tanh w|), so decoding them gives the fake-quantized weights bit for
 * bit as the CPU backend computes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

sr_status sr_train_export(const char *model, const char *out)
{
    sr_model_file *f = NULL;
    const sr_model_meta *m;
    int nt, nf = 0, nq = 0;
    sr_model_tensor *ft = NULL;
    sr_export_layer *ql = NULL;
    char (*qname)[SR_MODEL_NAME_MAX] = NULL;
    sr_status st;

    SR_TRY(sr_model_open(model, &f));
    m = sr_model_file_meta(f);
    nt = sr_model_file_tensor_count(f);
    ft = calloc((size_t)nt + 1, sizeof *ft);
    ql = calloc((size_t)nt + 1, sizeof *ql);
    qname = calloc((size_t)nt + 1, sizeof *qname);
    st = ft && ql && qname ? SR_OK : sr_error(SR_E_NOMEM, "out of memory");
    for (int i = 0; st == SR_OK && i < nt; i++) {
        const char *name;
        int nd, dims[4] = {0}, li = -1;
        size_t n = 1;
        float *v;
        st = sr_model_file_tensor(f, i, &name, &nd, dims);
        if (st != SR_OK)
            break;
        for (int k = 0; k < nd; k++)
            n *= (size_t)dims[k];
        v = malloc(n * sizeof *v);
        if (!v) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            break;
        }
        st = sr_model_read(f, name, nd, dims, v);
        for (int l = 0; l < m->n_layers; l++) {
            char wn[SR_MODEL_NAME_MAX + 8];
            snprintf(wn, sizeof wn, "%s.weight", m->layers[l].name);
            if (strcmp(wn, name) == 0 && m->layers[l].quantized &&
                strcmp(m->quantizer, "none") != 0)
                li = l;
        }
        if (st == SR_OK && li >= 0) {
            sr_export_layer *q = &ql[nq];
            int dor = strcmp(m->quantizer, "dorefa") == 0, k = m->layers[li].bits;
            uint32_t *codes = malloc(n * sizeof *codes);
            if (!codes) {
                free(v);
                st = sr_error(SR_E_NOMEM, "out of memory");
                break;
            }
            quantize_layer(v, n, k, dor, codes);
            free(v);
            snprintf(qname[nq], SR_MODEL_NAME_MAX, "%s", m->layers[li].name);
            q->tensor = name;
            q->layer = qname[nq];
            q->ndim = nd;
            memcpy(q->dims, dims, sizeof q->dims);
            q->numel = n;
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
        } else if (st == SR_OK) {
            ft[nf].name = name;
            ft[nf].ndim = nd;
            memcpy(ft[nf].dims, dims, sizeof ft[nf].dims);
            ft[nf].data = v;
            nf++;
        } else {
            free(v);
        }
    }
    if (st == SR_OK)
        st = sr_export_save(out, m, ft, nf, ql, nq);
    for (int i = 0; ft && i < nf; i++)
        free((float *)ft[i].data);
    for (int i = 0; ql && i < nq; i++)
        free((uint32_t *)ql[i].codes);
    free(ft);
    free(ql);
    free(qname);
    sr_model_close(f);
    return st;
}
