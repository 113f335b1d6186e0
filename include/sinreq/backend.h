/* sinreq: the compute backend interface (src/backend).
 *
 * One op table, several implementations: "cpu" (reference + fast path, the
 * oracle every other backend is tested against) and "vulkan" (GLSL compute
 * shaders on any Vulkan 1.2+ driver, Mesa's lavapipe on CPU-only nodes).
 *
 * Memory model
 *   An sr_buf is a device buffer of 32-bit words (float32, or uint32 for
 *   labels, pool indices and counters). Ops address memory through sr_view
 *   (buffer + word offset), so many tensors can live in one slab.
 *   All layouts are dense and row-major: images NCHW, conv weights KCRS
 *   (out, in, kh, kw), linear weights [out][in], logits [n][classes].
 *
 * Execution model
 *   sr_<op>() validates its arguments here, in the backend-independent layer
 *   (so every backend rejects bad input identically, with a message), then
 *   either executes it (CPU: now; Vulkan: recorded into the open command
 *   buffer, submitted at sr_backend_sync/sr_buf_read) or, between
 *   sr_backend_begin_capture and sr_backend_end_capture, appends it to a
 *   program. A program is a static op list the backend prepares once (Vulkan
 *   records one command buffer) and sr_program_run replays every step.
 *   Ops run in call order; each op sees the results of the previous ones.
 *
 *   Values that change between replays (learning rate, lambda, the step used
 *   to key dropout's RNG) are not baked into the program: ops read them from
 *   "scalar slots", a small per-backend array set with sr_backend_set_scalar*
 *   before each run. Each op documents which slot fields it reads.
 *
 * Results overwrite their outputs unless an op says it accumulates ("+=").
 * Flatten is not an op: NCHW is already [n][c*h*w].
 */
#ifndef SINREQ_BACKEND_H
#define SINREQ_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

typedef struct sr_backend sr_backend;
typedef struct sr_buf sr_buf;
typedef struct sr_program sr_program;

/* Where a buffer lives; lets a backend keep separate pools (weights are
 * long-lived, activations are reused, staging is host-visible). */
typedef enum sr_pool {
    SR_POOL_WEIGHTS = 0,
    SR_POOL_ACTIVATIONS,
    SR_POOL_STAGING,
    SR_POOL_COUNT
} sr_pool;

typedef struct sr_view {
    sr_buf *buf;
    size_t off;   /* in 32-bit words */
} sr_view;

static inline sr_view sr_at(sr_buf *buf, size_t off)
{
    sr_view v = {buf, off};
    return v;
}
#define SR_NONE ((sr_view){0, 0}) /* an absent optional operand */

#define SR_SCALAR_SLOTS 64
#define SR_MIN_BITS 1    /* 1-bit DoReFa/activations are defined; WRPN needs 2 */
#define SR_MAX_BITS 16
/* CPU worker threads: more is refused (each costs a stack; far more than
 * the cores only slows the step, and libgomp crashes when it runs out of
 * address space) */
#define SR_MAX_THREADS 1024

/* ------------------------------------------------------------------ */
/* Backend lifecycle                                                   */

typedef struct sr_backend_opts {
    /* Vulkan: device index or case-insensitive substring of its name, or
     * NULL to pick the best (discrete GPU, then integrated, then virtual,
     * then CPU/lavapipe). Overridden by env SINREQ_VK_DEVICE. */
    const char *device;
    int validation;  /* Vulkan: enable VK_LAYER_KHRONOS_validation; any
                        message then makes the next call fail (tests) */
    int threads;     /* CPU: worker threads, 0 = OpenMP default */
    int verbose;     /* print the chosen device to stderr */
} sr_backend_opts;

/* name: "cpu" or "vulkan". Unknown names and a missing Vulkan driver give an
 * error naming what to do (e.g. which Debian package to install). */
sr_status sr_backend_create(const char *name, const sr_backend_opts *opts,
                            sr_backend **out);
void sr_backend_free(sr_backend *be);
const char *sr_backend_name(const sr_backend *be);        /* "cpu", "vulkan" */
const char *sr_backend_device_name(const sr_backend *be); /* human-readable */

/* Lists devices (Vulkan) or the CPU, one line each, to `out` (a FILE*). */
sr_status sr_backend_list_devices(const char *name, void *out);

/* CPU backend: the convolution kernel set this machine runs ("avx512",
 * "avx2", "generic"; SINREQ_CPU_ISA picks a lower one, SINREQ_CPU_CONV=gemm
 * the older im2col + SGEMM path, named "im2col+sgemm"), and the FP32 peak
 * of that set measured by an FMA loop on `threads` threads for about
 * `seconds` (GFLOP/s; benchmarks report their rates as fractions of it),
 * timed by the wall clock or, with cpu_time, by the process's CPU time
 * divided by `threads` (a machine shared with other jobs). */
const char *sr_cpu_kernel_set(void);
double sr_cpu_measure_peak(int threads, double seconds, int cpu_time);

/* Wait until every recorded/queued op has finished. Also reports a Vulkan
 * validation message (when validation is on) as SR_E_DEVICE. */
sr_status sr_backend_sync(sr_backend *be);

sr_status sr_backend_set_scalar_f(sr_backend *be, int slot, float value);
sr_status sr_backend_set_scalar_u(sr_backend *be, int slot, uint32_t value);

/* ------------------------------------------------------------------ */
/* Buffers                                                             */

sr_status sr_buf_alloc(sr_backend *be, sr_pool pool, size_t words,
                       sr_buf **out);
void sr_buf_free(sr_backend *be, sr_buf *buf);
size_t sr_buf_words(const sr_buf *buf);
/* Copy host words in/out. write is ordered with ops; read waits for them. */
sr_status sr_buf_write(sr_backend *be, sr_buf *buf, size_t off, size_t words,
                       const void *src);
sr_status sr_buf_read(sr_backend *be, sr_buf *buf, size_t off, size_t words,
                      void *dst);

/* ------------------------------------------------------------------ */
/* Capture and replay                                                  */

sr_status sr_backend_begin_capture(sr_backend *be);
sr_status sr_backend_end_capture(sr_backend *be, sr_program **out);
sr_status sr_program_run(sr_backend *be, sr_program *prog);
void sr_program_free(sr_backend *be, sr_program *prog);

/* ------------------------------------------------------------------ */
/* Ops. Shapes are validated; views are checked against buffer sizes.  */

/* Utility: dst[i] = value; dst[i] = src[i]; y[i] = a[i] + b[i]
 * (sr_add is the residual add and gradient accumulation; y may alias a). */
sr_status sr_fill(sr_backend *be, size_t n, float value, sr_view dst);
sr_status sr_copy(sr_backend *be, size_t n, sr_view src, sr_view dst);
sr_status sr_add(sr_backend *be, size_t n, sr_view a, sr_view b, sr_view y);
/* y[i] = max(a[i] + b[i], 0): a residual add and the ReLU after it in one
 * pass (bit-identical to sr_add then sr_relu_fwd); y may alias a. */
sr_status sr_add_relu(sr_backend *be, size_t n, sr_view a, sr_view b,
                      sr_view y);

/* Convolution. act_bits > 0 quantizes the input on read,
 * xq = round((2^b - 1) clamp(x, 0, 1)) / (2^b - 1), fused into the op
 * (no separate pass over activations); backward then applies the STE mask
 * (dx = 0 where x is outside [0, 1]) inside bwd_data and uses xq in
 * bwd_weight. The weight operand is whatever the caller wants multiplied:
 * the quantized Wq for a quantized layer. */
typedef struct sr_conv2d_desc {
    int n, c, h, w;   /* input */
    int k;            /* output channels */
    int kh, kw;       /* kernel 1..11 */
    int stride;       /* 1..4 */
    int pad;          /* >= 0, < kernel */
    int bias;         /* 0 or 1 */
    int act_bits;     /* 0 = off, else SR_MIN_BITS..SR_MAX_BITS */
} sr_conv2d_desc;
int sr_conv2d_out_h(const sr_conv2d_desc *d);
int sr_conv2d_out_w(const sr_conv2d_desc *d);
/* y[n,k,oh,ow] = b[k] + sum_{c,r,s} w[k,c,r,s] x[n,c,oh*st-pad+r,ow*st-pad+s] */
sr_status sr_conv2d_fwd(sr_backend *be, const sr_conv2d_desc *d, sr_view x,
                        sr_view w, sr_view b, sr_view y);
/* dx = conv^T(dy, w) (x needed only when act_bits > 0, for the STE mask) */
sr_status sr_conv2d_bwd_data(sr_backend *be, const sr_conv2d_desc *d,
                             sr_view dy, sr_view w, sr_view x, sr_view dx);
/* dw = sum_n dy (x) x ; db[k] = sum dy[:,k] (db ignored when !bias) */
sr_status sr_conv2d_bwd_weight(sr_backend *be, const sr_conv2d_desc *d,
                               sr_view x, sr_view dy, sr_view dw, sr_view db);

/* Depthwise convolution: each channel convolved with its own kh x kw
 * kernel (a grouped convolution with groups = c). Same descriptor as conv
 * with k == c; weights are [c][1][kh][kw] (PyTorch's layout for
 * groups = c); act_bits, bias and the operand order as conv.
 * y[n,c,oh,ow] = b[c] + sum_{r,s} w[c,r,s] x[n,c,oh*st-pad+r,ow*st-pad+s] */
sr_status sr_dwconv2d_fwd(sr_backend *be, const sr_conv2d_desc *d, sr_view x,
                          sr_view w, sr_view b, sr_view y);
sr_status sr_dwconv2d_bwd_data(sr_backend *be, const sr_conv2d_desc *d,
                               sr_view dy, sr_view w, sr_view x, sr_view dx);
/* dw[c,r,s] = sum_{n,oh,ow} dy x (overwrites); db[c] = sum dy[:,c] */
sr_status sr_dwconv2d_bwd_weight(sr_backend *be, const sr_conv2d_desc *d,
                                 sr_view x, sr_view dy, sr_view dw,
                                 sr_view db);

/* Linear: y[n][out] = x[n][in] . w[out][in] + b[out]; act_bits as conv. */
typedef struct sr_linear_desc {
    int n, in, out;
    int bias;
    int act_bits;
} sr_linear_desc;
sr_status sr_linear_fwd(sr_backend *be, const sr_linear_desc *d, sr_view x,
                        sr_view w, sr_view b, sr_view y);
sr_status sr_linear_bwd_data(sr_backend *be, const sr_linear_desc *d,
                             sr_view dy, sr_view w, sr_view x, sr_view dx);
sr_status sr_linear_bwd_weight(sr_backend *be, const sr_linear_desc *d,
                               sr_view x, sr_view dy, sr_view dw, sr_view db);

/* Batch norm over (n, hw) per channel c. Training uses batch statistics
 * (biased variance to normalise, unbiased to update the running variance,
 * as PyTorch): run = (1 - momentum) run + momentum batch. */
typedef struct sr_bn_desc {
    int n, c, hw;
    float eps;       /* e.g. 1e-5 */
    float momentum;  /* e.g. 0.1 */
    int relu;        /* 1: forward writes max(bn(x), 0), the ReLU that
                        follows fused into the same pass (bit-identical to
                        the two ops); backward is unchanged: it still takes
                        the gradient w.r.t. bn(x), from sr_relu_bwd */
} sr_bn_desc;
/* writes y, save_mean[c], save_invstd[c]; updates run_mean, run_var */
sr_status sr_bn_fwd_train(sr_backend *be, const sr_bn_desc *d, sr_view x,
                          sr_view gamma, sr_view beta, sr_view run_mean,
                          sr_view run_var, sr_view save_mean,
                          sr_view save_invstd, sr_view y);
sr_status sr_bn_fwd_eval(sr_backend *be, const sr_bn_desc *d, sr_view x,
                         sr_view gamma, sr_view beta, sr_view run_mean,
                         sr_view run_var, sr_view y);
/* writes dx, dgamma[c], dbeta[c] (training-mode backward) */
sr_status sr_bn_bwd(sr_backend *be, const sr_bn_desc *d, sr_view x,
                    sr_view dy, sr_view gamma, sr_view save_mean,
                    sr_view save_invstd, sr_view dx, sr_view dgamma,
                    sr_view dbeta);

/* ReLU: y = max(x, 0); dx = dy * (y > 0). y may alias x. */
sr_status sr_relu_fwd(sr_backend *be, size_t n, sr_view x, sr_view y);
sr_status sr_relu_bwd(sr_backend *be, size_t n, sr_view y, sr_view dy,
                      sr_view dx);

/* Dropout (inverted): keep element i with probability 1 - p, scale 1/(1-p).
 * The mask is sr_rng_uniform(sr_rng_key(seed, stream, step), i) >= p, where
 * step is read from scalar slot step_slot as uint32 at run time; backward
 * regenerates the same mask, so nothing is stored. */
typedef struct sr_dropout_desc {
    size_t n;
    float p;          /* [0, 1) */
    uint32_t seed;
    uint32_t stream;  /* e.g. layer index */
    int step_slot;
} sr_dropout_desc;
sr_status sr_dropout_fwd(sr_backend *be, const sr_dropout_desc *d, sr_view x,
                         sr_view y);
sr_status sr_dropout_bwd(sr_backend *be, const sr_dropout_desc *d, sr_view dy,
                         sr_view dx);

/* Max pool k x k, stride, pad (padding never wins). idx[n,c,oh,ow] (uint32)
 * is the flat h*w index of the max inside its (n,c) plane, first on ties.
 * Overlapping windows (AlexNet's 3/2) are supported. */
typedef struct sr_pool_desc {
    int n, c, h, w;
    int k, stride, pad;
} sr_pool_desc;
int sr_pool_out_h(const sr_pool_desc *d);
int sr_pool_out_w(const sr_pool_desc *d);
sr_status sr_maxpool_fwd(sr_backend *be, const sr_pool_desc *d, sr_view x,
                         sr_view y, sr_view idx);
sr_status sr_maxpool_bwd(sr_backend *be, const sr_pool_desc *d, sr_view dy,
                         sr_view idx, sr_view dx);

/* Adaptive average pool to oh x ow with PyTorch's bins
 * [floor(i h / oh), ceil((i + 1) h / oh)); oh = ow = 1 is global avgpool,
 * 6 x 6 is AlexNet's. */
typedef struct sr_avgpool_desc {
    int n, c, h, w;
    int oh, ow;
} sr_avgpool_desc;
sr_status sr_avgpool_fwd(sr_backend *be, const sr_avgpool_desc *d, sr_view x,
                         sr_view y);
sr_status sr_avgpool_bwd(sr_backend *be, const sr_avgpool_desc *d,
                         sr_view dy, sr_view dx);

/* Softmax cross-entropy, mean over the batch. labels: uint32[n] in
 * [0, classes). loss: 1 float. dlogits = (softmax - onehot) / n.
 * correct: 1 uint32, the number of rows whose arg-max (first on ties)
 * equals the label. */
sr_status sr_softmax_xent(sr_backend *be, int n, int classes, sr_view logits,
                          sr_view labels, sr_view loss, sr_view dlogits);
/* The same with label smoothing eps in [0, 1) (PyTorch's label_smoothing):
 * the target is t = (1 - eps) onehot + eps / classes, so a row's loss is
 * lse - (1 - eps) l[label] - eps mean_j l[j] and dlogits = (softmax - t) / n.
 * eps = 0 is sr_softmax_xent bit for bit. */
sr_status sr_softmax_xent_smooth(sr_backend *be, int n, int classes,
                                 float smoothing, sr_view logits,
                                 sr_view labels, sr_view loss,
                                 sr_view dlogits);
sr_status sr_top1_count(sr_backend *be, int n, int classes, sr_view logits,
                        sr_view labels, sr_view correct);

/* SGD with momentum and weight decay, PyTorch's form:
 * d = s g + weight_decay w; v = momentum v + d; w -= lr v, or with nesterov
 * w -= lr (d + momentum v). lr from lr_slot; s (gradient clipping) from
 * grad_scale_slot, or 1 when that is 0 (slot 0 is never a scale). */
typedef struct sr_sgd_desc {
    size_t n;
    float momentum;
    float weight_decay;
    int lr_slot;
    int nesterov;
    int grad_scale_slot;
} sr_sgd_desc;
sr_status sr_sgd(sr_backend *be, const sr_sgd_desc *d, sr_view w, sr_view g,
                 sr_view v);

/* ---- Quantizers (docs/method.md, Quantizers), weights are one layer tensor ---- */

/* DoReFa: t = tanh(w), M = max|t| over the n weights,
 * x = t / (2M) + 1/2, wq = 2 round((2^b-1) x)/(2^b-1) - 1.
 * Backward: STE on round only, gradient flows through tanh and through M
 * (to the first arg-max of |t|). w and wq must not alias. */
sr_status sr_dorefa_w_fwd(sr_backend *be, size_t n, int bits, sr_view w,
                          sr_view wq);
sr_status sr_dorefa_w_bwd(sr_backend *be, size_t n, int bits, sr_view w,
                          sr_view dwq, sr_view dw);
/* WRPN: wq = round((2^(b-1)-1) clamp(w,-1,1)) / (2^(b-1)-1), b >= 2;
 * dw = dwq * (|w| <= 1). */
sr_status sr_wrpn_w_fwd(sr_backend *be, size_t n, int bits, sr_view w,
                        sr_view wq);
sr_status sr_wrpn_w_bwd(sr_backend *be, size_t n, int bits, sr_view w,
                        sr_view dwq, sr_view dw);
/* k-bit activations on [0, 1]: y = round((2^b-1) clamp(x,0,1))/(2^b-1);
 * dx = dy * (0 <= x <= 1). */
sr_status sr_actq_fwd(sr_backend *be, size_t n, int bits, sr_view x,
                      sr_view y);
sr_status sr_actq_bwd(sr_backend *be, size_t n, int bits, sr_view x,
                      sr_view dy, sr_view dx);

/* ---- Regularizers (docs/method.md, SinReQ and WaveQ) ---- */

typedef enum sr_quantizer {
    SR_QUANT_NONE = 0,
    SR_QUANT_DOREFA,
    SR_QUANT_WRPN
} sr_quantizer;

/* Where SinReQ's minima sit for DoReFa (docs/method.md, SinReQ). */
typedef enum sr_sinreq_domain {
    SR_SINREQ_DOMAIN_W = 0, /* raw weights, at the positions of DoReFa's
                               levels (authors' choice; the only one WRPN
                               has) */
    SR_SINREQ_DOMAIN_X      /* DoReFa's rounding variable x: the minima are
                               exactly its rounding points */
} sr_sinreq_domain;

/* SinReQ on one layer's weights. Domain W (the raw weights):
 *   value = (1/divisor) sum_j sin^2(pi (w_j + s) / D)
 *   WRPN:   D = 1/(2^(b-1)-1), s = 0;  DoReFa: D = 2/(2^b-1), s = D/2
 *   dw += coef * d value / d w_j = coef (pi / (D divisor)) sin(2 pi (w_j+s)/D)
 * Domain X (DoReFa only): on x_j = t_j / (2M) + 1/2, t = tanh(w),
 * M = max|t| over the layer, L = 2^b - 1,
 *   value = (1/divisor) sum_j sin^2(pi L x_j)
 *   g_j   = coef (pi L / divisor) sin(2 pi L x_j)          (coef dvalue/dx_j)
 *   dw_j += g_j (1 - t_j^2) / (2M)
 *   dw_a += -sign(t_a) (1 - t_a^2) / (2M^2) sum_i g_i t_i  (through M; a =
 *           first arg-max of |t|, as sr_dorefa_w_bwd)
 * an all-zero layer (M = 0) has every x = 1/2 and gets no gradient. w and
 * dw must not alias there.
 * divisor = n gives the authors' per-layer mean; the total number of
 * quantized weights gives the global normalisation. coef (lambda) is read
 * from scalar slot coef_slot. value: 1 float, overwritten. */
typedef struct sr_sinreq_desc {
    size_t n;
    sr_quantizer quantizer;
    int bits;
    float divisor;
    int coef_slot;
    sr_sinreq_domain domain; /* last, so {n, q, bits, div, slot} means W */
} sr_sinreq_desc;
sr_status sr_sinreq(sr_backend *be, const sr_sinreq_desc *d, sr_view w,
                    sr_view dw, sr_view value);

/* WaveQ on one layer with learned bitwidth beta (1 float), m = 2^beta - 1:
 *   value  = (1/divisor) sum_j sin^2(pi w_j m) / 2^beta   (no lambda)
 *   dw    += coef_w (pi m / (2^beta divisor)) sin(2 pi w_j m)
 *   dbeta += coef_w ln2 (1/divisor) sum_j [pi w_j sin(2 pi w_j m)
 *                                         - sin^2(pi w_j m) / 2^beta]
 *            + coef_beta
 * coef_w = lambda_w(t), coef_beta = lambda_beta(t) from scalar slots. */
typedef struct sr_waveq_desc {
    size_t n;
    float divisor;
    int coef_w_slot;
    int coef_beta_slot;
} sr_waveq_desc;
sr_status sr_waveq(sr_backend *be, const sr_waveq_desc *d, sr_view w,
                   sr_view beta, sr_view dw, sr_view dbeta, sr_view value);

/* Mean quantization error (1/n) sum |w - wq|, 1 float (a logged metric). */
sr_status sr_mean_abs_diff(sr_backend *be, size_t n, sr_view a, sr_view b,
                           sr_view out);

#endif
