/* Vulkan linear layers, as cpu_linear.c: forward, backward-data and
 * backward-weight as GEMMs (shaders/linear_gemm.comp, or tiled_gemm.comp
 * for the GPU kernel family; bias gradients by
 * bwd_weight_bias.comp and bwd_weight_reduce.comp, see vk_ops.c).
 *
 * Pieces where a tensor exceeds one binding: a weight larger than one
 * storage binding (AlexNet's fc6: 4096 x 9216 floats, 151 MB, over
 * lavapipe's 128 MiB) is split along its rows, which are contiguous per
 * output feature: forward and backward-weight split the output features
 * (y and dw columns / rows), backward-data splits the reduction over
 * output features and accumulates the pieces (beta = 1). The batch
 * dimension splits too where x, y, dy or dx exceed a binding. Every piece
 * binds the window that covers its rows (vk_window.c); with every buffer
 * bound whole it is one dispatch.
 */
#include <stdint.h>

#include "vk_ops.h"

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
    float beta;         /* 0: C = ..., 1: C += ... (split-K pieces) */
} gemm_args;

typedef struct tiled_gemm_push {
    uint32_t off_a, off_b, off_c, off_bias, off_x;
    uint32_t m, n, k, lda, ldb, ldc;
    int32_t bits;
    float alpha, beta;
} tiled_gemm_push;

/* The GPU family's GEMM (tiled_gemm.comp), same contract as record_gemm;
 * off: the five operands' word offsets. */
static sr_status record_tiled_gemm(sr_backend *be, const gemm_args *g,
                                   const int32_t off[5])
{
    sr_vk_tile t;
    uint32_t vec4 = 0;

    sr_vk_pick_tile(be, g->m, g->n, &t);
    uint32_t gx = sr_vk_div_up(g->n, t.bn), gy = sr_vk_div_up(g->m, t.bm);
    if (gx > sr_vk_max_groups_x(be) || gy > SR_VK_MAX_GROUPS_YZ)
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan linear: a %u x %u output needs %u x %u "
                        "workgroups, over the device's limit", g->m, g->n,
                        gx, gy);
    /* vec4 loads along k where rows and the reduction are 4-aligned */
    if (!g->trans_a && g->lda % 4 == 0 && off[0] % 4 == 0 && g->k % 4 == 0)
        vec4 |= 1;
    if (g->trans_b && g->ldb % 4 == 0 && off[1] % 4 == 0 && g->k % 4 == 0)
        vec4 |= 2;
    tiled_gemm_push pc = {
        (uint32_t)off[0], (uint32_t)off[1], (uint32_t)off[2],
        (uint32_t)off[3], (uint32_t)off[4],
        g->m, g->n, g->k, g->lda, g->ldb, g->ldc,
        g->bits, 1.0f, g->beta};
    sr_vk_dispatch d = {
        .shader = "tiled_gemm",
        .spec = {t.wg, t.bm, t.bn, t.bk, t.tm, t.tn, g->trans_a != 0,
                 g->trans_b != 0, (uint32_t)g->quant, (uint32_t)g->bias,
                 g->mask_x.buf != NULL, vec4},
        .nspec = 12,
        .push = &pc, .push_bytes = sizeof(pc),
        .bufs = {g->a.buf, g->b.buf, g->c.buf, g->bias_v.buf,
                 g->mask_x.buf},
        .nbufs = 5,
        .groups = {gx, gy, 1},
    };
    return sr_vk_record(be, &d);
}

/* C = op(A) op(B) + beta C (+ bias) (STE mask). */
static sr_status record_gemm(sr_backend *be, const gemm_args *g)
{
    sr_vk_gemm_tiling t;
    int32_t off[5];
    gemm_push pc;
    sr_view v[5] = {g->a, g->b, g->c, g->bias_v, g->mask_x};

    for (int i = 0; i < 5; i++)
        SR_TRY(sr_vk_word_off(v[i], &off[i]));
    if (sr_vk_gpu_kernels(be))
        return record_tiled_gemm(be, g, off);
    SR_TRY(sr_vk_pick_tiling(be, g->m, g->n, &t));
    pc = (gemm_push){
        (uint32_t)off[0], (uint32_t)off[1], (uint32_t)off[2],
        (uint32_t)off[3], (uint32_t)off[4],
        g->m, g->n, g->k, g->lda, g->ldb, g->ldc,
        g->bits, t.tiles_n, 1.0f, g->beta};

    sr_vk_dispatch d = {
        .shader = "linear_gemm",
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

/* Words spanned by `rows` rows of `cols` words, `ld` apart. */
static size_t span_rows(size_t rows, size_t ld, size_t cols)
{
    return rows ? (rows - 1) * ld + cols : 0;
}

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Rows of `ld` words such that `rows - 1` strides plus `tail` words fit
 * cap (the view's reach): SIZE_MAX-safe. */
static size_t rows_fit(size_t cap, size_t ld, size_t tail)
{
    if (cap == SIZE_MAX)
        return SIZE_MAX;
    return cap < tail ? 0 : (cap - tail) / ld + 1;
}

/* record_gemm with every operand fitted into a binding; names: a, b, c,
 * bias, mask (for errors). */
static sr_status gemm_piece(sr_backend *be, const char *op, gemm_args g,
                            const char *const names[5])
{
    size_t ea = g.trans_a ? span_rows(g.k, g.lda, g.m)
                          : span_rows(g.m, g.lda, g.k);
    size_t eb = g.trans_b ? span_rows(g.n, g.ldb, g.k)
                          : span_rows(g.k, g.ldb, g.n);
    size_t ec = span_rows(g.m, g.ldc, g.n);

    SR_TRY(sr_vk_fit(be, g.a, ea, op, names[0], &g.a));
    SR_TRY(sr_vk_fit(be, g.b, eb, op, names[1], &g.b));
    SR_TRY(sr_vk_fit(be, g.c, ec, op, names[2], &g.c));
    SR_TRY(sr_vk_fit(be, g.bias_v, g.bias == 2 ? g.m : g.n, op, names[3],
                     &g.bias_v));
    SR_TRY(sr_vk_fit(be, g.mask_x, ec, op, names[4], &g.mask_x));
    return record_gemm(be, &g);
}

static sr_status row_too_big(const sr_backend *be, const char *op,
                             const char *what, size_t words)
{
    return sr_vk_too_big(be, op, what, "one row", words,
                         "the op splits rows, not a row: use fewer "
                         "features, or a device with a larger "
                         "maxStorageBufferRange");
}

sr_status sr_vk_linear_fwd(sr_backend *be, const sr_op *op)
{
    static const char *const name = "linear_fwd";
    static const char *const names[5] = {"x", "w", "y", "b", "-"};
    const sr_linear_desc *ld = &op->p.linear;
    size_t n = (size_t)ld->n, in = (size_t)ld->in, out = (size_t)ld->out;
    /* y[n][out] = xq[n][in] w[out][in]^T + b[out]; v: x, w, b, y */
    sr_view x = op->v[0], w = op->v[1], b = ld->bias ? op->v[2] : SR_NONE,
            y = op->v[3];
    size_t cy = sr_vk_cap(be, y);
    /* out features per piece: w rows, b and a y row's part */
    size_t r = min_sz(min_sz(out, sr_vk_cap(be, w) / in),
                      min_sz(sr_vk_cap(be, b), cy));
    size_t nb;

    if (r == 0)
        return row_too_big(be, name, sr_vk_cap(be, w) / in ? "y" : "w", in);
    nb = min_sz(min_sz(n, sr_vk_cap(be, x) / in), rows_fit(cy, out, r));
    if (nb == 0)
        return row_too_big(be, name, "x", in);
    for (size_t i0 = 0; i0 < n; i0 += nb) {
        size_t ni = min_sz(nb, n - i0);
        for (size_t o0 = 0; o0 < out; o0 += r) {
            size_t no = min_sz(r, out - o0);
            gemm_args g = {
                .m = (uint32_t)ni, .n = (uint32_t)no, .k = (uint32_t)in,
                .lda = (uint32_t)in, .ldb = (uint32_t)in,
                .ldc = (uint32_t)out,
                .trans_b = 1,
                .quant = ld->act_bits ? 1 : 0, .bits = ld->act_bits,
                .bias = ld->bias ? 1 : 0,
                .a = sr_at(x.buf, x.off + i0 * in),
                .b = sr_at(w.buf, w.off + o0 * in),
                .c = sr_at(y.buf, y.off + i0 * out + o0),
                .bias_v = b.buf ? sr_at(b.buf, b.off + o0) : SR_NONE,
                .mask_x = SR_NONE,
            };
            SR_TRY(gemm_piece(be, name, g, names));
        }
    }
    return SR_OK;
}

sr_status sr_vk_linear_bwd_data(sr_backend *be, const sr_op *op)
{
    static const char *const name = "linear_bwd_data";
    static const char *const names[5] = {"dy", "w", "dx", "-", "x"};
    const sr_linear_desc *ld = &op->p.linear;
    size_t n = (size_t)ld->n, in = (size_t)ld->in, out = (size_t)ld->out;
    /* dx[n][in] = dy[n][out] w[out][in], STE mask; v: dy, w, x, dx */
    sr_view dy = op->v[0], w = op->v[1],
            x = ld->act_bits ? op->v[2] : SR_NONE, dx = op->v[3];
    size_t cdy = sr_vk_cap(be, dy);
    /* output features (the reduction) per piece: w rows, a dy row's part */
    size_t r = min_sz(min_sz(out, sr_vk_cap(be, w) / in), cdy);
    size_t nb;

    if (r == 0)
        return row_too_big(be, name, "w", in);
    nb = min_sz(min_sz(n, sr_vk_cap(be, dx) / in),
                min_sz(sr_vk_cap(be, x) / in, rows_fit(cdy, out, r)));
    if (nb == 0)
        return row_too_big(be, name, "dx", in);
    for (size_t i0 = 0; i0 < n; i0 += nb) {
        size_t ni = min_sz(nb, n - i0);
        /* pieces of the reduction add up in dx, in order */
        for (size_t k0 = 0; k0 < out; k0 += r) {
            size_t nk = min_sz(r, out - k0);
            gemm_args g = {
                .m = (uint32_t)ni, .n = (uint32_t)in, .k = (uint32_t)nk,
                .lda = (uint32_t)out, .ldb = (uint32_t)in,
                .ldc = (uint32_t)in,
                .a = sr_at(dy.buf, dy.off + i0 * out + k0),
                .b = sr_at(w.buf, w.off + k0 * in),
                .c = sr_at(dx.buf, dx.off + i0 * in),
                .bias_v = SR_NONE,
                .mask_x = x.buf ? sr_at(x.buf, x.off + i0 * in) : SR_NONE,
                .beta = k0 ? 1.0f : 0.0f,
            };
            SR_TRY(gemm_piece(be, name, g, names));
        }
    }
    return SR_OK;
}

sr_status sr_vk_linear_bwd_weight(sr_backend *be, const sr_op *op)
{
    static const char *const name = "linear_bwd_weight";
    static const char *const names[5] = {"dy", "x", "dw", "-", "-"};
    const sr_linear_desc *ld = &op->p.linear;
    size_t n = (size_t)ld->n, in = (size_t)ld->in, out = (size_t)ld->out;
    sr_view x = op->v[0], dy = op->v[1], dw = op->v[2], db = op->v[3];
    size_t cdy = sr_vk_cap(be, dy);
    /* output features per piece: dw rows, a dy row's part */
    size_t r = min_sz(min_sz(out, sr_vk_cap(be, dw) / in), cdy);
    size_t kb;
    uint32_t splits = 1;
    sr_buf *scratch = NULL;

    if (r == 0)
        return row_too_big(be, name, "dw", in);
    /* images per piece of the reduction over the batch */
    kb = min_sz(min_sz(n, sr_vk_cap(be, x) / in), rows_fit(cdy, out, r));
    if (kb == 0)
        return row_too_big(be, name, "x", in);
    /* dw[out][in] = dy[n][out]^T xq[n][in]; v: x, dy, dw, db */
    for (size_t o0 = 0; o0 < out; o0 += r) {
        size_t no = min_sz(r, out - o0);
        for (size_t k0 = 0; k0 < n; k0 += kb) {
            size_t nk = min_sz(kb, n - k0);
            gemm_args g = {
                .m = (uint32_t)no, .n = (uint32_t)in, .k = (uint32_t)nk,
                .lda = (uint32_t)out, .ldb = (uint32_t)in,
                .ldc = (uint32_t)in,
                .trans_a = 1,
                .quant = ld->act_bits ? 2 : 0, .bits = ld->act_bits,
                .a = sr_at(dy.buf, dy.off + k0 * out + o0),
                .b = sr_at(x.buf, x.off + k0 * in),
                .c = sr_at(dw.buf, dw.off + o0 * in),
                .bias_v = SR_NONE, .mask_x = SR_NONE,
                .beta = k0 ? 1.0f : 0.0f,
            };
            SR_TRY(gemm_piece(be, name, g, names));
        }
    }
    if (!ld->bias)
        return SR_OK;
    /* db = sum over the batch of dy: one binding for all of dy */
    if (n * out > sr_vk_cap(be, dy))
        return sr_vk_too_big(be, name, "dy", "n x out", n * out,
                             "the bias gradient reads all of dy through one "
                             "binding: use a smaller batch");
    SR_TRY(sr_vk_fit(be, dy, n * out, name, "dy", &dy));
    SR_TRY(sr_vk_fit(be, db, out, name, "db", &db));
    splits = sr_vk_pick_splits((uint32_t)ld->out, ld->n, (size_t)ld->out,
                               sr_vk_max_buffer_words(be));
    if (splits > 1)
        SR_TRY(sr_vk_scratch(be, (size_t)splits * ld->out, &scratch));
    return sr_vk_record_bias_grad(be, dy, ld->n, ld->out, 1, db, scratch, 0,
                                  splits);
}
