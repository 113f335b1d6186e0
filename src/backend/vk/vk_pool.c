/* Vulkan pooling, as cpu_pool.c: max pooling with indices and adaptive
 * average pooling, forward and backward (shaders/pool_max_fwd.comp,
 * pool_max_bwd.comp, pool_avg_fwd.comp, pool_avg_bwd.comp).
 *
 * Tensors larger than one storage binding (vk_window.c) run as several
 * dispatches over whole planes, each fitting a window; with every buffer
 * bound whole it is one dispatch.
 */
#include <stdint.h>

#include "vk_ops.h"

/* Planes per dispatch: every view's piece (whole planes of `unit` words
 * each) must fit a window; 0 when one plane does not. */
static size_t planes_per_piece(const sr_backend *be, const sr_view *v,
                               const size_t *unit, int nv, size_t planes)
{
    size_t c = planes;
    for (int i = 0; i < nv; i++) {
        size_t k = sr_vk_items_per_piece(be, &v[i], 1, unit[i], planes);
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
            SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[i], p0 * unit[i]),
                             np * unit[i], name, names[i], &v[i]));
            SR_TRY(sr_vk_view_off(v[i], np * unit[i], off[i]));
        }
        SR_TRY(sr_vk_index_count(name, np * (bwd ? hw : ohw), &pc.total));
        sr_buf *bufs[3] = {v[0].buf, v[1].buf, v[2].buf};
        SR_TRY(sr_vk_launch_1d(be, bwd ? "pool_max_bwd" : "pool_max_fwd", 0, 0,
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
            SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[i], p0 * unit[i]),
                             np * unit[i], name, names[i], &v[i]));
            SR_TRY(sr_vk_view_off(v[i], np * unit[i], off[i]));
        }
        SR_TRY(sr_vk_index_count(name, np * (bwd ? hw : ohw), &pc.total));
        sr_buf *bufs[2] = {v[0].buf, v[1].buf};
        SR_TRY(sr_vk_launch_1d(be, bwd ? "pool_avg_bwd" : "pool_avg_fwd", 0, 0,
                               &pc, sizeof(pc), bufs, 2, pc.total));
    }
    return SR_OK;
}

sr_status sr_vk_maxpool_fwd(sr_backend *be, const sr_op *op)
{
    return exec_maxpool(be, op, 0);
}

sr_status sr_vk_maxpool_bwd(sr_backend *be, const sr_op *op)
{
    return exec_maxpool(be, op, 1);
}

sr_status sr_vk_avgpool_fwd(sr_backend *be, const sr_op *op)
{
    return exec_avgpool(be, op, 0);
}

sr_status sr_vk_avgpool_bwd(sr_backend *be, const sr_op *op)
{
    return exec_avgpool(be, op, 1);
}
