/* Vulkan quantizers and regularizers, as cpu_quant.c: DoReFa and WRPN
 * weights, k-bit activations, SinReQ, WaveQ and the mean quantization
 * error (shaders/dorefa_w_stats.comp, dorefa_w_apply.comp, sinreq_w.comp,
 * sinreq_x.comp, waveq.comp, mean_abs_diff.comp, reduce_final.comp; WRPN
 * and activations run on vk_elementwise.c's unary and binary shaders).
 *
 * Layer-wide quantities (DoReFa's max|tanh w| with its first arg-max and
 * the backward sum through it, the regularizer values) come from two-pass
 * reductions through scratch: G = sr_vk_red_partials(n) workgroups, then
 * one, each in a fixed order, so results are bitwise reproducible.
 *
 * A layer larger than one storage binding (vk_window.c) runs pass 1 once
 * per piece that fits a window, all partials side by side in one scratch
 * buffer; pass 2 folds them all, so DoReFa's max and the regularizer sums
 * stay layer-wide (indices carry the piece's offset). The elementwise
 * passes run per piece too.
 */
#include <math.h>
#include <stdint.h>

#include "sinreq/qmath.h"
#include "vk_ops.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- DoReFa ---- */

struct dorefa_reduce_push {
    uint32_t n, w_off, dwq_off, in_off, out_off, idx0;
};

/* Leaves {M, arg-max, S} at word *stat_off of *scratch: pass 0 per piece
 * of `chunk` weights (partial triples side by side), pass 1 over all. */
static sr_status dorefa_stats(sr_backend *be, size_t n, size_t chunk,
                              sr_view w, sr_view dwq, sr_buf **scratch,
                              uint32_t *stat_off)
{
    uint32_t bwd = dwq.buf != NULL, g = 0;
    struct dorefa_reduce_push pc = {0, 0, 0, 0, 0, 0};
    static const uint32_t one[3] = {1, 1, 1};

    for (size_t i = 0; i < n; i += chunk)
        g += sr_vk_red_partials(n - i < chunk ? n - i : chunk);
    SR_TRY(sr_vk_scratch(be, 3 * (size_t)g + 3, scratch));
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        uint32_t gi = sr_vk_red_partials(m);
        uint32_t groups[3] = {gi, 1, 1};
        sr_view ws, ds;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(w, i), m, "dorefa_w", "w", &ws));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(dwq, i), m, "dorefa_w", "dwq",
                         &ds));
        pc.n = (uint32_t)m;
        pc.idx0 = (uint32_t)i;
        SR_TRY(sr_vk_view_off(ws, m, &pc.w_off));
        SR_TRY(sr_vk_view_off(ds, m, &pc.dwq_off));
        sr_buf *bufs[3] = {ws.buf, bwd ? ds.buf : ws.buf, *scratch};
        SR_TRY(sr_vk_launch(be, "dorefa_w_stats", 2, 0, bwd, &pc, sizeof(pc),
                            bufs, 3, groups));
        pc.out_off += 3 * gi;
    }
    if (g == 1) {
        *stat_off = 0;
        return SR_OK;
    }
    pc = (struct dorefa_reduce_push){g, 0, 0, 0, 3 * g, 0};
    *stat_off = 3 * g;
    /* pass 1 reads only the partials */
    sr_buf *bufs[3] = {*scratch, *scratch, *scratch};
    return sr_vk_launch(be, "dorefa_w_stats", 2, 1, bwd, &pc, sizeof(pc), bufs,
                        3, one);
}

/* fwd: v = w, wq; bwd: v = w, dwq, dw */
static sr_status exec_dorefa(sr_backend *be, const sr_op *op, int bwd)
{
    sr_view w = op->v[0];
    sr_view dwq = bwd ? op->v[1] : SR_NONE;
    sr_view out = op->v[bwd ? 2 : 1];
    sr_view all[3] = {w, dwq, out};
    size_t n = op->p.ew.n;
    size_t chunk = sr_vk_items_per_piece(be, all, 3, 1, n);
    struct {
        uint32_t n, w_off, dwq_off, stat_off, o_off, bits, idx0;
    } pc = {0, 0, 0, 0, 0, (uint32_t)op->p.ew.bits, 0};
    uint32_t groups[3];
    sr_buf *scratch;

    SR_TRY(sr_vk_index_count("dorefa_w", n, &pc.n));
    SR_TRY(dorefa_stats(be, n, chunk, w, dwq, &scratch, &pc.stat_off));
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        sr_view ws, ds, os;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(w, i), m, "dorefa_w", "w", &ws));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(dwq, i), m, "dorefa_w", "dwq",
                         &ds));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(out, i), m, "dorefa_w",
                         bwd ? "dw" : "wq", &os));
        pc.n = (uint32_t)m;
        pc.idx0 = (uint32_t)i;
        SR_TRY(sr_vk_view_off(ws, m, &pc.w_off));
        SR_TRY(sr_vk_view_off(ds, m, &pc.dwq_off));
        SR_TRY(sr_vk_view_off(os, m, &pc.o_off));
        sr_buf *bufs[4] = {ws.buf, bwd ? ds.buf : ws.buf, scratch, os.buf};
        sr_vk_groups_1d(be, m, SR_VK_LOCAL_1D, groups);
        SR_TRY(sr_vk_launch(be, "dorefa_w_apply", 1, (uint32_t)bwd, 0, &pc,
                            sizeof(pc), bufs, 4, groups));
    }
    return SR_OK;
}

/* ---- SinReQ, WaveQ, mean |a - b| ---- */

/* Pass-1 workgroups of all pieces of a reduction over n items. */
static uint32_t pieces_partials(size_t n, size_t chunk)
{
    uint32_t g = 0;
    for (size_t i = 0; i < n; i += chunk)
        g += sr_vk_red_partials(n - i < chunk ? n - i : chunk);
    return g;
}

/* Domain X, v: w, dw, value. DoReFa's own reduction gives M and its first
 * arg-max over the whole layer; sinreq_x pass 0 runs elementwise per
 * piece (partials side by side), then pass 1 once per piece: each folds
 * all the partials in the same fixed order, the first writes the value
 * and the one holding the arg-max adds the term through M there (the
 * arg-max is known only on the device, and a window binds one piece). */
static sr_status exec_sinreq_x(sr_backend *be, const sr_op *op)
{
    const sr_sinreq_desc *d = &op->p.sinreq;
    struct {
        uint32_t n, w_off, dw_off, val_off, stat_off, part_off, idx0, len;
        float half_l, grad_scale, div;
        uint32_t coef_slot;
    } pc = {0};
    static const uint32_t one[3] = {1, 1, 1};
    size_t n = d->n, chunk = sr_vk_items_per_piece(be, op->v, 2, 1, n);
    uint32_t total, g;
    sr_buf *scratch, *stats;
    sr_view val;

    SR_TRY(sr_vk_index_count("sinreq", n, &total));
    SR_CHECK(chunk > 0, SR_E_UNSUPPORTED, "vulkan sinreq: no binding window "
             "holds even one weight");
    SR_TRY(sr_vk_fit(be, op->v[2], 1, "sinreq", "value", &val));
    SR_TRY(sr_vk_view_off(val, 1, &pc.val_off));
    g = pieces_partials(n, chunk);
    /* One scratch for dorefa_stats' 3g + 3 words (the same pieces, so the
     * same g), then the 2g partial pairs: reserved whole first, so
     * dorefa_stats' smaller request gets this buffer back (sr_vk_scratch
     * returns the newest one when it fits). */
    SR_TRY(sr_vk_scratch(be, 5 * (size_t)g + 3, &scratch));
    SR_TRY(dorefa_stats(be, n, chunk, op->v[0], SR_NONE, &stats,
                        &pc.stat_off));
    SR_CHECK(stats == scratch, SR_E_INTERNAL,
             "vulkan sinreq: DoReFa statistics landed in another scratch");
    double L = (double)((1u << d->bits) - 1u);
    pc.half_l = (float)(0.5 * L);
    pc.grad_scale = (float)(M_PI * L / (double)d->divisor);
    pc.div = d->divisor;
    pc.coef_slot = (uint32_t)d->coef_slot;

    for (int pass = 0; pass < 2; pass++) {
        pc.part_off = 3 * g + 3;
        for (size_t i = 0; i < n; i += chunk) {
            size_t m = n - i < chunk ? n - i : chunk;
            uint32_t gi = sr_vk_red_partials(m);
            uint32_t groups[3] = {gi, 1, 1};
            sr_view ws, dws;

            SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[0], i), m, "sinreq", "w",
                             &ws));
            SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[1], i), m, "sinreq",
                             "dw", &dws));
            SR_TRY(sr_vk_view_off(ws, m, &pc.w_off));
            SR_TRY(sr_vk_view_off(dws, m, &pc.dw_off));
            pc.idx0 = (uint32_t)i;
            pc.len = (uint32_t)m;
            pc.n = pass == 0 ? (uint32_t)m : g;
            sr_buf *bufs[4] = {ws.buf, dws.buf, scratch, val.buf};
            SR_TRY(sr_vk_launch(be, "sinreq_x", 1, (uint32_t)pass, 0, &pc,
                                sizeof(pc), bufs, 4, pass == 0 ? groups : one));
            if (pass == 0) pc.part_off += 2 * gi;
        }
    }
    return SR_OK;
}

/* v: w, dw, value */
sr_status sr_vk_sinreq(sr_backend *be, const sr_op *op)
{
    const sr_sinreq_desc *d = &op->p.sinreq;
    if (d->domain == SR_SINREQ_DOMAIN_X) return exec_sinreq_x(be, op);
    float period, shift;
    struct {
        uint32_t n, w_off, dw_off, part_off;
        float shift, inv_hi, inv_lo, grad_scale;
        uint32_t coef_slot;
    } pc = {0};
    size_t chunk = sr_vk_items_per_piece(be, op->v, 2, 1, d->n);
    uint32_t g;
    sr_buf *part;

    SR_TRY(sr_vk_index_count("sinreq", d->n, &pc.n));
    sr_sinreq_period(d->quantizer == SR_QUANT_DOREFA, d->bits, &period,
                     &shift);
    pc.shift = shift;
    /* 1/D as a double-float pair: the shader's phase (w + s) / D then
     * stays accurate at 16 bits, where |(w + s) / D| reaches 3e4. */
    double inv = 1.0 / (double)period;
    pc.inv_hi = (float)inv;
    pc.inv_lo = (float)(inv - (double)pc.inv_hi);
    pc.grad_scale = (float)(M_PI / ((double)period * (double)d->divisor));
    pc.coef_slot = (uint32_t)d->coef_slot;

    g = pieces_partials(d->n, chunk);
    SR_TRY(sr_vk_scratch(be, g, &part));
    for (size_t i = 0; i < d->n; i += chunk) {
        size_t m = d->n - i < chunk ? d->n - i : chunk;
        uint32_t gi = sr_vk_red_partials(m);
        uint32_t groups[3] = {gi, 1, 1};
        sr_view ws, dws;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[0], i), m, "sinreq", "w",
                         &ws));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[1], i), m, "sinreq", "dw",
                         &dws));
        pc.n = (uint32_t)m;
        SR_TRY(sr_vk_view_off(ws, m, &pc.w_off));
        SR_TRY(sr_vk_view_off(dws, m, &pc.dw_off));
        sr_buf *bufs[3] = {ws.buf, dws.buf, part};
        SR_TRY(sr_vk_launch(be, "sinreq_w", 0, 0, 0, &pc, sizeof(pc), bufs, 3,
                            groups));
        pc.part_off += gi;
    }
    return sr_vk_reduce_final(be, SR_VK_RED_SUM, part, 0, g, op->v[2], SR_NONE,
                              SR_NONE, d->divisor, 0, 0);
}

/* v: w, beta, dw, dbeta, value */
sr_status sr_vk_waveq(sr_backend *be, const sr_op *op)
{
    const sr_waveq_desc *d = &op->p.waveq;
    struct {
        uint32_t n, w_off, beta_off, dw_off, part_off;
        float div;
        uint32_t cw_slot;
    } pc = {0};
    sr_view wdw[2] = {op->v[0], op->v[2]};
    size_t chunk = sr_vk_items_per_piece(be, wdw, 2, 1, d->n);
    uint32_t g;
    sr_buf *part;
    sr_view beta;

    SR_TRY(sr_vk_index_count("waveq", d->n, &pc.n));
    SR_TRY(sr_vk_fit(be, op->v[1], 1, "waveq", "beta", &beta));
    SR_TRY(sr_vk_view_off(beta, 1, &pc.beta_off));
    pc.div = d->divisor;
    pc.cw_slot = (uint32_t)d->coef_w_slot;

    g = pieces_partials(d->n, chunk);
    SR_TRY(sr_vk_scratch(be, 2 * (size_t)g, &part));
    for (size_t i = 0; i < d->n; i += chunk) {
        size_t m = d->n - i < chunk ? d->n - i : chunk;
        uint32_t gi = sr_vk_red_partials(m);
        uint32_t groups[3] = {gi, 1, 1};
        sr_view ws, dws;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[0], i), m, "waveq", "w",
                         &ws));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[2], i), m, "waveq", "dw",
                         &dws));
        pc.n = (uint32_t)m;
        SR_TRY(sr_vk_view_off(ws, m, &pc.w_off));
        SR_TRY(sr_vk_view_off(dws, m, &pc.dw_off));
        sr_buf *bufs[4] = {ws.buf, beta.buf, dws.buf, part};
        SR_TRY(sr_vk_launch(be, "waveq", 0, 0, 0, &pc, sizeof(pc), bufs, 4,
                            groups));
        pc.part_off += 2 * gi;
    }
    return sr_vk_reduce_final(be, SR_VK_RED_WAVEQ, part, 0, g, op->v[1],
                              op->v[3], op->v[4], d->divisor, d->coef_w_slot,
                              d->coef_beta_slot);
}

/* v: a, b, out */
sr_status sr_vk_mean_abs_diff(sr_backend *be, const sr_op *op)
{
    struct { uint32_t n, a_off, b_off, part_off; } pc = {0};
    size_t n = op->p.ew.n;
    size_t chunk = sr_vk_items_per_piece(be, op->v, 2, 1, n);
    uint32_t g, total;
    sr_buf *part;

    SR_TRY(sr_vk_index_count("mean_abs_diff", n, &total));
    g = pieces_partials(n, chunk);
    SR_TRY(sr_vk_scratch(be, g, &part));
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        uint32_t gi = sr_vk_red_partials(m);
        uint32_t groups[3] = {gi, 1, 1};
        sr_view as, bs;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[0], i), m, "mean_abs_diff",
                         "a", &as));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[1], i), m, "mean_abs_diff",
                         "b", &bs));
        pc.n = (uint32_t)m;
        SR_TRY(sr_vk_view_off(as, m, &pc.a_off));
        SR_TRY(sr_vk_view_off(bs, m, &pc.b_off));
        sr_buf *bufs[3] = {as.buf, bs.buf, part};
        SR_TRY(sr_vk_launch(be, "mean_abs_diff", 0, 0, 0, &pc, sizeof(pc), bufs,
                            3, groups));
        pc.part_off += gi;
    }
    return sr_vk_reduce_final(be, SR_VK_RED_SUM, part, 0, g, op->v[2], SR_NONE,
                              SR_NONE, (float)total, 0, 0);
}

sr_status sr_vk_dorefa_w_fwd(sr_backend *be, const sr_op *op)
{
    return exec_dorefa(be, op, 0);
}

sr_status sr_vk_dorefa_w_bwd(sr_backend *be, const sr_op *op)
{
    return exec_dorefa(be, op, 1);
}

sr_status sr_vk_wrpn_w_fwd(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_unary(be, SR_VK_UN_WRPN, op->p.ew.n, op->p.ew.bits,
                          op->v[0], op->v[1]);
}

sr_status sr_vk_wrpn_w_bwd(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_binary(be, SR_VK_BIN_WRPN_BWD, op->p.ew.n, op->v[0],
                           op->v[1], op->v[2]);
}

sr_status sr_vk_actq_fwd(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_unary(be, SR_VK_UN_ACTQ, op->p.ew.n, op->p.ew.bits,
                          op->v[0], op->v[1]);
}

sr_status sr_vk_actq_bwd(sr_backend *be, const sr_op *op)
{
    return sr_vk_ew_binary(be, SR_VK_BIN_ACTQ_BWD, op->p.ew.n, op->v[0],
                           op->v[1], op->v[2]);
}
