/* Vulkan convolution and linear ops (shaders/conv.comp, gemm.comp,
 * gemm_reduce.comp, bias_grad.comp).
 *
 * Convolution is an implicit GEMM: conv.comp reads the im2col matrix
 * straight from x through index math, so there is no column scratch, no
 * batch chunking, and activation quantization is fused into the loads.
 * Weight gradients split the batch over workgroups (split-K) into partials
 * that gemm_reduce.comp sums in a fixed order; bias gradients do the same
 * with bias_grad.comp. Nothing uses float atomics, so every result is
 * deterministic. Linear layers run through gemm.comp.
 */
#include <stdint.h>

#include "vk_internal.h"

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
/* Split-K partials stay below this many words (256 MiB would not fit
 * lavapipe's 128 MiB buffer limit anyway). */
#define SPLIT_MAX_WORDS ((size_t)8 << 20)
#define MAX_GROUPS_YZ 65535u

typedef struct gemm_tiling {
    uint32_t local, gx;     /* workgroup size, lanes along N */
    uint32_t tiles_m, tiles_n;
    uint32_t groups[3];
} gemm_tiling;

static uint32_t div_up(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

/* Shape the workgroup to the matrix: small M (few output channels) gets
 * more lanes along N instead of idle rows. */
static sr_status pick_tiling(const sr_backend *be, uint32_t m, uint32_t n,
                             gemm_tiling *t)
{
    uint32_t gy = 1, gx = 8, max_x = sr_vk_max_groups_x(be);

    while (gy < 8 && gy * GEMM_TM < m)
        gy *= 2;
    while (gx * gy < GEMM_MAX_LOCAL && gx * GEMM_TN < n)
        gx *= 2;
    t->local = gx * gy;
    t->gx = gx;
    t->tiles_m = div_up(m, gy * GEMM_TM);
    t->tiles_n = div_up(n, gx * GEMM_TN);
    /* Column tiles fold into z when they exceed the x limit. */
    t->groups[0] = t->tiles_n < max_x ? t->tiles_n : max_x;
    t->groups[1] = t->tiles_m;
    t->groups[2] = div_up(t->tiles_n, t->groups[0]);
    if (t->groups[1] > MAX_GROUPS_YZ || t->groups[2] > MAX_GROUPS_YZ)
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan gemm: %u x %u output is too large for one "
                        "dispatch; use a smaller batch", m, n);
    return SR_OK;
}

static sr_status word_off(sr_view v, int32_t *out)
{
    if (v.off > INT32_MAX)
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan: view offset %zu words exceeds the 32-bit "
                        "index range of the shaders", v.off);
    *out = (int32_t)v.off;
    return SR_OK;
}

/* Sum `splits` partial arrays of `count` words (stride apart) into dst. */
static sr_status record_reduce(sr_backend *be, sr_buf *src, uint32_t off_s,
                               uint32_t count, uint32_t splits,
                               uint32_t stride, sr_view dst)
{
    struct { uint32_t off_s, off_d, count, splits, stride; } pc = {
        off_s, (uint32_t)dst.off, count, splits, stride};
    sr_vk_dispatch d = {
        .shader = "gemm_reduce",
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {src, dst.buf}, .nbufs = 2,
    };

    sr_vk_groups_1d(be, count, 64, d.groups);
    return sr_vk_record(be, &d);
}

/* db[ch] = sum over n and hw of dy[n][ch][hw], deterministic. `scratch`
 * has room for splits * k words at off_part when splits > 1. */
static sr_status record_bias_grad(sr_backend *be, sr_view dy, int n, int k,
                                  int hw, sr_view db, sr_buf *scratch,
                                  uint32_t off_part, uint32_t splits)
{
    uint32_t per = div_up((uint32_t)n, splits);
    struct {
        uint32_t off_dy, off_part, n, k, hw, imgs_per_split, splits;
    } pc = {(uint32_t)dy.off, off_part, (uint32_t)n, (uint32_t)k,
            (uint32_t)hw, per, div_up((uint32_t)n, per)};
    sr_vk_dispatch d = {
        .shader = "bias_grad",
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
    return record_reduce(be, scratch, off_part, (uint32_t)k, pc.splits,
                         (uint32_t)k, db);
}

/* How many ways to split a reduction over n images so that about
 * SPLIT_TARGET_INVOCATIONS run, with partials of `words` each. */
static uint32_t pick_splits(uint32_t invocations, int n, size_t words,
                            size_t max_words)
{
    uint32_t s = div_up(SPLIT_TARGET_INVOCATIONS, invocations ? invocations : 1);

    if (s > (uint32_t)n)
        s = (uint32_t)n;
    if (s > MAX_GROUPS_YZ)
        s = MAX_GROUPS_YZ;
    while (s > 1 && (size_t)s * words > max_words)
        s--;
    /* Equal image counts per split, none empty. */
    return s > 1 ? div_up((uint32_t)n, div_up((uint32_t)n, s)) : 1;
}

typedef struct conv_push {
    int32_t off_a, off_b, off_e, off_y;
    int32_t n, c, h, w, k, kh, kw, pad, oh, ow;
    int32_t bits;
    uint32_t tiles_n;
    int32_t imgs_per_split;
    int32_t split_stride;
} conv_push;

enum { CONV_FWD = 0, CONV_BWD_DATA = 1, CONV_BWD_WEIGHT = 2 };

static sr_status record_conv(sr_backend *be, const sr_conv2d_desc *cd,
                             int mode, sr_view a, sr_view b, sr_view e,
                             sr_view y, uint32_t m, uint32_t n,
                             uint32_t splits, int32_t split_stride)
{
    gemm_tiling t;
    conv_push pc = {
        .n = cd->n, .c = cd->c, .h = cd->h, .w = cd->w, .k = cd->k,
        .kh = cd->kh, .kw = cd->kw, .pad = cd->pad,
        .oh = sr_conv2d_out_h(cd), .ow = sr_conv2d_out_w(cd),
        .bits = cd->act_bits,
        .split_stride = split_stride,
    };

    SR_TRY(word_off(a, &pc.off_a));
    SR_TRY(word_off(b, &pc.off_b));
    SR_TRY(word_off(e, &pc.off_e));
    SR_TRY(word_off(y, &pc.off_y));
    SR_TRY(pick_tiling(be, m, n, &t));
    pc.tiles_n = t.tiles_n;
    pc.imgs_per_split = (int32_t)div_up((uint32_t)cd->n, splits);

    sr_vk_dispatch d = {
        .shader = "conv",
        .spec = {t.local, t.gx, (uint32_t)mode, (uint32_t)cd->stride,
                 cd->act_bits > 0, mode == CONV_FWD && cd->bias},
        .nspec = 6,
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {a.buf, b.buf, e.buf, y.buf}, .nbufs = 4,
        .groups = {t.groups[0], t.groups[1], t.groups[2]},
    };
    if (mode == CONV_BWD_WEIGHT) {
        if (t.tiles_n > sr_vk_max_groups_x(be))
            return sr_error(SR_E_UNSUPPORTED,
                            "vulkan conv2d_bwd_weight: %u weight columns "
                            "are too many for one dispatch", n);
        d.groups[2] = splits;
    }
    return sr_vk_record(be, &d);
}

static sr_status conv_fwd(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *cd = &op->p.conv;
    uint32_t n = (uint32_t)(cd->n * sr_conv2d_out_h(cd) * sr_conv2d_out_w(cd));

    /* v: x, w, b, y */
    return record_conv(be, cd, CONV_FWD, op->v[1], op->v[0], op->v[2],
                       op->v[3], (uint32_t)cd->k, n, 1, 0);
}

static sr_status conv_bwd_data(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *cd = &op->p.conv;
    uint32_t n = (uint32_t)(cd->n * cd->h * cd->w);

    /* v: dy, w, x, dx */
    return record_conv(be, cd, CONV_BWD_DATA, op->v[1], op->v[0], op->v[2],
                       op->v[3], (uint32_t)cd->c, n, 1, 0);
}

static sr_status conv_bwd_weight(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *cd = &op->p.conv;
    sr_view x = op->v[0], dy = op->v[1], dw = op->v[2], db = op->v[3];
    uint32_t k = (uint32_t)cd->k;
    uint32_t crs = (uint32_t)(cd->c * cd->kh * cd->kw);
    int hw = sr_conv2d_out_h(cd) * sr_conv2d_out_w(cd);
    size_t max_words = sr_vk_max_buffer_words(be);
    size_t wwords = (size_t)k * crs;
    gemm_tiling t;
    uint32_t wsplits, bsplits;
    size_t scratch_words;
    sr_buf *scratch = NULL;

    if (max_words > SPLIT_MAX_WORDS)
        max_words = SPLIT_MAX_WORDS;
    SR_TRY(pick_tiling(be, k, crs, &t));
    wsplits = pick_splits(t.local * t.tiles_m * t.tiles_n, cd->n, wwords,
                          max_words);
    bsplits = cd->bias ? pick_splits(k, cd->n, k, max_words) : 1;
    scratch_words = (wsplits > 1 ? wsplits * wwords : 0) +
                    (bsplits > 1 ? (size_t)bsplits * k : 0);
    if (scratch_words)
        SR_TRY(sr_vk_scratch(be, scratch_words, &scratch));

    /* dw: partials in scratch[0 ..) when split, else straight to dw. */
    if (wsplits > 1) {
        sr_view part = {scratch, 0};
        SR_TRY(record_conv(be, cd, CONV_BWD_WEIGHT, dy, x, SR_NONE, part, k,
                           crs, wsplits, (int32_t)wwords));
        SR_TRY(record_reduce(be, scratch, 0, (uint32_t)wwords, wsplits,
                             (uint32_t)wwords, dw));
    } else {
        SR_TRY(record_conv(be, cd, CONV_BWD_WEIGHT, dy, x, SR_NONE, dw, k,
                           crs, 1, 0));
    }
    if (!cd->bias)
        return SR_OK;
    return record_bias_grad(be, dy, cd->n, cd->k, hw, db, scratch,
                            wsplits > 1 ? (uint32_t)(wsplits * wwords) : 0,
                            bsplits);
}

typedef struct gemm_push {
    uint32_t off_a, off_b, off_c, off_bias, off_x;
    uint32_t m, n, k, lda, ldb, ldc;
    int32_t bits;
    uint32_t tiles_n;
    float alpha, beta;
} gemm_push;

typedef struct gemm_args {
    uint32_t m, n, k, lda, ldb, ldc;
    int trans_a, trans_b;
    int quant;          /* 0, 1: quantize A, 2: quantize B */
    int bits;
    int bias;           /* 0, 1: bias[n], 2: bias[m] */
    sr_view a, b, c, bias_v, mask_x;
} gemm_args;

/* C = op(A) op(B) (+ bias) (STE mask), overwriting C. */
static sr_status record_gemm(sr_backend *be, const gemm_args *g)
{
    gemm_tiling t;
    int32_t off[5];
    gemm_push pc;
    sr_view v[5] = {g->a, g->b, g->c, g->bias_v, g->mask_x};

    for (int i = 0; i < 5; i++)
        SR_TRY(word_off(v[i], &off[i]));
    SR_TRY(pick_tiling(be, g->m, g->n, &t));
    pc = (gemm_push){
        (uint32_t)off[0], (uint32_t)off[1], (uint32_t)off[2],
        (uint32_t)off[3], (uint32_t)off[4],
        g->m, g->n, g->k, g->lda, g->ldb, g->ldc,
        g->bits, t.tiles_n, 1.0f, 0.0f};

    sr_vk_dispatch d = {
        .shader = "gemm",
        .spec = {t.local, t.gx, g->trans_a != 0, g->trans_b != 0,
                 (uint32_t)g->quant, (uint32_t)g->bias,
                 g->mask_x.buf != NULL},
        .nspec = 7,
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {g->a.buf, g->b.buf, g->c.buf, g->bias_v.buf,
                 g->mask_x.buf},
        .nbufs = 5,
        .groups = {t.groups[0], t.groups[1], t.groups[2]},
    };
    return sr_vk_record(be, &d);
}

static sr_status linear_fwd(sr_backend *be, const sr_op *op)
{
    const sr_linear_desc *ld = &op->p.linear;
    /* y[n][out] = xq[n][in] w[out][in]^T + b[out]; v: x, w, b, y */
    gemm_args g = {
        .m = (uint32_t)ld->n, .n = (uint32_t)ld->out, .k = (uint32_t)ld->in,
        .lda = (uint32_t)ld->in, .ldb = (uint32_t)ld->in,
        .ldc = (uint32_t)ld->out,
        .trans_b = 1,
        .quant = ld->act_bits ? 1 : 0, .bits = ld->act_bits,
        .bias = ld->bias ? 1 : 0,
        .a = op->v[0], .b = op->v[1], .c = op->v[3],
        .bias_v = ld->bias ? op->v[2] : SR_NONE, .mask_x = SR_NONE,
    };
    return record_gemm(be, &g);
}

static sr_status linear_bwd_data(sr_backend *be, const sr_op *op)
{
    const sr_linear_desc *ld = &op->p.linear;
    /* dx[n][in] = dy[n][out] w[out][in], STE mask; v: dy, w, x, dx */
    gemm_args g = {
        .m = (uint32_t)ld->n, .n = (uint32_t)ld->in, .k = (uint32_t)ld->out,
        .lda = (uint32_t)ld->out, .ldb = (uint32_t)ld->in,
        .ldc = (uint32_t)ld->in,
        .a = op->v[0], .b = op->v[1], .c = op->v[3],
        .bias_v = SR_NONE, .mask_x = ld->act_bits ? op->v[2] : SR_NONE,
    };
    return record_gemm(be, &g);
}

static sr_status linear_bwd_weight(sr_backend *be, const sr_op *op)
{
    const sr_linear_desc *ld = &op->p.linear;
    sr_view x = op->v[0], dy = op->v[1], dw = op->v[2], db = op->v[3];
    uint32_t splits = 1;
    sr_buf *scratch = NULL;
    /* dw[out][in] = dy[n][out]^T xq[n][in]; v: x, dy, dw, db */
    gemm_args g = {
        .m = (uint32_t)ld->out, .n = (uint32_t)ld->in, .k = (uint32_t)ld->n,
        .lda = (uint32_t)ld->out, .ldb = (uint32_t)ld->in,
        .ldc = (uint32_t)ld->in,
        .trans_a = 1,
        .quant = ld->act_bits ? 2 : 0, .bits = ld->act_bits,
        .a = dy, .b = x, .c = dw,
        .bias_v = SR_NONE, .mask_x = SR_NONE,
    };

    SR_TRY(record_gemm(be, &g));
    if (!ld->bias)
        return SR_OK;
    splits = pick_splits((uint32_t)ld->out, ld->n, (size_t)ld->out,
                         sr_vk_max_buffer_words(be));
    if (splits > 1)
        SR_TRY(sr_vk_scratch(be, (size_t)splits * ld->out, &scratch));
    return record_bias_grad(be, dy, ld->n, ld->out, 1, db, scratch, 0,
                            splits);
}

sr_status sr_vk_exec_gemm_ops(sr_backend *be, const sr_op *op)
{
    switch (op->kind) {
    case SR_OP_CONV2D_FWD:
        return conv_fwd(be, op);
    case SR_OP_CONV2D_BWD_DATA:
        return conv_bwd_data(be, op);
    case SR_OP_CONV2D_BWD_WEIGHT:
        return conv_bwd_weight(be, op);
    case SR_OP_LINEAR_FWD:
        return linear_fwd(be, op);
    case SR_OP_LINEAR_BWD_DATA:
        return linear_bwd_data(be, op);
    case SR_OP_LINEAR_BWD_WEIGHT:
        return linear_bwd_weight(be, op);
    default:
        return SR_E_UNSUPPORTED;
    }
}
