/* sinreq: loader internals (src/data): permutation, augmentation draws and
 * pixel transforms (see transform.h). Plain loops over raw buffers; no
 * state. */
#include "transform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/rng.h"

uint32_t sr_data_below(uint32_t key, uint32_t counter, uint32_t n)
{
    return (uint32_t)(((uint64_t)sr_rng_u32(key, counter) * n) >> 32);
}

void sr_data_permute(uint32_t *perm, uint32_t n, uint32_t key)
{
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n ? n - 1 : 0; i > 0; i--) {
        uint32_t j = sr_data_below(key, i, i + 1);
        uint32_t t = perm[i];

        perm[i] = perm[j];
        perm[j] = t;
    }
}

void sr_data_norm_tables(int c, const float mean[3], const float std[3],
                         float lut[3][256], float scale[3], float shift[3])
{
    for (int ch = 0; ch < 3; ch++) {
        int k = ch < c ? ch : 0;
        double m = mean[k], s = std[k];

        for (int p = 0; p < 256; p++)
            lut[ch][p] = (float)(((double)p / 255.0 - m) / s);
        scale[ch] = (float)(1.0 / (255.0 * s));
        shift[ch] = (float)(-m / s);
    }
}

void sr_data_cifar_draw(uint32_t key, uint64_t sample, int pad, int *dy,
                        int *dx, int *flip)
{
    uint32_t base = (uint32_t)(sample * SR_DATA_AUG_STRIDE);

    *dy = (int)sr_data_below(key, base + 0, (uint32_t)(2 * pad + 1)) - pad;
    *dx = (int)sr_data_below(key, base + 1, (uint32_t)(2 * pad + 1)) - pad;
    *flip = (int)sr_data_below(key, base + 2, 2);
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

void sr_data_pad_crop(const uint8_t *src, int c, int h, int w, int dy, int dx,
                      int flip, const float lut[3][256], float *out)
{
    /* Output columns whose source column lies inside the image. */
    int xlo = flip ? imax(0, dx) : imax(0, -dx);
    int xhi = flip ? imin(w, w + dx) : imin(w, w - dx);

    for (int ch = 0; ch < c; ch++) {
        const float *l = lut[ch];
        float pad = l[0];

        for (int y = 0; y < h; y++) {
            float *o = out + ((size_t)ch * h + y) * w;
            int sy = y + dy;
            const uint8_t *row;
            int x;

            if (sy < 0 || sy >= h || xlo >= xhi) {
                for (x = 0; x < w; x++)
                    o[x] = pad;
                continue;
            }
            row = src + ((size_t)ch * h + sy) * w;
            for (x = 0; x < xlo; x++)
                o[x] = pad;
            if (flip) {
                const uint8_t *r = row + (w - 1 + dx);

                for (x = xlo; x < xhi; x++)
                    o[x] = l[r[-x]];
            } else {
                const uint8_t *r = row + dx;

                for (x = xlo; x < xhi; x++)
                    o[x] = l[r[x]];
            }
            for (x = xhi; x < w; x++)
                o[x] = pad;
        }
    }
}

void sr_data_crop(const uint8_t *src, int c, int h, int w, int y0, int x0,
                  int oh, int ow, const float lut[3][256], float *out)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < oh; y++) {
            const uint8_t *r = src + ((size_t)ch * h + y0 + y) * w + x0;
            float *o = out + ((size_t)ch * oh + y) * ow;

            for (int x = 0; x < ow; x++)
                o[x] = lut[ch][r[x]];
        }
}

static double uniform_d(uint32_t key, uint32_t counter)
{
    return (double)sr_rng_u32(key, counter) * (1.0 / 4294967296.0);
}

void sr_data_rrc_box(uint32_t key, uint64_t sample, int h, int w, int *y0,
                     int *x0, int *bh, int *bw)
{
    const double smin = 0.08, smax = 1.0;
    const double lr0 = log(3.0 / 4.0), lr1 = log(4.0 / 3.0);
    uint32_t base = (uint32_t)(sample * SR_DATA_AUG_STRIDE) + 3;
    double area = (double)h * w, in_ratio;

    for (int t = 0; t < SR_DATA_RRC_TRIES; t++) {
        uint32_t k = base + 4u * (uint32_t)t;
        double target = area * (smin + (smax - smin) * uniform_d(key, k));
        double ratio = exp(lr0 + (lr1 - lr0) * uniform_d(key, k + 1));
        int cw = (int)lround(sqrt(target * ratio));
        int chh = (int)lround(sqrt(target / ratio));

        if (cw > 0 && cw <= w && chh > 0 && chh <= h) {
            *y0 = (int)sr_data_below(key, k + 2, (uint32_t)(h - chh + 1));
            *x0 = (int)sr_data_below(key, k + 3, (uint32_t)(w - cw + 1));
            *bh = chh;
            *bw = cw;
            return;
        }
    }
    /* Fallback: the whole image, clipped to the ratio range, centred. */
    in_ratio = (double)w / h;
    if (in_ratio < 3.0 / 4.0) {
        *bw = w;
        *bh = imin(h, (int)lround(w / (3.0 / 4.0)));
    } else if (in_ratio > 4.0 / 3.0) {
        *bh = h;
        *bw = imin(w, (int)lround(h * (4.0 / 3.0)));
    } else {
        *bw = w;
        *bh = h;
    }
    *y0 = (h - *bh) / 2;
    *x0 = (w - *bw) / 2;
}

/* Taps of a 1-D triangle-filter resampling (PIL's precompute_coeffs):
 * output i takes inputs first[i] .. first[i] + n[i] - 1 with weights
 * wt[i * maxt ...], normalised to sum 1. */
struct taps {
    int *first, *n;
    float *wt;
    int maxt;
};

static void taps_free(struct taps *t)
{
    free(t->first);
    free(t->n);
    free(t->wt);
}

static sr_status taps_make(struct taps *t, double f0, double flen, int lo,
                           int hi, int out)
{
    double scale = flen / out, fs = scale > 1.0 ? scale : 1.0;
    double support = fs;   /* triangle radius 1, widened when shrinking */

    t->maxt = (int)ceil(support) * 2 + 1;
    t->first = malloc(sizeof(int) * (size_t)out);
    t->n = malloc(sizeof(int) * (size_t)out);
    t->wt = malloc(sizeof(float) * (size_t)out * (size_t)t->maxt);
    if (!t->first || !t->n || !t->wt) {
        taps_free(t);
        return sr_error(SR_E_NOMEM, "out of memory (resampling taps)");
    }
    for (int i = 0; i < out; i++) {
        double center = f0 + (i + 0.5) * scale, sum = 0.0;
        int a = (int)floor(center - support + 0.5);
        int b = (int)floor(center + support + 0.5);
        double w[128];   /* maxt <= 121: shrink factors are <= 60 */
        float *o = t->wt + (size_t)i * t->maxt;
        int k, cnt;

        a = imax(a, lo);
        b = imin(b, hi);
        if (b <= a) {           /* cannot happen for a box inside [lo, hi) */
            a = imin(imax((int)floor(center), lo), hi - 1);
            b = a + 1;
        }
        cnt = imin(b - a, t->maxt);
        for (k = 0; k < cnt; k++) {
            double d = (a + k + 0.5 - center) / fs;

            d = d < 0 ? -d : d;
            w[k] = d < 1.0 ? 1.0 - d : 0.0;
            sum += w[k];
        }
        for (k = 0; k < cnt; k++)
            o[k] = sum > 0 ? (float)(w[k] / sum) : (float)(1.0 / cnt);
        t->first[i] = a;
        t->n[i] = cnt;
    }
    return SR_OK;
}

sr_status sr_data_resample(const uint8_t *src, int c, int h, int w,
                           double fy0, double fx0, double fbh, double fbw,
                           int ly0, int ly1, int lx0, int lx1, int oh, int ow,
                           int flip, const float scale[3],
                           const float shift[3], float *out)
{
    struct taps tx = { 0 }, ty = { 0 };
    float *tmp = NULL;
    int r0, r1, rows;
    sr_status st;

    /* Shrink factors above 64 would need more taps than taps_make keeps. */
    if (fbw / ow > 60.0 || fbh / oh > 60.0)
        return sr_error(SR_E_UNSUPPORTED, "resampling %gx%g to %dx%d shrinks "
                        "more than 60x", fbh, fbw, oh, ow);
    st = taps_make(&tx, fx0, fbw, lx0, lx1, ow);
    if (st)
        return st;
    st = taps_make(&ty, fy0, fbh, ly0, ly1, oh);
    if (st)
        goto out_tx;
    r0 = ty.first[0];
    r1 = ty.first[oh - 1] + ty.n[oh - 1];
    for (int y = 0; y < oh; y++) {
        r0 = imin(r0, ty.first[y]);
        r1 = imax(r1, ty.first[y] + ty.n[y]);
    }
    rows = r1 - r0;
    tmp = malloc(sizeof(float) * (size_t)rows * ow);
    if (!tmp) {
        st = sr_error(SR_E_NOMEM, "out of memory (resampling buffer)");
        goto out_ty;
    }
    for (int ch = 0; ch < c; ch++) {
        const uint8_t *plane = src + (size_t)ch * h * w;
        float *o = out + (size_t)ch * oh * ow;

        /* Horizontal pass: rows r0..r1 of the source -> tmp[rows][ow]. */
        for (int y = 0; y < rows; y++) {
            const uint8_t *row = plane + (size_t)(r0 + y) * w;
            float *t = tmp + (size_t)y * ow;

            for (int x = 0; x < ow; x++) {
                const float *wt = tx.wt + (size_t)x * tx.maxt;
                const uint8_t *p = row + tx.first[x];
                float v = 0.0f;

                for (int k = 0; k < tx.n[x]; k++)
                    v += wt[k] * (float)p[k];
                t[flip ? ow - 1 - x : x] = v;
            }
        }
        /* Vertical pass, then the normalisation. */
        for (int y = 0; y < oh; y++) {
            const float *wt = ty.wt + (size_t)y * ty.maxt;
            const float *t = tmp + (size_t)(ty.first[y] - r0) * ow;
            float *oy = o + (size_t)y * ow;

            for (int x = 0; x < ow; x++)
                oy[x] = 0.0f;
            for (int k = 0; k < ty.n[y]; k++) {
                const float *tk = t + (size_t)k * ow;

                for (int x = 0; x < ow; x++)
                    oy[x] += wt[k] * tk[x];
            }
            for (int x = 0; x < ow; x++)
                oy[x] = oy[x] * scale[ch] + shift[ch];
        }
    }
    free(tmp);
out_ty:
    taps_free(&ty);
out_tx:
    taps_free(&tx);
    return st;
}
