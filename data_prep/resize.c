/* sinreq-prep: resize (shorter side to R) + centre crop, separable.
 *
 * The filter is a triangle (bilinear) whose support widens by the shrink
 * factor, so shrinking averages every source pixel under an output pixel
 * (area-like, no aliasing) and enlarging is plain bilinear; this is what
 * PIL's Image.resize(BILINEAR) does. At scale 1 the weights are exactly
 * {1}, so a same-size image passes through bit-exactly. Only the rows and
 * columns of the crop are computed. */
#include "prep.h"

#include <math.h>
#include <stdlib.h>

struct taps {
    int *first;     /* first source index of output i */
    int *n;         /* number of taps of output i */
    float *w;       /* n[i] weights of output i at w + i * max_taps */
    int max_taps;
};

static void taps_free(struct taps *t)
{
    free(t->first);
    free(t->n);
    free(t->w);
}

/* Weights for `out` outputs starting at resized index `offset` of a
 * src_len -> dst_len resize. */
static sr_status taps_init(struct taps *t, uint32_t src_len, uint32_t dst_len,
                           uint32_t offset, uint32_t out)
{
    double scale = (double)src_len / dst_len;        /* > 1: shrinking */
    double fscale = scale > 1 ? scale : 1;
    double support = 1.0 * fscale;

    t->max_taps = (int)ceil(support) * 2 + 1;
    t->first = malloc(out * sizeof *t->first);
    t->n = malloc(out * sizeof *t->n);
    t->w = malloc((size_t)out * t->max_taps * sizeof *t->w);
    if (!t->first || !t->n || !t->w) {
        taps_free(t);
        return sr_error(SR_E_NOMEM, "out of memory for resize weights");
    }
    for (uint32_t i = 0; i < out; i++) {
        double center = ((double)(i + offset) + 0.5) * scale;
        int lo = (int)floor(center - support), hi = (int)ceil(center + support);
        float *w = t->w + (size_t)i * t->max_taps;
        double sum = 0;
        int n = 0;

        if (lo < 0)
            lo = 0;
        if (hi > (int)src_len)
            hi = (int)src_len;
        if (hi - lo > t->max_taps)
            hi = lo + t->max_taps;
        for (int j = lo; j < hi; j++) {
            double x = fabs(((double)j + 0.5 - center) / fscale);
            double v = x < 1 ? 1 - x : 0;

            w[n++] = (float)v;
            sum += v;
        }
        /* Drop zero-weight taps at both ends (keeps the identity exact). */
        while (n > 1 && w[n - 1] == 0)
            n--;
        int skip = 0;
        while (skip < n - 1 && w[skip] == 0)
            skip++;
        for (int j = 0; j < n - skip; j++)
            w[j] = (float)(w[j + skip] / (sum > 0 ? sum : 1));
        t->first[i] = lo + skip;
        t->n[i] = n - skip;
    }
    return SR_OK;
}

static uint8_t to_u8(float v)
{
    v += 0.5f;
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
}

sr_status prep_resize_crop(const uint8_t *src, uint32_t w, uint32_t h,
                           uint32_t c, uint32_t resize, uint32_t crop,
                           uint8_t *out)
{
    uint32_t nw, nh, x0, y0;
    struct taps tx = { 0 }, ty = { 0 };
    float *tmp = NULL;
    int row_lo, row_hi;
    sr_status st;

    SR_CHECK(w > 0 && h > 0 && crop > 0 && crop <= resize, SR_E_ARG,
             "resize %ux%u to %u then crop %u: impossible", w, h, resize, crop);
    /* Shorter side -> resize, the other keeps the aspect ratio. */
    if (w <= h) {
        nw = resize;
        nh = (uint32_t)floor((double)h * resize / w + 0.5);
    } else {
        nh = resize;
        nw = (uint32_t)floor((double)w * resize / h + 0.5);
    }
    if (nw < crop)
        nw = crop;
    if (nh < crop)
        nh = crop;
    x0 = (nw - crop) / 2;
    y0 = (nh - crop) / 2;
    st = taps_init(&tx, w, nw, x0, crop);
    if (st == SR_OK)
        st = taps_init(&ty, h, nh, y0, crop);
    if (st != SR_OK)
        goto out_free;
    row_lo = ty.first[0];
    row_hi = ty.first[crop - 1] + ty.n[crop - 1];
    tmp = malloc((size_t)(row_hi - row_lo) * crop * c * sizeof *tmp);
    if (!tmp) {
        st = sr_error(SR_E_NOMEM, "out of memory resizing a %ux%u image", w, h);
        goto out_free;
    }
    /* Horizontal pass over the source rows the crop needs. */
    for (int y = row_lo; y < row_hi; y++) {
        const uint8_t *row = src + (size_t)y * w * c;
        float *trow = tmp + (size_t)(y - row_lo) * crop * c;

        for (uint32_t x = 0; x < crop; x++) {
            const float *wt = tx.w + (size_t)x * tx.max_taps;
            const uint8_t *p = row + (size_t)tx.first[x] * c;

            for (uint32_t ch = 0; ch < c; ch++) {
                float acc = 0;

                for (int k = 0; k < tx.n[x]; k++)
                    acc += wt[k] * p[(size_t)k * c + ch];
                trow[x * c + ch] = acc;
            }
        }
    }
    /* Vertical pass, written planar (CHW). */
    for (uint32_t y = 0; y < crop; y++) {
        const float *wt = ty.w + (size_t)y * ty.max_taps;
        const float *base = tmp + (size_t)(ty.first[y] - row_lo) * crop * c;

        for (uint32_t x = 0; x < crop; x++)
            for (uint32_t ch = 0; ch < c; ch++) {
                float acc = 0;

                for (int k = 0; k < ty.n[y]; k++)
                    acc += wt[k] * base[(size_t)k * crop * c + x * c + ch];
                out[((size_t)ch * crop + y) * crop + x] = to_u8(acc);
            }
    }
out_free:
    free(tmp);
    taps_free(&tx);
    taps_free(&ty);
    return st;
}
