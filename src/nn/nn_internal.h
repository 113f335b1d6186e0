/* src/nn private structures, shared by graph.c (building), alloc.c
 * (memory plan, initialisation) and step.c (op emission). */
#ifndef SR_NN_INTERNAL_H
#define SR_NN_INTERNAL_H

#include "sinreq/nn.h"

#define NN_NAME_MAX 64
#define NN_MAX_PARAMS 4  /* weight, bias / gamma, beta */

/* An activation tensor: [batch][c][h][w]. act and grad index storage
 * (buffers); flatten's output and in-place ReLU share their input's act
 * storage, flatten its grad storage too. */
typedef struct nn_tensor {
    int c, h, w;
    size_t numel;     /* per batch, all samples */
    int producer;     /* layer index, -1 for the network input */
    int nconsumers;
    int act;          /* activation storage id (alloc.c) */
    int grad;         /* gradient storage id, -1: none (alloc.c) */
    int gbuf;         /* buffer holding that gradient (shared by liveness) */
    int rg;           /* needs a gradient (depends on a parameter) */
} nn_tensor;

typedef struct nn_layer {
    sr_nn_kind kind;
    char name[NN_NAME_MAX];
    int in[2], nin, out;
    /* conv / linear */
    int out_c, kernel, stride, pad, bias, in_features;
    int depthwise;     /* conv: one kernel per channel (weights c,1,k,k) */
    /* dropout */
    float p;
    /* avgpool */
    int oh, ow;
    /* tensor-table indices: params (weight, bias | gamma, beta), state
     * (running mean, var) */
    int param[NN_MAX_PARAMS], nparam;
    int state[2];
    sr_quant_layer q;
    sr_quant_override rule; /* the network's own rule (layer unset) */
    int has_rule;
    int qidx;          /* -1: not quantized */
    size_t bn_save;    /* BN: offset of save_mean (then save_invstd) */
    sr_buf *idx;       /* maxpool indices */
    /* BN / add: forward also applies the in-place ReLU that follows;
     * that ReLU layer then has relu_fused set and its forward is skipped
     * (its backward still runs) */
    int relu_fused;
} nn_layer;

typedef struct nn_tinfo {
    sr_nn_tensor_info pub;
    char name[NN_NAME_MAX + 16];
} nn_tinfo;

typedef struct nn_storage {
    size_t words;
    sr_buf *buf;
} nn_storage;

/* One quantized layer's device-side bookkeeping. */
typedef struct nn_qlayer {
    int layer;
    int slab;          /* wq slab */
    size_t wq_off;
} nn_qlayer;

struct sr_nn {
    char name[NN_NAME_MAX];
    char hint[64];
    char *source;       /* network file text, or NULL */
    int batch, in_c, in_h, in_w;
    sr_status status;   /* sticky builder error */
    int built, ends_fp, logits, classes;

    nn_layer *layers;
    int nlayers, cap_layers;
    nn_tensor *tensors;
    int ntensors, cap_tensors;
    nn_tinfo *tinfo;
    int ntinfo, cap_tinfo;

    /* quantization */
    int quant_set;
    sr_quant_opts qopts;       /* overrides pointer not kept */
    nn_qlayer *q;
    int nq;
    size_t q_numel;

    /* device side (alloc.c) */
    sr_backend *be;
    sr_nn_opts opts;
    int train_forward;         /* the last forward was in train mode */
    int nslabs;
    sr_buf **param, **grad, **mom;
    size_t *slab_words;
    int nwq;
    sr_buf **wq;                /* quantized weights, own slabs */
    sr_buf *state;              /* BN running stats */
    size_t state_words;
    sr_buf *bn_save;            /* BN save_mean / save_invstd */
    sr_buf *input, *labels;
    nn_storage *act, *gradst;   /* gradst: the gradient buffers */
    int nact, ngradst, ngrad;   /* ngrad: gradient storages */
    sr_buf *scratch;            /* gradient accumulation scratch */
    sr_buf *dwq;                /* dWq scratch, max quantized layer */
    sr_buf *metrics;            /* loss, correct, R[nq], E[nq] */
    sr_buf *beta;               /* WaveQ: beta[nq], dbeta[nq], vbeta[nq] */
    /* emission-time state for backward */
    unsigned char *written;     /* per gradient storage */
    int bwd_next;               /* next layer of a segmented backward,
                                   -1: none begun */
};

/* graph.c */
sr_status nn_fail(sr_nn *net, sr_status st);
/* alloc.c */
sr_status nn_plan_storage(sr_nn *net);
/* step.c */
sr_view nn_param_view(sr_nn *net, int tensor);
sr_view nn_grad_view(sr_nn *net, int tensor);
sr_view nn_state_view(sr_nn *net, int tensor);

#endif
