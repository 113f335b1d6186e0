/* Vulkan losses, as cpu_loss.c: softmax cross-entropy with its gradient
 * and the top-1 count (shaders/softmax_xent.comp, top1_count.comp, folded
 * by reduce_final.comp in a fixed order).
 *
 * Tensors larger than one storage binding (vk_window.c) run as several
 * dispatches over whole rows; their row losses and partial counts land
 * side by side in one scratch buffer and are reduced once.
 */
#include <stdint.h>

#include "vk_ops.h"

/* Rows per dispatch for logits-shaped views (classes words a row) and the
 * labels (one word a row). */
static sr_status rows_per_piece(const sr_backend *be, const char *op,
                                const sr_op *o, int nlog, const int *logv,
                                int labv, uint32_t n, uint32_t classes,
                                size_t *out)
{
    size_t per = sr_vk_items_per_piece(be, &o->v[labv], 1, 1, n);
    for (int i = 0; i < nlog; i++) {
        size_t k = sr_vk_items_per_piece(be, &o->v[logv[i]], 1, classes, n);
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

sr_status sr_vk_softmax_xent(sr_backend *be, const sr_op *op)
{
    uint32_t n = (uint32_t)op->p.xent.n;
    uint32_t classes = (uint32_t)op->p.xent.classes;
    struct {
        uint32_t n, classes, logits_off, labels_off, dlogits_off, row_off;
        float inv_n, smoothing;
    } pc = {n, classes, 0, 0, 0, 0, (float)(1.0 / n), op->p.xent.smoothing};
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

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[0], (size_t)r0 * classes),
                         nl, "softmax_xent", "logits", &lg));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[1], r0), rows,
                         "softmax_xent", "labels", &lb));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[3], (size_t)r0 * classes),
                         nl, "softmax_xent", "dlogits", &dl));
        pc.n = rows;
        pc.row_off = r0;
        SR_TRY(sr_vk_view_off(lg, nl, &pc.logits_off));
        SR_TRY(sr_vk_view_off(lb, rows, &pc.labels_off));
        SR_TRY(sr_vk_view_off(dl, nl, &pc.dlogits_off));
        sr_buf *bufs[4] = {lg.buf, lb.buf, dl.buf, scratch};
        /* One workgroup per row: "1 item per group" folds rows into x, y. */
        sr_vk_groups_1d(be, rows, 1, groups);
        SR_TRY(sr_vk_launch(be, "softmax_xent", 0, 0, 0, &pc, sizeof(pc), bufs,
                            4, groups));
    }
    /* Batch mean of the row losses in a fixed order. */
    return sr_vk_reduce_final(be, SR_VK_RED_SUM, scratch, 0, n, op->v[2],
                              SR_NONE, SR_NONE, (float)n, 0, 0);
}

sr_status sr_vk_top1_count(sr_backend *be, const sr_op *op)
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
        total += sr_vk_red_partials(n - r0 < per ? n - r0 : per);
    SR_TRY(sr_vk_scratch(be, total, &scratch));
    /* Partial counts of every piece side by side in scratch. */
    for (uint32_t r0 = 0; r0 < n; r0 += (uint32_t)per) {
        uint32_t rows = n - r0 < per ? n - r0 : (uint32_t)per;
        uint32_t g = sr_vk_red_partials(rows);
        uint32_t groups[3] = {g, 1, 1};
        sr_view lg, lb;

        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[0], (size_t)r0 * classes),
                         (size_t)rows * classes, "top1_count", "logits",
                         &lg));
        SR_TRY(sr_vk_fit(be, sr_vk_view_at(op->v[1], r0), rows,
                         "top1_count", "labels", &lb));
        pc.n = rows;
        SR_TRY(sr_vk_view_off(lg, (size_t)rows * classes, &pc.logits_off));
        SR_TRY(sr_vk_view_off(lb, rows, &pc.labels_off));
        sr_buf *bufs[3] = {lg.buf, lb.buf, scratch};
        SR_TRY(sr_vk_launch(be, "top1_count", 0, 0, 0, &pc, sizeof(pc), bufs, 3,
                            groups));
        pc.part_off += g;
    }
    return sr_vk_reduce_final(be, SR_VK_RED_COUNT, scratch, 0, total, op->v[2],
                              SR_NONE, SR_NONE, 1.0f, 0, 0);
}
