/* Vulkan batch norm, as cpu_norm.c (shaders/bn_*.comp).
 *
 * Per-channel statistics in two deterministic passes: bn_stats_partial
 * writes P partial sums per channel (workgroup (p, c), grid-stride over the
 * channel's n*hw values), bn_stats_final folds them with a fixed tree. The
 * variance is two-pass (mean first, then sum (x - mean)^2), so there is no
 * E[x^2] - E[x]^2 cancellation.
 *
 * A batch larger than one storage binding (vk_window.c) runs in pieces of
 * whole images: bn_stats_partial once per piece, each piece's partials at
 * its own place in the channel's row (P_ALL in all), bn_stats_final once
 * over all of them, and the elementwise passes (bn_fwd_apply, bn_bwd_data)
 * per piece. One image (c x hw values) must fit one binding.
 */
#include <stdint.h>

#include "vk_ops.h"

#define BN_MAX_PARTS 256u      /* partials per piece and channel */
#define BN_MAX_GROUPS_Y 65535u /* the guaranteed minimum; shaders loop */

enum { BN_SUM = 0, BN_SQ = 1, BN_BWD = 2 };           /* bn_stats_partial */
enum { BN_FIN_MEAN = 0, BN_FIN_VAR = 1, BN_FIN_BWD = 2 }; /* bn_stats_final */

typedef struct bn_plan {
    uint32_t c, hw, l, total;
    size_t img_words;   /* c * hw */
    uint32_t imgs;      /* images per piece */
    uint32_t n;         /* images */
    uint32_t p_all;     /* partials per channel, all pieces */
} bn_plan;

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Partials per channel of a piece of `imgs` images. */
static uint32_t bn_parts(const bn_plan *pl, uint32_t imgs)
{
    size_t l = (size_t)imgs * pl->hw;
    size_t per = SR_VK_RED_ITEMS * SR_VK_LOCAL_1D;
    size_t p = (l + per - 1) / per;

    return (uint32_t)(p < 1 ? 1 : (p > BN_MAX_PARTS ? BN_MAX_PARTS : p));
}

/* big: the views of batch-sized operands (x, y, dy, dx), and their names
 * for the error when not even one image fits a binding. */
static sr_status bn_plan_init(const sr_backend *be, const char *op,
                              const sr_bn_desc *d, const sr_view *big,
                              const char *const *names, int nbig,
                              bn_plan *pl)
{
    size_t l = (size_t)d->n * (size_t)d->hw;

    SR_TRY(sr_vk_index_count("batch norm", l * (size_t)d->c, &pl->total));
    pl->c = (uint32_t)d->c;
    pl->hw = (uint32_t)d->hw;
    pl->l = (uint32_t)l;
    pl->n = (uint32_t)d->n;
    pl->img_words = (size_t)d->c * (size_t)d->hw;
    pl->imgs = pl->n;
    for (int i = 0; i < nbig; i++) {
        size_t k = sr_vk_items_per_piece(be, &big[i], 1, pl->img_words, pl->n);
        if (k == 0)
            return sr_vk_too_big(be, op, names[i], "one image, c x hw",
                                 pl->img_words,
                                 "batch norm splits the batch, not an "
                                 "image: use fewer channels or smaller "
                                 "images, or a device with a larger "
                                 "maxStorageBufferRange");
        if (k < pl->imgs)
            pl->imgs = (uint32_t)k;
    }
    pl->p_all = 0;
    for (uint32_t i0 = 0; i0 < pl->n; i0 += pl->imgs)
        pl->p_all += bn_parts(pl, min_u32(pl->imgs, pl->n - i0));
    return SR_OK;
}

/* A piece's view of a batch-sized operand. */
static sr_status bn_piece(sr_backend *be, const bn_plan *pl, sr_view v,
                          uint32_t i0, uint32_t imgs, const char *op,
                          const char *what, sr_view *out)
{
    return sr_vk_fit(be, sr_vk_view_at(v, (size_t)i0 * pl->img_words),
                     (size_t)imgs * pl->img_words, op, what, out);
}

/* Elementwise passes: x over hw, y over the planes of a piece (both
 * grid-stride in the shaders), so the channel is per-workgroup, not a
 * per-element division. */
static void bn_groups_2d(const sr_backend *be, const bn_plan *pl,
                         uint32_t planes, uint32_t groups[3])
{
    uint32_t gx = (pl->hw + SR_VK_LOCAL_1D - 1) / SR_VK_LOCAL_1D;

    groups[0] = min_u32(gx, sr_vk_max_groups_x(be));
    groups[1] = min_u32(planes, BN_MAX_GROUPS_Y);
    groups[2] = 1;
}

/* bn_stats_partial over every piece: x, dy, mean, invstd -> part (K words per
 * (c, p)). */
static sr_status bn_stats_partial(sr_backend *be, const bn_plan *pl,
                                  uint32_t mode, const char *op, sr_view x,
                                  sr_view dy, sr_view mean, sr_view invstd,
                                  sr_buf *part)
{
    struct {
        uint32_t c, hw, l, p, step_n, step_k;
        uint32_t x_off, dy_off, mean_off, inv_off, part_off;
        uint32_t p_all, p_base;
    } pc = {pl->c, pl->hw, 0, 0, 0, 0, 0, 0, 0, 0, 0, pl->p_all, 0};

    SR_TRY(sr_vk_fit(be, mean, pl->c, op, "mean", &mean));
    SR_TRY(sr_vk_fit(be, invstd, pl->c, op, "invstd", &invstd));
    SR_TRY(sr_vk_view_off(mean, pl->c, &pc.mean_off));
    SR_TRY(sr_vk_view_off(invstd, pl->c, &pc.inv_off));
    for (uint32_t i0 = 0; i0 < pl->n; i0 += pl->imgs) {
        uint32_t imgs = min_u32(pl->imgs, pl->n - i0);
        uint32_t p = bn_parts(pl, imgs);
        uint32_t stride = p * SR_VK_LOCAL_1D;
        uint32_t groups[3] = {p, min_u32(pl->c, BN_MAX_GROUPS_Y), 1};
        size_t words = (size_t)imgs * pl->img_words;
        sr_view xs, dys;

        SR_TRY(bn_piece(be, pl, x, i0, imgs, op, "x", &xs));
        SR_TRY(bn_piece(be, pl, dy, i0, imgs, op, "dy", &dys));
        pc.l = imgs * pl->hw;
        pc.p = p;
        pc.step_n = stride / pl->hw;
        pc.step_k = stride % pl->hw;
        SR_TRY(sr_vk_view_off(xs, words, &pc.x_off));
        SR_TRY(sr_vk_view_off(dys, words, &pc.dy_off));
        sr_buf *bufs[5] = {xs.buf, dys.buf ? dys.buf : xs.buf,
                           mean.buf ? mean.buf : xs.buf,
                           invstd.buf ? invstd.buf : xs.buf, part};
        SR_TRY(sr_vk_launch(be, "bn_stats_partial", 1, mode, 0, &pc, sizeof(pc),
                            bufs, 5, groups));
        pc.p_base += p;
    }
    return SR_OK;
}

/* bn_stats_final: part -> out0..out3 per mode (see
 * shaders/bn_stats_final.comp). */
static sr_status bn_stats_final(sr_backend *be, const bn_plan *pl,
                                uint32_t mode, const char *op, sr_buf *part,
                                const sr_view out[4], const sr_bn_desc *d)
{
    struct {
        uint32_t c, p;
        float l;
        uint32_t part_off, o[4];
        float eps, momentum;
    } pc = {pl->c, pl->p_all, (float)pl->l, 0, {0, 0, 0, 0}, d->eps,
            d->momentum};
    uint32_t groups[3] = {min_u32(pl->c, BN_MAX_GROUPS_Y), 1, 1};
    sr_buf *bufs[5] = {part};

    for (int i = 0; i < 4; i++) {
        sr_view v = out[i].buf ? out[i] : out[0];

        SR_TRY(sr_vk_fit(be, v, pl->c, op, "per-channel output", &v));
        bufs[1 + i] = v.buf;
        SR_TRY(sr_vk_view_off(v, pl->c, &pc.o[i]));
    }
    return sr_vk_launch(be, "bn_stats_final", 1, mode, 0, &pc, sizeof(pc), bufs,
                        5, groups);
}

/* bn_fwd_apply per piece: y = gamma (x - s0) invstd + beta; invstd = s1
 * (train) or 1 / sqrt(s1 + eps) (eval). v: x, gamma, beta, s0, s1, y. */
static sr_status bn_fwd_apply(sr_backend *be, const bn_plan *pl, uint32_t eval,
                              const char *op, const sr_view v[6],
                              const sr_bn_desc *d)
{
    struct {
        uint32_t planes, c, hw, off[6];
        float eps;
    } pc = {0, pl->c, pl->hw, {0}, d->eps};
    static const char *const names[6] = {"x", "gamma", "beta", "mean",
                                         "var", "y"};
    sr_buf *bufs[6];
    uint32_t groups[3];

    for (int i = 1; i < 5; i++) {
        sr_view f;

        SR_TRY(sr_vk_fit(be, v[i], pl->c, op, names[i], &f));
        bufs[i] = f.buf;
        SR_TRY(sr_vk_view_off(f, pl->c, &pc.off[i]));
    }
    for (uint32_t i0 = 0; i0 < pl->n; i0 += pl->imgs) {
        uint32_t imgs = min_u32(pl->imgs, pl->n - i0);
        size_t words = (size_t)imgs * pl->img_words;
        sr_view xs, ys;

        SR_TRY(bn_piece(be, pl, v[0], i0, imgs, op, "x", &xs));
        SR_TRY(bn_piece(be, pl, v[5], i0, imgs, op, "y", &ys));
        bufs[0] = xs.buf;
        bufs[5] = ys.buf;
        SR_TRY(sr_vk_view_off(xs, words, &pc.off[0]));
        SR_TRY(sr_vk_view_off(ys, words, &pc.off[5]));
        pc.planes = imgs * pl->c;
        bn_groups_2d(be, pl, pc.planes, groups);
        SR_TRY(sr_vk_launch(be, "bn_fwd_apply", 2, eval, (uint32_t)d->relu,
                            &pc, sizeof(pc),
                            bufs, 6, groups));
    }
    return SR_OK;
}

/* v: x, gamma, beta, run_mean, run_var, save_mean, save_invstd, y */
sr_status sr_vk_bn_fwd_train(sr_backend *be, const sr_op *op)
{
    static const char *const name = "bn_fwd_train";
    static const char *const big_names[2] = {"x", "y"};
    const sr_view *v = op->v;
    const sr_view big[2] = {v[0], v[7]};
    bn_plan pl;
    sr_buf *part;

    SR_TRY(bn_plan_init(be, name, &op->p.bn, big, big_names, 2, &pl));
    SR_TRY(sr_vk_scratch(be, (size_t)pl.c * pl.p_all, &part));

    const sr_view mean_out[4] = {v[5], SR_NONE, SR_NONE, SR_NONE};
    SR_TRY(bn_stats_partial(be, &pl, BN_SUM, name, v[0], SR_NONE, SR_NONE,
                            SR_NONE, part));
    SR_TRY(bn_stats_final(be, &pl, BN_FIN_MEAN, name, part, mean_out,
                          &op->p.bn));

    const sr_view var_out[4] = {v[5], v[6], v[3], v[4]};
    SR_TRY(bn_stats_partial(be, &pl, BN_SQ, name, v[0], SR_NONE, v[5], SR_NONE,
                            part));
    SR_TRY(bn_stats_final(be, &pl, BN_FIN_VAR, name, part, var_out, &op->p.bn));

    const sr_view ap[6] = {v[0], v[1], v[2], v[5], v[6], v[7]};
    return bn_fwd_apply(be, &pl, 0, name, ap, &op->p.bn);
}

/* v: x, gamma, beta, run_mean, run_var, y */
sr_status sr_vk_bn_fwd_eval(sr_backend *be, const sr_op *op)
{
    static const char *const big_names[2] = {"x", "y"};
    const sr_view big[2] = {op->v[0], op->v[5]};
    bn_plan pl;

    SR_TRY(bn_plan_init(be, "bn_fwd_eval", &op->p.bn, big, big_names, 2,
                        &pl));
    return bn_fwd_apply(be, &pl, 1, "bn_fwd_eval", op->v, &op->p.bn);
}

/* v: x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta */
sr_status sr_vk_bn_bwd(sr_backend *be, const sr_op *op)
{
    static const char *const name = "bn_bwd";
    static const char *const big_names[3] = {"x", "dy", "dx"};
    const sr_view *v = op->v;
    const sr_view big[3] = {v[0], v[1], v[5]};
    bn_plan pl;
    sr_buf *part;

    SR_TRY(bn_plan_init(be, name, &op->p.bn, big, big_names, 3, &pl));
    SR_TRY(sr_vk_scratch(be, 2 * (size_t)pl.c * pl.p_all, &part));
    SR_TRY(bn_stats_partial(be, &pl, BN_BWD, name, v[0], v[1], v[3], v[4],
                            part));

    const sr_view fin_out[4] = {v[6], v[7], SR_NONE, SR_NONE};
    SR_TRY(bn_stats_final(be, &pl, BN_FIN_BWD, name, part, fin_out, &op->p.bn));

    /* dx = gamma invstd (dy - dbeta / L - xhat dgamma / L), per piece */
    struct {
        uint32_t planes, c, hw, off[8];
        float inv_l;
    } pc = {0, pl.c, pl.hw, {0}, (float)(1.0 / pl.l)};
    /* shader bindings: x, dy, gamma, mean, invstd, dgamma, dbeta, dx */
    static const int order[8] = {0, 1, 2, 3, 4, 6, 7, 5};
    static const char *const names[8] = {"x", "dy", "gamma", "save_mean",
                                         "save_invstd", "dgamma", "dbeta",
                                         "dx"};
    sr_buf *bufs[8];
    uint32_t groups[3];

    for (int i = 2; i < 7; i++) {
        sr_view f;

        SR_TRY(sr_vk_fit(be, v[order[i]], pl.c, name, names[i], &f));
        bufs[i] = f.buf;
        SR_TRY(sr_vk_view_off(f, pl.c, &pc.off[i]));
    }
    for (uint32_t i0 = 0; i0 < pl.n; i0 += pl.imgs) {
        uint32_t imgs = min_u32(pl.imgs, pl.n - i0);
        size_t words = (size_t)imgs * pl.img_words;
        static const int piece[3] = {0, 1, 7};

        for (int j = 0; j < 3; j++) {
            int i = piece[j];
            sr_view f;

            SR_TRY(bn_piece(be, &pl, v[order[i]], i0, imgs, name, names[i],
                            &f));
            bufs[i] = f.buf;
            SR_TRY(sr_vk_view_off(f, words, &pc.off[i]));
        }
        pc.planes = imgs * pl.c;
        bn_groups_2d(be, &pl, pc.planes, groups);
        SR_TRY(sr_vk_launch(be, "bn_bwd_data", 0, 0, 0, &pc, sizeof(pc), bufs,
                            8, groups));
    }
    return SR_OK;
}
