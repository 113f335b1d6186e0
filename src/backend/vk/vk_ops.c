/* Vulkan ops other than conv/linear: elementwise, dropout, SGD, pooling,
 * losses, and the dispatch entry point for this file group (batch norm is
 * in vk_ops_norm.c, quantizers and regularizers in vk_ops_quant.c).
 *
 * Every reduction is deterministic: a fixed number of workgroups (a
 * function of the size only) writes partials that one workgroup folds in a
 * fixed tree order (shaders/reduce_common.glsl); no float atomics.
 *
 * Tensors larger than one storage binding (vk_window.c): every op here
 * runs as several dispatches over pieces that fit a window each -
 * elementwise ops and SGD over runs of sr_vk_span_words elements, pooling
 * over whole planes, the losses over whole rows (their row losses and
 * partial counts land side by side in one scratch buffer and are reduced
 * once). With every buffer bound whole it is one dispatch, as before.
 */
#include <stdint.h>
#include <string.h>

#include "vk_ops.h"

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

size_t sr_vk_misc_chunk(const sr_backend *be, const sr_view *v, int nv,
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

sr_view sr_vk_misc_at(sr_view v, size_t words)
{
    if (v.buf)
        v.off += words;
    return v;
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
    SR_TRY(sr_vk_fit(be, out0, 1, "reduction", "result", &out0));
    SR_TRY(sr_vk_fit(be, out1, 1, "reduction", "result", &out1));
    SR_TRY(sr_vk_fit(be, out2, 1, "reduction", "result", &out2));
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
    uint32_t i0;    /* dropout: index of element 0 in the whole tensor */
};

/* elementwise_unary over n elements, in pieces that fit one window per operand;
 * x may be NULL (fill). pc carries everything but n, offsets and i0. */
static sr_status unary_pieces(sr_backend *be, const char *op, uint32_t mode,
                              size_t n, sr_view x, sr_view y,
                              struct unary_push pc)
{
    sr_view v[2] = {x, y};
    size_t chunk = sr_vk_misc_chunk(be, v, 2, 1, n);

    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        sr_view xs, ys;

        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(x, i), m, op, "x", &xs));
        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(y, i), m, op, "y", &ys));
        SR_TRY(sr_vk_misc_count(op, m, &pc.n));
        SR_TRY(sr_vk_misc_off(xs, m, &pc.x_off));
        SR_TRY(sr_vk_misc_off(ys, m, &pc.y_off));
        pc.i0 = (uint32_t)i;
        if (!xs.buf)
            pc.x_off = pc.y_off;
        sr_buf *bufs[2] = {xs.buf ? xs.buf : ys.buf, ys.buf};
        SR_TRY(launch_1d(be, "elementwise_unary", 1, mode, &pc, sizeof(pc), bufs, 2,
                         m));
    }
    return SR_OK;
}

sr_status sr_vk_misc_unary(sr_backend *be, uint32_t op, size_t n, int bits,
                           sr_view x, sr_view y)
{
    struct unary_push pc = {0};

    pc.bits = (uint32_t)bits;
    return unary_pieces(be, "elementwise op", op, n, x, y, pc);
}

static sr_status exec_fill(sr_backend *be, const sr_op *op)
{
    struct unary_push pc = {0};

    pc.p = op->p.ew.value;
    return unary_pieces(be, "fill", SR_VK_UN_FILL, op->p.ew.n, SR_NONE,
                        op->v[0], pc);
}

sr_status sr_vk_misc_binary(sr_backend *be, uint32_t op, size_t n,
                            sr_view a, sr_view b, sr_view y)
{
    struct { uint32_t n, a_off, b_off, y_off; } pc;
    sr_view v[3] = {a, b, y};
    size_t chunk = sr_vk_misc_chunk(be, v, 3, 1, n);
    static const char *const what = "elementwise op";

    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        sr_view as, bs, ys;

        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(a, i), m, what, "a", &as));
        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(b, i), m, what, "b", &bs));
        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(y, i), m, what, "y", &ys));
        SR_TRY(sr_vk_misc_count(what, m, &pc.n));
        SR_TRY(sr_vk_misc_off(as, m, &pc.a_off));
        SR_TRY(sr_vk_misc_off(bs, m, &pc.b_off));
        SR_TRY(sr_vk_misc_off(ys, m, &pc.y_off));
        sr_buf *bufs[3] = {as.buf, bs.buf, ys.buf};
        SR_TRY(launch_1d(be, "elementwise_binary", 1, op, &pc, sizeof(pc), bufs, 3,
                         m));
    }
    return SR_OK;
}

static sr_status exec_dropout(sr_backend *be, const sr_op *op)
{
    const sr_dropout_desc *d = &op->p.dropout;
    struct unary_push pc = {0};

    pc.seed = d->seed;
    pc.stream = d->stream;
    pc.step_slot = (uint32_t)d->step_slot;
    pc.p = d->p;
    /* Forward and backward apply the same mask and scale. The mask of
     * element i is keyed by its index in the whole tensor (pc.i0 + i). */
    pc.scale = (float)(1.0 / (1.0 - (double)d->p));
    return unary_pieces(be, "dropout", SR_VK_UN_DROPOUT, d->n, op->v[0],
                        op->v[1], pc);
}

static sr_status exec_sgd(sr_backend *be, const sr_op *op)
{
    const sr_sgd_desc *d = &op->p.sgd;
    struct {
        uint32_t n, w_off, g_off, v_off;
        float momentum, weight_decay;
        uint32_t lr_slot;
    } pc;
    size_t chunk = sr_vk_misc_chunk(be, op->v, 3, 1, d->n);

    pc.momentum = d->momentum;
    pc.weight_decay = d->weight_decay;
    pc.lr_slot = (uint32_t)d->lr_slot;
    for (size_t i = 0; i < d->n; i += chunk) {
        size_t m = d->n - i < chunk ? d->n - i : chunk;
        sr_view w, g, v;

        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[0], i), m, "sgd", "w", &w));
        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[1], i), m, "sgd", "g", &g));
        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[2], i), m, "sgd", "v", &v));
        SR_TRY(sr_vk_misc_count("sgd", m, &pc.n));
        SR_TRY(sr_vk_misc_off(w, m, &pc.w_off));
        SR_TRY(sr_vk_misc_off(g, m, &pc.g_off));
        SR_TRY(sr_vk_misc_off(v, m, &pc.v_off));
        sr_buf *bufs[3] = {w.buf, g.buf, v.buf};
        SR_TRY(launch_1d(be, "sgd_update", 0, 0, &pc, sizeof(pc), bufs, 3, m));
    }
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Pooling                                                              */

/* Planes per dispatch: every view's piece (whole planes of `unit` words
 * each) must fit a window; 0 when one plane does not. */
static size_t planes_per_piece(const sr_backend *be, const sr_view *v,
                               const size_t *unit, int nv, size_t planes)
{
    size_t c = planes;
    for (int i = 0; i < nv; i++) {
        size_t k = sr_vk_misc_chunk(be, &v[i], 1, unit[i], planes);
        if (k < c)
            c = k;
    }
    return c;
}

static sr_status plane_too_big(const sr_backend *be, const char *op,
                               const sr_view *v, const size_t *unit,
                               const char *const *names, int nv)
{
    for (int i = 0; i < nv; i++)
        if (sr_vk_cap(be, v[i]) < unit[i])
            return sr_vk_too_big(be, op, names[i], "one plane", unit[i],
                                 "the op splits planes, not a plane: use "
                                 "smaller images, or a device with a larger "
                                 "maxStorageBufferRange");
    return sr_error(SR_E_INTERNAL, "vulkan %s: no split plan", op);
}

static sr_status exec_maxpool(sr_backend *be, const sr_op *op, int bwd)
{
    const sr_pool_desc *d = &op->p.pool;
    const char *name = bwd ? "maxpool_bwd" : "maxpool_fwd";
    int oh = sr_pool_out_h(d), ow = sr_pool_out_w(d);
    size_t planes = (size_t)d->n * (size_t)d->c;
    size_t hw = (size_t)d->h * (size_t)d->w, ohw = (size_t)oh * (size_t)ow;
    struct {
        uint32_t total;
        int32_t h, w, oh, ow, k, stride, pad;
        uint32_t off0, off1, off2;
    } pc = {0, d->h, d->w, oh, ow, d->k, d->stride, d->pad, 0, 0, 0};
    /* fwd: x, y, idx; bwd: dy, idx, dx */
    const size_t unit[3] = {bwd ? ohw : hw, ohw, bwd ? hw : ohw};
    static const char *const nf[3] = {"x", "y", "idx"};
    static const char *const nb[3] = {"dy", "idx", "dx"};
    const char *const *names = bwd ? nb : nf;
    size_t per = planes_per_piece(be, op->v, unit, 3, planes);

    if (per == 0)
        return plane_too_big(be, name, op->v, unit, names, 3);
    for (size_t p0 = 0; p0 < planes; p0 += per) {
        size_t np = planes - p0 < per ? planes - p0 : per;
        sr_view v[3];
        uint32_t *off[3] = {&pc.off0, &pc.off1, &pc.off2};

        for (int i = 0; i < 3; i++) {
            SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[i], p0 * unit[i]),
                             np * unit[i], name, names[i], &v[i]));
            SR_TRY(sr_vk_misc_off(v[i], np * unit[i], off[i]));
        }
        SR_TRY(sr_vk_misc_count(name, np * (bwd ? hw : ohw), &pc.total));
        sr_buf *bufs[3] = {v[0].buf, v[1].buf, v[2].buf};
        SR_TRY(launch_1d(be, bwd ? "pool_max_bwd" : "pool_max_fwd", 0, 0,
                         &pc, sizeof(pc), bufs, 3, pc.total));
    }
    return SR_OK;
}

static sr_status exec_avgpool(sr_backend *be, const sr_op *op, int bwd)
{
    const sr_avgpool_desc *d = &op->p.avgpool;
    const char *name = bwd ? "avgpool_bwd" : "avgpool_fwd";
    size_t planes = (size_t)d->n * (size_t)d->c;
    size_t hw = (size_t)d->h * (size_t)d->w;
    size_t ohw = (size_t)d->oh * (size_t)d->ow;
    struct {
        uint32_t total, h, w, oh, ow, off0, off1;
    } pc = {0, (uint32_t)d->h, (uint32_t)d->w, (uint32_t)d->oh,
            (uint32_t)d->ow, 0, 0};
    /* fwd: x, y; bwd: dy, dx */
    const size_t unit[2] = {bwd ? ohw : hw, bwd ? hw : ohw};
    static const char *const nf[2] = {"x", "y"};
    static const char *const nb[2] = {"dy", "dx"};
    const char *const *names = bwd ? nb : nf;
    size_t per = planes_per_piece(be, op->v, unit, 2, planes);

    /* Bin bounds are computed as (i + 1) * h in 32 bits. */
    if ((uint64_t)(d->oh + 1) * (uint64_t)(d->h + 1) > UINT32_MAX ||
        (uint64_t)(d->ow + 1) * (uint64_t)(d->w + 1) > UINT32_MAX)
        return sr_error(SR_E_UNSUPPORTED,
                        "vulkan avgpool: %dx%d -> %dx%d overflows the "
                        "shader's 32-bit bin arithmetic", d->h, d->w, d->oh,
                        d->ow);
    if (per == 0)
        return plane_too_big(be, name, op->v, unit, names, 2);
    for (size_t p0 = 0; p0 < planes; p0 += per) {
        size_t np = planes - p0 < per ? planes - p0 : per;
        sr_view v[2];
        uint32_t *off[2] = {&pc.off0, &pc.off1};

        for (int i = 0; i < 2; i++) {
            SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[i], p0 * unit[i]),
                             np * unit[i], name, names[i], &v[i]));
            SR_TRY(sr_vk_misc_off(v[i], np * unit[i], off[i]));
        }
        SR_TRY(sr_vk_misc_count(name, np * (bwd ? hw : ohw), &pc.total));
        sr_buf *bufs[2] = {v[0].buf, v[1].buf};
        SR_TRY(launch_1d(be, bwd ? "pool_avg_bwd" : "pool_avg_fwd", 0, 0,
                         &pc, sizeof(pc), bufs, 2, pc.total));
    }
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Losses                                                               */

/* Rows per dispatch for logits-shaped views (classes words a row) and the
 * labels (one word a row). */
static sr_status rows_per_piece(const sr_backend *be, const char *op,
                                const sr_op *o, int nlog, const int *logv,
                                int labv, uint32_t n, uint32_t classes,
                                size_t *out)
{
    size_t per = sr_vk_misc_chunk(be, &o->v[labv], 1, 1, n);
    for (int i = 0; i < nlog; i++) {
        size_t k = sr_vk_misc_chunk(be, &o->v[logv[i]], 1, classes, n);
        if (k == 0)
            return sr_vk_too_big(be, op, logv[i] ? "dlogits" : "logits",
                                 "one row", classes,
                                 "the op splits rows, not a row: use fewer "
                                 "classes, or a device with a larger "
                                 "maxStorageBufferRange");
        if (k < per)
            per = k;
    }
    *out = per;
    return SR_OK;
}

static sr_status exec_xent(sr_backend *be, const sr_op *op)
{
    uint32_t n = (uint32_t)op->p.xent.n;
    uint32_t classes = (uint32_t)op->p.xent.classes;
    struct {
        uint32_t n, classes, logits_off, labels_off, dlogits_off, row_off;
        float inv_n;
    } pc = {n, classes, 0, 0, 0, 0, (float)(1.0 / n)};
    static const int logv[2] = {0, 3};
    uint32_t groups[3];
    sr_buf *scratch;
    size_t per = 0;

    SR_TRY(rows_per_piece(be, "softmax_xent", op, 2, logv, 1, n, classes,
                          &per));
    SR_TRY(sr_vk_scratch(be, n, &scratch));
    /* Row losses of every piece side by side in scratch. */
    for (uint32_t r0 = 0; r0 < n; r0 += (uint32_t)per) {
        uint32_t rows = n - r0 < per ? n - r0 : (uint32_t)per;
        size_t nl = (size_t)rows * classes;
        sr_view lg, lb, dl;

        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[0], (size_t)r0 * classes),
                         nl, "softmax_xent", "logits", &lg));
        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[1], r0), rows,
                         "softmax_xent", "labels", &lb));
        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[3], (size_t)r0 * classes),
                         nl, "softmax_xent", "dlogits", &dl));
        pc.n = rows;
        pc.row_off = r0;
        SR_TRY(sr_vk_misc_off(lg, nl, &pc.logits_off));
        SR_TRY(sr_vk_misc_off(lb, rows, &pc.labels_off));
        SR_TRY(sr_vk_misc_off(dl, nl, &pc.dlogits_off));
        sr_buf *bufs[4] = {lg.buf, lb.buf, dl.buf, scratch};
        /* One workgroup per row: "1 item per group" folds rows into x, y. */
        sr_vk_groups_1d(be, rows, 1, groups);
        SR_TRY(sr_vk_misc_launch(be, "softmax_xent", 0, 0, 0, &pc, sizeof(pc),
                                 bufs, 4, groups));
    }
    /* Batch mean of the row losses in a fixed order. */
    return sr_vk_misc_reduce_final(be, SR_VK_RED_SUM, scratch, 0, n,
                                   op->v[2], SR_NONE, SR_NONE, (float)n, 0,
                                   0);
}

static sr_status exec_top1(sr_backend *be, const sr_op *op)
{
    uint32_t n = (uint32_t)op->p.xent.n;
    uint32_t classes = (uint32_t)op->p.xent.classes;
    struct {
        uint32_t n, classes, logits_off, labels_off, part_off;
    } pc = {n, classes, 0, 0, 0};
    static const int logv[1] = {0};
    uint32_t total = 0;
    sr_buf *scratch;
    size_t per = 0;

    SR_TRY(rows_per_piece(be, "top1_count", op, 1, logv, 1, n, classes,
                          &per));
    for (uint32_t r0 = 0; r0 < n; r0 += (uint32_t)per)
        total += sr_vk_misc_partials(n - r0 < per ? n - r0 : per);
    SR_TRY(sr_vk_scratch(be, total, &scratch));
    /* Partial counts of every piece side by side in scratch. */
    for (uint32_t r0 = 0; r0 < n; r0 += (uint32_t)per) {
        uint32_t rows = n - r0 < per ? n - r0 : (uint32_t)per;
        uint32_t g = sr_vk_misc_partials(rows);
        uint32_t groups[3] = {g, 1, 1};
        sr_view lg, lb;

        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[0], (size_t)r0 * classes),
                         (size_t)rows * classes, "top1_count", "logits",
                         &lg));
        SR_TRY(sr_vk_fit(be, sr_vk_misc_at(op->v[1], r0), rows,
                         "top1_count", "labels", &lb));
        pc.n = rows;
        SR_TRY(sr_vk_misc_off(lg, (size_t)rows * classes, &pc.logits_off));
        SR_TRY(sr_vk_misc_off(lb, rows, &pc.labels_off));
        sr_buf *bufs[3] = {lg.buf, lb.buf, scratch};
        SR_TRY(sr_vk_misc_launch(be, "top1_count", 0, 0, 0, &pc, sizeof(pc),
                                 bufs, 3, groups));
        pc.part_off += g;
    }
    return sr_vk_misc_reduce_final(be, SR_VK_RED_COUNT, scratch, 0, total,
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
