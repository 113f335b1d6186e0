/* Vulkan batch norm (shaders/bn_*.comp).
 *
 * Per-channel statistics in two deterministic passes: bn_partial writes P
 * partial sums per channel (workgroup (p, c), grid-stride over the
 * channel's n*hw values), bn_final folds them with a fixed tree. The
 * variance is two-pass (mean first, then sum (x - mean)^2), so there is no
 * E[x^2] - E[x]^2 cancellation.
 */
#include <stdint.h>

#include "vk_ops_misc.h"

#define BN_MAX_PARTS 256u      /* bn_final folds one per invocation */
#define BN_MAX_GROUPS_Y 65535u /* the guaranteed minimum; shaders loop */

enum { BN_SUM = 0, BN_SQ = 1, BN_BWD = 2 };           /* bn_partial */
enum { BN_FIN_MEAN = 0, BN_FIN_VAR = 1, BN_FIN_BWD = 2 }; /* bn_final */

typedef struct bn_plan {
    uint32_t c, hw, l, p, total, planes;
} bn_plan;

static sr_status bn_plan_init(const sr_bn_desc *d, bn_plan *pl)
{
    size_t l = (size_t)d->n * (size_t)d->hw;
    size_t per = SR_VK_MISC_ITEMS * SR_VK_MISC_LOCAL;
    size_t p = (l + per - 1) / per;

    SR_TRY(sr_vk_misc_count("batch norm", l * (size_t)d->c, &pl->total));
    pl->c = (uint32_t)d->c;
    pl->hw = (uint32_t)d->hw;
    pl->l = (uint32_t)l;
    pl->p = (uint32_t)(p < 1 ? 1 : (p > BN_MAX_PARTS ? BN_MAX_PARTS : p));
    pl->planes = (uint32_t)d->n * (uint32_t)d->c;
    return SR_OK;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Elementwise passes: x over hw, y over the n*c planes (both grid-stride
 * in the shaders), so the channel is per-workgroup, not a per-element
 * division. */
static void bn_groups_2d(const sr_backend *be, const bn_plan *pl,
                         uint32_t groups[3])
{
    uint32_t gx = (pl->hw + SR_VK_MISC_LOCAL - 1) / SR_VK_MISC_LOCAL;

    groups[0] = min_u32(gx, sr_vk_max_groups_x(be));
    groups[1] = min_u32(pl->planes, BN_MAX_GROUPS_Y);
    groups[2] = 1;
}

/* bn_partial: x, dy, mean, invstd -> part (K words per (c, p)). */
static sr_status bn_partial(sr_backend *be, const bn_plan *pl, uint32_t mode,
                            sr_view x, sr_view dy, sr_view mean,
                            sr_view invstd, sr_buf *part)
{
    uint32_t stride = pl->p * SR_VK_MISC_LOCAL;
    struct {
        uint32_t c, hw, l, p, step_n, step_k;
        uint32_t x_off, dy_off, mean_off, inv_off, part_off;
    } pc = {pl->c, pl->hw, pl->l, pl->p, stride / pl->hw, stride % pl->hw,
            0, 0, 0, 0, 0};
    uint32_t groups[3] = {pl->p, min_u32(pl->c, BN_MAX_GROUPS_Y), 1};
    sr_buf *bufs[5] = {x.buf, dy.buf ? dy.buf : x.buf,
                       mean.buf ? mean.buf : x.buf,
                       invstd.buf ? invstd.buf : x.buf, part};

    SR_TRY(sr_vk_misc_off(x, pl->total, &pc.x_off));
    SR_TRY(sr_vk_misc_off(dy, pl->total, &pc.dy_off));
    SR_TRY(sr_vk_misc_off(mean, pl->c, &pc.mean_off));
    SR_TRY(sr_vk_misc_off(invstd, pl->c, &pc.inv_off));
    return sr_vk_misc_launch(be, "bn_partial", 1, mode, 0, &pc, sizeof(pc),
                             bufs, 5, groups);
}

/* bn_final: part -> out0..out3 per mode (see shaders/bn_final.comp). */
static sr_status bn_final(sr_backend *be, const bn_plan *pl, uint32_t mode,
                          sr_buf *part, const sr_view out[4],
                          const sr_bn_desc *d)
{
    struct {
        uint32_t c, p;
        float l;
        uint32_t part_off, o[4];
        float eps, momentum;
    } pc = {pl->c, pl->p, (float)pl->l, 0, {0, 0, 0, 0}, d->eps,
            d->momentum};
    uint32_t groups[3] = {min_u32(pl->c, BN_MAX_GROUPS_Y), 1, 1};
    sr_buf *bufs[5] = {part};

    for (int i = 0; i < 4; i++) {
        sr_view v = out[i].buf ? out[i] : out[0];

        bufs[1 + i] = v.buf;
        SR_TRY(sr_vk_misc_off(v, pl->c, &pc.o[i]));
    }
    return sr_vk_misc_launch(be, "bn_final", 1, mode, 0, &pc, sizeof(pc),
                             bufs, 5, groups);
}

/* bn_apply: y = gamma (x - s0) invstd + beta; invstd = s1 (train) or
 * 1 / sqrt(s1 + eps) (eval). */
static sr_status bn_apply(sr_backend *be, const bn_plan *pl, uint32_t eval,
                          const sr_view v[6], float eps)
{
    struct {
        uint32_t planes, c, hw, off[6];
        float eps;
    } pc = {pl->planes, pl->c, pl->hw, {0}, eps};
    sr_buf *bufs[6];
    uint32_t groups[3];

    for (int i = 0; i < 6; i++) {
        size_t words = (i == 0 || i == 5) ? pl->total : pl->c;

        bufs[i] = v[i].buf;
        SR_TRY(sr_vk_misc_off(v[i], words, &pc.off[i]));
    }
    bn_groups_2d(be, pl, groups);
    return sr_vk_misc_launch(be, "bn_apply", 1, eval, 0, &pc, sizeof(pc),
                             bufs, 6, groups);
}

/* v: x, gamma, beta, run_mean, run_var, save_mean, save_invstd, y */
static sr_status bn_fwd_train(sr_backend *be, const sr_op *op)
{
    const sr_view *v = op->v;
    bn_plan pl;
    sr_buf *part;

    SR_TRY(bn_plan_init(&op->p.bn, &pl));
    SR_TRY(sr_vk_scratch(be, (size_t)pl.c * pl.p, &part));

    const sr_view mean_out[4] = {v[5], SR_NONE, SR_NONE, SR_NONE};
    SR_TRY(bn_partial(be, &pl, BN_SUM, v[0], SR_NONE, SR_NONE, SR_NONE,
                      part));
    SR_TRY(bn_final(be, &pl, BN_FIN_MEAN, part, mean_out, &op->p.bn));

    const sr_view var_out[4] = {v[5], v[6], v[3], v[4]};
    SR_TRY(bn_partial(be, &pl, BN_SQ, v[0], SR_NONE, v[5], SR_NONE, part));
    SR_TRY(bn_final(be, &pl, BN_FIN_VAR, part, var_out, &op->p.bn));

    const sr_view ap[6] = {v[0], v[1], v[2], v[5], v[6], v[7]};
    return bn_apply(be, &pl, 0, ap, op->p.bn.eps);
}

/* v: x, gamma, beta, run_mean, run_var, y */
static sr_status bn_fwd_eval(sr_backend *be, const sr_op *op)
{
    bn_plan pl;

    SR_TRY(bn_plan_init(&op->p.bn, &pl));
    return bn_apply(be, &pl, 1, op->v, op->p.bn.eps);
}

/* v: x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta */
static sr_status bn_bwd(sr_backend *be, const sr_op *op)
{
    const sr_view *v = op->v;
    bn_plan pl;
    sr_buf *part;

    SR_TRY(bn_plan_init(&op->p.bn, &pl));
    SR_TRY(sr_vk_scratch(be, 2 * (size_t)pl.c * pl.p, &part));
    SR_TRY(bn_partial(be, &pl, BN_BWD, v[0], v[1], v[3], v[4], part));

    const sr_view fin_out[4] = {v[6], v[7], SR_NONE, SR_NONE};
    SR_TRY(bn_final(be, &pl, BN_FIN_BWD, part, fin_out, &op->p.bn));

    /* dx = gamma invstd (dy - dbeta / L - xhat dgamma / L) */
    struct {
        uint32_t planes, c, hw, off[8];
        float inv_l;
    } pc = {pl.planes, pl.c, pl.hw, {0}, (float)(1.0 / pl.l)};
    static const int order[8] = {0, 1, 2, 3, 4, 6, 7, 5};
    sr_buf *bufs[8];
    uint32_t groups[3];

    for (int i = 0; i < 8; i++) {
        sr_view vi = v[order[i]];
        size_t words = (i < 2 || i == 7) ? pl.total : pl.c;

        bufs[i] = vi.buf;
        SR_TRY(sr_vk_misc_off(vi, words, &pc.off[i]));
    }
    bn_groups_2d(be, &pl, groups);
    return sr_vk_misc_launch(be, "bn_bwd_dx", 0, 0, 0, &pc, sizeof(pc), bufs,
                             8, groups);
}

sr_status sr_vk_exec_norm_ops(sr_backend *be, const sr_op *op)
{
    switch (op->kind) {
    case SR_OP_BN_FWD_TRAIN:
        return bn_fwd_train(be, op);
    case SR_OP_BN_FWD_EVAL:
        return bn_fwd_eval(be, op);
    case SR_OP_BN_BWD:
        return bn_bwd(be, op);
    default:
        return SR_E_UNSUPPORTED;
    }
}
