/* Vulkan depthwise convolution, as cpu_dwconv.c: direct gathers, one
 * invocation per output element (shaders/dwconv_fwd.comp,
 * dwconv_bwd_data.comp) and one workgroup per weight tap with a fixed
 * reduction tree (dwconv_bwd_weight.comp). Operands arrive fitted to one
 * binding each (sr_vk_fit_conv, vk_window.c), as for the convolution. */
#include <stdint.h>

#include "vk_ops.h"

static sr_status dw_offsets(const sr_op *op, const size_t *words,
                            uint32_t *off)
{
    for (int i = 0; i < 4; i++)
        SR_TRY(sr_vk_view_off(op->v[i], words[i], &off[i]));
    return SR_OK;
}

static void dw_words(const sr_conv2d_desc *d, size_t *nx, size_t *nw,
                     size_t *ny)
{
    *nx = (size_t)d->n * d->c * d->h * d->w;
    *nw = (size_t)d->c * d->kh * d->kw;
    *ny = (size_t)d->n * d->c * sr_conv2d_out_h(d) * sr_conv2d_out_w(d);
}

sr_status sr_vk_dwconv2d_fwd(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *d = &op->p.conv;
    size_t nx, nw, ny;
    dw_words(d, &nx, &nw, &ny);
    const size_t words[4] = {nx, nw, (size_t)d->c, ny};
    uint32_t off[4];
    SR_TRY(dw_offsets(op, words, off));
    struct {
        uint32_t total, c, h, w, oh, ow, kh, kw, stride, pad;
        int32_t bits;
        uint32_t has_bias, x_off, w_off, b_off, y_off;
    } pc = {0, (uint32_t)d->c, (uint32_t)d->h, (uint32_t)d->w,
            (uint32_t)sr_conv2d_out_h(d), (uint32_t)sr_conv2d_out_w(d),
            (uint32_t)d->kh, (uint32_t)d->kw, (uint32_t)d->stride,
            (uint32_t)d->pad, d->act_bits, op->v[2].buf != NULL,
            off[0], off[1], off[2], off[3]};
    SR_TRY(sr_vk_index_count("dwconv2d_fwd", ny, &pc.total));
    sr_buf *bufs[4] = {op->v[0].buf, op->v[1].buf, op->v[2].buf,
                       op->v[3].buf};
    return sr_vk_launch_1d(be, "dwconv_fwd", 0, 0, &pc, sizeof(pc), bufs, 4,
                           pc.total);
}

sr_status sr_vk_dwconv2d_bwd_data(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *d = &op->p.conv;
    size_t nx, nw, ny;
    dw_words(d, &nx, &nw, &ny);
    const size_t words[4] = {ny, nw, nx, nx};
    uint32_t off[4];
    SR_TRY(dw_offsets(op, words, off));
    struct {
        uint32_t total, c, h, w, oh, ow, kh, kw, stride, pad;
        int32_t bits;
        uint32_t dy_off, w_off, x_off, dx_off;
    } pc = {0, (uint32_t)d->c, (uint32_t)d->h, (uint32_t)d->w,
            (uint32_t)sr_conv2d_out_h(d), (uint32_t)sr_conv2d_out_w(d),
            (uint32_t)d->kh, (uint32_t)d->kw, (uint32_t)d->stride,
            (uint32_t)d->pad, op->v[2].buf ? d->act_bits : 0,
            off[0], off[1], off[2], off[3]};
    SR_TRY(sr_vk_index_count("dwconv2d_bwd_data", nx, &pc.total));
    sr_buf *bufs[4] = {op->v[0].buf, op->v[1].buf, op->v[2].buf,
                       op->v[3].buf};
    return sr_vk_launch_1d(be, "dwconv_bwd_data", 0, 0, &pc, sizeof(pc),
                           bufs, 4, pc.total);
}

sr_status sr_vk_dwconv2d_bwd_weight(sr_backend *be, const sr_op *op)
{
    const sr_conv2d_desc *d = &op->p.conv;
    size_t nx, nw, ny;
    dw_words(d, &nx, &nw, &ny);
    const size_t words[4] = {nx, ny, nw, (size_t)d->c};
    uint32_t off[4];
    SR_TRY(dw_offsets(op, words, off));
    if ((uint32_t)d->c > SR_VK_MAX_GROUPS_YZ)
        return sr_error(SR_E_UNSUPPORTED, "vulkan dwconv2d_bwd_weight: %d "
                        "channels exceed the %u workgroups a dispatch has "
                        "in y", d->c, SR_VK_MAX_GROUPS_YZ);
    struct {
        uint32_t n, c, h, w, oh, ow, kh, kw, stride, pad;
        int32_t bits;
        uint32_t x_off, dy_off, dw_off, db_off;
    } pc = {(uint32_t)d->n, (uint32_t)d->c, (uint32_t)d->h, (uint32_t)d->w,
            (uint32_t)sr_conv2d_out_h(d), (uint32_t)sr_conv2d_out_w(d),
            (uint32_t)d->kh, (uint32_t)d->kw, (uint32_t)d->stride,
            (uint32_t)d->pad, d->act_bits, off[0], off[1], off[2], off[3]};
    /* x: taps, the bias as one more when there is one; y: channels */
    uint32_t groups[3] = {(uint32_t)(d->kh * d->kw) + (op->v[3].buf ? 1u : 0u),
                          (uint32_t)d->c, 1};
    sr_buf *bufs[4] = {op->v[0].buf, op->v[1].buf, op->v[2].buf,
                       op->v[3].buf};
    return sr_vk_launch(be, "dwconv_bwd_weight", 0, 0, 0, &pc, sizeof(pc),
                        bufs, 4, groups);
}
