/* sinreq: weight histogram files (src/io/hist_h5.c).
 *
 *   /@format = "sinreq-histograms", /@format_version = 1
 *   /epoch_<E>/<layer>  float32 [bins] counts of the layer's shadow weights
 *                       W over [lo, hi) in equal bins (the last bin closed)
 *     @lo, @hi, @bits, @quantizer, @R (the regularizer's R_l), @qerr
 *     (mean |W - Q(W)|), @levels (float32: the raw weights W that quantize
 *     exactly onto each level: WRPN's levels themselves, DoReFa's
 *     atanh(max|tanh W| * level)), @minima (SinReQ's minima inside [lo, hi])
 * Epoch 0 is the network before training. Every call writes a new file
 * whole (the earlier epochs' groups copied) to a temporary name and renames
 * it over the old one: a kill or a full disk leaves either file, whole. */
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

/* Add /epoch_<epoch> with n layers to path (created when missing); groups
 * of this epoch and later ones (a stopped run's) are dropped. */
sr_status sr_hist_write(const char *path, int epoch, const sr_hist_layer *l,
                        int n);
/* Drop the groups of epochs after last_epoch (a resumed run's file holds
 * what its checkpoint holds); nothing is rewritten when there are none. */
sr_status sr_hist_trim(const char *path, int last_epoch);

#endif
