/* Vulkan convolutions, as cpu_conv.c: forward, backward-data and
 * backward-weight.
 *
 * Two kernel families (docs/design.md, "Vulkan kernel families"): on GPUs
 * the shared-memory tiled kernels of vk_tiled.c run first; what they do
 * not cover, and everything on CPU devices (lavapipe), runs on the kernels
 * below.
 *
 * Convolution runs as texel-buffer implicit GEMMs (conv_fwd_bwd_data.comp,
 * conv_bwd_weight.comp; see "Texel-buffer convolution" below). The older
 * storage-buffer path, kept as the fallback, is an implicit GEMM:
 * conv_fallback.comp reads the im2col matrix straight from x through index
 * math, so there is no column scratch, no batch chunking, and activation
 * quantization is fused into the loads. Weight gradients split the batch
 * over workgroups (split-K) into partials that bwd_weight_reduce.comp sums
 * in a fixed order; bias gradients do the same with bwd_weight_bias.comp.
 * Nothing uses float atomics, so every result is deterministic.
 */
#include <stdint.h>

#include "vk_ops.h"

/* Split-K partials stay below this many words (256 MiB would not fit
 * lavapipe's 128 MiB buffer limit anyway). */
#define SPLIT_MAX_WORDS ((size_t)8 << 20)

/* ------------------------------------------------------------------ */
/* Texel-buffer convolution (conv_fwd_bwd_data.comp, conv_bwd_weight.comp).
 *
 * Implicit GEMMs like conv_fallback.comp, but every operand is read through
 * texel buffer views (sr_vk_dispatch.texel): lavapipe turns a texel fetch
 * into a vector gather, while each storage-buffer load is a per-lane scalar
 * loop there (Mesa 22.3) and was the bottleneck of conv_fallback.comp;
 * measured on a 2-core lavapipe this is 3-10x faster. Only small operands
 * are packed into scratch by conv_pack.comp: the weights (vec4s of taps;
 * flipped and transposed for bwd_data; split into phase classes for
 * bwd_data at stride > 1, so the zero taps of the transposed convolution
 * cost nothing) and dy for bwd_weight (vec4s of pixels). No subgroup
 * operations: the same code runs on any subgroup size. conv_fallback.comp
 * stays the fallback for what these do not cover (kernels over 8x8,
 * offsets past 2^31, ...).
 * An R32F texel fetch is one vpgatherdd per 8 lanes on x86, which costs
 * about as much as the 4 plain 128-bit loads and transpose of an RGBA32F
 * fetch (profiled: 40% of ResNet-20 conv1 bwd_data's time sat on the
 * gathers); where x's rows are 4-aligned, the row strips of both shaders
 * read x as vec4s (XV4). */

/* Aim for at least this many workgroups in bwd_weight (split-K): a GPU
 * wants many; on lavapipe (2 threads here) partials past ~32 groups cost
 * more than they gain (measured: 32 beat 8, 16, 64, 128 and 512). */
#define CONV_TARGET_GROUPS_GPU 512u
#define CONV_TARGET_GROUPS_CPU 32u
/* Pixels per invocation (register block columns) in conv_fwd_bwd_data: the
 * default, and the widest row block (ROW mode, see implicit_conv). */
#define CONV_TN 8u
#define CONV_TN_ROW_MAX 32u

/* conv_pack.comp modes */
enum { PACK_W = 0, PACK_DY = 1, PACK_WFLIP = 2, PACK_WPHASE = 3 };

typedef struct pack_push {
    int32_t off_src, off_dst4, rows, cols, ld4, img0;
    int32_t c, h, w, k, kh, kw, pad, oh, ow, bits;
} pack_push;

/* PACK_WPHASE reads the full kernel from the specialization constants
 * and its class's sub-kernel from the push constants' kh, kw (sub_kh,
 * sub_kw); other modes pass 0 for both. */
static sr_status record_pack_sub(sr_backend *be, const sr_conv2d_desc *cd,
                                 int mode, sr_view src, sr_buf *dst,
                                 uint32_t off_dst4, uint32_t rows,
                                 uint32_t cols, uint32_t ld4, int img0,
                                 int sub_kh, int sub_kw)
{
    pack_push pc = {
        .off_dst4 = (int32_t)off_dst4, .rows = (int32_t)rows,
        .cols = (int32_t)cols, .ld4 = (int32_t)ld4, .img0 = img0,
        .c = cd->c, .h = cd->h, .w = cd->w, .k = cd->k,
        .kh = sub_kh ? sub_kh : cd->kh, .kw = sub_kw ? sub_kw : cd->kw,
        .pad = cd->pad, .oh = sr_conv2d_out_h(cd),
        .ow = sr_conv2d_out_w(cd), .bits = cd->act_bits,
    };
    SR_TRY(sr_vk_word_off(src, &pc.off_src));
    sr_vk_dispatch d = {
        .shader = "conv_pack",
        .spec = {(uint32_t)mode, (uint32_t)cd->stride, (uint32_t)cd->kh,
                 (uint32_t)cd->kw},
        .nspec = 4,
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {src.buf, NULL, NULL, NULL, dst}, .nbufs = 5,
        .texel = 1,
    };
    sr_vk_groups_1d(be, (size_t)rows * ld4, 64, d.groups);
    return sr_vk_record(be, &d);
}

static sr_status record_pack(sr_backend *be, const sr_conv2d_desc *cd,
                             int mode, sr_view src, sr_buf *dst,
                             uint32_t off_dst4, uint32_t rows, uint32_t cols,
                             uint32_t ld4, int img0)
{
    return record_pack_sub(be, cd, mode, src, dst, off_dst4, rows, cols, ld4,
                           img0, 0, 0);
}

typedef struct implicit_push {
    int32_t off_w4, off_x, off_e, off_y;
    int32_t m, cin, h, w, oh, ow, ph, pw;
    int32_t ncols, x_last, bits;
    uint32_t tiles_n;
    int32_t pad0, hd, wd, cls;
} implicit_push;

/* Taps of a kernel of size k along one axis that reach output phase
 * `phase` of a stride-`stride` transposed convolution. */
static uint32_t sub_taps(int k, int stride, int pad, int phase)
{
    int r0 = (phase + pad) % stride;
    int n = r0 < k ? (k - r0 + stride - 1) / stride : 0;
    return n ? (uint32_t)n : 1; /* an empty class: one zero tap */
}

/* conv_fwd_bwd_data.comp: fwd, and bwd_data as the convolution of dy with the
 * flipped, transposed kernel (per phase class at stride > 1). Only the
 * weights are packed. Returns SR_E_UNSUPPORTED when it does not apply. */
static sr_status implicit_conv(sr_backend *be, const sr_conv2d_desc *cd,
                               int bwd_data, sr_view w, sr_view src,
                               sr_view e, sr_view out)
{
    /* Transposed stride: bwd_data at stride > 1 runs per phase class. */
    uint32_t ts = bwd_data ? (uint32_t)cd->stride : 1, ncls = ts * ts;
    int oh = sr_conv2d_out_h(cd), ow = sr_conv2d_out_w(cd);
    uint32_t m = (uint32_t)(bwd_data ? cd->c : cd->k);
    uint32_t cin = (uint32_t)(bwd_data ? cd->k : cd->c);
    /* output grid: y, dx, or one phase class of dx */
    uint32_t gh = bwd_data ? sr_vk_div_up((uint32_t)cd->h, ts) : (uint32_t)oh;
    uint32_t gw = bwd_data ? sr_vk_div_up((uint32_t)cd->w, ts) : (uint32_t)ow;
    size_t ncols = (size_t)cd->n * gh * gw;
    /* A block of TM rows; m < 4 (bwd_data of an RGB layer) takes exactly
     * m, so no row is idle (measured 15-20% faster at m = 3). */
    uint32_t tm = m < 4 ? m : m <= 4 ? 4 : m <= 8 ? 8 : 16, lanes = 64;
    uint32_t tiles_n;
    uint32_t tn = CONV_TN;
    uint32_t rows = 1; /* output rows per block (ROWS) */
    uint32_t row;      /* ROW: a block's pixels lie in whole output rows */
    int xv4, vst;      /* ROW strips read as vec4s (XV4); vec4 stores */
    uint32_t max_x = sr_vk_max_groups_x(be);
    uint32_t kh[16], kw[16], rs4[16], woff4[16];
    size_t w_words = 0;
    sr_buf *scratch;
    int epi = 0;

    if (cd->kh > 8 || cd->kw > 8 || ts > 4 ||
        src.buf->words > sr_vk_max_texel_words(be, 0) ||
        (e.buf && e.buf->words > sr_vk_max_texel_words(be, 0)) ||
        w.buf->words > sr_vk_max_texel_words(be, 1) ||
        src.buf->words > (size_t)INT32_MAX ||
        out.buf->words > (size_t)INT32_MAX ||
        ncols > (size_t)INT32_MAX / 2)
        return SR_E_UNSUPPORTED;
    for (uint32_t c = 0; c < ncls; c++) {
        kh[c] = ts > 1 ? sub_taps(cd->kh, cd->stride, cd->pad, (int)(c / ts))
                       : (uint32_t)cd->kh;
        kw[c] = ts > 1 ? sub_taps(cd->kw, cd->stride, cd->pad, (int)(c % ts))
                       : (uint32_t)cd->kw;
        rs4[c] = sr_vk_div_up(kh[c] * kw[c], 4);
        woff4[c] = (uint32_t)(w_words / 4);
        w_words += (size_t)m * cin * rs4[c] * 4;
    }
    if (w_words > sr_vk_max_buffer_words(be) ||
        w_words > sr_vk_max_texel_words(be, 1))
        return SR_E_UNSUPPORTED;
    /* Strided bwd_data phase classes have 1- to 2-tap sub-kernels: too
     * little work per pixel to amortise the weight fetches and fixed cost
     * of an 8-pixel block on lavapipe. A narrow class grid (8 or 16 wide,
     * ResNet-20's downsampling layers) takes two whole rows per block
     * (ROWS): measured on 2-core lavapipe, 32x32 dx ~9.0 -> ~11 GFLOP/s,
     * 16x16 dx ~8.3 -> ~15 GFLOP/s. */
    if (ts > 1 && (gw == 8 || gw == 16) && gh % 2 == 0) {
        tn = 2 * gw;
        rows = 2;
    }
    /* ROW blocks (one row's TN consecutive pixels) as wide as the row
     * allows, up to 32: the weights fetched per input channel (TM x RS4
     * vec4s, the same for every pixel) serve TN pixels, and fewer, longer
     * strips overlap less. With TN > 8, TM = 8 keeps the accumulators (and
     * LLVM's compile time) near the TM 16 x TN 8 block. Measured on 2-core
     * lavapipe (run 6): 1.2-1.5x on the 32- and 16-wide layers. */
    row = rows > 1 || gw % tn == 0;
    if (row && rows == 1) {
        while (tn < CONV_TN_ROW_MAX && gw % (2 * tn) == 0)
            tn *= 2;
        if (tn > CONV_TN && tm > 8)
            tm = 8;
    }
    /* Strided bwd_data (ROWS): TM 8 too (1.1-1.3x). */
    if (rows > 1 && tm > 8)
        tm = 8;
    while (lanes > 8 && (lanes / 2) * tn >= ncols)
        lanes /= 2;
    tiles_n = sr_vk_div_up((uint32_t)ncols, lanes * tn);
    implicit_push pc = {
        .m = (int32_t)m, .cin = (int32_t)cin,
        .h = bwd_data ? oh : cd->h, .w = bwd_data ? ow : cd->w,
        .oh = (int32_t)gh, .ow = (int32_t)gw,
        .ph = bwd_data ? cd->kh - 1 - cd->pad : cd->pad,
        .pw = bwd_data ? cd->kw - 1 - cd->pad : cd->pad,
        .ncols = (int32_t)ncols, .x_last = (int32_t)src.buf->words - 1,
        .bits = cd->act_bits, .tiles_n = tiles_n,
        .pad0 = cd->pad, .hd = cd->h, .wd = cd->w,
    };
    if (!bwd_data && cd->bias)
        epi = 1;
    else if (bwd_data && cd->act_bits > 0)
        epi = 2;
    if (!epi)
        e = src;
    SR_TRY(sr_vk_word_off(src, &pc.off_x));
    SR_TRY(sr_vk_word_off(e, &pc.off_e));
    SR_TRY(sr_vk_word_off(out, &pc.off_y));
    /* XV4: x's rows start at multiples of 4 words and every block's strip
     * at the same phase mod 4 (a whole number of vec4s between blocks). */
    xv4 = row && pc.w % 4 == 0 && pc.off_x % 4 == 0 &&
          (rows > 1 ||
           (tn * (bwd_data ? 1u : (uint32_t)cd->stride)) % 4 == 0) &&
          src.buf->words <= sr_vk_max_texel_words(be, 1);
    vst = ts == 1 && row && tn % 4 == 0 && out.off % 4 == 0;
    /* The STE mask read as vec4s where the stores are vec4s and x allows. */
    if (epi == 2 && vst && pc.off_e % 4 == 0 &&
        e.buf->words <= sr_vk_max_texel_words(be, 1))
        epi = 3;
    uint32_t gx = tiles_n < max_x ? tiles_n : max_x;
    uint32_t gz = sr_vk_div_up(tiles_n, gx), gy = sr_vk_div_up(m, tm);
    if (gy > SR_VK_MAX_GROUPS_YZ || gz > SR_VK_MAX_GROUPS_YZ)
        return SR_E_UNSUPPORTED;

    SR_TRY(sr_vk_scratch(be, w_words, &scratch));
    for (uint32_t c = 0; c < ncls; c++) {
        if (ts > 1)
            SR_TRY(record_pack_sub(be, cd, PACK_WPHASE, w, scratch, woff4[c],
                                   cd->c * cd->k, kh[c] * kw[c], rs4[c],
                                   (int)c, (int)kh[c], (int)kw[c]));
        else
            SR_TRY(record_pack(be, cd, bwd_data ? PACK_WFLIP : PACK_W, w,
                               scratch, 0, m * cin, kh[c] * kw[c], rs4[c], 0));
    }
    for (uint32_t c = 0; c < ncls; c++) {
        /* the class's padding left of x (dy), hence its strips' phase */
        int pwc = ts > 1 ? (int)kw[c] - 1 -
                               (int)((c % ts + (uint32_t)cd->pad) / ts)
                         : pc.pw;
        pc.off_w4 = (int32_t)woff4[c];
        pc.cls = (int32_t)c;
        sr_vk_dispatch d = {
            .shader = "conv_fwd_bwd_data",
            .spec = {lanes, tm, tn, kh[c], kw[c],
                     bwd_data ? 1u : (uint32_t)cd->stride,
                     !bwd_data && cd->act_bits > 0, (uint32_t)epi, ts,
                     !row ? 0u : xv4 ? 2u + (uint32_t)(-pwc & 3) : 1u,
                     (uint32_t)vst, rows},
            .nspec = 12,
            .push = &pc, .push_bytes = sizeof(pc),
            .bufs = {scratch, src.buf, e.buf, NULL, out.buf}, .nbufs = 5,
            .groups = {gx, gy, gz},
            .texel = 1,
            .texel_r32 = (xv4 ? 0u : 0x2u) | (epi == 3 ? 0u : 0x4u),
        };
        SR_TRY(sr_vk_record(be, &d));
    }
    return SR_OK;
}

typedef struct bwdw_push {
    int32_t off_x, off_y, ld4;
    int32_t k, c, h, w, oh, ow, pad;
    int32_t npix, split4, split_stride;
    int32_t x_last, bits;
    int32_t off_dy4;
} bwdw_push;

/* conv_bwd_weight.comp: dw as an implicit GEMM over all pixels of the batch,
 * split-K into partials that bwd_weight_reduce.comp sums in order. Only dy is
 * packed (its own size). Returns SR_E_UNSUPPORTED when it does not apply. */
static sr_status implicit_bwd_weight(sr_backend *be, const sr_conv2d_desc *cd,
                                     sr_view x, sr_view dy, sr_view dw,
                                     sr_view db)
{
    uint32_t k = (uint32_t)cd->k, rs = (uint32_t)(cd->kh * cd->kw);
    uint32_t crs = (uint32_t)cd->c * rs;
    uint32_t ohw = (uint32_t)(sr_conv2d_out_h(cd) * sr_conv2d_out_w(cd));
    size_t npix = (size_t)cd->n * ohw, wwords = (size_t)k * crs;
    size_t max_words = sr_vk_max_buffer_words(be);
    uint32_t ld4, cpl, cols, clanes = 1, klanes = 1, tm, gx, gy, tiles;
    uint32_t splits, split4, target;
    uint32_t bsplits = 1;
    int direct;
    size_t dy_words, part_words, bias_off, total;
    sr_buf *scratch;

    if (npix > (size_t)INT32_MAX / 2 || x.buf->words > (size_t)INT32_MAX ||
        x.buf->words > sr_vk_max_texel_words(be, 0) ||
        dy.buf->words > sr_vk_max_texel_words(be, 1) || cd->kh * cd->kw > 64)
        return SR_E_UNSUPPORTED;
    ld4 = sr_vk_div_up((uint32_t)npix, 4);
    cpl = rs >= 8 ? 1 : sr_vk_div_up(8, rs);
    cols = sr_vk_div_up((uint32_t)cd->c, cpl);
    while (clanes < 64 && clanes < cols)
        clanes *= 2;
    /* Lanes left over go along k, with smaller row blocks if that is what
     * it takes to fill 8 lanes (a CPU SIMD row). */
    tm = 16;
    while (tm > 4 && clanes * sr_vk_div_up(k, tm) < 8)
        tm /= 2;
    while (clanes * klanes < 64 && klanes < sr_vk_div_up(k, tm))
        klanes *= 2;
    gx = sr_vk_div_up(cols, clanes);
    gy = sr_vk_div_up(sr_vk_div_up(k, tm), klanes);
    tiles = gx * gy;
    target = sr_vk_device_is_cpu(be) ? CONV_TARGET_GROUPS_CPU
                                     : CONV_TARGET_GROUPS_GPU;
    splits = tiles >= target ? 1 : sr_vk_div_up(target, tiles);
    if (splits > sr_vk_div_up(ld4, 16))
        splits = sr_vk_div_up(ld4, 16);
    if (splits > SR_VK_MAX_GROUPS_YZ)
        splits = SR_VK_MAX_GROUPS_YZ;
    while (splits > 1 && (size_t)splits * wwords > SPLIT_MAX_WORDS)
        splits--;
    split4 = sr_vk_div_up(ld4, splits);
    splits = sr_vk_div_up(ld4, split4);
    if (gx > sr_vk_max_groups_x(be) || gy > SR_VK_MAX_GROUPS_YZ)
        return SR_E_UNSUPPORTED;
    if (cd->bias)
        bsplits = sr_vk_pick_splits(k, cd->n, k, SPLIT_MAX_WORDS);
    /* dy is read in place (no pack) when a vec4 never straddles images. */
    direct = ohw % 4 == 0 && dy.off % 4 == 0 && dy.off / 4 <= INT32_MAX &&
             dy.buf->words <= (size_t)INT32_MAX;
    dy_words = direct ? 0 : (size_t)k * ld4 * 4;
    part_words = splits > 1 ? (size_t)splits * wwords : 0;
    bias_off = dy_words + part_words;
    total = bias_off + (bsplits > 1 ? (size_t)bsplits * k : 0);
    if (total > max_words || total > (size_t)INT32_MAX ||
        total > sr_vk_max_texel_words(be, 1))
        return SR_E_UNSUPPORTED;
    if (total)
        SR_TRY(sr_vk_scratch(be, total, &scratch));
    else
        scratch = NULL;

    sr_view out = splits > 1 ? (sr_view){scratch, dy_words} : dw;
    bwdw_push pc = {
        .ld4 = (int32_t)ld4, .k = (int32_t)k, .c = cd->c, .h = cd->h,
        .w = cd->w, .oh = sr_conv2d_out_h(cd), .ow = sr_conv2d_out_w(cd),
        .pad = cd->pad, .npix = (int32_t)npix, .split4 = (int32_t)split4,
        .split_stride = (int32_t)wwords,
        .x_last = (int32_t)x.buf->words - 1, .bits = cd->act_bits,
        .off_dy4 = direct ? (int32_t)(dy.off / 4) : 0,
    };
    SR_TRY(sr_vk_word_off(x, &pc.off_x));
    SR_TRY(sr_vk_word_off(out, &pc.off_y));
    if (!direct)
        SR_TRY(record_pack(be, cd, PACK_DY, dy, scratch, 0, k,
                           (uint32_t)npix, ld4, 0));
    /* ROW strips read as vec4s (XV4) where x's rows start at multiples of
     * 4 words (measured 1.06-1.24x on ResNet-20's layers). */
    int row = sr_conv2d_out_w(cd) % 4 == 0;
    int xv4 = row && cd->w % 4 == 0 && pc.off_x % 4 == 0 &&
              x.buf->words <= sr_vk_max_texel_words(be, 1);
    sr_vk_dispatch d = {
        .shader = "conv_bwd_weight",
        .spec = {clanes * klanes, tm, cpl, (uint32_t)cd->kh, (uint32_t)cd->kw,
                 (uint32_t)cd->stride, cd->act_bits > 0, clanes,
                 !row ? 0u : xv4 ? 2u + (uint32_t)(-cd->pad & 3) : 1u,
                 direct != 0},
        .nspec = 10,
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {direct ? dy.buf : scratch, x.buf, NULL, NULL, out.buf},
        .nbufs = 5,
        .groups = {gx, gy, splits},
        .texel = 1, .texel_r32 = xv4 ? 0u : 0x2u,
    };
    SR_TRY(sr_vk_record(be, &d));
    if (splits > 1)
        SR_TRY(sr_vk_record_split_reduce(be, scratch, (uint32_t)dy_words,
                                         (uint32_t)wwords, splits,
                                         (uint32_t)wwords, dw));
    if (!cd->bias)
        return SR_OK;
    return sr_vk_record_bias_grad(be, dy, cd->n, cd->k, (int)ohw, db, scratch,
                                  (uint32_t)bias_off, bsplits);
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
    sr_vk_gemm_tiling t;
    conv_push pc = {
        .n = cd->n, .c = cd->c, .h = cd->h, .w = cd->w, .k = cd->k,
        .kh = cd->kh, .kw = cd->kw, .pad = cd->pad,
        .oh = sr_conv2d_out_h(cd), .ow = sr_conv2d_out_w(cd),
        .bits = cd->act_bits,
        .split_stride = split_stride,
    };

    SR_TRY(sr_vk_word_off(a, &pc.off_a));
    SR_TRY(sr_vk_word_off(b, &pc.off_b));
    SR_TRY(sr_vk_word_off(e, &pc.off_e));
    SR_TRY(sr_vk_word_off(y, &pc.off_y));
    SR_TRY(sr_vk_pick_tiling(be, m, n, &t));
    pc.tiles_n = t.tiles_n;
    pc.imgs_per_split = (int32_t)sr_vk_div_up((uint32_t)cd->n, splits);

    sr_vk_dispatch d = {
        .shader = "conv_fallback",
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

sr_status sr_vk_conv2d_fwd(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *cd = &op->p.conv;
    uint32_t n = (uint32_t)(cd->n * sr_conv2d_out_h(cd) * sr_conv2d_out_w(cd));

    /* v: x, w, b, y */
    sr_status st = SR_E_UNSUPPORTED;
    if (sr_vk_gpu_kernels(be))
        st = sr_vk_tiled_conv(be, cd, 0, op->v[1], op->v[0], op->v[2],
                              op->v[3]);
    if (st != SR_E_UNSUPPORTED)
        return st;
    st = implicit_conv(be, cd, 0, op->v[1], op->v[0], op->v[2],
                                 op->v[3]);
    if (st != SR_E_UNSUPPORTED)
        return st;
    return record_conv(be, cd, CONV_FWD, op->v[1], op->v[0], op->v[2],
                       op->v[3], (uint32_t)cd->k, n, 1, 0);
}

sr_status sr_vk_conv2d_bwd_data(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *cd = &op->p.conv;
    uint32_t n = (uint32_t)(cd->n * cd->h * cd->w);

    /* v: dy, w, x, dx */
    sr_status st = SR_E_UNSUPPORTED;
    if (sr_vk_gpu_kernels(be))
        st = sr_vk_tiled_conv(be, cd, 1, op->v[1], op->v[0], op->v[2],
                              op->v[3]);
    if (st != SR_E_UNSUPPORTED)
        return st;
    st = implicit_conv(be, cd, 1, op->v[1], op->v[0], op->v[2],
                                 op->v[3]);
    if (st != SR_E_UNSUPPORTED)
        return st;
    return record_conv(be, cd, CONV_BWD_DATA, op->v[1], op->v[0], op->v[2],
                       op->v[3], (uint32_t)cd->c, n, 1, 0);
}

sr_status sr_vk_conv2d_bwd_weight(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *cd = &op->p.conv;
    sr_view x = op->v[0], dy = op->v[1], dw = op->v[2], db = op->v[3];
    uint32_t k = (uint32_t)cd->k;
    uint32_t crs = (uint32_t)(cd->c * cd->kh * cd->kw);
    int hw = sr_conv2d_out_h(cd) * sr_conv2d_out_w(cd);
    size_t max_words = sr_vk_max_buffer_words(be);
    size_t wwords = (size_t)k * crs;
    sr_vk_gemm_tiling t;
    uint32_t wsplits, bsplits;
    size_t scratch_words;
    sr_buf *scratch = NULL;
    sr_status st = sr_vk_gpu_kernels(be)
                       ? sr_vk_tiled_bwd_weight(be, cd, x, dy, dw, db)
                       : SR_E_UNSUPPORTED;

    if (st == SR_E_UNSUPPORTED)
        st = implicit_bwd_weight(be, cd, x, dy, dw, db);

    if (st != SR_E_UNSUPPORTED)
        return st;
    if (max_words > SPLIT_MAX_WORDS)
        max_words = SPLIT_MAX_WORDS;
    SR_TRY(sr_vk_pick_tiling(be, k, crs, &t));
    wsplits = sr_vk_pick_splits(t.local * t.tiles_m * t.tiles_n, cd->n, wwords,
                                max_words);
    bsplits = cd->bias ? sr_vk_pick_splits(k, cd->n, k, max_words) : 1;
    scratch_words = (wsplits > 1 ? wsplits * wwords : 0) +
                    (bsplits > 1 ? (size_t)bsplits * k : 0);
    if (scratch_words)
        SR_TRY(sr_vk_scratch(be, scratch_words, &scratch));

    /* dw: partials in scratch[0 ..) when split, else straight to dw. */
    if (wsplits > 1) {
        sr_view part = {scratch, 0};
        SR_TRY(record_conv(be, cd, CONV_BWD_WEIGHT, dy, x, SR_NONE, part, k,
                           crs, wsplits, (int32_t)wwords));
        SR_TRY(sr_vk_record_split_reduce(be, scratch, 0, (uint32_t)wwords,
                                         wsplits, (uint32_t)wwords, dw));
    } else {
        SR_TRY(record_conv(be, cd, CONV_BWD_WEIGHT, dy, x, SR_NONE, dw, k,
                           crs, 1, 0));
    }
    if (!cd->bias)
        return SR_OK;
    return sr_vk_record_bias_grad(
        be, dy, cd->n, cd->k, hw, db, scratch,
        wsplits > 1 ? (uint32_t)(wsplits * wwords) : 0, bsplits);
}
