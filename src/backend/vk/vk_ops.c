/* The Vulkan op dispatch and what the op files share.
 *
 * The op files mirror the CPU backend's (../cpu): vk_conv.c, vk_linear.c,
 * vk_norm.c, vk_pool.c, vk_quant.c, vk_loss.c and vk_elementwise.c hold
 * the same op kinds as cpu_conv.c, cpu_linear.c, ... and their entry
 * points carry the same names with sr_vk_ for sr_cpu_. sr_vk_run_op below
 * maps every kind to its entry point.
 *
 * Shared here: the launch helpers of the 1-D shaders (elementwise, pooling,
 * batch norm, losses, quantizers) and the two-pass reductions, and the
 * GEMM tiling and split-K helpers of the convolutions and linear layers.
 *
 * Every reduction is deterministic: a fixed number of workgroups (a
 * function of the size only) writes partials that one workgroup folds in a
 * fixed tree order (shaders/reduce_common.glsl); no float atomics.
 */
#include <stdint.h>
#include <string.h>

#include "vk_ops.h"

sr_status sr_vk_view_off(sr_view v, size_t n, uint32_t *out)
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

sr_status sr_vk_index_count(const char *op, size_t n, uint32_t *out)
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

size_t sr_vk_items_per_piece(const sr_backend *be, const sr_view *v, int nv,
                             size_t unit, size_t n)
{
    size_t c = n;
    for (int i = 0; i < nv; i++) {
        size_t cap = sr_vk_cap(be, v[i]);
        if (cap != SIZE_MAX && cap / unit < c)
            c = cap / unit;
    }
    return c;
}

sr_view sr_vk_view_at(sr_view v, size_t words)
{
    if (v.buf)
        v.off += words;
    return v;
}

uint32_t sr_vk_red_partials(size_t n)
{
    size_t per = SR_VK_RED_ITEMS * SR_VK_LOCAL_1D;
    size_t g = (n + per - 1) / per;

    if (g < 1)
        g = 1;
    if (g > SR_VK_RED_MAX_PARTIALS)
        g = SR_VK_RED_MAX_PARTIALS;
    return (uint32_t)g;
}

sr_status sr_vk_launch(sr_backend *be, const char *shader, int nspec,
                       uint32_t spec0, uint32_t spec1, const void *push,
                       uint32_t push_bytes, sr_buf *const *bufs, int nbufs,
                       const uint32_t groups[3])
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

sr_status sr_vk_launch_1d(sr_backend *be, const char *shader, int nspec,
                          uint32_t spec0, const void *push, uint32_t push_bytes,
                          sr_buf *const *bufs, int nbufs, size_t n)
{
    uint32_t groups[3];

    sr_vk_groups_1d(be, n, SR_VK_LOCAL_1D, groups);
    return sr_vk_launch(be, shader, nspec, spec0, 0, push, push_bytes, bufs,
                        nbufs, groups);
}

sr_status sr_vk_reduce_final(sr_backend *be, uint32_t mode, sr_buf *part,
                             uint32_t part_off, uint32_t g, sr_view out0,
                             sr_view out1, sr_view out2, float div, int slot0,
                             int slot1)
{
    struct {
        uint32_t g, part_off, o0, o1, o2;
        float div;
        uint32_t cw_slot, cb_slot;
    } pc = {g, part_off, 0, 0, 0, div, (uint32_t)slot0, (uint32_t)slot1};
    static const uint32_t one[3] = {1, 1, 1};
    SR_TRY(sr_vk_fit(be, out0, 1, "reduction", "result", &out0));
    SR_TRY(sr_vk_fit(be, out1, 1, "reduction", "result", &out1));
    SR_TRY(sr_vk_fit(be, out2, 1, "reduction", "result", &out2));
    sr_buf *bufs[4] = {part, out0.buf, out1.buf ? out1.buf : out0.buf,
                       out2.buf ? out2.buf : out0.buf};
    SR_TRY(sr_vk_view_off(out0, 1, &pc.o0));
    SR_TRY(sr_vk_view_off(out1, 1, &pc.o1));
    SR_TRY(sr_vk_view_off(out2, 1, &pc.o2));
    return sr_vk_launch(be, "reduce_final", 1, mode, 0, &pc, sizeof(pc), bufs,
                        4, one);
}

/* ------------------------------------------------------------------ */
/* GEMM tiling and split-K reductions (convolutions, linear layers)    */

/* Register block of one invocation; must match TM/TN in the shaders. */
#ifndef GEMM_TM
#define GEMM_TM 16
#endif
#ifndef GEMM_TN
#define GEMM_TN 8
#endif
#define GEMM_MAX_LOCAL 64
/* Aim for this many invocations when splitting a reduction, enough to fill
 * a GPU; lavapipe is happy with far fewer. */
#define SPLIT_TARGET_INVOCATIONS 32768

/* Shape the workgroup to the matrix: small M (few output channels) gets
 * more lanes along N instead of idle rows. */
sr_status sr_vk_pick_tiling(const sr_backend *be, uint32_t m, uint32_t n,
                            sr_vk_gemm_tiling *t)
{
    uint32_t gy = 1, gx = 8, max_x = sr_vk_max_groups_x(be);

    while (gy < 8 && gy * GEMM_TM < m)
        gy *= 2;
    while (gx * gy < GEMM_MAX_LOCAL && gx * GEMM_TN < n)
        gx *= 2;
    t->local = gx * gy;
    t->gx = gx;
    t->tiles_m = sr_vk_div_up(m, gy * GEMM_TM);
    t->tiles_n = sr_vk_div_up(n, gx * GEMM_TN);
    /* Column tiles fold into z when they exceed the x limit. */
    t->groups[0] = t->tiles_n < max_x ? t->tiles_n : max_x;
    t->groups[1] = t->tiles_m;
    t->groups[2] = sr_vk_div_up(t->tiles_n, t->groups[0]);
    if (t->groups[1] > SR_VK_MAX_GROUPS_YZ ||
        t->groups[2] > SR_VK_MAX_GROUPS_YZ)
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan gemm: %u x %u output is too large for one "
                        "dispatch; use a smaller batch", m, n);
    return SR_OK;
}

sr_status sr_vk_word_off(sr_view v, int32_t *out)
{
    if (v.off > INT32_MAX)
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan: view offset %zu words exceeds the 32-bit "
                        "index range of the shaders", v.off);
    *out = (int32_t)v.off;
    return SR_OK;
}

/* Sum `splits` partial arrays of `count` words (stride apart) into dst. */
sr_status sr_vk_record_split_reduce(sr_backend *be, sr_buf *src, uint32_t off_s,
                                    uint32_t count, uint32_t splits,
                                    uint32_t stride, sr_view dst)
{
    struct { uint32_t off_s, off_d, count, splits, stride; } pc = {
        off_s, (uint32_t)dst.off, count, splits, stride};
    sr_vk_dispatch d = {
        .shader = "bwd_weight_reduce",
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {src, dst.buf}, .nbufs = 2,
    };

    sr_vk_groups_1d(be, count, 64, d.groups);
    return sr_vk_record(be, &d);
}

/* db[ch] = sum over n and hw of dy[n][ch][hw], deterministic. `scratch`
 * has room for splits * k words at off_part when splits > 1. */
sr_status sr_vk_record_bias_grad(sr_backend *be, sr_view dy, int n, int k,
                                 int hw, sr_view db, sr_buf *scratch,
                                 uint32_t off_part, uint32_t splits)
{
    uint32_t per = sr_vk_div_up((uint32_t)n, splits);
    struct {
        uint32_t off_dy, off_part, n, k, hw, imgs_per_split, splits;
    } pc = {(uint32_t)dy.off, off_part, (uint32_t)n, (uint32_t)k,
            (uint32_t)hw, per, sr_vk_div_up((uint32_t)n, per)};
    sr_vk_dispatch d = {
        .shader = "bwd_weight_bias",
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {dy.buf, scratch}, .nbufs = 2,
    };

    if (pc.splits == 1) {
        pc.off_part = (uint32_t)db.off;
        d.bufs[1] = db.buf;
    }
    sr_vk_groups_1d(be, (size_t)k * pc.splits, 64, d.groups);
    SR_TRY(sr_vk_record(be, &d));
    if (pc.splits == 1)
        return SR_OK;
    return sr_vk_record_split_reduce(be, scratch, off_part, (uint32_t)k,
                                     pc.splits, (uint32_t)k, db);
}

/* How many ways to split a reduction over n images so that about
 * SPLIT_TARGET_INVOCATIONS run, with partials of `words` each. */
uint32_t sr_vk_pick_splits(uint32_t invocations, int n, size_t words,
                           size_t max_words)
{
    uint32_t s = sr_vk_div_up(SPLIT_TARGET_INVOCATIONS,
                              invocations ? invocations : 1);

    if (s > (uint32_t)n)
        s = (uint32_t)n;
    if (s > SR_VK_MAX_GROUPS_YZ)
        s = SR_VK_MAX_GROUPS_YZ;
    while (s > 1 && (size_t)s * words > max_words)
        s--;
    /* Equal image counts per split, none empty. */
    return s > 1 ? sr_vk_div_up((uint32_t)n, sr_vk_div_up((uint32_t)n, s)) : 1;
}

/* ------------------------------------------------------------------ */
/* Dispatch: one case per op kind, each in the file named like the CPU's. */

sr_status sr_vk_run_op(sr_backend *be, const sr_op *op)
{
    switch (op->kind) {
    case SR_OP_FILL: return sr_vk_fill(be, op);
    case SR_OP_COPY: return sr_vk_copy(be, op);
    case SR_OP_ADD: return sr_vk_add(be, op);
    case SR_OP_ADD_RELU: return sr_vk_add_relu(be, op);
    case SR_OP_CONV2D_FWD: return sr_vk_conv2d_fwd(be, op);
    case SR_OP_CONV2D_BWD_DATA: return sr_vk_conv2d_bwd_data(be, op);
    case SR_OP_CONV2D_BWD_WEIGHT: return sr_vk_conv2d_bwd_weight(be, op);
    case SR_OP_DWCONV2D_FWD: return sr_vk_dwconv2d_fwd(be, op);
    case SR_OP_DWCONV2D_BWD_DATA: return sr_vk_dwconv2d_bwd_data(be, op);
    case SR_OP_DWCONV2D_BWD_WEIGHT:
        return sr_vk_dwconv2d_bwd_weight(be, op);
    case SR_OP_LINEAR_FWD: return sr_vk_linear_fwd(be, op);
    case SR_OP_LINEAR_BWD_DATA: return sr_vk_linear_bwd_data(be, op);
    case SR_OP_LINEAR_BWD_WEIGHT: return sr_vk_linear_bwd_weight(be, op);
    case SR_OP_BN_FWD_TRAIN: return sr_vk_bn_fwd_train(be, op);
    case SR_OP_BN_FWD_EVAL: return sr_vk_bn_fwd_eval(be, op);
    case SR_OP_BN_BWD: return sr_vk_bn_bwd(be, op);
    case SR_OP_RELU_FWD: return sr_vk_relu_fwd(be, op);
    case SR_OP_RELU_BWD: return sr_vk_relu_bwd(be, op);
    case SR_OP_DROPOUT_FWD:
    case SR_OP_DROPOUT_BWD: return sr_vk_dropout(be, op);
    case SR_OP_MAXPOOL_FWD: return sr_vk_maxpool_fwd(be, op);
    case SR_OP_MAXPOOL_BWD: return sr_vk_maxpool_bwd(be, op);
    case SR_OP_AVGPOOL_FWD: return sr_vk_avgpool_fwd(be, op);
    case SR_OP_AVGPOOL_BWD: return sr_vk_avgpool_bwd(be, op);
    case SR_OP_SOFTMAX_XENT: return sr_vk_softmax_xent(be, op);
    case SR_OP_TOP1_COUNT: return sr_vk_top1_count(be, op);
    case SR_OP_SGD: return sr_vk_sgd(be, op);
    case SR_OP_DOREFA_W_FWD: return sr_vk_dorefa_w_fwd(be, op);
    case SR_OP_DOREFA_W_BWD: return sr_vk_dorefa_w_bwd(be, op);
    case SR_OP_WRPN_W_FWD: return sr_vk_wrpn_w_fwd(be, op);
    case SR_OP_WRPN_W_BWD: return sr_vk_wrpn_w_bwd(be, op);
    case SR_OP_ACTQ_FWD: return sr_vk_actq_fwd(be, op);
    case SR_OP_ACTQ_BWD: return sr_vk_actq_bwd(be, op);
    case SR_OP_SINREQ: return sr_vk_sinreq(be, op);
    case SR_OP_WAVEQ: return sr_vk_waveq(be, op);
    case SR_OP_MEAN_ABS_DIFF: return sr_vk_mean_abs_diff(be, op);
    case SR_OP_COUNT: break;
    }
    return sr_error(SR_E_INTERNAL, "vulkan backend: unknown op kind %d",
                    (int)op->kind);
}
