/* Internal contract between the backend-independent layer (backend.c) and
 * each implementation (cpu/, vk/). Not a public header.
 *
 * backend.c validates every public op call, then packs it into an sr_op:
 * the op kind, its descriptor, and its operand views in the same order as
 * the public function's sr_view arguments. A backend implements `exec` for
 * every kind; programs (capture/replay) are op lists that a backend may
 * pre-record (Vulkan) or simply replay through exec (CPU). */
#ifndef SINREQ_BACKEND_IMPL_H
#define SINREQ_BACKEND_IMPL_H

#include "sinreq/backend.h"

typedef enum sr_op_kind {
    SR_OP_FILL,              /* ew.n, ew.value;      v: dst */
    SR_OP_COPY,              /* ew.n;                v: src, dst */
    SR_OP_ADD,               /* ew.n;                v: a, b, y */
    SR_OP_ADD_RELU,          /* ew.n;                v: a, b, y */
    SR_OP_CONV2D_FWD,        /* conv;                v: x, w, b, y */
    SR_OP_CONV2D_BWD_DATA,   /* conv;                v: dy, w, x, dx */
    SR_OP_CONV2D_BWD_WEIGHT, /* conv;                v: x, dy, dw, db */
    SR_OP_DWCONV2D_FWD,      /* conv (k == c);       v: x, w, b, y */
    SR_OP_DWCONV2D_BWD_DATA, /* conv (k == c);       v: dy, w, x, dx */
    SR_OP_DWCONV2D_BWD_WEIGHT, /* conv (k == c);     v: x, dy, dw, db */
    SR_OP_LINEAR_FWD,        /* linear;              v: x, w, b, y */
    SR_OP_LINEAR_BWD_DATA,   /* linear;              v: dy, w, x, dx */
    SR_OP_LINEAR_BWD_WEIGHT, /* linear;              v: x, dy, dw, db */
    SR_OP_BN_FWD_TRAIN,      /* bn;  v: x, gamma, beta, run_mean, run_var,
                                        save_mean, save_invstd, y */
    SR_OP_BN_FWD_EVAL,       /* bn;  v: x, gamma, beta, run_mean, run_var, y */
    SR_OP_BN_BWD,            /* bn;  v: x, dy, gamma, save_mean, save_invstd,
                                        dx, dgamma, dbeta */
    SR_OP_RELU_FWD,          /* ew.n;                v: x, y */
    SR_OP_RELU_BWD,          /* ew.n;                v: y, dy, dx */
    SR_OP_DROPOUT_FWD,       /* dropout;             v: x, y */
    SR_OP_DROPOUT_BWD,       /* dropout;             v: dy, dx */
    SR_OP_MAXPOOL_FWD,       /* pool;                v: x, y, idx */
    SR_OP_MAXPOOL_BWD,       /* pool;                v: dy, idx, dx */
    SR_OP_AVGPOOL_FWD,       /* avgpool;             v: x, y */
    SR_OP_AVGPOOL_BWD,       /* avgpool;             v: dy, dx */
    SR_OP_SOFTMAX_XENT,      /* xent;   v: logits, labels, loss, dlogits */
    SR_OP_TOP1_COUNT,        /* xent;   v: logits, labels, correct */
    SR_OP_SGD,               /* sgd;                 v: w, g, v */
    SR_OP_DOREFA_W_FWD,      /* ew.n, ew.bits;       v: w, wq */
    SR_OP_DOREFA_W_BWD,      /* ew.n, ew.bits;       v: w, dwq, dw */
    SR_OP_WRPN_W_FWD,        /* ew.n, ew.bits;       v: w, wq */
    SR_OP_WRPN_W_BWD,        /* ew.n, ew.bits;       v: w, dwq, dw */
    SR_OP_ACTQ_FWD,          /* ew.n, ew.bits;       v: x, y */
    SR_OP_ACTQ_BWD,          /* ew.n, ew.bits;       v: x, dy, dx */
    SR_OP_SINREQ,            /* sinreq;              v: w, dw, value */
    SR_OP_WAVEQ,             /* waveq;   v: w, beta, dw, dbeta, value */
    SR_OP_MEAN_ABS_DIFF,     /* ew.n;                v: a, b, out */
    SR_OP_COUNT
} sr_op_kind;

#define SR_OP_MAX_VIEWS 8

typedef struct sr_op {
    sr_op_kind kind;
    union {
        struct { size_t n; float value; int bits; } ew;
        sr_conv2d_desc conv;
        sr_linear_desc linear;
        sr_bn_desc bn;
        sr_dropout_desc dropout;
        sr_pool_desc pool;
        sr_avgpool_desc avgpool;
        struct { int n, classes; float smoothing; } xent;
        sr_sgd_desc sgd;
        sr_sinreq_desc sinreq;
        sr_waveq_desc waveq;
    } p;
    sr_view v[SR_OP_MAX_VIEWS];
    int nv;
} sr_op;

const char *sr_op_name(sr_op_kind kind);

typedef struct sr_backend_vt {
    const char *name;
    void (*destroy)(sr_backend *be);
    sr_status (*buf_alloc)(sr_backend *be, sr_pool pool, size_t words,
                           sr_buf **out);
    void (*buf_free)(sr_backend *be, sr_buf *buf);
    sr_status (*buf_write)(sr_backend *be, sr_buf *buf, size_t off,
                           size_t words, const void *src);
    sr_status (*buf_read)(sr_backend *be, sr_buf *buf, size_t off,
                          size_t words, void *dst);
    sr_status (*exec)(sr_backend *be, const sr_op *op);
    sr_status (*sync)(sr_backend *be);
    /* Called by sr_backend_set_scalar_* before the host array changes, so
     * a backend can wait for in-flight work that still reads it. May be
     * NULL. */
    sr_status (*scalars_will_change)(sr_backend *be);
    /* Optional: pre-record a program. NULL means "replay through exec". */
    sr_status (*program_build)(sr_backend *be, const sr_op *ops, size_t n,
                               void **impl);
    sr_status (*program_run)(sr_backend *be, void *impl);
    void (*program_free)(sr_backend *be, void *impl);
} sr_backend_vt;

/* Every backend's handle starts with this. */
struct sr_backend {
    const sr_backend_vt *vt;
    char device_name[256];
    uint32_t scalars[SR_SCALAR_SLOTS]; /* float or uint32 bits */
    int capturing;
    sr_op *cap_ops;
    size_t cap_n, cap_cap;
};

/* Every backend's buffer starts with this. */
struct sr_buf {
    size_t words;
    sr_pool pool;
};

static inline float sr_scalar_f(const sr_backend *be, int slot)
{
    union { uint32_t u; float f; } c = {be->scalars[slot]};
    return c.f;
}
static inline uint32_t sr_scalar_u(const sr_backend *be, int slot)
{
    return be->scalars[slot];
}

/* Constructors, defined in cpu/ and vk/. */
sr_status sr_cpu_backend_create(const sr_backend_opts *opts, sr_backend **out);
sr_status sr_vk_backend_create(const sr_backend_opts *opts, sr_backend **out);
sr_status sr_vk_list_devices(void *out /* FILE* */);

#endif
