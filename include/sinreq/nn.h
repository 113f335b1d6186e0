/* sinreq: static layer graph, parameter slabs, training step (src/nn).
 *
 * Life of a network
 *   sr_nn_create()          empty graph for a batch size and input C,H,W
 *   sr_nn_conv2d() ...      add layers; shapes are inferred as they go
 *   sr_nn_set_output()      mark the logits; the graph is complete
 *   sr_nn_set_quant()       optional: per-layer quantization plan
 *   sr_nn_alloc()           buffers on a backend, parameters initialised
 *   sr_nn_set_batch()       upload images and labels
 *   sr_nn_set_scalars()     per-step values (learning rate, lambda, ...)
 *   sr_nn_train_step()      forward, loss, backward, SGD as backend ops
 *   sr_nn_read_stats()      loss and top-1 count of the step
 * src/models builds the paper's networks with these calls.
 *
 * Builder calls take and return tensor ids (ints). They are "sticky": after
 * the first error every later call does nothing and returns -1, and
 * sr_nn_status() (also returned by sr_nn_set_output) gives the first error,
 * so a model builder checks once at the end.
 *
 * Capture and replay. sr_nn_train_step / sr_nn_eval_step only emit backend
 * ops (no host reads or writes), so a step can be recorded once between
 * sr_backend_begin_capture and sr_backend_end_capture and replayed with
 * sr_program_run; everything that changes per step goes through the scalar
 * slots below (set them with sr_nn_set_scalars before each run). Changing
 * a layer's bits (sr_nn_set_layer_bits) needs a new capture.
 *
 * Memory
 *   Parameters (weights, biases, BN gamma/beta) live in one slab, or several
 *   when one would exceed max_slab_words (lavapipe: 128 MiB per buffer); a
 *   tensor never straddles two slabs. The slab is laid out in REVERSE layer
 *   order (the logits layer first), the order backward produces gradients,
 *   so a gradient bucket is a contiguous prefix. Gradients and momentum use
 *   identical slabs with identical offsets, so SGD is one op per slab.
 *   BN running statistics are in a separate state buffer (not trained).
 *   Activations are kept for backward (in-place ReLU where its input has no
 *   other reader; flatten is a view); activation gradients share buffers by
 *   liveness over the backward pass.
 *
 * Weight decay follows PyTorch's SGD: applied to every trainable tensor,
 * BN gamma/beta and biases included, unless decay_bn_bias = 0.
 */
#ifndef SINREQ_NN_H
#define SINREQ_NN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sinreq/backend.h"
#include "sinreq/quant.h"
#include "sinreq/status.h"

/* Scalar slots read by the ops of a step (sr_backend_set_scalar_*).
 * Slots 0..7 belong to src/nn; other modules use 8 and up. */
enum {
    SR_NN_SLOT_LR = 0,        /* float: SGD learning rate */
    SR_NN_SLOT_STEP = 1,      /* uint32: step, keys dropout's RNG */
    SR_NN_SLOT_LAMBDA = 2,    /* float: SinReQ lambda(t) */
    SR_NN_SLOT_WAVEQ_W = 3,   /* float: WaveQ lambda_w(t) */
    SR_NN_SLOT_WAVEQ_BETA = 4,/* float: WaveQ lambda_beta(t) */
    SR_NN_SLOT_BETA_LR = 5,   /* float: WaveQ beta learning rate */
    SR_NN_SLOT_GRAD_SCALE = 6,/* float: gradient scale (clip_grad_norm) */
    SR_NN_SLOTS_USED = 8
};

typedef struct sr_nn sr_nn;

typedef enum sr_nn_kind {
    SR_NN_CONV2D = 0,
    SR_NN_LINEAR,
    SR_NN_BATCHNORM,
    SR_NN_RELU,
    SR_NN_DROPOUT,
    SR_NN_MAXPOOL,
    SR_NN_AVGPOOL,   /* adaptive average pool */
    SR_NN_ADD,       /* residual add */
    SR_NN_FLATTEN
} sr_nn_kind;

/* ---- Building ---- */

/* name: the network's name for messages ("alexnet"); input_hint: what input
 * it expects, appended to shape errors ("3x224x224"), may be NULL. */
sr_status sr_nn_create(const char *name, int batch, int c, int h, int w,
                       const char *input_hint, sr_nn **out);
void sr_nn_free(sr_nn *net);

int sr_nn_input(const sr_nn *net);  /* tensor id of the images */
/* Each returns the output tensor id, or -1 after an error. Layer names are
 * PyTorch module paths; parameters are named "<layer>.weight" etc. */
int sr_nn_conv2d(sr_nn *net, const char *name, int in, int out_c, int kernel,
                 int stride, int pad, int bias);
/* Depthwise convolution (PyTorch's Conv2d with groups = in_channels =
 * out_channels): a conv2d layer whose weight is [c][1][kernel][kernel],
 * quantized and regularized like any conv2d. */
int sr_nn_dwconv2d(sr_nn *net, const char *name, int in, int kernel,
                   int stride, int pad, int bias);
int sr_nn_linear(sr_nn *net, const char *name, int in, int in_features,
                 int out_features, int bias);
int sr_nn_batchnorm(sr_nn *net, const char *name, int in);
int sr_nn_relu(sr_nn *net, const char *name, int in);
int sr_nn_dropout(sr_nn *net, const char *name, int in, float p);
int sr_nn_maxpool(sr_nn *net, const char *name, int in, int kernel,
                  int stride, int pad);
int sr_nn_avgpool(sr_nn *net, const char *name, int in, int out_h, int out_w);
int sr_nn_add(sr_nn *net, const char *name, int a, int b);
int sr_nn_flatten(sr_nn *net, const char *name, int in);

/* Mark the logits tensor (must be [batch][classes]); completes the graph.
 * ends_fp: the network's own quantization rule (1: first conv and last
 * linear stay float32). Returns the first builder error, if any. */
sr_status sr_nn_set_output(sr_nn *net, int logits, int ends_fp);
sr_status sr_nn_status(const sr_nn *net);

/* ---- Introspection (valid once built, before or after alloc) ---- */

typedef enum sr_nn_role {
    SR_NN_WEIGHT = 0, SR_NN_BIAS, SR_NN_BN_WEIGHT, SR_NN_BN_BIAS,
    SR_NN_RUNNING_MEAN, SR_NN_RUNNING_VAR    /* state, not trained */
} sr_nn_role;

typedef struct sr_nn_tensor_info {
    const char *name;   /* "layer3.1.conv2.weight", "bn1.running_mean" */
    int layer;          /* owning layer index */
    sr_nn_role role;
    int trainable;      /* 0 for running statistics */
    int ndim, dims[4];  /* PyTorch shape: KCRS, [out][in], [c] */
    size_t numel;
    int slab;           /* trainable: slab index; state: -1 */
    size_t off;         /* words into its slab (or into the state buffer);
                           valid after sr_nn_alloc */
} sr_nn_tensor_info;

/* In PyTorch's state_dict order (layer order, weight before bias, then
 * running_mean, running_var). */
int sr_nn_tensor_count(const sr_nn *net);
const sr_nn_tensor_info *sr_nn_tensor(const sr_nn *net, int i);
int sr_nn_find_tensor(const sr_nn *net, const char *name); /* -1: none */
size_t sr_nn_param_count(const sr_nn *net);  /* trainable elements */

typedef struct sr_nn_layer_info {
    const char *name;
    sr_nn_kind kind;
    int out_c, out_h, out_w;  /* output per sample (linear: out, 1, 1) */
    int qidx;                 /* index among quantized layers, or -1 */
    sr_quant_layer quant;     /* conv/linear; zeroed for other kinds */
    size_t weight_numel;      /* conv/linear, else 0 */
} sr_nn_layer_info;
int sr_nn_layer_count(const sr_nn *net);
/* A layer's place in the graph and its operator's parameters, for
 * writing the network out in another format (src/train/graph_json.c). */
typedef struct sr_nn_layer_graph {
    int nin, in[2];     /* producing layer of each input; -1: the images */
    int kernel, stride, pad;  /* conv, maxpool */
    int bias;                 /* conv, linear */
    float p;                  /* dropout */
} sr_nn_layer_graph;
sr_status sr_nn_layer_graph_info(const sr_nn *net, int i,
                                 sr_nn_layer_graph *out);
/* The layer giving the logits (valid once built). */
int sr_nn_output_layer(const sr_nn *net);
sr_status sr_nn_layer(const sr_nn *net, int i, sr_nn_layer_info *out);
int sr_nn_find_layer(const sr_nn *net, const char *name);
int sr_nn_batch(const sr_nn *net);
int sr_nn_classes(const sr_nn *net);
const char *sr_nn_name(const sr_nn *net);
/* The text of the network file the graph was built from (NULL for a
 * built-in network): model and export files keep it, so that they can be
 * evaluated without the file. set copies text. */
sr_status sr_nn_set_source(sr_nn *net, const char *text);
const char *sr_nn_source(const sr_nn *net);
const char *sr_nn_kind_name(sr_nn_kind k);
/* A torchsummary-like table: layers, output shapes, parameters, bits. */
void sr_nn_print(const sr_nn *net, FILE *f);

/* ---- Quantization (before sr_nn_alloc) ---- */

/* Resolve the plan (sr_quant_resolve) over this net's conv/linear layers.
 * Without this call every layer is float32. */
sr_status sr_nn_set_quant(sr_nn *net, const sr_quant_opts *q);
/* A conv/linear layer's own rule (a network file's quantize:, bits:,
 * act_bits: on the layer; fields as sr_quant_override: -1 / 0 keep), set
 * before sr_nn_set_quant. sr_nn_set_quant applies the rules after the
 * default plan and before the caller's overrides, so a run's per-layer
 * settings still win; with no quantizer they are ignored. */
sr_status sr_nn_set_layer_rule(sr_nn *net, const char *layer, int quantize,
                               int bits, int act_bits);
int sr_nn_quant_count(const sr_nn *net);       /* quantized layers */
size_t sr_nn_quant_numel(const sr_nn *net);    /* their weights, total */
/* After alloc, e.g. WaveQ's ceil(beta) at a phase change. Invalidates any
 * captured step: capture again. */
sr_status sr_nn_set_layer_bits(sr_nn *net, int qidx, int bits);

/* ---- Allocation ---- */

typedef struct sr_nn_opts {
    uint32_t seed;          /* initialisation and dropout masks */
    float momentum;         /* 0.9 */
    float weight_decay;     /* 1e-4 */
    int decay_bn_bias;      /* 1 (PyTorch): decay every trainable tensor */
    float bn_eps;           /* 1e-5 */
    float bn_momentum;      /* 0.1 */
    size_t max_slab_words;  /* 0: 32 Mi words (128 MiB) */
    int nesterov;           /* 0: PyTorch's SGD(nesterov=True) when 1 */
    float label_smoothing;  /* 0: training loss's eps (eval loss: plain) */
    int grad_scale;         /* 0: when 1, SGD scales the parameters'
                               gradients by SR_NN_SLOT_GRAD_SCALE
                               (sr_nn_set_grad_scale; clipping) */
} sr_nn_opts;
void sr_nn_opts_default(sr_nn_opts *o);

/* Allocate every buffer on be and initialise the parameters as PyTorch
 * does by default (conv/linear weight and bias ~ U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), i.e. kaiming_uniform(a = sqrt 5); BN gamma 1, beta 0,
 * running mean 0, var 1; momentum 0; WaveQ betas at beta_init), drawn from
 * the counter RNG keyed by (seed, tensor index), so the same seed gives the
 * same network on every backend. */
sr_status sr_nn_alloc(sr_nn *net, sr_backend *be, const sr_nn_opts *o);
/* Re-draw the initial parameters (and zero momentum) with another seed. */
sr_status sr_nn_init_params(sr_nn *net, uint32_t seed);

/* ---- Data and per-step values ---- */

/* Upload batch x [batch][c][h][w] float and labels [batch] (either may be
 * NULL to keep the previous one). Not part of a captured program. */
sr_status sr_nn_set_batch(sr_nn *net, const float *x, const uint32_t *labels);
sr_buf *sr_nn_input_buf(sr_nn *net);
sr_buf *sr_nn_label_buf(sr_nn *net);

typedef struct sr_nn_scalars {
    float lr;
    uint32_t step;
    float lambda;        /* SinReQ */
    float waveq_w;       /* WaveQ lambda_w */
    float waveq_beta;    /* WaveQ lambda_beta */
    float beta_lr;       /* WaveQ betas' learning rate */
} sr_nn_scalars;
sr_status sr_nn_set_scalars(sr_nn *net, const sr_nn_scalars *s);

/* ---- A step: emits backend ops only (capturable) ---- */

/* Forward (train mode: batch-statistics BN, dropout on), loss and top-1,
 * backward with quantizer STE and the regularizer, SGD on every trainable
 * tensor (and WaveQ's betas). */
sr_status sr_nn_train_step(sr_nn *net);
/* The parts, for tests and for a trainer that averages gradients between
 * backward and update (MPI): */
sr_status sr_nn_forward(sr_nn *net, int train);
sr_status sr_nn_loss(sr_nn *net, int n_valid);  /* xent + top-1, first rows */
sr_status sr_nn_backward(sr_nn *net);           /* needs sr_nn_loss first */
sr_status sr_nn_update(sr_nn *net);
/* Gradient clipping by global norm (opts.grad_scale): the sum of squares
 * of every parameter gradient (betas excluded), read to the host and summed
 * in slab order in double (the same on every backend and thread count), and
 * the scale the next sr_nn_update applies. */
sr_status sr_nn_grad_sumsq(sr_nn *net, double *sumsq);
sr_status sr_nn_set_grad_scale(sr_nn *net, float scale);

/* Backward in segments, for a caller that uses gradients while backward
 * goes on (gradient averaging overlapped with backward, src/train):
 *   sr_nn_backward_begin(net)      a new pass (after sr_nn_loss)
 *   sr_nn_backward_until(net, l)   backward of the layers not yet done,
 *                                  down to layer l included; l decreasing
 *                                  from call to call, the last one 0
 * sr_nn_backward is begin + until(0). The segments emit exactly the ops of
 * sr_nn_backward in the same order (identical results), so each may be
 * captured into a program of its own and the programs run in turn. */
sr_status sr_nn_backward_begin(sr_nn *net);
sr_status sr_nn_backward_until(sr_nn *net, int layer);
/* How many gradient words are final once backward has run down to layer l
 * (after sr_nn_alloc; 0 for l >= layer count): a prefix of the slabs laid
 * end to end (slab 0's words, then slab 1's, ...). Slabs hold tensors in
 * reverse layer order, and a parameter belongs to one layer whose backward
 * alone writes its gradient (the regularizer's term included), so the
 * prefix is every trainable tensor of layers l..last. */
size_t sr_nn_grad_final_words(const sr_nn *net, int layer);
/* Eval-mode forward + loss + top-1 over the first n_valid rows (pad the
 * last partial batch; 0 means the whole batch). */
sr_status sr_nn_eval_step(sr_nn *net, int n_valid);

/* ---- Reading results (host, waits for the device) ---- */

/* loss (mean over the rows counted) and correct rows; either may be NULL. */
sr_status sr_nn_read_stats(sr_nn *net, float *loss, uint32_t *correct);
/* Per quantized layer, in layer order: R_l (SinReQ's or WaveQ's value, as
 * the mean over the layer's weights whatever the normalisation; under
 * global normalisation the loss term is R_l n_l / N), mean |W - Q(W)|
 * (train steps only). Arrays of sr_nn_quant_count(). */
sr_status sr_nn_read_quant_metrics(sr_nn *net, float *reg, float *qerr);
/* WaveQ betas, per quantized layer. */
sr_status sr_nn_read_betas(sr_nn *net, float *beta);
sr_status sr_nn_write_betas(sr_nn *net, const float *beta);

/* Tensor i's values / gradients (tensor table index); numel floats.
 * Gradients exist for trainable tensors only. */
sr_status sr_nn_read_tensor(sr_nn *net, int i, float *dst);
sr_status sr_nn_write_tensor(sr_nn *net, int i, const float *src);
sr_status sr_nn_read_grad(sr_nn *net, int i, float *dst);
/* Quantized weights Wq of quantized layer qidx (as of the last forward). */
sr_status sr_nn_read_wq(sr_nn *net, int qidx, float *dst);
/* The logits of the last forward, [batch][classes]. */
sr_status sr_nn_read_logits(sr_nn *net, float *dst);

/* Slabs, for gradient averaging and checkpoints. */
int sr_nn_slab_count(const sr_nn *net);
sr_status sr_nn_slab(sr_nn *net, int i, sr_buf **param, sr_buf **grad,
                     sr_buf **momentum, size_t *words);
sr_buf *sr_nn_state_buf(sr_nn *net, size_t *words);

#endif
