/* sinreq: loader internals (src/data): permutation, augmentation draws and
 * the pixel transforms. Not a public header: the loader and tests/data use
 * it. Every random choice is a pure function of (key, counter) through the
 * counter-based RNG (include/sinreq/rng.h). */
#ifndef SR_DATA_TRANSFORM_H
#define SR_DATA_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

/* RNG streams (the `stream` argument of sr_rng_key). */
#define SR_DATA_STREAM_SHUFFLE 0x53485546u  /* "SHUF": per-epoch order */
#define SR_DATA_STREAM_AUGMENT 0x41554731u  /* "AUG1": per-sample draws */
#define SR_DATA_STREAM_SUBSET 0x53554253u   /* "SUBS": a limit's records */
/* Counters used per sample by the augmentation: sample * stride + k. */
#define SR_DATA_AUG_STRIDE 64u
#define SR_DATA_RRC_TRIES 10

/* Uniform integer in [0, n) (n >= 1) from one 32-bit draw. */
uint32_t sr_data_below(uint32_t key, uint32_t counter, uint32_t n);

/* perm = the Fisher-Yates shuffle of 0..n-1: for i = n-1 .. 1, swap
 * perm[i] with perm[sr_data_below(key, i, i + 1)]. */
void sr_data_permute(uint32_t *perm, uint32_t n, uint32_t key);

/* Per-channel lookup pixel -> (p/255 - mean[c]) / std[c] (float64, rounded
 * once to float), and the same map as x = p * scale[c] + shift[c] for the
 * resampling transforms. */
void sr_data_norm_tables(int c, const float mean[3], const float std[3],
                         float lut[3][256], float scale[3], float shift[3]);

/* CIFAR-style draws for `sample`: offsets dy, dx in [-pad, pad] (the crop
 * origin in the padded image minus pad) and a horizontal flip (0/1). */
void sr_data_cifar_draw(uint32_t key, uint64_t sample, int pad, int *dy,
                        int *dx, int *flip);

/* out[ch][y][x] = lut[ch][P(y + dy, x' + dx)] with x' = flip ? w-1-x : x and
 * P = the image zero-padded (pixel value 0, before normalisation). */
void sr_data_pad_crop(const uint8_t *src, int c, int h, int w, int dy, int dx,
                      int flip, const float lut[3][256], float *out);

/* Integer crop [y0, y0+oh) x [x0, x0+ow) (inside the image), normalised. */
void sr_data_crop(const uint8_t *src, int c, int h, int w, int y0, int x0,
                  int oh, int ow, const float lut[3][256], float *out);

/* torchvision's RandomResizedCrop.get_params(scale=(0.08, 1),
 * ratio=(3/4, 4/3)): the integer box (y0, x0, bh, bw) of an h x w image,
 * 10 tries, then the centre-crop fallback. Draws counters
 * sample * SR_DATA_AUG_STRIDE + 3 ... */
void sr_data_rrc_box(uint32_t key, uint64_t sample, int h, int w, int *y0,
                     int *x0, int *bh, int *bw);

/* Separable triangle-filter resampling (PIL's BILINEAR: bilinear when
 * enlarging, the filter widened by the shrink factor when shrinking) of the
 * source rectangle [fy0, fy0+fbh) x [fx0, fx0+fbw) (float pixel
 * coordinates) to oh x ow, taps clamped to [ly0, ly1) x [lx0, lx1), then
 * x = v * scale[ch] + shift[ch]; mirrored horizontally when `flip`.
 * Computes in float32 without rounding between the passes. */
sr_status sr_data_resample(const uint8_t *src, int c, int h, int w,
                           double fy0, double fx0, double fbh, double fbw,
                           int ly0, int ly1, int lx0, int lx1, int oh, int ow,
                           int flip, const float scale[3],
                           const float shift[3], float *out);

#endif
