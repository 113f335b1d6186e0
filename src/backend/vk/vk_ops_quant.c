/* Vulkan quantizers and regularizers (shaders/quant_*.comp, reg_*.comp,
 * reduce_*.comp): DoReFa and WRPN weights, k-bit activations, SinReQ,
 * WaveQ and the mean quantization error.
 *
 * Layer-wide quantities (DoReFa's max|tanh w| with its first arg-max and
 * the backward sum through it, the regularizer values) come from two-pass
 * reductions through scratch: G = sr_vk_misc_partials(n) workgroups, then
 * one, each in a fixed order, so results are bitwise reproducible.
 */
#include <math.h>
#include <stdint.h>

#include "sinreq/qmath.h"
#include "vk_ops_misc.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- DoReFa ---- */

struct dorefa_reduce_push {
    uint32_t n, w_off, dwq_off, in_off, out_off;
};

/* Leaves {M, arg-max, S} at word *stat_off of *scratch. */
static sr_status dorefa_stats(sr_backend *be, uint32_t n, sr_view w,
                              sr_view dwq, sr_buf **scratch,
                              uint32_t *stat_off)
{
    uint32_t g = sr_vk_misc_partials(n);
    uint32_t bwd = dwq.buf != NULL;
    struct dorefa_reduce_push pc = {n, 0, 0, 0, 0};
    uint32_t groups[3] = {g, 1, 1};
    static const uint32_t one[3] = {1, 1, 1};

    SR_TRY(sr_vk_misc_off(w, n, &pc.w_off));
    SR_TRY(sr_vk_misc_off(dwq, n, &pc.dwq_off));
    SR_TRY(sr_vk_scratch(be, 3 * (size_t)g + 3, scratch));

    sr_buf *bufs[3] = {w.buf, bwd ? dwq.buf : w.buf, *scratch};
    SR_TRY(sr_vk_misc_launch(be, "quant_dorefa_reduce", 2, 0, bwd, &pc,
                             sizeof(pc), bufs, 3, groups));
    if (g == 1) {
        *stat_off = 0;
        return SR_OK;
    }
    pc.n = g;
    pc.in_off = 0;
    pc.out_off = 3 * g;
    *stat_off = 3 * g;
    return sr_vk_misc_launch(be, "quant_dorefa_reduce", 2, 1, bwd, &pc,
                             sizeof(pc), bufs, 3, one);
}

/* fwd: v = w, wq; bwd: v = w, dwq, dw */
static sr_status exec_dorefa(sr_backend *be, const sr_op *op, int bwd)
{
    sr_view w = op->v[0];
    sr_view dwq = bwd ? op->v[1] : SR_NONE;
    sr_view out = op->v[bwd ? 2 : 1];
    struct {
        uint32_t n, w_off, dwq_off, stat_off, o_off, bits;
    } pc = {0, 0, 0, 0, 0, (uint32_t)op->p.ew.bits};
    uint32_t groups[3];
    sr_buf *scratch;

    SR_TRY(sr_vk_misc_count("dorefa_w", op->p.ew.n, &pc.n));
    SR_TRY(sr_vk_misc_off(w, pc.n, &pc.w_off));
    SR_TRY(sr_vk_misc_off(dwq, pc.n, &pc.dwq_off));
    SR_TRY(sr_vk_misc_off(out, pc.n, &pc.o_off));
    SR_TRY(dorefa_stats(be, pc.n, w, dwq, &scratch, &pc.stat_off));

    sr_buf *bufs[4] = {w.buf, bwd ? dwq.buf : w.buf, scratch, out.buf};
    sr_vk_groups_1d(be, pc.n, SR_VK_MISC_LOCAL, groups);
    return sr_vk_misc_launch(be, "quant_dorefa_apply", 1, (uint32_t)bwd, 0,
                             &pc, sizeof(pc), bufs, 4, groups);
}

/* ---- SinReQ, WaveQ, mean |a - b| ---- */

/* v: w, dw, value */
static sr_status exec_sinreq(sr_backend *be, const sr_op *op)
{
    const sr_sinreq_desc *d = &op->p.sinreq;
    float period, shift;
    struct {
        uint32_t n, w_off, dw_off, part_off;
        float shift, inv_hi, inv_lo, grad_scale;
        uint32_t coef_slot;
    } pc = {0};
    uint32_t g;
    sr_buf *part;

    SR_TRY(sr_vk_misc_count("sinreq", d->n, &pc.n));
    SR_TRY(sr_vk_misc_off(op->v[0], pc.n, &pc.w_off));
    SR_TRY(sr_vk_misc_off(op->v[1], pc.n, &pc.dw_off));
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

    g = sr_vk_misc_partials(pc.n);
    uint32_t groups[3] = {g, 1, 1};
    SR_TRY(sr_vk_scratch(be, g, &part));
    sr_buf *bufs[3] = {op->v[0].buf, op->v[1].buf, part};
    SR_TRY(sr_vk_misc_launch(be, "reg_sinreq", 0, 0, 0, &pc, sizeof(pc),
                             bufs, 3, groups));
    return sr_vk_misc_reduce_final(be, SR_VK_RED_SUM, part, 0, g, op->v[2],
                                   SR_NONE, SR_NONE, d->divisor, 0, 0);
}

/* v: w, beta, dw, dbeta, value */
static sr_status exec_waveq(sr_backend *be, const sr_op *op)
{
    const sr_waveq_desc *d = &op->p.waveq;
    struct {
        uint32_t n, w_off, beta_off, dw_off, part_off;
        float div;
        uint32_t cw_slot;
    } pc = {0};
    uint32_t g;
    sr_buf *part;

    SR_TRY(sr_vk_misc_count("waveq", d->n, &pc.n));
    SR_TRY(sr_vk_misc_off(op->v[0], pc.n, &pc.w_off));
    SR_TRY(sr_vk_misc_off(op->v[1], 1, &pc.beta_off));
    SR_TRY(sr_vk_misc_off(op->v[2], pc.n, &pc.dw_off));
    pc.div = d->divisor;
    pc.cw_slot = (uint32_t)d->coef_w_slot;

    g = sr_vk_misc_partials(pc.n);
    uint32_t groups[3] = {g, 1, 1};
    SR_TRY(sr_vk_scratch(be, 2 * (size_t)g, &part));
    sr_buf *bufs[4] = {op->v[0].buf, op->v[1].buf, op->v[2].buf, part};
    SR_TRY(sr_vk_misc_launch(be, "reg_waveq", 0, 0, 0, &pc, sizeof(pc), bufs,
                             4, groups));
    return sr_vk_misc_reduce_final(be, SR_VK_RED_WAVEQ, part, 0, g, op->v[1],
                                   op->v[3], op->v[4], d->divisor,
                                   d->coef_w_slot, d->coef_beta_slot);
}

/* v: a, b, out */
static sr_status exec_mad(sr_backend *be, const sr_op *op)
{
    struct { uint32_t n, a_off, b_off, part_off; } pc = {0};
    uint32_t g;
    sr_buf *part;

    SR_TRY(sr_vk_misc_count("mean_abs_diff", op->p.ew.n, &pc.n));
    SR_TRY(sr_vk_misc_off(op->v[0], pc.n, &pc.a_off));
    SR_TRY(sr_vk_misc_off(op->v[1], pc.n, &pc.b_off));
    g = sr_vk_misc_partials(pc.n);
    uint32_t groups[3] = {g, 1, 1};
    SR_TRY(sr_vk_scratch(be, g, &part));
    sr_buf *bufs[3] = {op->v[0].buf, op->v[1].buf, part};
    SR_TRY(sr_vk_misc_launch(be, "reduce_mad", 0, 0, 0, &pc, sizeof(pc),
                             bufs, 3, groups));
    return sr_vk_misc_reduce_final(be, SR_VK_RED_SUM, part, 0, g, op->v[2],
                                   SR_NONE, SR_NONE, (float)pc.n, 0, 0);
}

sr_status sr_vk_exec_quant_ops(sr_backend *be, const sr_op *op)
{
    const sr_view *v = op->v;
    size_t n = op->p.ew.n;
    int bits = op->p.ew.bits;

    switch (op->kind) {
    case SR_OP_DOREFA_W_FWD:
        return exec_dorefa(be, op, 0);
    case SR_OP_DOREFA_W_BWD:
        return exec_dorefa(be, op, 1);
    case SR_OP_WRPN_W_FWD:
        return sr_vk_misc_unary(be, SR_VK_UN_WRPN, n, bits, v[0], v[1]);
    case SR_OP_WRPN_W_BWD:
        return sr_vk_misc_binary(be, SR_VK_BIN_WRPN_BWD, n, v[0], v[1], v[2]);
    case SR_OP_ACTQ_FWD:
        return sr_vk_misc_unary(be, SR_VK_UN_ACTQ, n, bits, v[0], v[1]);
    case SR_OP_ACTQ_BWD:
        return sr_vk_misc_binary(be, SR_VK_BIN_ACTQ_BWD, n, v[0], v[1], v[2]);
    case SR_OP_SINREQ:
        return exec_sinreq(be, op);
    case SR_OP_WAVEQ:
        return exec_waveq(be, op);
    case SR_OP_MEAN_ABS_DIFF:
        return exec_mad(be, op);
    default:
        return SR_E_UNSUPPORTED;
    }
}
