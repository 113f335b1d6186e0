/* sinreq: quantization plans, regularizer schedules, WaveQ bookkeeping
 * (src/quant). docs/method.md: Quantizers, SinReQ,
 * Lambda schedules, WaveQ, Open choices.
 *
 * This module is policy: which layers are quantized and at how many bits,
 * how lambda moves with the step, how WaveQ's learned bitwidth becomes an
 * integer. The mechanism (the ops a quantized layer runs) is in
 * sr_quant_emit_*, which src/nn calls while it records a step. Nothing here
 * knows about graphs: src/nn hands over the list of conv/linear layers.
 *
 * Per quantized layer l, one training step runs
 *   forward:   Wq = Q(W)                 (sr_dorefa_w_fwd / sr_wrpn_w_fwd)
 *              E_l = mean |W - Wq|       (metric)
 *   backward:  dWq = layer's weight gradient, computed with Wq
 *              dW  = dQ/dW^T dWq          (sr_dorefa_w_bwd / sr_wrpn_w_bwd)
 *              dW += lambda dR_l/dW       (sr_sinreq; R_l is logged)
 *           or dW += WaveQ's dR/dW, dbeta_l += dR/dbeta_l (sr_waveq)
 * and the optimizer then updates the shadow weights W (and WaveQ's beta).
 *
 * Layers not quantized stay float32 and get no regularizer.
 */
#ifndef SINREQ_QUANT_H
#define SINREQ_QUANT_H

#include <stddef.h>

#include "sinreq/backend.h"

typedef enum sr_quant_reg {
    SR_QUANT_REG_NONE = 0,  /* plain quantized training (the baselines) */
    SR_QUANT_REG_SINREQ,    /* SinReQ, fixed per-layer bits */
    SR_QUANT_REG_WAVEQ      /* WaveQ, learned per-layer bitwidth beta */
} sr_quant_reg;

/* How a layer's regularizer is normalised (docs/method.md, Normalisation). */
typedef enum sr_quant_norm {
    SR_QUANT_NORM_LAYER_MEAN = 0, /* mean over the layer, summed over layers
                                     (authors' code; the default) */
    SR_QUANT_NORM_GLOBAL          /* sum over all quantized weights divided
                                     by their total number */
} sr_quant_norm;

/* A per-layer override, matched by layer name ("conv1", "features.0",
 * "layer3.1.conv2", "fc"). A field at its "keep" value leaves the global
 * setting alone. */
typedef struct sr_quant_override {
    const char *layer;
    int quantize;   /* -1 keep, 0 full precision, 1 quantized */
    int bits;       /* 0 keep, else the layer's weight bits */
    int act_bits;   /* -1 keep, 0 float activations, else input bits */
} sr_quant_override;

typedef struct sr_quant_opts {
    sr_quantizer quantizer;   /* SR_QUANT_NONE: every layer float32 */
    int bits;                 /* weight bits of quantized layers */
    int act_bits;             /* 0: float activations (authors' configs) */
    sr_quant_reg reg;
    sr_quant_norm norm;
    /* SinReQ's domain for DoReFa (docs/method.md, SinReQ): W (authors'
     * default) or X, DoReFa's rounding variable. X with WRPN or WaveQ is
     * an error: neither has a rounding variable other than W. */
    sr_sinreq_domain sinreq_domain;
    float beta_init;          /* WaveQ's initial beta; 0 means 8 */
    /* 1: quantize every conv/linear; 0: keep the first conv and the last
     * linear in float32; -1: the network's own rule (authors': first conv
     * and last FC full precision except for cifar10net and svhnnet). */
    int quantize_ends;
    const sr_quant_override *overrides;
    int n_overrides;
    /* 1: the weights loaded later already are Q(W) (a decoded export):
     * quantized layers keep their plan, activation bits included, but
     * multiply W as stored. Evaluation only. */
    int weights_quantized;
} sr_quant_opts;

/* The defaults: no quantization, 4 bits, layer-mean SinReQ on W, beta 8,
 * the network's own end rule. */
void sr_quant_opts_default(sr_quant_opts *o);

/* One conv/linear layer as src/nn describes it to the planner. */
typedef struct sr_quant_target {
    const char *name;
    size_t numel;     /* weight elements */
    int is_first;     /* the conv that reads the network input */
    int is_last;      /* the linear that produces the logits */
} sr_quant_target;

/* The resolved setting of one layer. */
typedef struct sr_quant_layer {
    int quantized;
    sr_quantizer quantizer;   /* NONE when !quantized */
    int bits;                 /* weight bits, 0 when !quantized */
    int act_bits;             /* input bits, 0 = float */
    sr_sinreq_domain domain;  /* SinReQ's domain (W when !quantized) */
} sr_quant_layer;

/* Resolve opts over the network's layers: default rule, then overrides in
 * order. ends_fp_default is the network's own rule (1: keep the ends in
 * float32). Checks every bitwidth (DoReFa 1..16, WRPN 2..16, activations
 * 1..16) and every override name; an unknown name's error lists the valid
 * ones. Activation bits on the layer that reads the network input are
 * ignored: images are normalised, not in [0, 1], and clamping them would
 * destroy them. out has n entries. */
sr_status sr_quant_resolve(const sr_quant_opts *o, int ends_fp_default,
                           const sr_quant_target *layers, int n,
                           sr_quant_layer *out);

/* ---- Schedules: host-side functions of the step t out of T ---- */

typedef enum sr_quant_sched_kind {
    SR_SCHED_CONST = 0, /* lambda_max from the first step */
    SR_SCHED_TANH,      /* lambda_max (1 + tanh((t - start T) / width)) / 2 */
    SR_SCHED_LINEAR     /* 0 until start T, linear up to lambda_max at end T */
} sr_quant_sched_kind;

typedef struct sr_quant_sched {
    sr_quant_sched_kind kind;
    float lambda_max;
    float start;  /* fraction of T; tanh: centre (paper: 0.2); linear: begin */
    float end;    /* linear: fraction of T where lambda_max is reached */
    float width;  /* tanh: s in steps; <= 0 means 0.05 T */
} sr_quant_sched;

/* Parse "const", "tanh", "linear" (case-insensitive). */
sr_status sr_quant_sched_parse(const char *s, sr_quant_sched_kind *out);
/* lambda(t). t < 0 gives 0 for the delayed kinds; T must be > 0. */
float sr_quant_lambda(const sr_quant_sched *s, long t, long T);

/* WaveQ's coefficient schedules (docs/method.md, WaveQ):
 *   lambda_w(t)    = scale (1 + tanh((t - 0.2 T) / s)) / 2
 *   lambda_beta(t) = c (f1(t) - f2(t)),  f1 = the step above without scale,
 *                    f2 the same step centred at 0.8 T
 * giving the three phases: plain training, weights and bitwidths learned
 * together, bitwidths frozen (lambda_beta back to 0; also set the beta
 * learning rate to 0 then, see sr_quant_waveq_beta_lr). */
typedef struct sr_quant_waveq_sched {
    float scale;     /* lambda_w's maximum, default 1 */
    float c;         /* lambda_beta's scale, 0.02..0.04; 0.1 collapses beta */
    float start;     /* 0.2 */
    float stop;      /* 0.8 */
    float width;     /* s in steps; <= 0 means 0.05 T */
    float beta_lr;   /* learning rate of the betas' SGD (no momentum/decay) */
} sr_quant_waveq_sched;
void sr_quant_waveq_sched_default(sr_quant_waveq_sched *s);
void sr_quant_waveq_coefs(const sr_quant_waveq_sched *s, long t, long T,
                          float *lambda_w, float *lambda_beta);
/* beta_lr during the first two phases, 0 once t >= stop T (frozen). */
float sr_quant_waveq_beta_lr(const sr_quant_waveq_sched *s, long t, long T);

/* The integer bitwidth a learned beta becomes: ceil(beta), clamped to the
 * quantizer's range (DoReFa [1, 16], WRPN [2, 16]). Rounding up never gives
 * a layer fewer levels than the 2^beta - 1 steps the regularizer trained it
 * for (beta = 3.2 keeps 4 bits, not 3). */
int sr_quant_waveq_bits(float beta, sr_quantizer q);

/* ---- Mechanism: the ops of one quantized layer (called by src/nn) ---- */

/* Wq = Q(W) over n weights; err (may be SR_NONE) gets mean|W - Wq|. */
sr_status sr_quant_emit_fwd(sr_backend *be, const sr_quant_layer *q, size_t n,
                            sr_view w, sr_view wq, sr_view err);
/* dW = STE/quantizer backward of dWq (overwrites dW). */
sr_status sr_quant_emit_bwd(sr_backend *be, const sr_quant_layer *q, size_t n,
                            sr_view w, sr_view dwq, sr_view dw);

/* The regularizer of one layer, added to dW. divisor: n (layer mean) or
 * the total number of quantized weights (global). value gets R_l.
 * SinReQ reads lambda from lambda_slot; WaveQ reads its coefficients from
 * wq_w_slot and wq_beta_slot and adds to dbeta (one float). */
typedef struct sr_quant_reg_args {
    sr_quant_reg reg;
    float divisor;
    int lambda_slot, wq_w_slot, wq_beta_slot;
    sr_view beta, dbeta;   /* WaveQ only */
} sr_quant_reg_args;
sr_status sr_quant_emit_reg(sr_backend *be, const sr_quant_layer *q, size_t n,
                            const sr_quant_reg_args *a, sr_view w, sr_view dw,
                            sr_view value);

const char *sr_quant_quantizer_name(sr_quantizer q); /* "none" "dorefa" "wrpn" */
sr_status sr_quant_quantizer_parse(const char *s, sr_quantizer *out);
const char *sr_quant_reg_name(sr_quant_reg r);      /* "none" "sinreq" "waveq" */
sr_status sr_quant_reg_parse(const char *s, sr_quant_reg *out);
sr_status sr_quant_norm_parse(const char *s, sr_quant_norm *out); /* "layer", "global" */
const char *sr_quant_domain_name(sr_sinreq_domain d); /* "w" "x" */
sr_status sr_quant_domain_parse(const char *s, sr_sinreq_domain *out);

#endif
