/* test_ref: checks the float64 reference ops (tests/ref) themselves.
 *
 * - Every backward of a differentiable op against central finite
 *   differences of its forward, through the scalar loss L = sum(y .* g) with
 *   random g. eps = 1e-6 in double: truncation error ~eps^2 |f'''| ~ 1e-12,
 *   cancellation ~1e-16 |L| / eps ~ 1e-10 |L|, so the bound
 *   max|fd - analytic| <= 1e-6 (1 + max|analytic|) has a margin of >= 100x
 *   and still catches any wrong term (those are O(1) relative errors).
 *   Test data keeps every input at least ~1e-3 away from kinks (relu at 0,
 *   clamp at 0/1/+-1, ties in max pooling), so the forward is smooth inside
 *   [x - eps, x + eps].
 * - Quantizers: the STE definition. Backward equals the FD gradient of the
 *   "soft" forward where round is the identity (DoReFa: tanh(w)/max|tanh w|;
 *   WRPN: clamp(w,-1,1); activations: clamp(x,0,1)).
 * - SinReQ/WaveQ: dw and dbeta against FD of the value; minima exactly at
 *   the quantization levels; mean 0.5 for weights spread uniformly.
 *   SinReQ's domain X (on DoReFa's x): FD over a whole layer including the
 *   arg-max of |tanh w|; minima exactly at DoReFa's rounding points.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ref/ref_ops.h"
#include "sinreq/rng.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define FD_EPS 1e-6
#define FD_TOL 1e-6

static double *dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void fill_uniform(double *p, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) p[i] = rnd_range(lo, hi);
}

/* Values at least ~1e-3 from `kink` (and from each other's kinks). */
static void fill_away(double *p, size_t n, double lo, double hi,
                      const double *kinks, int nk)
{
    for (size_t i = 0; i < n; i++) {
        double v;
        int ok;
        do {
            v = rnd_range(lo, hi);
            ok = 1;
            for (int k = 0; k < nk; k++)
                if (fabs(v - kinks[k]) < 1e-3) ok = 0;
        } while (!ok);
        p[i] = v;
    }
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- finite differences ---- */
typedef double (*loss_fn)(void *ctx);

/* Compares analytic gradient g (of loss wrt p[0..n)) with central FD. */
static void fd_check_min(const char *what, loss_fn f, void *ctx, double *p,
                         size_t n, const double *g, double min_g)
{
    double maxerr = 0.0, maxg = 0.0, fd_at = 0.0, g_at = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        double save = p[i];
        p[i] = save + FD_EPS;
        double lp = f(ctx);
        p[i] = save - FD_EPS;
        double lm = f(ctx);
        p[i] = save;
        double fd = (lp - lm) / (2.0 * FD_EPS);
        double err = fabs(fd - g[i]);
        if (err > maxerr || i == 0) {
            maxerr = err;
            worst = i;
            fd_at = fd;
            g_at = g[i];
        }
        if (fabs(g[i]) > maxg) maxg = fabs(g[i]);
    }
    CHECK(maxerr <= FD_TOL * (1.0 + maxg),
          "%s: max|fd - analytic| = %.3g at %zu (fd %.9g, analytic %.9g), "
          "bound %.3g",
          what, maxerr, worst, fd_at, g_at, FD_TOL * (1.0 + maxg));
    if (min_g > 0)
        CHECK(maxg > min_g, "%s: gradient is identically ~0 (max %.3g): test "
              "is vacuous", what, maxg);
}

static void fd_check(const char *what, loss_fn f, void *ctx, double *p,
                     size_t n, const double *g)
{
    fd_check_min(what, f, ctx, p, n, g, 1e-3);
}

/* ------------------------------------------------------------------ */
/* Convolution                                                         */

typedef struct {
    sr_conv2d_desc d;
    double *x, *w, *b, *g, *y;
    int soft; /* 1: input clamp(x,0,1) instead of quantized (STE surrogate) */
    int depthwise; /* ref_dwconv2d_* (weights [c][1][kh][kw]) */
} conv_ctx;

static size_t conv_nx(const sr_conv2d_desc *d) { return (size_t)d->n * d->c * d->h * d->w; }
static size_t conv_nw(const sr_conv2d_desc *d) { return (size_t)d->k * d->c * d->kh * d->kw; }
static size_t conv_ny(const sr_conv2d_desc *d)
{
    return (size_t)d->n * d->k * ref_conv_out_h(d) * ref_conv_out_w(d);
}

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    if (c->soft) {
        size_t nx = conv_nx(&c->d);
        double *xc = dalloc(nx);
        for (size_t i = 0; i < nx; i++)
            xc[i] = c->x[i] < 0 ? 0 : (c->x[i] > 1 ? 1 : c->x[i]);
        sr_conv2d_desc d0 = c->d;
        d0.act_bits = 0;
        if (c->depthwise)
            ref_dwconv2d_fwd(&d0, xc, c->w, c->b, c->y);
        else
            ref_conv2d_fwd(&d0, xc, c->w, c->b, c->y);
        free(xc);
    } else if (c->depthwise) {
        ref_dwconv2d_fwd(&c->d, c->x, c->w, c->b, c->y);
    } else {
        ref_conv2d_fwd(&c->d, c->x, c->w, c->b, c->y);
    }
    return dot(c->y, c->g, conv_ny(&c->d));
}

static void test_conv_case(sr_conv2d_desc d)
{
    char name[160];
    snprintf(name, sizeof name, "conv n%d c%d %dx%d k%d %dx%d s%d p%d b%d a%d",
             d.n, d.c, d.h, d.w, d.k, d.kh, d.kw, d.stride, d.pad, d.bias,
             d.act_bits);
    conv_ctx c = {d, dalloc(conv_nx(&d)), dalloc(conv_nw(&d)), dalloc(d.k),
                  dalloc(conv_ny(&d)), dalloc(conv_ny(&d)), 0, 0};
    if (d.act_bits) {
        /* away from the clamp kinks and from rounding boundaries doesn't
         * matter for the surrogate; keep away from 0 and 1 */
        double kinks[] = {0.0, 1.0};
        fill_away(c.x, conv_nx(&d), -0.5, 1.5, kinks, 2);
    } else {
        fill_uniform(c.x, conv_nx(&d), -1, 1);
    }
    fill_uniform(c.w, conv_nw(&d), -1, 1);
    fill_uniform(c.b, d.k, -1, 1);
    fill_uniform(c.g, conv_ny(&d), -1, 1);
    double *dx = dalloc(conv_nx(&d)), *dw = dalloc(conv_nw(&d)), *db = dalloc(d.k);
    ref_conv2d_bwd_data(&d, c.g, c.w, c.x, dx);
    ref_conv2d_bwd_weight(&d, c.x, c.g, dw, db);
    char what[200];
    /* d/dw and d/db of the real (quantized-input) forward */
    snprintf(what, sizeof what, "%s dw", name);
    fd_check(what, conv_loss, &c, c.w, conv_nw(&d), dw);
    if (d.bias) {
        snprintf(what, sizeof what, "%s db", name);
        fd_check(what, conv_loss, &c, c.b, d.k, db);
    }
    /* d/dx: exact when act_bits = 0; the STE surrogate otherwise */
    c.soft = d.act_bits != 0;
    snprintf(what, sizeof what, "%s dx%s", name, c.soft ? " (STE)" : "");
    fd_check(what, conv_loss, &c, c.x, conv_nx(&d), dx);
    free(dx), free(dw), free(db);
    free(c.x), free(c.w), free(c.b), free(c.g), free(c.y);
}

/* A convolution whose kernel covers the whole image is a linear layer. */
static void test_conv_is_linear(void)
{
    sr_conv2d_desc d = {3, 2, 4, 5, 6, 4, 5, 1, 0, 1, 0};
    sr_linear_desc l = {3, 2 * 4 * 5, 6, 1, 0};
    double *x = dalloc(conv_nx(&d)), *w = dalloc(conv_nw(&d)), *b = dalloc(6);
    double *y1 = dalloc(18), *y2 = dalloc(18);
    fill_uniform(x, conv_nx(&d), -1, 1);
    fill_uniform(w, conv_nw(&d), -1, 1);
    fill_uniform(b, 6, -1, 1);
    ref_conv2d_fwd(&d, x, w, b, y1);
    ref_linear_fwd(&l, x, w, b, y2);
    double e = 0;
    for (int i = 0; i < 18; i++) e = fmax(e, fabs(y1[i] - y2[i]));
    CHECK(ref_conv_out_h(&d) == 1 && ref_conv_out_w(&d) == 1 && e < 1e-12,
          "full-image conv != linear (max diff %.3g)", e);
    free(x), free(w), free(b), free(y1), free(y2);
}

/* Depthwise: finite differences of its forward, as conv. */
static void test_dwconv_case(sr_conv2d_desc d)
{
    char name[160], what[200];
    snprintf(name, sizeof name, "dwconv n%d c%d %dx%d %dx%d s%d p%d b%d a%d",
             d.n, d.c, d.h, d.w, d.kh, d.kw, d.stride, d.pad, d.bias,
             d.act_bits);
    size_t nw = (size_t)d.c * d.kh * d.kw;
    conv_ctx c = {d, dalloc(conv_nx(&d)), dalloc(nw), dalloc(d.k),
                  dalloc(conv_ny(&d)), dalloc(conv_ny(&d)), 0, 1};
    if (d.act_bits) {
        double kinks[] = {0.0, 1.0};
        fill_away(c.x, conv_nx(&d), -0.5, 1.5, kinks, 2);
    } else {
        fill_uniform(c.x, conv_nx(&d), -1, 1);
    }
    fill_uniform(c.w, nw, -1, 1);
    fill_uniform(c.b, d.k, -1, 1);
    fill_uniform(c.g, conv_ny(&d), -1, 1);
    double *dx = dalloc(conv_nx(&d)), *dw = dalloc(nw), *db = dalloc(d.k);
    ref_dwconv2d_bwd_data(&d, c.g, c.w, c.x, dx);
    ref_dwconv2d_bwd_weight(&d, c.x, c.g, dw, db);
    snprintf(what, sizeof what, "%s dw", name);
    fd_check(what, conv_loss, &c, c.w, nw, dw);
    if (d.bias) {
        snprintf(what, sizeof what, "%s db", name);
        fd_check(what, conv_loss, &c, c.b, d.k, db);
    }
    c.soft = d.act_bits != 0;
    snprintf(what, sizeof what, "%s dx%s", name, c.soft ? " (STE)" : "");
    fd_check(what, conv_loss, &c, c.x, conv_nx(&d), dx);
    free(dx), free(dw), free(db);
    free(c.x), free(c.w), free(c.b), free(c.g), free(c.y);
}

/* A depthwise convolution is the full convolution whose weight is zero
 * off the channel diagonal (w[k][c] = 0 for k != c): forward and both
 * gradients agree (the weight gradient on the diagonal). */
static void test_dwconv_is_diagonal_conv(void)
{
    sr_conv2d_desc d = {2, 3, 7, 6, 3, 3, 3, 2, 1, 1, 2};
    size_t nx = conv_nx(&d), ny = conv_ny(&d), taps = 9;
    size_t nwd = 3 * taps, nwf = conv_nw(&d);
    double *x = dalloc(nx), *wd = dalloc(nwd), *wf = dalloc(nwf),
           *b = dalloc(3), *dy = dalloc(ny);
    double *y1 = dalloc(ny), *y2 = dalloc(ny), *dx1 = dalloc(nx),
           *dx2 = dalloc(nx), *dw1 = dalloc(nwd), *dw2 = dalloc(nwf),
           *db1 = dalloc(3), *db2 = dalloc(3);
    fill_uniform(x, nx, -0.3, 1.3);
    fill_uniform(wd, nwd, -1, 1);
    fill_uniform(b, 3, -1, 1);
    fill_uniform(dy, ny, -1, 1);
    memset(wf, 0, nwf * sizeof *wf);
    for (size_t c = 0; c < 3; c++)
        memcpy(wf + (c * 3 + c) * taps, wd + c * taps, taps * sizeof *wf);
    ref_dwconv2d_fwd(&d, x, wd, b, y1);
    ref_conv2d_fwd(&d, x, wf, b, y2);
    ref_dwconv2d_bwd_data(&d, dy, wd, x, dx1);
    ref_conv2d_bwd_data(&d, dy, wf, x, dx2);
    ref_dwconv2d_bwd_weight(&d, x, dy, dw1, db1);
    ref_conv2d_bwd_weight(&d, x, dy, dw2, db2);
    double e = 0;
    for (size_t i = 0; i < ny; i++) e = fmax(e, fabs(y1[i] - y2[i]));
    for (size_t i = 0; i < nx; i++) e = fmax(e, fabs(dx1[i] - dx2[i]));
    for (size_t c = 0; c < 3; c++) {
        e = fmax(e, fabs(db1[c] - db2[c]));
        for (size_t t = 0; t < taps; t++)
            e = fmax(e, fabs(dw1[c * taps + t] - dw2[(c * 3 + c) * taps + t]));
    }
    CHECK(e < 1e-12, "depthwise != block-diagonal conv (max diff %.3g)", e);
    free(x), free(wd), free(wf), free(b), free(dy), free(y1), free(y2);
    free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
}

/* Hand-computed 1-channel case with padding and stride. */
static void test_conv_hand(void)
{
    /* x 3x3 = 1..9, w 2x2 = [1 0; 0 -1], pad 1, stride 2 -> out 2x2:
     * (0,0): window rows -1..0, cols -1..0 -> w11*x00 = -1
     * (0,1): rows -1..0, cols 1..2 -> w10*... = 1*0 + 0 + 0 + (-1)*x02 = -3
     * (1,0): rows 1..2, cols -1..0 -> 1*0 + ... + (-1)*x20 = -7
     * (1,1): rows 1..2, cols 1..2 -> x11 - x22 = 5 - 9 = -4 */
    sr_conv2d_desc d = {1, 1, 3, 3, 1, 2, 2, 2, 1, 0, 0};
    double x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 0, 0, -1}, y[4];
    ref_conv2d_fwd(&d, x, w, NULL, y);
    CHECK(y[0] == -1 && y[1] == -3 && y[2] == -7 && y[3] == -4,
          "hand conv: got %g %g %g %g, want -1 -3 -7 -4", y[0], y[1], y[2], y[3]);
    /* act_bits 1: x -> round(clamp(x,0,1)) = 1 everywhere */
    d.act_bits = 1;
    ref_conv2d_fwd(&d, x, w, NULL, y);
    CHECK(y[0] == -1 && y[1] == -1 && y[2] == -1 && y[3] == 0,
          "hand conv act_bits=1: got %g %g %g %g, want -1 -1 -1 0", y[0], y[1],
          y[2], y[3]);
}

/* ------------------------------------------------------------------ */
/* Linear                                                              */

typedef struct {
    sr_linear_desc d;
    double *x, *w, *b, *g, *y;
    int soft;
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    size_t nx = (size_t)c->d.n * c->d.in;
    sr_linear_desc d0 = c->d;
    double *xc = NULL;
    if (c->soft) {
        xc = dalloc(nx);
        for (size_t i = 0; i < nx; i++)
            xc[i] = c->x[i] < 0 ? 0 : (c->x[i] > 1 ? 1 : c->x[i]);
        d0.act_bits = 0;
    }
    ref_linear_fwd(&d0, xc ? xc : c->x, c->w, c->b, c->y);
    free(xc);
    return dot(c->y, c->g, (size_t)c->d.n * c->d.out);
}

static void test_linear_case(sr_linear_desc d)
{
    char name[120];
    snprintf(name, sizeof name, "linear n%d in%d out%d b%d a%d", d.n, d.in,
             d.out, d.bias, d.act_bits);
    size_t nx = (size_t)d.n * d.in, nw = (size_t)d.out * d.in,
           ny = (size_t)d.n * d.out;
    lin_ctx c = {d, dalloc(nx), dalloc(nw), dalloc(d.out), dalloc(ny),
                 dalloc(ny), 0};
    double kinks[] = {0.0, 1.0};
    if (d.act_bits)
        fill_away(c.x, nx, -0.5, 1.5, kinks, 2);
    else
        fill_uniform(c.x, nx, -1, 1);
    fill_uniform(c.w, nw, -1, 1);
    fill_uniform(c.b, d.out, -1, 1);
    fill_uniform(c.g, ny, -1, 1);
    double *dx = dalloc(nx), *dw = dalloc(nw), *db = dalloc(d.out);
    ref_linear_bwd_data(&d, c.g, c.w, c.x, dx);
    ref_linear_bwd_weight(&d, c.x, c.g, dw, db);
    char what[160];
    snprintf(what, sizeof what, "%s dw", name);
    fd_check(what, lin_loss, &c, c.w, nw, dw);
    if (d.bias) {
        snprintf(what, sizeof what, "%s db", name);
        fd_check(what, lin_loss, &c, c.b, d.out, db);
    }
    c.soft = d.act_bits != 0;
    snprintf(what, sizeof what, "%s dx%s", name, c.soft ? " (STE)" : "");
    fd_check(what, lin_loss, &c, c.x, nx, dx);
    free(dx), free(dw), free(db);
    free(c.x), free(c.w), free(c.b), free(c.g), free(c.y);
}

/* ------------------------------------------------------------------ */
/* Batch norm                                                          */

typedef struct {
    sr_bn_desc d;
    double *x, *gamma, *beta, *g, *y;
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *c = p;
    int C = c->d.c;
    double *rm = dalloc(C), *rv = dalloc(C), *sm = dalloc(C), *si = dalloc(C);
    ref_bn_fwd_train(&c->d, c->x, c->gamma, c->beta, rm, rv, sm, si, c->y);
    free(rm), free(rv), free(sm), free(si);
    return dot(c->y, c->g, (size_t)c->d.n * C * c->d.hw);
}

static void test_bn_case(sr_bn_desc d)
{
    char name[100];
    snprintf(name, sizeof name, "bn n%d c%d hw%d", d.n, d.c, d.hw);
    size_t nx = (size_t)d.n * d.c * d.hw;
    bn_ctx c = {d, dalloc(nx), dalloc(d.c), dalloc(d.c), dalloc(nx), dalloc(nx)};
    fill_uniform(c.x, nx, 1, 3); /* mean ~2 like real pre-BN activations */
    fill_uniform(c.gamma, d.c, 0.5, 1.5);
    fill_uniform(c.beta, d.c, -1, 1);
    fill_uniform(c.g, nx, -1, 1);
    double *rm = dalloc(d.c), *rv = dalloc(d.c), *sm = dalloc(d.c),
           *si = dalloc(d.c);
    double *rm0 = dalloc(d.c), *rv0 = dalloc(d.c);
    for (int i = 0; i < d.c; i++) {
        rm[i] = rm0[i] = rnd_range(-1, 1);
        rv[i] = rv0[i] = rnd_range(0.5, 2);
    }
    ref_bn_fwd_train(&d, c.x, c.gamma, c.beta, rm, rv, sm, si, c.y);
    double *dx = dalloc(nx), *dg = dalloc(d.c), *dbt = dalloc(d.c);
    ref_bn_bwd(&d, c.x, c.g, c.gamma, sm, si, dx, dg, dbt);
    char what[140];
    snprintf(what, sizeof what, "%s dx", name);
    fd_check(what, bn_loss, &c, c.x, nx, dx);
    snprintf(what, sizeof what, "%s dgamma", name);
    fd_check(what, bn_loss, &c, c.gamma, d.c, dg);
    snprintf(what, sizeof what, "%s dbeta", name);
    fd_check(what, bn_loss, &c, c.beta, d.c, dbt);

    /* Running statistics, recomputed with the one-pass formula:
     * unbiased var = (sum x^2 - cnt mean^2) / (cnt - 1). */
    double cnt = (double)d.n * d.hw, err = 0.0;
    for (int ch = 0; ch < d.c; ch++) {
        double s = 0, q = 0;
        for (int n = 0; n < d.n; n++)
            for (int i = 0; i < d.hw; i++) {
                double v = c.x[((size_t)n * d.c + ch) * d.hw + i];
                s += v;
                q += v * v;
            }
        double mean = s / cnt, uvar = (q - cnt * mean * mean) / (cnt - 1);
        double m = d.momentum;
        err = fmax(err, fabs(rm[ch] - ((1 - m) * rm0[ch] + m * mean)));
        err = fmax(err, fabs(rv[ch] - ((1 - m) * rv0[ch] + m * uvar)));
        err = fmax(err, fabs(si[ch] - 1.0 / sqrt(uvar * (cnt - 1) / cnt + d.eps)));
    }
    CHECK(err < 1e-10, "%s running stats / invstd off by %.3g", name, err);

    /* Eval with running stats set to the batch statistics (biased variance)
     * reproduces the training output. */
    double *bv = dalloc(d.c), *y2 = dalloc(nx);
    for (int ch = 0; ch < d.c; ch++)
        bv[ch] = 1.0 / (si[ch] * si[ch]) - d.eps;
    ref_bn_fwd_eval(&d, c.x, c.gamma, c.beta, sm, bv, y2);
    bn_loss(&c); /* c.y as of the unperturbed inputs (fd_check moved it) */
    double e2 = 0;
    for (size_t i = 0; i < nx; i++) e2 = fmax(e2, fabs(y2[i] - c.y[i]));
    CHECK(e2 < 1e-9, "%s eval(batch stats) != train output (%.3g)", name, e2);
    /* y per channel has mean beta and (biased) variance gamma^2 var/(var+eps) */
    free(bv), free(y2);
    free(rm), free(rv), free(sm), free(si), free(rm0), free(rv0);
    free(dx), free(dg), free(dbt);
    free(c.x), free(c.gamma), free(c.beta), free(c.g), free(c.y);
}

/* ------------------------------------------------------------------ */
/* Elementwise: relu, dropout                                          */

typedef struct {
    size_t n;
    double *x, *g, *y;
    int kind; /* 0 relu, 1 dropout, 2 dorefa soft, 3 wrpn soft, 4 actq soft */
    sr_dropout_desc dd;
    uint32_t step;
} ew_ctx;

static double ew_loss(void *p)
{
    ew_ctx *c = p;
    switch (c->kind) {
    case 0: ref_relu_fwd(c->n, c->x, c->y); break;
    case 1: ref_dropout_fwd(&c->dd, c->step, c->x, c->y); break;
    case 2: {
        double M = 0;
        for (size_t i = 0; i < c->n; i++) M = fmax(M, fabs(tanh(c->x[i])));
        for (size_t i = 0; i < c->n; i++) c->y[i] = tanh(c->x[i]) / M;
        break;
    }
    case 3:
        for (size_t i = 0; i < c->n; i++) c->y[i] = fmax(-1.0, fmin(1.0, c->x[i]));
        break;
    default:
        for (size_t i = 0; i < c->n; i++) c->y[i] = fmax(0.0, fmin(1.0, c->x[i]));
        break;
    }
    return dot(c->y, c->g, c->n);
}

static void test_relu(void)
{
    size_t n = 257;
    ew_ctx c = {n, dalloc(n), dalloc(n), dalloc(n), 0, {0}, 0};
    double kinks[] = {0.0};
    fill_away(c.x, n, -1, 1, kinks, 1);
    fill_uniform(c.g, n, -1, 1);
    double *y = dalloc(n), *dx = dalloc(n);
    ref_relu_fwd(n, c.x, y);
    ref_relu_bwd(n, y, c.g, dx);
    fd_check("relu dx", ew_loss, &c, c.x, n, dx);
    free(y), free(dx), free(c.x), free(c.g), free(c.y);
}

static void test_dropout(void)
{
    size_t n = 20000;
    sr_dropout_desc dd = {n, 0.3f, 1234, 7, 0};
    ew_ctx c = {n, dalloc(n), dalloc(n), dalloc(n), 1, dd, 5};
    fill_uniform(c.x, n, -1, 1);
    fill_uniform(c.g, n, -1, 1);
    double *dx = dalloc(n);
    ref_dropout_bwd(&dd, 5, c.g, dx);
    fd_check("dropout dx (first 500)", ew_loss, &c, c.x, 500, dx);
    /* dropped fraction ~ p: binomial, 5 sigma */
    size_t dropped = 0, differ = 0;
    for (size_t i = 0; i < n; i++) {
        dropped += !ref_dropout_keep(&dd, 5, i);
        differ += ref_dropout_keep(&dd, 5, i) != ref_dropout_keep(&dd, 6, i);
    }
    double frac = (double)dropped / n, sd = sqrt(0.3 * 0.7 / n);
    CHECK(fabs(frac - 0.3) < 5 * sd, "dropout fraction %.4f, want 0.3 +- %.4f",
          frac, 5 * sd);
    /* another step: P(differ) = 2 p (1 - p) = 0.42 */
    double fd = (double)differ / n;
    CHECK(fabs(fd - 0.42) < 0.02, "dropout masks of steps 5 and 6 differ in "
          "%.3f of elements, want ~0.42", fd);
    /* The mask is the documented RNG draw. */
    uint32_t key = sr_rng_key(1234, 7, 5);
    int same = 1;
    for (size_t i = 0; i < n; i++)
        same &= ref_dropout_keep(&dd, 5, i) == (sr_rng_uniform(key, (uint32_t)i) >= 0.3f);
    CHECK(same, "dropout mask is not sr_rng_uniform(key, i) >= p");
    /* p = 0 keeps everything unscaled */
    sr_dropout_desc d0 = {n, 0.0f, 1, 2, 0};
    double *y = dalloc(n), e = 0;
    ref_dropout_fwd(&d0, 3, c.x, y);
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(y[i] - c.x[i]));
    CHECK(e == 0.0, "dropout p=0 is not the identity (%.3g)", e);
    free(y), free(dx), free(c.x), free(c.g), free(c.y);
}

/* ------------------------------------------------------------------ */
/* Pooling                                                             */

typedef struct {
    sr_pool_desc d;
    sr_avgpool_desc a;
    int avg;
    double *x, *g, *y;
    uint32_t *idx;
} pool_ctx;

static double pool_loss(void *p)
{
    pool_ctx *c = p;
    size_t ny;
    if (c->avg) {
        ref_avgpool_fwd(&c->a, c->x, c->y);
        ny = (size_t)c->a.n * c->a.c * c->a.oh * c->a.ow;
    } else {
        ref_maxpool_fwd(&c->d, c->x, c->y, c->idx);
        ny = (size_t)c->d.n * c->d.c * ref_pool_out_h(&c->d) * ref_pool_out_w(&c->d);
    }
    return dot(c->y, c->g, ny);
}

/* Distinct values at least 1e-3 apart (a shuffled grid): no ties within eps. */
static void fill_distinct(double *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = -1.0 + 2.0 * (double)i / (double)n;
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd_u64() % i;
        double t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}

static void test_maxpool_case(sr_pool_desc d)
{
    char name[120];
    snprintf(name, sizeof name, "maxpool n%d c%d %dx%d k%d s%d p%d", d.n, d.c,
             d.h, d.w, d.k, d.stride, d.pad);
    int OH = ref_pool_out_h(&d), OW = ref_pool_out_w(&d);
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * OH * OW;
    pool_ctx c = {d, {0}, 0, dalloc(nx), dalloc(ny), dalloc(ny),
                  calloc(ny, sizeof(uint32_t))};
    fill_distinct(c.x, nx);
    fill_uniform(c.g, ny, -1, 1);
    double *y = dalloc(ny), *dx = dalloc(nx);
    uint32_t *idx = calloc(ny, sizeof *idx);
    ref_maxpool_fwd(&d, c.x, y, idx);
    ref_maxpool_bwd(&d, c.g, idx, dx);
    fd_check(name, pool_loss, &c, c.x, nx, dx);
    /* y is the element idx points at, and that element is in the window */
    int ok = 1;
    for (int n = 0; n < d.n; n++)
        for (int ch = 0; ch < d.c; ch++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    size_t o = (((size_t)n * d.c + ch) * OH + oh) * OW + ow;
                    int ih = (int)idx[o] / d.w, iw = (int)idx[o] % d.w;
                    ok &= y[o] == c.x[((size_t)n * d.c + ch) * d.h * d.w + idx[o]];
                    ok &= ih >= oh * d.stride - d.pad &&
                          ih < oh * d.stride - d.pad + d.k &&
                          iw >= ow * d.stride - d.pad &&
                          iw < ow * d.stride - d.pad + d.k && ih < d.h && iw < d.w;
                }
    CHECK(ok, "%s: y != x[idx] or idx outside its window", name);
    free(y), free(dx), free(idx), free(c.x), free(c.g), free(c.y), free(c.idx);
}

static void test_maxpool_ties_padding(void)
{
    /* all -2: padding (never a candidate) must not win; first on ties */
    sr_pool_desc d = {1, 1, 4, 4, 3, 2, 1};
    double x[16], y[4];
    uint32_t idx[4];
    for (int i = 0; i < 16; i++) x[i] = -2.0;
    ref_maxpool_fwd(&d, x, y, idx);
    /* windows start at (-1,-1), (-1,1), (1,-1), (1,1): first real element */
    CHECK(y[0] == -2 && y[3] == -2 && idx[0] == 0 && idx[1] == 1 &&
              idx[2] == 4 && idx[3] == 5,
          "maxpool ties/padding: y %g idx %u %u %u %u, want -2, 0 1 4 5", y[0],
          idx[0], idx[1], idx[2], idx[3]);
}

static void test_avgpool_case(sr_avgpool_desc a)
{
    char name[120];
    snprintf(name, sizeof name, "avgpool n%d c%d %dx%d -> %dx%d", a.n, a.c, a.h,
             a.w, a.oh, a.ow);
    size_t nx = (size_t)a.n * a.c * a.h * a.w, ny = (size_t)a.n * a.c * a.oh * a.ow;
    pool_ctx c = {{0}, a, 1, dalloc(nx), dalloc(ny), dalloc(ny), NULL};
    fill_uniform(c.x, nx, -1, 1);
    fill_uniform(c.g, ny, -1, 1);
    double *dx = dalloc(nx);
    ref_avgpool_bwd(&a, c.g, dx);
    fd_check(name, pool_loss, &c, c.x, nx, dx);
    free(dx), free(c.x), free(c.g), free(c.y);
}

static void test_avgpool_bins(void)
{
    /* PyTorch's bins for 13 -> 6: [0,3) [2,5) [4,7) [6,9) [8,11) [10,13);
     * with x[r][q] = r the outputs are the bin centres 1 3 5 7 9 11. */
    sr_avgpool_desc a = {1, 1, 13, 13, 6, 6};
    double x[169], y[36];
    for (int r = 0; r < 13; r++)
        for (int q = 0; q < 13; q++) x[r * 13 + q] = r;
    ref_avgpool_fwd(&a, x, y);
    int ok = 1;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) ok &= y[i * 6 + j] == 2.0 * i + 1.0;
    CHECK(ok, "avgpool 13->6 bins differ from PyTorch's");
    /* global average = mean */
    sr_avgpool_desc g = {1, 1, 13, 13, 1, 1};
    double s = 0;
    for (int i = 0; i < 169; i++) s += x[i];
    ref_avgpool_fwd(&g, x, y);
    CHECK(fabs(y[0] - s / 169) < 1e-12, "global avgpool %g != mean %g", y[0],
          s / 169);
}

/* ------------------------------------------------------------------ */
/* Softmax cross-entropy, top-1, SGD                                   */

typedef struct {
    int n, classes;
    double *z;
    uint32_t *labels;
} xent_ctx;

static double xent_loss(void *p)
{
    xent_ctx *c = p;
    return ref_softmax_xent(c->n, c->classes, c->z, c->labels, NULL);
}

static void test_xent(void)
{
    int n = 5, classes = 10;
    size_t nl = (size_t)n * classes;
    xent_ctx c = {n, classes, dalloc(nl), calloc(n, sizeof(uint32_t))};
    fill_uniform(c.z, nl, -3, 3);
    for (int i = 0; i < n; i++) c.labels[i] = (uint32_t)rnd_int(0, classes - 1);
    double *dz = dalloc(nl);
    ref_softmax_xent(n, classes, c.z, c.labels, dz);
    fd_check("softmax_xent dlogits", xent_loss, &c, c.z, nl, dz);
    /* uniform logits: loss = log(classes) */
    double *z0 = dalloc(nl);
    double l0 = ref_softmax_xent(n, classes, z0, c.labels, NULL);
    CHECK(fabs(l0 - log(classes)) < 1e-12, "xent of zero logits %g != log 10", l0);
    /* shift invariance with huge logits (stability) */
    for (size_t i = 0; i < nl; i++) z0[i] = c.z[i] + 1000.0;
    double l1 = ref_softmax_xent(n, classes, z0, c.labels, NULL);
    double l2 = ref_softmax_xent(n, classes, c.z, c.labels, NULL);
    CHECK(isfinite(l1) && fabs(l1 - l2) < 1e-9, "xent not shift invariant: %g vs %g",
          l1, l2);
    free(z0), free(dz), free(c.z), free(c.labels);
}

static double xent_smooth_loss(void *p)
{
    xent_ctx *c = p;
    return ref_softmax_xent_smooth(c->n, c->classes, 0.1, c->z, c->labels,
                                   NULL);
}

/* Label smoothing: eps 0 is plain cross-entropy; for eps the loss is
 * (1 - eps) xent + eps mean_j (lse - z_j) (by hand on one row); the
 * gradient by finite differences. */
static void test_xent_smooth(void)
{
    int n = 4, classes = 7;
    size_t nl = (size_t)n * classes;
    xent_ctx c = {n, classes, dalloc(nl), calloc(n, sizeof(uint32_t))};
    fill_uniform(c.z, nl, -3, 3);
    for (int i = 0; i < n; i++) c.labels[i] = (uint32_t)rnd_int(0, classes - 1);
    double *dz = dalloc(nl), *dz0 = dalloc(nl);
    double a = ref_softmax_xent(n, classes, c.z, c.labels, dz0);
    double b = ref_softmax_xent_smooth(n, classes, 0.0, c.z, c.labels, dz);
    CHECK(fabs(a - b) < 1e-12, "smoothing 0: %g != xent %g", b, a);
    ref_softmax_xent_smooth(n, classes, 0.1, c.z, c.labels, dz);
    fd_check("softmax_xent smoothing 0.1 dlogits", xent_smooth_loss, &c, c.z,
             nl, dz);
    /* one row z = (0, ln 3), label 1, eps 0.2: lse = ln 4,
     * loss = 0.9 (ln 4 - ln 3) + 0.1 ln 4 */
    double z1[2] = {0.0, log(3.0)};
    uint32_t l1 = 1;
    double g1[2];
    double l = ref_softmax_xent_smooth(1, 2, 0.2, z1, &l1, g1);
    double want = 0.9 * (log(4.0) - log(3.0)) + 0.1 * log(4.0);
    CHECK(fabs(l - want) < 1e-12 && fabs(g1[0] - (0.25 - 0.1)) < 1e-12 &&
              fabs(g1[1] - (0.75 - 0.9)) < 1e-12,
          "smoothed xent of (0, ln 3): %.12g (want %.12g), grad %g %g", l,
          want, g1[0], g1[1]);
    free(dz), free(dz0), free(c.z), free(c.labels);
}

static void test_top1(void)
{
    /* rows: clear max at label; max elsewhere; tie between 1 and 3 with
     * label 1 (first wins: correct) and label 3 (not correct) */
    double z[4 * 4] = {0, 5, 1, 2, 9, 1, 1, 1, 0, 4, 0, 4, 0, 4, 0, 4};
    uint32_t lab[4] = {1, 2, 1, 3};
    uint32_t k = ref_top1_count(4, 4, z, lab);
    CHECK(k == 2, "top1 count %u, want 2", k);
}

static void test_sgd(void)
{
    /* v = 0.9*0.2 + (0.5 + 0.1*1) = 0.78; w = 1 - 0.1*0.78 = 0.922 */
    sr_sgd_desc d = {1, 0.9f, 0.1f, 0, 0, 0};
    double w = 1, g = 0.5, v = 0.2;
    d.momentum = 0.9f;
    ref_sgd(&d, 0.1, &w, &g, &v);
    CHECK(fabs(v - (0.9f * 0.2 + 0.5 + 0.1f * 1.0)) < 1e-15 &&
              fabs(w - (1 - 0.1 * v)) < 1e-15 && fabs(w - 0.922) < 1e-7,
          "sgd: v %.9g w %.9g, want 0.78, 0.922", v, w);
    /* Nesterov with the gradient halved: d = 0.5*0.5 + 0.1 = 0.35,
     * v = 0.9*0.2 + 0.35 = 0.53, w = 1 - 0.1 (0.35 + 0.9*0.53) = 0.9173 */
    d = (sr_sgd_desc){1, 0.9f, 0.1f, 0, 1, 0};
    w = 1, g = 0.5, v = 0.2;
    ref_sgd_scaled(&d, 0.1, 0.5, &w, &g, &v);
    CHECK(fabs(v - 0.53) < 1e-7 && fabs(w - 0.9173) < 1e-7,
          "nesterov sgd: v %.9g w %.9g, want 0.53, 0.9173", v, w);
}

/* ------------------------------------------------------------------ */
/* Quantizers                                                          */

static void test_rounding(void)
{
    CHECK(ref_round(2.5) == 3 && ref_round(-2.5) == -3 && ref_round(0.5) == 1 &&
              ref_round(-0.5) == -1 && ref_round(1.49) == 1 && ref_round(-1.51) == -2 &&
              ref_round(0.0) == 0,
          "ref_round is not half away from zero");
    CHECK(ref_wrpn_quantize(-0.5, 3) == -2.0 / 3 && ref_wrpn_quantize(0.5, 2) == 1 &&
              ref_wrpn_quantize(-0.5, 2) == -1 && ref_wrpn_quantize(7, 3) == 1 &&
              ref_wrpn_quantize(-7, 4) == -1 && ref_wrpn_quantize(0.1, 2) == 0,
          "wrpn ties / clamping");
    CHECK(ref_quantize01(0.5, 1) == 1 && ref_quantize01(-3, 4) == 0 &&
              ref_quantize01(3, 4) == 1 && ref_quantize01(0.5, 2) == 2.0 / 3,
          "actq ties / clamping");
}

/* Count distinct values of a[0..n) and check each is one of `levels`. */
static int level_check(const double *a, size_t n, const double *levels,
                       int nlev, int *ndistinct)
{
    int *seen = calloc((size_t)nlev, sizeof *seen), ok = 1;
    for (size_t i = 0; i < n; i++) {
        int hit = -1;
        for (int l = 0; l < nlev; l++)
            if (fabs(a[i] - levels[l]) < 1e-12) hit = l;
        if (hit < 0) ok = 0;
        else seen[hit] = 1;
    }
    *ndistinct = 0;
    for (int l = 0; l < nlev; l++) *ndistinct += seen[l];
    free(seen);
    return ok;
}

static void test_dorefa(int bits)
{
    char name[80];
    /* enough weights that every one of the 2^b levels is hit (>= ~12 per
     * edge level); FD on the first 400 (which include the arg-max) */
    size_t n = bits >= 6 ? 40000 : 3001;
    int m = (1 << bits) - 1;
    ew_ctx c = {n, dalloc(n), dalloc(n), dalloc(n), 2, {0}, 0};
    /* tanh(w) uniform on (-M, M), M = 0.96 so every level's bin is hit;
     * one clear arg-max of |tanh| (gap 1e-4 >> FD eps) */
    for (size_t i = 0; i < n; i++) c.x[i] = atanh(rnd_range(-0.9599, 0.9599));
    c.x[17] = -atanh(0.96);
    fill_uniform(c.g, n, -1, 1);
    double *wq = dalloc(n), *dw = dalloc(n), *lev = dalloc((size_t)m + 1);
    ref_dorefa_w_fwd(n, bits, c.x, wq);
    for (int i = 0; i <= m; i++) lev[i] = (double)(2 * i - m) / m;
    int nd;
    int ok = level_check(wq, n, lev, m + 1, &nd);
    snprintf(name, sizeof name, "dorefa b%d", bits);
    CHECK(ok && nd == m + 1, "%s: outputs not all levels or %d of %d levels seen",
          name, nd, m + 1);
    ref_dorefa_w_bwd(n, bits, c.x, c.g, dw);
    snprintf(name, sizeof name, "dorefa b%d dw (STE, through max)", bits);
    fd_check(name, ew_loss, &c, c.x, 400, dw);
    free(wq), free(dw), free(lev), free(c.x), free(c.g), free(c.y);
}

static void test_wrpn(int bits)
{
    char name[80];
    size_t n = 2000;
    int m = (1 << (bits - 1)) - 1;
    ew_ctx c = {n, dalloc(n), dalloc(n), dalloc(n), 3, {0}, 0};
    double kinks[] = {-1.0, 1.0};
    fill_away(c.x, n, -1.5, 1.5, kinks, 2);
    fill_uniform(c.g, n, -1, 1);
    double *wq = dalloc(n), *dw = dalloc(n), *lev = dalloc(2 * (size_t)m + 1);
    ref_wrpn_w_fwd(n, bits, c.x, wq);
    for (int i = -m; i <= m; i++) lev[i + m] = (double)i / m;
    int nd;
    int ok = level_check(wq, n, lev, 2 * m + 1, &nd);
    snprintf(name, sizeof name, "wrpn b%d", bits);
    CHECK(ok && nd == 2 * m + 1, "%s: %d of %d levels seen", name, nd, 2 * m + 1);
    ref_wrpn_w_bwd(n, bits, c.x, c.g, dw);
    snprintf(name, sizeof name, "wrpn b%d dw (STE = clamp mask)", bits);
    fd_check(name, ew_loss, &c, c.x, n, dw);
    free(wq), free(dw), free(lev), free(c.x), free(c.g), free(c.y);
}

static void test_actq(int bits)
{
    char name[80];
    size_t n = bits >= 6 ? 40000 : 2000;
    int m = (1 << bits) - 1;
    ew_ctx c = {n, dalloc(n), dalloc(n), dalloc(n), 4, {0}, 0};
    double kinks[] = {0.0, 1.0};
    fill_away(c.x, n, -0.5, 1.5, kinks, 2);
    fill_uniform(c.g, n, -1, 1);
    double *y = dalloc(n), *dx = dalloc(n), *lev = dalloc((size_t)m + 1);
    ref_actq_fwd(n, bits, c.x, y);
    for (int i = 0; i <= m; i++) lev[i] = (double)i / m;
    int nd;
    int ok = level_check(y, n, lev, m + 1, &nd);
    snprintf(name, sizeof name, "actq b%d", bits);
    CHECK(ok && nd == m + 1, "%s: %d of %d levels seen", name, nd, m + 1);
    ref_actq_bwd(n, bits, c.x, c.g, dx);
    snprintf(name, sizeof name, "actq b%d dx (STE = clamp mask)", bits);
    fd_check(name, ew_loss, &c, c.x, n < 2000 ? n : 2000, dx);
    free(y), free(dx), free(lev), free(c.x), free(c.g), free(c.y);
}

/* ------------------------------------------------------------------ */
/* SinReQ, WaveQ                                                       */

typedef struct {
    sr_sinreq_desc s;
    sr_waveq_desc q;
    double coef, coef_beta, beta;
    double *w;
} reg_ctx;

static double sinreq_loss(void *p)
{
    reg_ctx *c = p;
    return c->coef * ref_sinreq(&c->s, c->coef, c->w, NULL);
}

static double waveq_loss(void *p)
{
    reg_ctx *c = p;
    return c->coef * ref_waveq(&c->q, c->coef, c->coef_beta, c->w, c->beta,
                               NULL, NULL) +
           c->coef_beta * c->beta;
}

static void test_sinreq(sr_quantizer q, int bits, double divisor_scale)
{
    char name[100];
    const char *qn = q == SR_QUANT_DOREFA ? "dorefa" : "wrpn";
    size_t n = 300;
    reg_ctx c = {{n, q, bits, (float)(n * divisor_scale), 0,
                  SR_SINREQ_DOMAIN_W}, {0}, 0.7, 0, 0, dalloc(n)};
    fill_uniform(c.w, n, -1.2, 1.2);
    double *dw = dalloc(n);
    ref_sinreq(&c.s, c.coef, c.w, dw);
    snprintf(name, sizeof name, "sinreq %s b%d div %.0f dw", qn, bits,
             (double)c.s.divisor);
    fd_check(name, sinreq_loss, &c, c.w, n, dw);
    /* accumulation: dw += */
    double *dw2 = dalloc(n);
    for (size_t i = 0; i < n; i++) dw2[i] = 1.0;
    ref_sinreq(&c.s, c.coef, c.w, dw2);
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(dw2[i] - 1.0 - dw[i]));
    CHECK(e < 1e-15, "sinreq dw does not accumulate (%.3g)", e);

    /* minima exactly at the quantizer's levels: value 0, gradient 0, and
     * positive a little to each side */
    double D, s;
    ref_sinreq_period(q, bits, &D, &s);
    int nlev = q == SR_QUANT_DOREFA ? (1 << bits) : 2 * ((1 << (bits - 1)) - 1) + 1;
    double *lev = dalloc((size_t)nlev), *g = dalloc((size_t)nlev);
    for (int i = 0; i < nlev; i++) {
        if (q == SR_QUANT_DOREFA) {
            int m = (1 << bits) - 1;
            lev[i] = (double)(2 * i - m) / m;
        } else {
            int m = (1 << (bits - 1)) - 1;
            lev[i] = (double)(i - m) / m;
        }
    }
    sr_sinreq_desc sl = {(size_t)nlev, q, bits, (float)nlev, 0,
                         SR_SINREQ_DOMAIN_W};
    double v0 = ref_sinreq(&sl, 1.0, lev, g);
    double gmax = 0;
    for (int i = 0; i < nlev; i++) gmax = fmax(gmax, fabs(g[i]));
    int side_ok = 1;
    for (int i = 0; i < nlev; i++) {
        double a = lev[i] + 0.01 * D, b = lev[i] - 0.01 * D;
        sr_sinreq_desc s1 = {1, q, bits, 1.0f, 0, SR_SINREQ_DOMAIN_W};
        side_ok &= ref_sinreq(&s1, 1, &a, NULL) > 1e-4 &&
                   ref_sinreq(&s1, 1, &b, NULL) > 1e-4;
    }
    /* the levels are the quantizer's: Q(level) = level */
    int fixed = 1;
    for (int i = 0; i < nlev; i++) {
        double qv;
        if (q == SR_QUANT_WRPN) qv = ref_wrpn_quantize(lev[i], bits);
        else qv = 2.0 * ref_round((lev[i] + 1.0) / 2.0 * ((1 << bits) - 1)) /
                      ((1 << bits) - 1) - 1.0;
        fixed &= fabs(qv - lev[i]) < 1e-15;
    }
    snprintf(name, sizeof name, "sinreq %s b%d minima", qn, bits);
    CHECK(v0 < 1e-25 && gmax < 1e-12 && side_ok && fixed,
          "%s: value %.3g, max|grad| %.3g at levels, sides %d, Q fixed %d", name,
          v0, gmax, side_ok, fixed);

    /* weights spread uniformly over whole periods: mean exactly 0.5 (an
     * equispaced grid over [-1, 1) covers an integer number of periods) */
    size_t ng = 1000;
    double *grid = dalloc(ng);
    for (size_t i = 0; i < ng; i++) grid[i] = -1.0 + 2.0 * (double)i / ng;
    sr_sinreq_desc sg = {ng, q, bits, (float)ng, 0, SR_SINREQ_DOMAIN_W};
    double vg = ref_sinreq(&sg, 1, grid, NULL);
    CHECK(fabs(vg - 0.5) < 1e-12, "sinreq %s b%d uniform grid mean %.15g != 0.5",
          qn, bits, vg);
    free(grid), free(lev), free(g), free(dw), free(dw2), free(c.w);
}

/* SinReQ on DoReFa's rounding variable x (domain X): the gradient through
 * tanh and through M = max|tanh w| (to the first arg-max) against FD of the
 * value, over every weight of a layer with one clear arg-max. */
static void test_sinreq_x(int bits, double divisor_scale, int argmax_sign)
{
    char name[100];
    size_t n = 300, a = 17;
    reg_ctx c = {{n, SR_QUANT_DOREFA, bits, (float)(n * divisor_scale), 0,
                  SR_SINREQ_DOMAIN_X}, {0}, 0.7, 0, 0, dalloc(n)};
    /* |tanh w| < 0.95 except the arg-max at 0.96: a gap of 1e-2 >> FD eps,
     * so M's arg-max never moves inside [w - eps, w + eps] */
    for (size_t i = 0; i < n; i++) c.w[i] = atanh(rnd_range(-0.95, 0.95));
    c.w[a] = argmax_sign * atanh(0.96);
    double *dw = dalloc(n);
    ref_sinreq(&c.s, c.coef, c.w, dw);
    snprintf(name, sizeof name, "sinreq x b%d div %.0f argmax %+d dw", bits,
             (double)c.s.divisor, argmax_sign);
    fd_check(name, sinreq_loss, &c, c.w, n, dw);
    /* the term through M is what the FD check above would miss if it were
     * dropped: make sure it is far above the FD bound at the arg-max */
    double L = (1 << bits) - 1, M = 0.96, ta = argmax_sign * 0.96;
    double xa = ta / (2 * M) + 0.5;
    double direct = c.coef * (M_PI * L / c.s.divisor) *
                    sin(2 * M_PI * L * xa) * (1 - ta * ta) / (2 * M);
    CHECK(fabs(dw[a] - direct) > 1e-4,
          "%s: the term through M at the arg-max is %.3g: test is vacuous",
          name, dw[a] - direct);
    free(dw), free(c.w);
}

/* Domain X's minima are exactly DoReFa's rounding points: weights whose x
 * sits on a level k/L give value 0 and gradient 0, DoReFa's pre-round
 * value there is the integer k (so Q leaves them where they are), moving
 * one weight off its level raises the value, and domain W's term at the
 * same weights is not 0 (the two domains differ). */
static void test_sinreq_x_minima(int bits)
{
    int L = (1 << bits) - 1;
    size_t n = (size_t)L + 1;
    double M = 0.9, *w = dalloc(n), *g = dalloc(n), *pre = dalloc(n);
    for (size_t k = 0; k < n; k++)
        w[k] = atanh((2.0 * (double)k / L - 1.0) * M); /* x_k = k / L */
    sr_sinreq_desc sx = {n, SR_QUANT_DOREFA, bits, (float)n, 0,
                         SR_SINREQ_DOMAIN_X};
    double v0 = ref_sinreq(&sx, 1.0, w, g);
    double gmax = 0;
    for (size_t k = 0; k < n; k++) gmax = fmax(gmax, fabs(g[k]));
    ref_dorefa_w_preround(n, bits, w, pre);
    double off = 0;
    for (size_t k = 0; k < n; k++) off = fmax(off, fabs(pre[k] - (double)k));
    /* the middle weight (never the arg-max, which is k = 0): x moves by
     * 0.05 / L to either side, one term of sin^2(0.05 pi) / n = 0.024 / n */
    size_t j = n / 2;
    double save = w[j], t = tanh(save), up, down;
    w[j] = atanh(t + 2.0 * M * 0.05 / L);
    up = ref_sinreq(&sx, 1.0, w, NULL);
    w[j] = atanh(t - 2.0 * M * 0.05 / L);
    down = ref_sinreq(&sx, 1.0, w, NULL);
    w[j] = save;
    sr_sinreq_desc sw = sx;
    sw.domain = SR_SINREQ_DOMAIN_W;
    double vw = ref_sinreq(&sw, 1.0, w, NULL);
    double side = 0.02 / (double)n;
    CHECK(v0 < 1e-20 && gmax < 1e-9 && off < 1e-9 && up > side &&
              down > side && vw > 1e-3,
          "sinreq x b%d minima: value %.3g, max|grad| %.3g, |pre-round - k| "
          "%.3g, off-level %.3g/%.3g, domain W there %.3g", bits, v0, gmax,
          off, up, down, vw);

    /* all-zero layer: x = 1/2 everywhere (a maximum, L odd), no gradient */
    for (size_t k = 0; k < n; k++) w[k] = 0.0, g[k] = 0.25;
    double vz = ref_sinreq(&sx, 1.0, w, g);
    int same = 1;
    for (size_t k = 0; k < n; k++) same &= g[k] == 0.25;
    CHECK(fabs(vz - 1.0) < 1e-12 && same,
          "sinreq x b%d on zeros: value %.15g (want 1), dw %s", bits, vz,
          same ? "unchanged" : "changed");
    free(w), free(g), free(pre);
}

static void test_sinreq_random_uniform(void)
{
    size_t n = 100000;
    double *w = dalloc(n);
    fill_uniform(w, n, -1, 1);
    sr_sinreq_desc s = {n, SR_QUANT_WRPN, 3, (float)n, 0, SR_SINREQ_DOMAIN_W};
    double v = ref_sinreq(&s, 1, w, NULL);
    /* var of sin^2 for uniform phase is 1/8: sd of the mean 0.0011 */
    CHECK(fabs(v - 0.5) < 0.006, "sinreq on U(-1,1) weights %.4f, want ~0.5", v);
    free(w);
}

static void test_waveq(double beta, double coef_beta)
{
    char name[100];
    size_t n = 200;
    reg_ctx c = {{0}, {n, (float)(2 * n), 0, 1}, 0.6, coef_beta, beta, dalloc(n)};
    fill_uniform(c.w, n, -0.5, 0.5);
    double *dw = dalloc(n), dbeta = 0;
    ref_waveq(&c.q, c.coef, c.coef_beta, c.w, c.beta, dw, &dbeta);
    snprintf(name, sizeof name, "waveq beta %.2f dw", beta);
    fd_check(name, waveq_loss, &c, c.w, n, dw);
    snprintf(name, sizeof name, "waveq beta %.2f dbeta", beta);
    /* one number that may be small by chance: no vacuity check */
    fd_check_min(name, waveq_loss, &c, &c.beta, 1, &dbeta, 0.0);
    free(dw), free(c.w);
}

static void test_waveq_minima(void)
{
    /* at integer beta = b, w = k / (2^b - 1) gives value 0 */
    for (int b = 2; b <= 5; b++) {
        int m = (1 << b) - 1;
        double w[64];
        for (int k = 0; k <= m; k++) w[k] = (double)(2 * k - m) / m;
        sr_waveq_desc q = {(size_t)m + 1, (float)(m + 1), 0, 1};
        double v = ref_waveq(&q, 1, 0, w, b, NULL, NULL);
        CHECK(v < 1e-25, "waveq b%d value at levels %.3g", b, v);
    }
}

static void test_mean_abs_diff(void)
{
    double a[4] = {1, -2, 3, 0.5}, b[4] = {0, 2, 3, -0.5};
    double v = ref_mean_abs_diff(4, a, b);
    CHECK(v == 1.5, "mean_abs_diff %g, want 1.5", v);
}

int main(void)
{
    test_seed_from_env(20240501);

    group_begin("conv2d");
    test_conv_hand();
    test_conv_is_linear();
    {
        sr_conv2d_desc cases[] = {
            /* n c h w k kh kw stride pad bias act_bits */
            {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 0},
            {1, 2, 7, 7, 3, 5, 5, 2, 2, 0, 0},
            {2, 3, 5, 5, 2, 1, 1, 3, 0, 1, 0},
            {1, 2, 13, 12, 2, 11, 11, 4, 2, 1, 0},
            {2, 2, 6, 5, 3, 3, 2, 2, 1, 1, 0},
            {2, 2, 5, 5, 3, 3, 3, 1, 1, 1, 2},
            {1, 3, 6, 6, 2, 3, 3, 2, 0, 0, 4},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            test_conv_case(cases[i]);
    }
    group_end();

    group_begin("dwconv2d");
    test_dwconv_is_diagonal_conv();
    {
        sr_conv2d_desc cases[] = {
            /* n c h w k=c kh kw stride pad bias act_bits */
            {2, 3, 7, 6, 3, 3, 3, 1, 1, 1, 0},
            {1, 5, 9, 8, 5, 5, 5, 2, 2, 0, 0},
            {2, 1, 5, 5, 1, 1, 1, 2, 0, 1, 0},
            {1, 4, 6, 7, 4, 3, 3, 2, 1, 1, 3},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            test_dwconv_case(cases[i]);
    }
    group_end();

    group_begin("linear");
    {
        sr_linear_desc cases[] = {
            {1, 7, 3, 1, 0}, {5, 13, 10, 1, 0}, {3, 20, 4, 0, 0}, {4, 9, 5, 1, 3},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            test_linear_case(cases[i]);
    }
    group_end();

    group_begin("batchnorm");
    {
        sr_bn_desc cases[] = {
            {5, 3, 7, 1e-5f, 0.1f, 0}, {4, 4, 1, 1e-5f, 0.1f, 0},
            {1, 2, 9, 1e-3f, 0.5f, 0},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            test_bn_case(cases[i]);
    }
    group_end();

    group_begin("relu+dropout");
    test_relu();
    test_dropout();
    group_end();

    group_begin("pooling");
    {
        sr_pool_desc cases[] = {
            {2, 3, 7, 7, 3, 2, 1}, {1, 2, 13, 13, 3, 2, 0}, {1, 2, 6, 7, 2, 2, 0},
            {1, 1, 9, 9, 4, 3, 2},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            test_maxpool_case(cases[i]);
        test_maxpool_ties_padding();
        sr_avgpool_desc ac[] = {
            {1, 2, 13, 13, 6, 6}, {2, 3, 7, 7, 1, 1}, {1, 2, 5, 9, 3, 4},
            {1, 1, 4, 5, 6, 6},
        };
        for (size_t i = 0; i < sizeof ac / sizeof ac[0]; i++)
            test_avgpool_case(ac[i]);
        test_avgpool_bins();
    }
    group_end();

    group_begin("xent+top1+sgd");
    test_xent();
    test_xent_smooth();
    test_top1();
    test_sgd();
    test_mean_abs_diff();
    group_end();

    group_begin("quantizers");
    test_rounding();
    for (int b = 1; b <= 5; b++) test_dorefa(b);
    test_dorefa(8);
    for (int b = 2; b <= 6; b++) test_wrpn(b);
    for (int b = 1; b <= 4; b++) test_actq(b);
    test_actq(8);
    group_end();

    group_begin("sinreq+waveq");
    for (int b = 2; b <= 5; b++) {
        test_sinreq(SR_QUANT_DOREFA, b, 1.0);
        test_sinreq(SR_QUANT_WRPN, b, 1.0);
    }
    test_sinreq(SR_QUANT_DOREFA, 1, 3.0);
    test_sinreq(SR_QUANT_WRPN, 3, 7.5);
    test_sinreq_random_uniform();
    for (int b = 1; b <= 5; b++) test_sinreq_x(b, 1.0, b % 2 ? -1 : 1);
    test_sinreq_x(3, 2.5, 1);
    test_sinreq_x(8, 10.0, -1);
    for (int b = 1; b <= 8; b++) test_sinreq_x_minima(b);
    test_waveq(8.0, 0.03);
    test_waveq(2.3, 0.0);
    test_waveq(3.7, 0.02);
    test_waveq_minima();
    group_end();

    return finish();
}
