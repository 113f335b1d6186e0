/* The GPU kernel family's convolutions (shaders/tiled_conv.comp) and the
 * tile choice it shares with the linear layers' GEMM (tiled_gemm.comp,
 * recorded by vk_linear.c). Used where sr_vk_gpu_kernels says so; anything
 * these do not cover returns SR_E_UNSUPPORTED and runs on the lavapipe
 * family's kernels instead (vk_conv.c).
 *
 * Tiles come from the device's limits, not from the subgroup size: a
 * workgroup of up to 16 x 16 invocations (fewer where
 * maxComputeWorkGroupInvocations is lower) each holding a TM x TN block of
 * a BM x BN output tile, and BK-deep slabs of both operands in shared memory
 * (as deep as maxComputeSharedMemorySize allows, up to 16).
 */
#include <stdint.h>

#include "vk_ops.h"

/* Split-K partials of bwd_weight stay below this many words, as in
 * vk_conv.c. */
#define TILED_SPLIT_MAX_WORDS ((size_t)8 << 20)
/* bwd_weight aims for this many workgroups (output tiles x splits): enough
 * to fill a large GPU; a CPU device running this family (tests) gets few,
 * each split costing a partial. */
#define TILED_TARGET_GROUPS_GPU 1024u
#define TILED_TARGET_GROUPS_CPU 32u

void sr_vk_pick_tile(const sr_backend *be, uint32_t m, uint32_t n,
                     sr_vk_tile *t)
{
    uint32_t inv = sr_vk_max_invocations(be);
    uint32_t shared = sr_vk_max_shared_bytes(be);
    uint32_t wm = 16, wn = 16;

    /* Vulkan guarantees 128 invocations: at worst 16 x 8 */
    while (wm * wn > inv && wm * wn > 1) {
        if (wn >= wm)
            wn /= 2;
        else
            wm /= 2;
    }
    /* M is often small (3 to 64 channels): the smallest tile covering it */
    t->bm = 16;
    while (t->bm < 128 && t->bm < m)
        t->bm *= 2;
    if (t->bm < wm)
        t->bm = wm;
    t->bn = n >= 8192 ? 128 : 64;
    if (t->bn < wn)
        t->bn = wn;
    t->tm = t->bm / wm;
    t->tn = t->bn / wn;
    t->wg = wm * wn;
    /* padded rows, as in tiled_gemm.glsl */
    t->bk = 16;
    while (t->bk > 4 &&
           (size_t)t->bk * (t->bm + t->bn + 2) * 4 > (size_t)shared)
        t->bk /= 2;
}

typedef struct tiled_conv_push {
    uint32_t off_a, off_b, off_e, off_y;
    uint32_t n, c, h, w, k, kh, kw, pad, oh, ow;
    int32_t bits;
    uint32_t kchunk, split_stride;
} tiled_conv_push;

/* Every buffer bound whole and indexable with 32-bit unsigned math. */
static int fits(const sr_backend *be, sr_view v)
{
    return !v.buf || (v.buf->words <= sr_vk_max_buffer_words(be) &&
                      v.buf->words <= (size_t)INT32_MAX);
}

static sr_status record_tiled(sr_backend *be, const sr_conv2d_desc *cd,
                              uint32_t mode, const sr_vk_tile *t, sr_view a,
                              sr_view b, sr_view e, sr_view y, uint32_t gx,
                              uint32_t gy, uint32_t splits, uint32_t kchunk,
                              uint32_t split_stride)
{
    int32_t off[4];
    sr_view v[4] = {a, b, e, y};
    for (int i = 0; i < 4; i++)
        SR_TRY(sr_vk_word_off(v[i], &off[i]));
    tiled_conv_push pc = {
        .off_a = (uint32_t)off[0], .off_b = (uint32_t)off[1],
        .off_e = (uint32_t)off[2], .off_y = (uint32_t)off[3],
        .n = (uint32_t)cd->n, .c = (uint32_t)cd->c, .h = (uint32_t)cd->h,
        .w = (uint32_t)cd->w, .k = (uint32_t)cd->k, .kh = (uint32_t)cd->kh,
        .kw = (uint32_t)cd->kw, .pad = (uint32_t)cd->pad,
        .oh = (uint32_t)sr_conv2d_out_h(cd), .ow = (uint32_t)sr_conv2d_out_w(cd),
        .bits = cd->act_bits, .kchunk = kchunk, .split_stride = split_stride,
    };
    uint32_t crs = (uint32_t)(cd->c * cd->kh * cd->kw);
    uint32_t ohw = pc.oh * pc.ow;
    /* A as vec4s: weight rows (fwd) or dy rows (bwd_weight), 4-aligned */
    int vec4 = off[0] % 4 == 0 &&
               ((mode == 0 && crs % 4 == 0) || (mode == 2 && ohw % 4 == 0));
    sr_vk_dispatch d = {
        .shader = "tiled_conv",
        .spec = {t->wg, t->bm, t->bn, t->bk, t->tm, t->tn, mode,
                 (uint32_t)cd->stride, cd->act_bits > 0,
                 mode == 0 && cd->bias, (uint32_t)vec4},
        .nspec = 11,
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {a.buf, b.buf, e.buf, y.buf}, .nbufs = 4,
        .groups = {gx, gy, splits},
    };
    return sr_vk_record(be, &d);
}

sr_status sr_vk_tiled_conv(sr_backend *be, const sr_conv2d_desc *cd,
                           int bwd_data, sr_view w, sr_view src, sr_view e,
                           sr_view out)
{
    uint32_t m = (uint32_t)(bwd_data ? cd->c : cd->k);
    size_t n = (size_t)cd->n * (bwd_data ? (size_t)cd->h * cd->w
                                         : (size_t)sr_conv2d_out_h(cd) *
                                               sr_conv2d_out_w(cd));
    sr_vk_tile t;

    if (!fits(be, w) || !fits(be, src) || !fits(be, e) || !fits(be, out) ||
        n > (size_t)INT32_MAX)
        return SR_E_UNSUPPORTED;
    sr_vk_pick_tile(be, m, (uint32_t)n, &t);
    uint32_t gx = sr_vk_div_up((uint32_t)n, t.bn), gy = sr_vk_div_up(m, t.bm);
    if (gx > sr_vk_max_groups_x(be) || gy > SR_VK_MAX_GROUPS_YZ)
        return SR_E_UNSUPPORTED;
    if (!bwd_data && !cd->bias)
        e = SR_NONE;
    if (bwd_data && cd->act_bits == 0)
        e = SR_NONE;
    return record_tiled(be, cd, bwd_data ? 1u : 0u, &t, w, src, e, out, gx,
                        gy, 1, 0, 0);
}

sr_status sr_vk_tiled_bwd_weight(sr_backend *be, const sr_conv2d_desc *cd,
                                 sr_view x, sr_view dy, sr_view dw,
                                 sr_view db)
{
    uint32_t k = (uint32_t)cd->k;
    uint32_t crs = (uint32_t)(cd->c * cd->kh * cd->kw);
    size_t red = (size_t)cd->n * sr_conv2d_out_h(cd) * sr_conv2d_out_w(cd);
    size_t wwords = (size_t)k * crs;
    uint32_t splits, kchunk, target, bsplits = 1;
    size_t part_words, total;
    sr_buf *scratch = NULL;
    sr_vk_tile t;

    if (!fits(be, x) || !fits(be, dy) || !fits(be, dw) || !fits(be, db) ||
        red > (size_t)INT32_MAX)
        return SR_E_UNSUPPORTED;
    sr_vk_pick_tile(be, k, crs, &t);
    uint32_t gx = sr_vk_div_up(crs, t.bn), gy = sr_vk_div_up(k, t.bm);
    if (gx > sr_vk_max_groups_x(be) || gy > SR_VK_MAX_GROUPS_YZ)
        return SR_E_UNSUPPORTED;
    /* split-K over the batch's pixels: each split at least 8 slabs deep */
    target = sr_vk_device_is_cpu(be) ? TILED_TARGET_GROUPS_CPU
                                     : TILED_TARGET_GROUPS_GPU;
    splits = gx * gy >= target ? 1 : sr_vk_div_up(target, gx * gy);
    if (splits > sr_vk_div_up((uint32_t)red, 8 * t.bk))
        splits = sr_vk_div_up((uint32_t)red, 8 * t.bk);
    if (splits > SR_VK_MAX_GROUPS_YZ)
        splits = SR_VK_MAX_GROUPS_YZ;
    while (splits > 1 && (size_t)splits * wwords > TILED_SPLIT_MAX_WORDS)
        splits--;
    if (splits < 1)
        splits = 1;
    kchunk = sr_vk_div_up(sr_vk_div_up((uint32_t)red, splits), t.bk) * t.bk;
    splits = sr_vk_div_up((uint32_t)red, kchunk);
    if (cd->bias)
        bsplits = sr_vk_pick_splits(k, cd->n, k, TILED_SPLIT_MAX_WORDS);
    part_words = splits > 1 ? (size_t)splits * wwords : 0;
    total = part_words + (bsplits > 1 ? (size_t)bsplits * k : 0);
    if (total > sr_vk_max_buffer_words(be) || total > (size_t)INT32_MAX)
        return SR_E_UNSUPPORTED;
    if (total)
        SR_TRY(sr_vk_scratch(be, total, &scratch));

    sr_view out = splits > 1 ? (sr_view){scratch, 0} : dw;
    SR_TRY(record_tiled(be, cd, 2, &t, dy, x, SR_NONE, out, gx, gy, splits,
                        kchunk, (uint32_t)wwords));
    if (splits > 1)
        SR_TRY(sr_vk_record_split_reduce(be, scratch, 0, (uint32_t)wwords,
                                         splits, (uint32_t)wwords, dw));
    if (!cd->bias)
        return SR_OK;
    return sr_vk_record_bias_grad(be, dy, cd->n, cd->k,
                                  sr_conv2d_out_h(cd) * sr_conv2d_out_w(cd),
                                  db, scratch, (uint32_t)part_words, bsplits);
}
