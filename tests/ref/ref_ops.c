/* Float64 reference ops: see ref_ops.h. Written for obviousness, not speed. */
#include "ref_ops.h"

#include <math.h>
#include <string.h>

#include "sinreq/rng.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ------------------------------------------------------------------ */
/* Rounding and scalar quantizers                                      */

double ref_round(double v)
{
    double r = floor(fabs(v) + 0.5);
    return v < 0.0 ? -r : r;
}

static double levels01(int bits) { return (double)((1u << bits) - 1u); }

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

double ref_quantize01_preround(double x, int bits)
{
    return clampd(x, 0.0, 1.0) * levels01(bits);
}

double ref_quantize01(double x, int bits)
{
    return ref_round(ref_quantize01_preround(x, bits)) / levels01(bits);
}

double ref_wrpn_quantize(double w, int bits)
{
    double m = (double)((1u << (bits - 1)) - 1u);
    return ref_round(m * clampd(w, -1.0, 1.0)) / m;
}

/* ------------------------------------------------------------------ */
/* Convolution                                                         */

int ref_conv_out_h(const sr_conv2d_desc *d)
{
    return (d->h + 2 * d->pad - d->kh) / d->stride + 1;
}

int ref_conv_out_w(const sr_conv2d_desc *d)
{
    return (d->w + 2 * d->pad - d->kw) / d->stride + 1;
}

/* Input value as the op sees it (quantized on read when act_bits > 0). */
static double conv_in(int act_bits, double x)
{
    return act_bits ? ref_quantize01(x, act_bits) : x;
}

#define X4(n, c, h, w) ((((size_t)(n) * C + (c)) * H + (h)) * W + (w))
#define W4(k, c, r, s) ((((size_t)(k) * C + (c)) * KH + (r)) * KW + (s))
#define Y4(n, k, h, w) ((((size_t)(n) * K + (k)) * OH + (h)) * OW + (w))

void ref_conv2d_fwd(const sr_conv2d_desc *d, const double *x, const double *w,
                    const double *b, double *y)
{
    const int N = d->n, C = d->c, H = d->h, W = d->w, K = d->k;
    const int KH = d->kh, KW = d->kw;
    const int OH = ref_conv_out_h(d), OW = ref_conv_out_w(d);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = d->bias ? b[k] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < KH; r++)
                            for (int s = 0; s < KW; s++) {
                                int ih = oh * d->stride - d->pad + r;
                                int iw = ow * d->stride - d->pad + s;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                acc += w[W4(k, c, r, s)] *
                                       conv_in(d->act_bits, x[X4(n, c, ih, iw)]);
                            }
                    y[Y4(n, k, oh, ow)] = acc;
                }
}

void ref_conv2d_bwd_data(const sr_conv2d_desc *d, const double *dy,
                         const double *w, const double *x, double *dx)
{
    const int N = d->n, C = d->c, H = d->h, W = d->w, K = d->k;
    const int KH = d->kh, KW = d->kw;
    const int OH = ref_conv_out_h(d), OW = ref_conv_out_w(d);
    memset(dx, 0, (size_t)N * C * H * W * sizeof *dx);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++)
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < KH; r++)
                            for (int s = 0; s < KW; s++) {
                                int ih = oh * d->stride - d->pad + r;
                                int iw = ow * d->stride - d->pad + s;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                dx[X4(n, c, ih, iw)] +=
                                    w[W4(k, c, r, s)] * dy[Y4(n, k, oh, ow)];
                            }
    if (d->act_bits) {
        size_t nx = (size_t)N * C * H * W;
        for (size_t i = 0; i < nx; i++)
            if (!(x[i] >= 0.0 && x[i] <= 1.0)) dx[i] = 0.0;
    }
}

void ref_conv2d_bwd_weight(const sr_conv2d_desc *d, const double *x,
                           const double *dy, double *dw, double *db)
{
    const int N = d->n, C = d->c, H = d->h, W = d->w, K = d->k;
    const int KH = d->kh, KW = d->kw;
    const int OH = ref_conv_out_h(d), OW = ref_conv_out_w(d);
    memset(dw, 0, (size_t)K * C * KH * KW * sizeof *dw);
    if (d->bias) memset(db, 0, (size_t)K * sizeof *db);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double g = dy[Y4(n, k, oh, ow)];
                    if (d->bias) db[k] += g;
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < KH; r++)
                            for (int s = 0; s < KW; s++) {
                                int ih = oh * d->stride - d->pad + r;
                                int iw = ow * d->stride - d->pad + s;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                dw[W4(k, c, r, s)] +=
                                    g * conv_in(d->act_bits, x[X4(n, c, ih, iw)]);
                            }
                }
}

/* Depthwise: channel c's output sees only channel c, through its own
 * kernel w[c][0][r][s] (k == c). Written as the scatter of conv above. */
#define WD(c, r, s) (((size_t)(c) * KH + (r)) * KW + (s))

void ref_dwconv2d_fwd(const sr_conv2d_desc *d, const double *x,
                      const double *w, const double *b, double *y)
{
    const int N = d->n, C = d->c, H = d->h, W = d->w, K = d->c;
    const int KH = d->kh, KW = d->kw;
    const int OH = ref_conv_out_h(d), OW = ref_conv_out_w(d);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = d->bias ? b[c] : 0.0;
                    for (int r = 0; r < KH; r++)
                        for (int s = 0; s < KW; s++) {
                            int ih = oh * d->stride - d->pad + r;
                            int iw = ow * d->stride - d->pad + s;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            acc += w[WD(c, r, s)] *
                                   conv_in(d->act_bits, x[X4(n, c, ih, iw)]);
                        }
                    y[Y4(n, c, oh, ow)] = acc;
                }
}

void ref_dwconv2d_bwd_data(const sr_conv2d_desc *d, const double *dy,
                           const double *w, const double *x, double *dx)
{
    const int N = d->n, C = d->c, H = d->h, W = d->w, K = d->c;
    const int KH = d->kh, KW = d->kw;
    const int OH = ref_conv_out_h(d), OW = ref_conv_out_w(d);
    memset(dx, 0, (size_t)N * C * H * W * sizeof *dx);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++)
                    for (int r = 0; r < KH; r++)
                        for (int s = 0; s < KW; s++) {
                            int ih = oh * d->stride - d->pad + r;
                            int iw = ow * d->stride - d->pad + s;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            dx[X4(n, c, ih, iw)] +=
                                w[WD(c, r, s)] * dy[Y4(n, c, oh, ow)];
                        }
    if (d->act_bits) {
        size_t nx = (size_t)N * C * H * W;
        for (size_t i = 0; i < nx; i++)
            if (!(x[i] >= 0.0 && x[i] <= 1.0)) dx[i] = 0.0;
    }
}

void ref_dwconv2d_bwd_weight(const sr_conv2d_desc *d, const double *x,
                             const double *dy, double *dw, double *db)
{
    const int N = d->n, C = d->c, H = d->h, W = d->w, K = d->c;
    const int KH = d->kh, KW = d->kw;
    const int OH = ref_conv_out_h(d), OW = ref_conv_out_w(d);
    memset(dw, 0, (size_t)C * KH * KW * sizeof *dw);
    if (d->bias) memset(db, 0, (size_t)C * sizeof *db);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double g = dy[Y4(n, c, oh, ow)];
                    if (d->bias) db[c] += g;
                    for (int r = 0; r < KH; r++)
                        for (int s = 0; s < KW; s++) {
                            int ih = oh * d->stride - d->pad + r;
                            int iw = ow * d->stride - d->pad + s;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            dw[WD(c, r, s)] +=
                                g * conv_in(d->act_bits, x[X4(n, c, ih, iw)]);
                        }
                }
}

#undef WD
#undef X4
#undef W4
#undef Y4

/* ------------------------------------------------------------------ */
/* Linear                                                              */

void ref_linear_fwd(const sr_linear_desc *d, const double *x, const double *w,
                    const double *b, double *y)
{
    for (int n = 0; n < d->n; n++)
        for (int o = 0; o < d->out; o++) {
            double acc = d->bias ? b[o] : 0.0;
            for (int i = 0; i < d->in; i++)
                acc += w[(size_t)o * d->in + i] *
                       conv_in(d->act_bits, x[(size_t)n * d->in + i]);
            y[(size_t)n * d->out + o] = acc;
        }
}

void ref_linear_bwd_data(const sr_linear_desc *d, const double *dy,
                         const double *w, const double *x, double *dx)
{
    for (int n = 0; n < d->n; n++)
        for (int i = 0; i < d->in; i++) {
            double acc = 0.0;
            for (int o = 0; o < d->out; o++)
                acc += dy[(size_t)n * d->out + o] * w[(size_t)o * d->in + i];
            if (d->act_bits) {
                double xv = x[(size_t)n * d->in + i];
                if (!(xv >= 0.0 && xv <= 1.0)) acc = 0.0;
            }
            dx[(size_t)n * d->in + i] = acc;
        }
}

void ref_linear_bwd_weight(const sr_linear_desc *d, const double *x,
                           const double *dy, double *dw, double *db)
{
    for (int o = 0; o < d->out; o++) {
        for (int i = 0; i < d->in; i++) {
            double acc = 0.0;
            for (int n = 0; n < d->n; n++)
                acc += dy[(size_t)n * d->out + o] *
                       conv_in(d->act_bits, x[(size_t)n * d->in + i]);
            dw[(size_t)o * d->in + i] = acc;
        }
        if (d->bias) {
            double acc = 0.0;
            for (int n = 0; n < d->n; n++) acc += dy[(size_t)n * d->out + o];
            db[o] = acc;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Batch norm                                                          */

#define BN(n, c, i) (((size_t)(n) * d->c + (c)) * d->hw + (i))

static void bn_stats(const sr_bn_desc *d, const double *x, int c, double *mean,
                     double *var_biased)
{
    double cnt = (double)d->n * d->hw, s = 0.0, q = 0.0;
    for (int n = 0; n < d->n; n++)
        for (int i = 0; i < d->hw; i++) s += x[BN(n, c, i)];
    *mean = s / cnt;
    for (int n = 0; n < d->n; n++)
        for (int i = 0; i < d->hw; i++) {
            double t = x[BN(n, c, i)] - *mean;
            q += t * t;
        }
    *var_biased = q / cnt;
}

/* The fused ReLU of d->relu. */
static double bn_out(const sr_bn_desc *d, double v)
{
    return d->relu && v < 0.0 ? 0.0 : v;
}

void ref_bn_fwd_train(const sr_bn_desc *d, const double *x,
                      const double *gamma, const double *beta,
                      double *run_mean, double *run_var, double *save_mean,
                      double *save_invstd, double *y)
{
    double cnt = (double)d->n * d->hw, mom = d->momentum;
    for (int c = 0; c < d->c; c++) {
        double mean, var;
        bn_stats(d, x, c, &mean, &var);
        double invstd = 1.0 / sqrt(var + (double)d->eps);
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < d->hw; i++)
                y[BN(n, c, i)] = bn_out(
                    d, gamma[c] * (x[BN(n, c, i)] - mean) * invstd + beta[c]);
        save_mean[c] = mean;
        save_invstd[c] = invstd;
        run_mean[c] = (1.0 - mom) * run_mean[c] + mom * mean;
        run_var[c] = (1.0 - mom) * run_var[c] + mom * var * cnt / (cnt - 1.0);
    }
}

void ref_bn_fwd_eval(const sr_bn_desc *d, const double *x, const double *gamma,
                     const double *beta, const double *run_mean,
                     const double *run_var, double *y)
{
    for (int c = 0; c < d->c; c++) {
        double invstd = 1.0 / sqrt(run_var[c] + (double)d->eps);
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < d->hw; i++)
                y[BN(n, c, i)] = bn_out(
                    d, gamma[c] * (x[BN(n, c, i)] - run_mean[c]) * invstd +
                           beta[c]);
    }
}

void ref_bn_bwd(const sr_bn_desc *d, const double *x, const double *dy,
                const double *gamma, const double *save_mean,
                const double *save_invstd, double *dx, double *dgamma,
                double *dbeta)
{
    double cnt = (double)d->n * d->hw;
    for (int c = 0; c < d->c; c++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < d->hw; i++) {
                double xhat = (x[BN(n, c, i)] - save_mean[c]) * save_invstd[c];
                sdy += dy[BN(n, c, i)];
                sdyx += dy[BN(n, c, i)] * xhat;
            }
        dbeta[c] = sdy;
        dgamma[c] = sdyx;
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < d->hw; i++) {
                double xhat = (x[BN(n, c, i)] - save_mean[c]) * save_invstd[c];
                dx[BN(n, c, i)] = gamma[c] * save_invstd[c] / cnt *
                                  (cnt * dy[BN(n, c, i)] - sdy - xhat * sdyx);
            }
    }
}

#undef BN

/* ------------------------------------------------------------------ */
/* Elementwise                                                         */

void ref_relu_fwd(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0 ? x[i] : 0.0;
}

void ref_relu_bwd(size_t n, const double *y, const double *dy, double *dx)
{
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0 ? dy[i] : 0.0;
}

int ref_dropout_keep(const sr_dropout_desc *d, uint32_t step, size_t i)
{
    uint32_t key = sr_rng_key(d->seed, d->stream, step);
    return sr_rng_uniform(key, (uint32_t)i) >= d->p;
}

void ref_dropout_fwd(const sr_dropout_desc *d, uint32_t step, const double *x,
                     double *y)
{
    double scale = 1.0 / (1.0 - (double)d->p);
    for (size_t i = 0; i < d->n; i++)
        y[i] = ref_dropout_keep(d, step, i) ? x[i] * scale : 0.0;
}

void ref_dropout_bwd(const sr_dropout_desc *d, uint32_t step,
                     const double *dy, double *dx)
{
    ref_dropout_fwd(d, step, dy, dx); /* the same linear map */
}

/* ------------------------------------------------------------------ */
/* Pooling                                                             */

int ref_pool_out_h(const sr_pool_desc *d)
{
    return (d->h + 2 * d->pad - d->k) / d->stride + 1;
}

int ref_pool_out_w(const sr_pool_desc *d)
{
    return (d->w + 2 * d->pad - d->k) / d->stride + 1;
}

void ref_maxpool_fwd(const sr_pool_desc *d, const double *x, double *y,
                     uint32_t *idx)
{
    int OH = ref_pool_out_h(d), OW = ref_pool_out_w(d);
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++) {
            const double *plane = x + ((size_t)n * d->c + c) * d->h * d->w;
            size_t o0 = ((size_t)n * d->c + c) * OH * OW;
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    int found = 0;
                    double best = 0.0;
                    uint32_t bi = 0;
                    for (int r = 0; r < d->k; r++)
                        for (int s = 0; s < d->k; s++) {
                            int ih = oh * d->stride - d->pad + r;
                            int iw = ow * d->stride - d->pad + s;
                            if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w)
                                continue; /* padding never wins */
                            double v = plane[(size_t)ih * d->w + iw];
                            if (!found || v > best) { /* first on ties */
                                found = 1;
                                best = v;
                                bi = (uint32_t)(ih * d->w + iw);
                            }
                        }
                    y[o0 + (size_t)oh * OW + ow] = best;
                    idx[o0 + (size_t)oh * OW + ow] = bi;
                }
        }
}

void ref_maxpool_bwd(const sr_pool_desc *d, const double *dy,
                     const uint32_t *idx, double *dx)
{
    int OH = ref_pool_out_h(d), OW = ref_pool_out_w(d);
    memset(dx, 0, (size_t)d->n * d->c * d->h * d->w * sizeof *dx);
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++) {
            double *plane = dx + ((size_t)n * d->c + c) * d->h * d->w;
            size_t o0 = ((size_t)n * d->c + c) * OH * OW;
            for (int o = 0; o < OH * OW; o++) plane[idx[o0 + o]] += dy[o0 + o];
        }
}

static int bin_lo(int i, int in, int out) { return (i * in) / out; }
static int bin_hi(int i, int in, int out) { return ((i + 1) * in + out - 1) / out; }

void ref_avgpool_fwd(const sr_avgpool_desc *d, const double *x, double *y)
{
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++) {
            const double *plane = x + ((size_t)n * d->c + c) * d->h * d->w;
            for (int i = 0; i < d->oh; i++)
                for (int j = 0; j < d->ow; j++) {
                    int h0 = bin_lo(i, d->h, d->oh), h1 = bin_hi(i, d->h, d->oh);
                    int w0 = bin_lo(j, d->w, d->ow), w1 = bin_hi(j, d->w, d->ow);
                    double s = 0.0;
                    for (int r = h0; r < h1; r++)
                        for (int q = w0; q < w1; q++) s += plane[(size_t)r * d->w + q];
                    y[(((size_t)n * d->c + c) * d->oh + i) * d->ow + j] =
                        s / ((double)(h1 - h0) * (w1 - w0));
                }
        }
}

void ref_avgpool_bwd(const sr_avgpool_desc *d, const double *dy, double *dx)
{
    memset(dx, 0, (size_t)d->n * d->c * d->h * d->w * sizeof *dx);
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++) {
            double *plane = dx + ((size_t)n * d->c + c) * d->h * d->w;
            for (int i = 0; i < d->oh; i++)
                for (int j = 0; j < d->ow; j++) {
                    int h0 = bin_lo(i, d->h, d->oh), h1 = bin_hi(i, d->h, d->oh);
                    int w0 = bin_lo(j, d->w, d->ow), w1 = bin_hi(j, d->w, d->ow);
                    double g = dy[(((size_t)n * d->c + c) * d->oh + i) * d->ow + j] /
                               ((double)(h1 - h0) * (w1 - w0));
                    for (int r = h0; r < h1; r++)
                        for (int q = w0; q < w1; q++) plane[(size_t)r * d->w + q] += g;
                }
        }
}

/* ------------------------------------------------------------------ */
/* Loss, metrics, optimizer                                            */

double ref_softmax_xent(int n, int classes, const double *logits,
                        const uint32_t *labels, double *dlogits)
{
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const double *z = logits + (size_t)i * classes;
        double mx = z[0], se = 0.0;
        for (int j = 1; j < classes; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < classes; j++) se += exp(z[j] - mx);
        double lse = mx + log(se);
        loss += lse - z[labels[i]];
        if (dlogits)
            for (int j = 0; j < classes; j++)
                dlogits[(size_t)i * classes + j] =
                    (exp(z[j] - lse) - (j == (int)labels[i] ? 1.0 : 0.0)) / n;
    }
    return loss / n;
}

double ref_softmax_xent_smooth(int n, int classes, double eps,
                               const double *logits, const uint32_t *labels,
                               double *dlogits)
{
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const double *z = logits + (size_t)i * classes;
        double mx = z[0], se = 0.0;
        for (int j = 1; j < classes; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < classes; j++) se += exp(z[j] - mx);
        double lse = mx + log(se);
        for (int j = 0; j < classes; j++) {
            double t = (j == (int)labels[i] ? 1.0 - eps : 0.0) + eps / classes;
            loss -= t * (z[j] - lse);
            if (dlogits)
                dlogits[(size_t)i * classes + j] = (exp(z[j] - lse) - t) / n;
        }
    }
    return loss / n;
}

uint32_t ref_top1_count(int n, int classes, const double *logits,
                        const uint32_t *labels)
{
    uint32_t correct = 0;
    for (int i = 0; i < n; i++) {
        const double *z = logits + (size_t)i * classes;
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (z[j] > z[best]) best = j; /* first on ties */
        correct += (uint32_t)best == labels[i];
    }
    return correct;
}

void ref_sgd(const sr_sgd_desc *d, double lr, double *w, const double *g,
             double *v)
{
    for (size_t i = 0; i < d->n; i++) {
        v[i] = (double)d->momentum * v[i] + (g[i] + (double)d->weight_decay * w[i]);
        w[i] -= lr * v[i];
    }
}

void ref_sgd_scaled(const sr_sgd_desc *d, double lr, double gscale, double *w,
                    const double *g, double *v)
{
    for (size_t i = 0; i < d->n; i++) {
        double dp = gscale * g[i] + (double)d->weight_decay * w[i];
        v[i] = (double)d->momentum * v[i] + dp;
        w[i] -= lr * (d->nesterov ? dp + (double)d->momentum * v[i] : v[i]);
    }
}

/* ------------------------------------------------------------------ */
/* Quantizers                                                          */

/* M = max|tanh w| and its first arg-max. */
static double dorefa_max(size_t n, const double *w, size_t *arg)
{
    double m = -1.0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(tanh(w[i]));
        if (a > m) {
            m = a;
            *arg = i;
        }
    }
    return m;
}

void ref_dorefa_w_preround(size_t n, int bits, const double *w, double *pre)
{
    size_t arg = 0;
    double M = dorefa_max(n, w, &arg);
    for (size_t i = 0; i < n; i++)
        pre[i] = levels01(bits) * (tanh(w[i]) / (2.0 * M) + 0.5);
}

void ref_dorefa_w_fwd(size_t n, int bits, const double *w, double *wq)
{
    double m = levels01(bits);
    ref_dorefa_w_preround(n, bits, w, wq);
    for (size_t i = 0; i < n; i++) wq[i] = 2.0 * ref_round(wq[i]) / m - 1.0;
}

void ref_dorefa_w_bwd(size_t n, int bits, const double *w, const double *dwq,
                      double *dw)
{
    (void)bits; /* round is straight-through: wq ~ 2x - 1 = tanh(w) / M */
    size_t a = 0;
    double M = dorefa_max(n, w, &a);
    double dM = 0.0; /* dL/dM = sum_i dwq_i * (-t_i / M^2) */
    for (size_t i = 0; i < n; i++) {
        double t = tanh(w[i]);
        dw[i] = dwq[i] * (1.0 - t * t) / M;
        dM += dwq[i] * (-t / (M * M));
    }
    double ta = tanh(w[a]);
    dw[a] += dM * (ta < 0.0 ? -1.0 : 1.0) * (1.0 - ta * ta);
}

void ref_wrpn_w_fwd(size_t n, int bits, const double *w, double *wq)
{
    for (size_t i = 0; i < n; i++) wq[i] = ref_wrpn_quantize(w[i], bits);
}

void ref_wrpn_w_bwd(size_t n, int bits, const double *w, const double *dwq,
                    double *dw)
{
    (void)bits;
    for (size_t i = 0; i < n; i++) dw[i] = fabs(w[i]) <= 1.0 ? dwq[i] : 0.0;
}

void ref_actq_fwd(size_t n, int bits, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++) y[i] = ref_quantize01(x[i], bits);
}

void ref_actq_bwd(size_t n, int bits, const double *x, const double *dy,
                  double *dx)
{
    (void)bits;
    for (size_t i = 0; i < n; i++)
        dx[i] = (x[i] >= 0.0 && x[i] <= 1.0) ? dy[i] : 0.0;
}

/* ------------------------------------------------------------------ */
/* Regularizers                                                        */

void ref_sinreq_period(sr_quantizer q, int bits, double *period, double *shift)
{
    if (q == SR_QUANT_DOREFA) {
        *period = 2.0 / levels01(bits);
        *shift = *period / 2.0;
    } else {
        *period = 1.0 / (double)((1u << (bits - 1)) - 1u);
        *shift = 0.0;
    }
}

/* Domain X: value = (1/div) sum sin^2(pi L x_j), x = tanh(w)/(2M) + 1/2,
 * differentiated by the chain rule written out plainly: dvalue/dx_j, then
 * dx_j/dw_j directly and every x_i through M = |tanh w_a|. */
static double ref_sinreq_x(const sr_sinreq_desc *d, double coef,
                           const double *w, double *dw)
{
    double L = levels01(d->bits), div = d->divisor, sum = 0.0;
    size_t a = 0;
    double M = dorefa_max(d->n, w, &a);
    if (!(M > 0.0)) /* all-zero layer: x = 1/2 everywhere, no gradient */
        return (double)d->n * pow(sin(M_PI * L * 0.5), 2) / div;
    double dM = 0.0; /* coef dvalue/dM */
    for (size_t i = 0; i < d->n; i++) {
        double t = tanh(w[i]);
        double x = t / (2.0 * M) + 0.5;
        double a1 = sin(M_PI * L * x);
        sum += a1 * a1;
        double gx = coef * (M_PI * L / div) * sin(2.0 * M_PI * L * x);
        if (dw) dw[i] += gx * (1.0 - t * t) / (2.0 * M);
        dM += gx * (-t / (2.0 * M * M));
    }
    double ta = tanh(w[a]);
    if (dw) dw[a] += dM * (ta < 0.0 ? -1.0 : 1.0) * (1.0 - ta * ta);
    return sum / div;
}

double ref_sinreq(const sr_sinreq_desc *d, double coef, const double *w,
                  double *dw)
{
    if (d->domain == SR_SINREQ_DOMAIN_X) return ref_sinreq_x(d, coef, w, dw);
    double D, s, div = d->divisor, sum = 0.0;
    ref_sinreq_period(d->quantizer, d->bits, &D, &s);
    for (size_t i = 0; i < d->n; i++) {
        double a = sin(M_PI * (w[i] + s) / D);
        sum += a * a;
        if (dw) dw[i] += coef * (M_PI / (D * div)) * sin(2.0 * M_PI * (w[i] + s) / D);
    }
    return sum / div;
}

double ref_waveq(const sr_waveq_desc *d, double coef_w, double coef_beta,
                 const double *w, double beta, double *dw, double *dbeta)
{
    double p = pow(2.0, beta), m = p - 1.0, div = d->divisor;
    double sum = 0.0, sb = 0.0;
    for (size_t i = 0; i < d->n; i++) {
        double a = sin(M_PI * w[i] * m), s2 = sin(2.0 * M_PI * w[i] * m);
        sum += a * a / p;
        sb += M_PI * w[i] * s2 - a * a / p;
        if (dw) dw[i] += coef_w * (M_PI * m / (p * div)) * s2;
    }
    if (dbeta) *dbeta += coef_w * log(2.0) * sb / div + coef_beta;
    return sum / div;
}

double ref_mean_abs_diff(size_t n, const double *a, const double *b)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += fabs(a[i] - b[i]);
    return s / (double)n;
}
