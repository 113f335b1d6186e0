/* histograms.h5: per-layer weight histograms with the quantizer's levels
 * and the regularizer's minima, at the epochs hist_epochs names. */
#include <math.h>
#include <stdlib.h>

#include "sinreq/hist_io.h"
#include "trainer.h"

sr_status sr_train_write_hist(struct trainer *tr, int epoch)
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
        st = sr_hist_write(sr_train_path(tr, "histograms.h5"), epoch, hl, n);
    for (int i = 0; i < 3 * cap; i++)
        free(bufs[i]);
    free(bufs);
    free(hl);
    return st;
}

int sr_train_hist_wanted(struct trainer *tr, int epoch, int last)
{
    if (last && tr->hist_last)
        return 1;
    for (int i = 0; i < tr->n_hist; i++)
        if (tr->hist[i] == epoch)
            return 1;
    return 0;
}
