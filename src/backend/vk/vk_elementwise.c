/* Vulkan elementwise ops, as cpu_elementwise.c: fill, copy, add, add +
 * relu, relu, dropout and SGD (shaders/elementwise_unary.comp,
 * elementwise_binary.comp, sgd_update.comp). The unary and binary shaders
 * also serve the WRPN and activation quantizers of vk_quant.c.
 *
 * Tensors larger than one storage binding (vk_window.c) run as several
 * dispatches over runs of sr_vk_span_words elements, each fitting a
 * window; with every buffer bound whole it is one dispatch.
 */
#include <stdint.h>

#include "vk_ops.h"

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
    size_t chunk = sr_vk_items_per_piece(be, v, 2, 1, n);

    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        sr_view xs, ys;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(x, i), m, op, "x", &xs));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(y, i), m, op, "y", &ys));
        SR_TRY(sr_vk_index_count(op, m, &pc.n));
        SR_TRY(sr_vk_view_off(xs, m, &pc.x_off));
        SR_TRY(sr_vk_view_off(ys, m, &pc.y_off));
        pc.i0 = (uint32_t)i;
        if (!xs.buf)
            pc.x_off = pc.y_off;
        sr_buf *bufs[2] = {xs.buf ? xs.buf : ys.buf, ys.buf};
        SR_TRY(sr_vk_launch_1d(be, "elementwise_unary", 1, mode, &pc,
                               sizeof(pc), bufs, 2, m));
    }
    return SR_OK;
}

sr_status sr_vk_ew_unary(sr_backend *be, uint32_t op, size_t n, int bits,
                         sr_view x, sr_view y)
{
    struct unary_push pc = {0};

    pc.bits = (uint32_t)bits;
    return unary_pieces(be, "elementwise op", op, n, x, y, pc);
}

sr_status sr_vk_fill(sr_backend *be, const sr_op *op)
{
    struct unary_push pc = {0};

    pc.p = op->p.ew.value;
    return unary_pieces(be, "fill", SR_VK_UN_FILL, op->p.ew.n, SR_NONE,
                        op->v[0], pc);
}

sr_status sr_vk_ew_binary(sr_backend *be, uint32_t op, size_t n, sr_view a,
                          sr_view b, sr_view y)
{
    struct { uint32_t n, a_off, b_off, y_off; } pc;
    sr_view v[3] = {a, b, y};
    size_t chunk = sr_vk_items_per_piece(be, v, 3, 1, n);
    static const char *const what = "elementwise op";

    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        sr_view as, bs, ys;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(a, i), m, what, "a", &as));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(b, i), m, what, "b", &bs));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(y, i), m, what, "y", &ys));
        SR_TRY(sr_vk_index_count(what, m, &pc.n));
        SR_TRY(sr_vk_view_off(as, m, &pc.a_off));
        SR_TRY(sr_vk_view_off(bs, m, &pc.b_off));
        SR_TRY(sr_vk_view_off(ys, m, &pc.y_off));
        sr_buf *bufs[3] = {as.buf, bs.buf, ys.buf};
        SR_TRY(sr_vk_launch_1d(be, "elementwise_binary", 1, op, &pc, sizeof(pc),
                               bufs, 3, m));
    }
    return SR_OK;
}

sr_status sr_vk_dropout(sr_backend *be, const sr_op *op)
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

sr_status sr_vk_sgd(sr_backend *be, const sr_op *op)
{
    const sr_sgd_desc *d = &op->p.sgd;
    struct {
        uint32_t n, w_off, g_off, v_off;
        float momentum, weight_decay;
        uint32_t lr_slot, nesterov, grad_scale_slot;
    } pc;
    size_t chunk = sr_vk_items_per_piece(be, op->v, 3, 1, d->n);

    pc.momentum = d->momentum;
    pc.weight_decay = d->weight_decay;
    pc.lr_slot = (uint32_t)d->lr_slot;
    pc.nesterov = (uint32_t)d->nesterov;
    pc.grad_scale_slot = (uint32_t)d->grad_scale_slot;
    for (size_t i = 0; i < d->n; i += chunk) {
        size_t m = d->n - i < chunk ? d->n - i : chunk;
        sr_view w, g, v;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[0], i), m, "sgd", "w", &w));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[1], i), m, "sgd", "g", &g));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[2], i), m, "sgd", "v", &v));
        SR_TRY(sr_vk_index_count("sgd", m, &pc.n));
        SR_TRY(sr_vk_view_off(w, m, &pc.w_off));
        SR_TRY(sr_vk_view_off(g, m, &pc.g_off));
        SR_TRY(sr_vk_view_off(v, m, &pc.v_off));
        sr_buf *bufs[3] = {w.buf, g.buf, v.buf};
        SR_TRY(sr_vk_launch_1d(be, "sgd_update", 0, 0, &pc, sizeof(pc), bufs, 3,
                               m));
    }
    return SR_OK;
}

sr_status sr_vk_copy(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_unary(be, SR_VK_UN_COPY, op->p.ew.n, 0, op->v[0],
                          op->v[1]);
}

sr_status sr_vk_add(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_binary(be, SR_VK_BIN_ADD, op->p.ew.n, op->v[0], op->v[1],
                           op->v[2]);
}

sr_status sr_vk_add_relu(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_binary(be, SR_VK_BIN_ADD_RELU, op->p.ew.n, op->v[0],
                           op->v[1], op->v[2]);
}

sr_status sr_vk_relu_fwd(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_unary(be, SR_VK_UN_RELU, op->p.ew.n, 0, op->v[0],
                          op->v[1]);
}

sr_status sr_vk_relu_bwd(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_binary(be, SR_VK_BIN_RELU_BWD, op->p.ew.n, op->v[0],
                           op->v[1], op->v[2]);
}
