/* sinreq: weight histogram files (src/io/hist_h5.c).
 *
 *   /@format = "sinreq-histograms", /@format_version = 1
 *   /epoch_<E>/<layer>  float32 [bins] counts of the layer's shadow weights
 *                       W over [lo, hi) in equal bins (the last bin closed)
 *     @lo, @hi, @bits, @quantizer, @R (the regularizer's R_l), @qerr
 *     (mean |W - Q(W)|), @levels (float32: the raw weights W that quantize
 *     exactly onto each level: WRPN's levels themselves, DoReFa's
 *     atanh(max|tanh W| * level)), @minima (SinReQ's minima inside [lo, hi])
 * Epoch 0 is the network before training. The file is reopened and one
 * group added per call, so a run that stops keeps what it had written. */
#ifndef SINREQ_HIST_IO_H
#define SINREQ_HIST_IO_H

#include "sinreq/status.h"

#define SR_HIST_FORMAT "sinreq-histograms"

typedef struct sr_hist_layer {
    const char *name;
    int bins;
    float lo, hi;
    const float *counts;      /* bins */
    int bits;                 /* 0: full precision */
    const char *quantizer;
    const float *levels;      /* may be NULL */
    int n_levels;
    const float *minima;      /* may be NULL */
    int n_minima;
    float reg, qerr;
} sr_hist_layer;

/* Add /epoch_<epoch> with n layers to path (created when missing; an
 * existing group of that epoch is replaced). */
sr_status sr_hist_write(const char *path, int epoch, const sr_hist_layer *l,
                        int n);

#endif
