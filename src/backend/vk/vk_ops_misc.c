/* Vulkan ops other than conv/linear: elementwise, dropout, SGD, pooling,
 * losses, and the dispatch entry point for this file group (batch norm is
 * in vk_ops_norm.c, quantizers and regularizers in vk_ops_quant.c).
 *
 * Every reduction is deterministic: a fixed number of workgroups (a
 * function of the size only) writes partials that one workgroup folds in a
 * fixed tree order (shaders/reduce_common.glsl); no float atomics.
 */
#include <stdint.h>
#include <string.h>

#include "vk_ops_misc.h"

sr_status sr_vk_misc_off(sr_view v, size_t n, uint32_t *out)
{
    /* NULL views bind the 1-word dummy; any offset into it is unused. */
    if (!v.buf) {
        *out = 0;
        return SR_OK;
    }
    if (v.off > UINT32_MAX || n > UINT32_MAX - v.off)
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan: view [%zu, %zu) is beyond the 32-bit word "
                        "indexing of the shaders", v.off, v.off + n);
    *out = (uint32_t)v.off;
    return SR_OK;
}

sr_status sr_vk_misc_count(const char *op, size_t n, uint32_t *out)
{
    /* Grid-stride loops add up to 2^20 to an index below n: stay under
     * 2^31 so that never wraps. */
    if (n >= ((size_t)1 << 31))
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan %s: %zu elements exceed the 2^31 the shaders "
                        "index; split the tensor", op, n);
    *out = (uint32_t)n;
    return SR_OK;
}

uint32_t sr_vk_misc_partials(size_t n)
{
    size_t per = SR_VK_MISC_ITEMS * SR_VK_MISC_LOCAL;
    size_t g = (n + per - 1) / per;

    if (g < 1)
        g = 1;
    if (g > SR_VK_MISC_MAX_PARTIALS)
        g = SR_VK_MISC_MAX_PARTIALS;
    return (uint32_t)g;
}

sr_status sr_vk_misc_launch(sr_backend *be, const char *shader, int nspec,
                            uint32_t spec0, uint32_t spec1, const void *push,
                            uint32_t push_bytes, sr_buf *const *bufs,
                            int nbufs, const uint32_t groups[3])
{
    sr_vk_dispatch d;

    memset(&d, 0, sizeof(d));
    d.shader = shader;
    d.nspec = nspec;
    d.spec[0] = spec0;
    d.spec[1] = spec1;
    d.push = push;
    d.push_bytes = push_bytes;
    d.nbufs = nbufs;
    for (int i = 0; i < nbufs; i++)
        d.bufs[i] = bufs[i];
    memcpy(d.groups, groups, sizeof(d.groups));
    return sr_vk_record(be, &d);
}

static sr_status launch_1d(sr_backend *be, const char *shader, int nspec,
                           uint32_t spec0, const void *push,
                           uint32_t push_bytes, sr_buf *const *bufs,
                           int nbufs, size_t n)
{
    uint32_t groups[3];

    sr_vk_groups_1d(be, n, SR_VK_MISC_LOCAL, groups);
    return sr_vk_misc_launch(be, shader, nspec, spec0, 0, push, push_bytes,
                             bufs, nbufs, groups);
}

sr_status sr_vk_misc_reduce_final(sr_backend *be, uint32_t mode,
                                  sr_buf *part, uint32_t part_off,
                                  uint32_t g, sr_view out0, sr_view out1,
                                  sr_view out2, float div, int slot0,
                                  int slot1)
{
    struct {
        uint32_t g, part_off, o0, o1, o2;
        float div;
        uint32_t cw_slot, cb_slot;
    } pc = {g, part_off, 0, 0, 0, div, (uint32_t)slot0, (uint32_t)slot1};
    static const uint32_t one[3] = {1, 1, 1};
    sr_buf *bufs[4] = {part, out0.buf, out1.buf ? out1.buf : out0.buf,
                       out2.buf ? out2.buf : out0.buf};

    SR_TRY(sr_vk_misc_off(out0, 1, &pc.o0));
    SR_TRY(sr_vk_misc_off(out1, 1, &pc.o1));
    SR_TRY(sr_vk_misc_off(out2, 1, &pc.o2));
    return sr_vk_misc_launch(be, "reduce_final", 1, mode, 0, &pc, sizeof(pc),
                             bufs, 4, one);
}

/* ------------------------------------------------------------------ */
/* Elementwise                                                          */

struct unary_push {
    uint32_t n, x_off, y_off, bits, seed, stream, step_slot;
    float p, scale;
};

sr_status sr_vk_misc_unary(sr_backend *be, uint32_t op, size_t n, int bits,
                           sr_view x, sr_view y)
{
    struct unary_push pc = {0};
    sr_buf *bufs[2] = {x.buf ? x.buf : y.buf, y.buf};

    SR_TRY(sr_vk_misc_count("elementwise op", n, &pc.n));
    SR_TRY(sr_vk_misc_off(x, n, &pc.x_off));
    SR_TRY(sr_vk_misc_off(y, n, &pc.y_off));
    pc.bits = (uint32_t)bits;
    return launch_1d(be, "ew_unary", 1, op, &pc, sizeof(pc), bufs, 2, n);
}

static sr_status exec_fill(sr_backend *be, const sr_op *op)
{
    struct unary_push pc = {0};
    sr_view dst = op->v[0];
    sr_buf *bufs[2] = {dst.buf, dst.buf};

    SR_TRY(sr_vk_misc_count("fill", op->p.ew.n, &pc.n));
    SR_TRY(sr_vk_misc_off(dst, op->p.ew.n, &pc.y_off));
    pc.x_off = pc.y_off;
    pc.p = op->p.ew.value;
    return launch_1d(be, "ew_unary", 1, SR_VK_UN_FILL, &pc, sizeof(pc), bufs,
                     2, op->p.ew.n);
}

sr_status sr_vk_misc_binary(sr_backend *be, uint32_t op, size_t n,
                            sr_view a, sr_view b, sr_view y)
{
    struct { uint32_t n, a_off, b_off, y_off; } pc;
    sr_buf *bufs[3] = {a.buf, b.buf, y.buf};

    SR_TRY(sr_vk_misc_count("elementwise op", n, &pc.n));
    SR_TRY(sr_vk_misc_off(a, n, &pc.a_off));
    SR_TRY(sr_vk_misc_off(b, n, &pc.b_off));
    SR_TRY(sr_vk_misc_off(y, n, &pc.y_off));
    return launch_1d(be, "ew_binary", 1, op, &pc, sizeof(pc), bufs, 3, n);
}

static sr_status exec_dropout(sr_backend *be, const sr_op *op)
{
    const sr_dropout_desc *d = &op->p.dropout;
    struct unary_push pc = {0};
    sr_buf *bufs[2] = {op->v[0].buf, op->v[1].buf};

    SR_TRY(sr_vk_misc_count("dropout", d->n, &pc.n));
    SR_TRY(sr_vk_misc_off(op->v[0], d->n, &pc.x_off));
    SR_TRY(sr_vk_misc_off(op->v[1], d->n, &pc.y_off));
    pc.seed = d->seed;
    pc.stream = d->stream;
    pc.step_slot = (uint32_t)d->step_slot;
    pc.p = d->p;
    /* Forward and backward apply the same mask and scale. */
    pc.scale = (float)(1.0 / (1.0 - (double)d->p));
    return launch_1d(be, "ew_unary", 1, SR_VK_UN_DROPOUT, &pc, sizeof(pc),
                     bufs, 2, d->n);
}

static sr_status exec_sgd(sr_backend *be, const sr_op *op)
{
    const sr_sgd_desc *d = &op->p.sgd;
    struct {
        uint32_t n, w_off, g_off, v_off;
        float momentum, weight_decay;
        uint32_t lr_slot;
    } pc;
    sr_buf *bufs[3] = {op->v[0].buf, op->v[1].buf, op->v[2].buf};

    SR_TRY(sr_vk_misc_count("sgd", d->n, &pc.n));
    SR_TRY(sr_vk_misc_off(op->v[0], d->n, &pc.w_off));
    SR_TRY(sr_vk_misc_off(op->v[1], d->n, &pc.g_off));
    SR_TRY(sr_vk_misc_off(op->v[2], d->n, &pc.v_off));
    pc.momentum = d->momentum;
    pc.weight_decay = d->weight_decay;
    pc.lr_slot = (uint32_t)d->lr_slot;
    return launch_1d(be, "ew_sgd", 0, 0, &pc, sizeof(pc), bufs, 3, d->n);
}

/* ------------------------------------------------------------------ */
/* Pooling                                                              */

static sr_status exec_maxpool(sr_backend *be, const sr_op *op, int bwd)
{
    const sr_pool_desc *d = &op->p.pool;
    int oh = sr_pool_out_h(d), ow = sr_pool_out_w(d);
    size_t planes = (size_t)d->n * (size_t)d->c;
    size_t nx = planes * (size_t)d->h * (size_t)d->w;
    size_t ny = planes * (size_t)oh * (size_t)ow;
    struct {
        uint32_t total;
        int32_t h, w, oh, ow, k, stride, pad;
        uint32_t off0, off1, off2;
    } pc = {0, d->h, d->w, oh, ow, d->k, d->stride, d->pad, 0, 0, 0};
    sr_buf *bufs[3] = {op->v[0].buf, op->v[1].buf, op->v[2].buf};
    size_t total = bwd ? nx : ny;

    SR_TRY(sr_vk_misc_count("maxpool", total, &pc.total));
    if (!bwd) {        /* x, y, idx */
        SR_TRY(sr_vk_misc_off(op->v[0], nx, &pc.off0));
        SR_TRY(sr_vk_misc_off(op->v[1], ny, &pc.off1));
        SR_TRY(sr_vk_misc_off(op->v[2], ny, &pc.off2));
    } else {           /* dy, idx, dx */
        SR_TRY(sr_vk_misc_off(op->v[0], ny, &pc.off0));
        SR_TRY(sr_vk_misc_off(op->v[1], ny, &pc.off1));
        SR_TRY(sr_vk_misc_off(op->v[2], nx, &pc.off2));
    }
    return launch_1d(be, bwd ? "pool_max_bwd" : "pool_max_fwd", 0, 0, &pc,
                     sizeof(pc), bufs, 3, total);
}

static sr_status exec_avgpool(sr_backend *be, const sr_op *op, int bwd)
{
    const sr_avgpool_desc *d = &op->p.avgpool;
    size_t planes = (size_t)d->n * (size_t)d->c;
    size_t nx = planes * (size_t)d->h * (size_t)d->w;
    size_t ny = planes * (size_t)d->oh * (size_t)d->ow;
    struct {
        uint32_t total, h, w, oh, ow, off0, off1;
    } pc = {0, (uint32_t)d->h, (uint32_t)d->w, (uint32_t)d->oh,
            (uint32_t)d->ow, 0, 0};
    sr_buf *bufs[2] = {op->v[0].buf, op->v[1].buf};
    size_t total = bwd ? nx : ny;

    /* Bin bounds are computed as (i + 1) * h in 32 bits. */
    if ((uint64_t)(d->oh + 1) * (uint64_t)(d->h + 1) > UINT32_MAX ||
        (uint64_t)(d->ow + 1) * (uint64_t)(d->w + 1) > UINT32_MAX)
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan avgpool: %dx%d -> %dx%d overflows the "
                        "shader's 32-bit bin arithmetic", d->h, d->w, d->oh,
                        d->ow);
    SR_TRY(sr_vk_misc_count("avgpool", total, &pc.total));
    SR_TRY(sr_vk_misc_off(op->v[0], bwd ? ny : nx, &pc.off0));
    SR_TRY(sr_vk_misc_off(op->v[1], bwd ? nx : ny, &pc.off1));
    return launch_1d(be, bwd ? "pool_avg_bwd" : "pool_avg_fwd", 0, 0, &pc,
                     sizeof(pc), bufs, 2, total);
}

/* ------------------------------------------------------------------ */
/* Losses                                                               */

static sr_status exec_xent(sr_backend *be, const sr_op *op)
{
    uint32_t n = (uint32_t)op->p.xent.n;
    uint32_t classes = (uint32_t)op->p.xent.classes;
    size_t nl = (size_t)n * classes;
    struct {
        uint32_t n, classes, logits_off, labels_off, dlogits_off, row_off;
        float inv_n;
    } pc = {n, classes, 0, 0, 0, 0, (float)(1.0 / n)};
    uint32_t groups[3];
    sr_buf *scratch;

    SR_TRY(sr_vk_misc_off(op->v[0], nl, &pc.logits_off));
    SR_TRY(sr_vk_misc_off(op->v[1], n, &pc.labels_off));
    SR_TRY(sr_vk_misc_off(op->v[3], nl, &pc.dlogits_off));
    SR_TRY(sr_vk_scratch(be, n, &scratch));
    sr_buf *bufs[4] = {op->v[0].buf, op->v[1].buf, op->v[3].buf, scratch};
    /* One workgroup per row: "1 item per group" folds rows into x, y. */
    sr_vk_groups_1d(be, n, 1, groups);
    SR_TRY(sr_vk_misc_launch(be, "loss_xent", 0, 0, 0, &pc, sizeof(pc), bufs,
                             4, groups));
    /* Batch mean of the row losses in a fixed order. */
    return sr_vk_misc_reduce_final(be, SR_VK_RED_SUM, scratch, 0, n,
                                   op->v[2], SR_NONE, SR_NONE, (float)n, 0,
                                   0);
}

static sr_status exec_top1(sr_backend *be, const sr_op *op)
{
    uint32_t n = (uint32_t)op->p.xent.n;
    uint32_t classes = (uint32_t)op->p.xent.classes;
    uint32_t g = sr_vk_misc_partials(n);
    struct {
        uint32_t n, classes, logits_off, labels_off, part_off;
    } pc = {n, classes, 0, 0, 0};
    uint32_t groups[3] = {g, 1, 1};
    sr_buf *scratch;

    SR_TRY(sr_vk_misc_off(op->v[0], (size_t)n * classes, &pc.logits_off));
    SR_TRY(sr_vk_misc_off(op->v[1], n, &pc.labels_off));
    SR_TRY(sr_vk_scratch(be, g, &scratch));
    sr_buf *bufs[3] = {op->v[0].buf, op->v[1].buf, scratch};
    SR_TRY(sr_vk_misc_launch(be, "loss_top1", 0, 0, 0, &pc, sizeof(pc), bufs,
                             3, groups));
    return sr_vk_misc_reduce_final(be, SR_VK_RED_COUNT, scratch, 0, g,
                                   op->v[2], SR_NONE, SR_NONE, 1.0f, 0, 0);
}

/* ------------------------------------------------------------------ */

sr_status sr_vk_exec_misc_ops(sr_backend *be, const sr_op *op)
{
    const sr_view *v = op->v;
    size_t n = op->p.ew.n;

    switch (op->kind) {
    case SR_OP_FILL:
        return exec_fill(be, op);
    case SR_OP_COPY:
        return sr_vk_misc_unary(be, SR_VK_UN_COPY, n, 0, v[0], v[1]);
    case SR_OP_ADD:
        return sr_vk_misc_binary(be, SR_VK_BIN_ADD, n, v[0], v[1], v[2]);
    case SR_OP_RELU_FWD:
        return sr_vk_misc_unary(be, SR_VK_UN_RELU, n, 0, v[0], v[1]);
    case SR_OP_RELU_BWD:
        return sr_vk_misc_binary(be, SR_VK_BIN_RELU_BWD, n, v[0], v[1], v[2]);
    case SR_OP_DROPOUT_FWD:
    case SR_OP_DROPOUT_BWD:
        return exec_dropout(be, op);
    case SR_OP_MAXPOOL_FWD:
        return exec_maxpool(be, op, 0);
    case SR_OP_MAXPOOL_BWD:
        return exec_maxpool(be, op, 1);
    case SR_OP_AVGPOOL_FWD:
        return exec_avgpool(be, op, 0);
    case SR_OP_AVGPOOL_BWD:
        return exec_avgpool(be, op, 1);
    case SR_OP_SOFTMAX_XENT:
        return exec_xent(be, op);
    case SR_OP_TOP1_COUNT:
        return exec_top1(be, op);
    case SR_OP_SGD:
        return exec_sgd(be, op);
    case SR_OP_BN_FWD_TRAIN:
    case SR_OP_BN_FWD_EVAL:
    case SR_OP_BN_BWD:
        return sr_vk_exec_norm_ops(be, op);
    case SR_OP_DOREFA_W_FWD:
    case SR_OP_DOREFA_W_BWD:
    case SR_OP_WRPN_W_FWD:
    case SR_OP_WRPN_W_BWD:
    case SR_OP_ACTQ_FWD:
    case SR_OP_ACTQ_BWD:
    case SR_OP_SINREQ:
    case SR_OP_WAVEQ:
    case SR_OP_MEAN_ABS_DIFF:
        return sr_vk_exec_quant_ops(be, op);
    default:
        /* conv/linear: vk_ops_gemm.c. No message, so the caller can try
         * the next op file. */
        return SR_E_UNSUPPORTED;
    }
}
