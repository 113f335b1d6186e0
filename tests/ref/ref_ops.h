/* tests/ref: tiny, obviously correct float64 reference implementations of
 * every op in include/sinreq/backend.h, forward and backward.
 *
 * Plain nested loops over double arrays, no cleverness, no threads. The
 * semantics are exactly those written in backend.h's comments; the
 * descriptor structs are reused from there (only the types, nothing from
 * the backend library is called). Outputs are overwritten unless a function
 * says it accumulates ("+="), as in backend.h.
 *
 * Quantizers use qmath.h's rounding rule (half away from zero,
 * sign(v) floor(|v| + 0.5)), computed in double. */
#ifndef SR_TEST_REF_OPS_H
#define SR_TEST_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/backend.h"

/* Rounding and the scalar quantizers, in double. */
double ref_round(double v);
double ref_quantize01(double x, int bits);     /* round(m clamp(x,0,1))/m */
double ref_wrpn_quantize(double w, int bits);  /* b >= 2 */
/* The value that round() is applied to (for boundary detection in tests). */
double ref_quantize01_preround(double x, int bits);

/* Convolution (act_bits as in backend.h: input quantized on read, STE mask
 * in bwd_data, quantized input in bwd_weight). b, db may be NULL when
 * !d->bias; x may be NULL in bwd_data when !d->act_bits. */
int ref_conv_out_h(const sr_conv2d_desc *d);
int ref_conv_out_w(const sr_conv2d_desc *d);
void ref_conv2d_fwd(const sr_conv2d_desc *d, const double *x, const double *w,
                    const double *b, double *y);
void ref_conv2d_bwd_data(const sr_conv2d_desc *d, const double *dy,
                         const double *w, const double *x, double *dx);
void ref_conv2d_bwd_weight(const sr_conv2d_desc *d, const double *x,
                           const double *dy, double *dw, double *db);

/* Depthwise convolution: k == c, weights [c][1][kh][kw]; otherwise as
 * conv. */
void ref_dwconv2d_fwd(const sr_conv2d_desc *d, const double *x,
                      const double *w, const double *b, double *y);
void ref_dwconv2d_bwd_data(const sr_conv2d_desc *d, const double *dy,
                           const double *w, const double *x, double *dx);
void ref_dwconv2d_bwd_weight(const sr_conv2d_desc *d, const double *x,
                             const double *dy, double *dw, double *db);

void ref_linear_fwd(const sr_linear_desc *d, const double *x, const double *w,
                    const double *b, double *y);
void ref_linear_bwd_data(const sr_linear_desc *d, const double *dy,
                         const double *w, const double *x, double *dx);
void ref_linear_bwd_weight(const sr_linear_desc *d, const double *x,
                           const double *dy, double *dw, double *db);

/* Batch norm. run_mean/run_var are updated in place. */
void ref_bn_fwd_train(const sr_bn_desc *d, const double *x,
                      const double *gamma, const double *beta,
                      double *run_mean, double *run_var, double *save_mean,
                      double *save_invstd, double *y);
void ref_bn_fwd_eval(const sr_bn_desc *d, const double *x, const double *gamma,
                     const double *beta, const double *run_mean,
                     const double *run_var, double *y);
void ref_bn_bwd(const sr_bn_desc *d, const double *x, const double *dy,
                const double *gamma, const double *save_mean,
                const double *save_invstd, double *dx, double *dgamma,
                double *dbeta);

void ref_relu_fwd(size_t n, const double *x, double *y);
void ref_relu_bwd(size_t n, const double *y, const double *dy, double *dx);

/* Dropout: keep(i) = sr_rng_uniform(sr_rng_key(seed, stream, step), i) >= p */
int ref_dropout_keep(const sr_dropout_desc *d, uint32_t step, size_t i);
void ref_dropout_fwd(const sr_dropout_desc *d, uint32_t step, const double *x,
                     double *y);
void ref_dropout_bwd(const sr_dropout_desc *d, uint32_t step,
                     const double *dy, double *dx);

int ref_pool_out_h(const sr_pool_desc *d);
int ref_pool_out_w(const sr_pool_desc *d);
void ref_maxpool_fwd(const sr_pool_desc *d, const double *x, double *y,
                     uint32_t *idx);
void ref_maxpool_bwd(const sr_pool_desc *d, const double *dy,
                     const uint32_t *idx, double *dx);

void ref_avgpool_fwd(const sr_avgpool_desc *d, const double *x, double *y);
void ref_avgpool_bwd(const sr_avgpool_desc *d, const double *dy, double *dx);

/* Mean softmax cross-entropy; dlogits = (softmax - onehot) / n. */
double ref_softmax_xent(int n, int classes, const double *logits,
                        const uint32_t *labels, double *dlogits);
/* With label smoothing eps, from the definition: the mean over rows of
 * -sum_j t_j log softmax_j with t = (1 - eps) onehot + eps / classes;
 * dlogits = (softmax - t) / n. */
double ref_softmax_xent_smooth(int n, int classes, double eps,
                               const double *logits, const uint32_t *labels,
                               double *dlogits);
uint32_t ref_top1_count(int n, int classes, const double *logits,
                        const uint32_t *labels);

/* v = momentum v + (g + wd w); w -= lr v */
void ref_sgd(const sr_sgd_desc *d, double lr, double *w, const double *g,
             double *v);
/* With the gradient scaled by gscale first and d->nesterov:
 * w -= lr ((gscale g + wd w) + momentum v) after the momentum update. */
void ref_sgd_scaled(const sr_sgd_desc *d, double lr, double gscale, double *w,
                    const double *g, double *v);

/* Weight quantizers (one layer tensor) and activation quantizer, with STE
 * backward. DoReFa backward includes the path through M = max|tanh w| to the
 * first arg-max of |tanh w|. */
void ref_dorefa_w_fwd(size_t n, int bits, const double *w, double *wq);
void ref_dorefa_w_bwd(size_t n, int bits, const double *w, const double *dwq,
                      double *dw);
/* The pre-round value (2^b - 1) x of element i (for boundary detection). */
void ref_dorefa_w_preround(size_t n, int bits, const double *w, double *pre);
void ref_wrpn_w_fwd(size_t n, int bits, const double *w, double *wq);
void ref_wrpn_w_bwd(size_t n, int bits, const double *w, const double *dwq,
                    double *dw);
void ref_actq_fwd(size_t n, int bits, const double *x, double *y);
void ref_actq_bwd(size_t n, int bits, const double *x, const double *dy,
                  double *dx);

/* SinReQ (either domain, d->domain): returns value; dw += coef d value / dw.
 * dw may be NULL. */
void ref_sinreq_period(sr_quantizer q, int bits, double *period,
                       double *shift);
double ref_sinreq(const sr_sinreq_desc *d, double coef, const double *w,
                  double *dw);
/* WaveQ: returns value (no lambda); dw += ..., *dbeta += ... (either may
 * be NULL). */
double ref_waveq(const sr_waveq_desc *d, double coef_w, double coef_beta,
                 const double *w, double beta, double *dw, double *dbeta);

double ref_mean_abs_diff(size_t n, const double *a, const double *b);

#endif
