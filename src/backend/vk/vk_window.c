/* Vulkan runtime: storage-buffer windows, for tensors larger than one
 * binding.
 *
 * A storage-buffer descriptor covers at most maxStorageBufferRange bytes
 * (128 MiB on lavapipe and many AMD/Intel drivers, 4 GiB on NVIDIA), but a
 * buffer may be as large as one memory allocation (maxMemoryAllocationSize,
 * 2 GiB on lavapipe). AlexNet's fc6 weight (4096 x 9216 floats, 151 MB) and
 * large-batch activations are bigger than the former and well within the
 * latter. So buffers are allocated whole, and an op binds *windows*: a
 * descriptor range [start, start + range) of the buffer, the start aligned
 * to minStorageBufferOffsetAlignment (and minTexelBufferOffsetAlignment, so
 * a window also makes a texel view) and the range at most the limit.
 *
 * A window is a small sr_vk_buf that names its parent; ops bind it like any
 * buffer and address words relative to its start. sr_vk_record turns it
 * into the descriptor range, programs track the parent, host transfers
 * wait on the parent. Windows are made on demand, one per distinct start,
 * and live as long as the parent (captured programs keep using them).
 *
 * Buffers no larger than one binding are bound whole, exactly as before;
 * only bigger ones go through windows. Ops whose operands may exceed a
 * window split themselves into several dispatches (elementwise ops, SGD,
 * quantizers, reductions, batch norm, pooling, losses, linear layers; see
 * the op files); the convolution binds each operand through one window
 * (sr_vk_fit_conv below) and reports an operand that no window covers.
 *
 * SINREQ_VK_MAX_RANGE=<bytes> (suffix k/m/g for KiB/MiB/GiB) lowers the
 * limit, never raises it, so tests exercise the split paths with small
 * tensors. */
#include "vk_runtime.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1024.0 * 1024.0)
/* SINREQ_VK_MAX_RANGE below this is refused: ops need a few rows. */
#define MIN_RANGE_BYTES 1024u

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Parses "<bytes>[k|m|g]"; 0 on a malformed value. */
static size_t parse_bytes(const char *s)
{
    char *end = NULL;
    /* strtoull would take " 5" and wrap "-5" to a huge size */
    if (!isdigit((unsigned char)s[0])) return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return 0;
    unsigned long long mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1ull << 10; end++; break;
    case 'm': case 'M': mul = 1ull << 20; end++; break;
    case 'g': case 'G': mul = 1ull << 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'I') end++;          /* KiB, MiB */
    if (*end == 'b' || *end == 'B') end++;
    if (*end || v > (unsigned long long)SIZE_MAX / mul) return 0;
    return (size_t)(v * mul);
}

sr_status sr_vk_window_init(sr_vk_backend *vk)
{
    const VkPhysicalDeviceLimits *l = &vk->props.limits;
    size_t align = max_sz(max_sz((size_t)l->minStorageBufferOffsetAlignment,
                                 (size_t)l->minTexelBufferOffsetAlignment),
                          16);
    size_t range = l->maxStorageBufferRange;
    const char *env = getenv("SINREQ_VK_MAX_RANGE");
    vk->range_lowered = 0;
    if (env && *env) {
        size_t want = parse_bytes(env);
        SR_CHECK(want >= MIN_RANGE_BYTES, SR_E_ARG,
                 "SINREQ_VK_MAX_RANGE=%s: want a byte count of at least %u "
                 "(optionally with a k, m or g suffix), e.g. 65536 or 64k",
                 env, MIN_RANGE_BYTES);
        if (want < range) {
            range = want;
            vk->range_lowered = 1;
        }
    }
    vk->align_words = align / 4;
    /* whole aligned units, so consecutive windows line up */
    vk->range_words = range / 4 / vk->align_words * vk->align_words;
    SR_CHECK(vk->range_words >= 4 * vk->align_words, SR_E_DEVICE,
             "Vulkan device %s: maxStorageBufferRange %zu bytes is too small "
             "for the alignment %zu", vk->base.device_name, range, align);
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Limits and errors                                                   */

size_t sr_vk_max_buffer_words(const sr_backend *be)
{
    return ((const sr_vk_backend *)be)->range_words;
}

size_t sr_vk_span_words(const sr_backend *be)
{
    const sr_vk_backend *vk = (const sr_vk_backend *)be;
    return vk->range_words - vk->align_words;
}

size_t sr_vk_cap(const sr_backend *be, sr_view v)
{
    const sr_vk_backend *vk = (const sr_vk_backend *)be;
    if (!v.buf) return SIZE_MAX;
    const sr_vk_buf *b = (const sr_vk_buf *)v.buf;
    if (b->parent) b = b->parent;
    return b->base.words <= vk->range_words ? SIZE_MAX : sr_vk_span_words(be);
}

sr_status sr_vk_too_big(const sr_backend *be, const char *op,
                        const char *what, const char *shape, size_t words,
                        const char *remedy)
{
    const sr_vk_backend *vk = (const sr_vk_backend *)be;
    double lim = (double)vk->range_words * 4.0 / MiB;
    double dev = (double)vk->props.limits.maxStorageBufferRange / MiB;
    char limit[400];
    if (vk->range_lowered)
        snprintf(limit, sizeof limit,
                 "%.2f MiB as SINREQ_VK_MAX_RANGE sets it; %s allows %.1f MiB",
                 lim, vk->props.deviceName, dev);
    else
        snprintf(limit, sizeof limit, "maxStorageBufferRange = %.1f MiB on %s",
                 dev, vk->props.deviceName);
    return sr_error(SR_E_UNSUPPORTED,
                    "vulkan %s: operand '%s'%s%s%s is %zu words (%.2f MiB), "
                    "more than one storage-buffer binding can cover (%s), "
                    "and this op cannot split it: %s",
                    op, what, shape ? " (" : "", shape ? shape : "",
                    shape ? ")" : "", words, (double)words * 4.0 / MiB, limit,
                    remedy);
}

/* ------------------------------------------------------------------ */
/* Windows                                                             */

static sr_status window_get(sr_vk_backend *vk, sr_vk_buf *p, size_t start,
                            sr_vk_buf **out)
{
    for (int i = 0; i < p->nwins; i++)
        if (p->wins[i]->win_start == start) {
            *out = p->wins[i];
            return SR_OK;
        }
    if (p->nwins == p->capwins) {
        int cap = p->capwins ? 2 * p->capwins : 4;
        sr_vk_buf **w = realloc(p->wins, (size_t)cap * sizeof *w);
        SR_CHECK(w, SR_E_NOMEM, "out of host memory for buffer windows");
        p->wins = w;
        p->capwins = cap;
    }
    sr_vk_buf *w = calloc(1, sizeof *w);
    SR_CHECK(w, SR_E_NOMEM, "out of host memory for a buffer window");
    size_t left = p->base.words - start;
    w->base.words = left < vk->range_words ? left : vk->range_words;
    w->base.pool = p->base.pool;
    w->buf = p->buf;
    w->parent = p;
    w->win_start = start;
    w->map = p->map ? p->map + start * 4 : NULL;
    p->wins[p->nwins++] = w;
    *out = w;
    return SR_OK;
}

void sr_vk_windows_destroy(sr_vk_backend *vk, sr_vk_buf *p)
{
    for (int i = 0; i < p->nwins; i++) {
        sr_vk_buf *w = p->wins[i];
        if (w->view4) vkDestroyBufferView(vk->dev, w->view4, NULL);
        if (w->view1) vkDestroyBufferView(vk->dev, w->view1, NULL);
        free(w);
    }
    free(p->wins);
    p->wins = NULL;
    p->nwins = p->capwins = 0;
}

sr_status sr_vk_fit(sr_backend *be, sr_view v, size_t words, const char *op,
                    const char *what, sr_view *out)
{
    sr_vk_backend *vk = sr_vk_be(be);
    *out = v;
    if (!v.buf) return SR_OK;
    sr_vk_buf *b = (sr_vk_buf *)v.buf;
    size_t off = v.off;
    if (b->parent) { /* a window's view: back to the parent's words */
        off += b->win_start;
        b = b->parent;
    }
    if (b->base.words <= vk->range_words) {
        *out = sr_at(&b->base, off);
        return SR_OK;
    }
    size_t start = off / vk->align_words * vk->align_words;
    if (words > vk->range_words - (off - start))
        return sr_vk_too_big(be, op, what, NULL, words,
                             "this is a bug in the op's split plan");
    sr_vk_buf *w = NULL;
    SR_TRY(window_get(vk, b, start, &w));
    *out = sr_at(&w->base, off - start);
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Convolution operands                                                */

/* The convolution dispatches (vk_conv.c) bind each operand as one
 * buffer. An operand in a buffer larger than one binding gets the window
 * that covers it; an operand larger than one binding cannot be covered, and
 * the convolution does not split its work, so that is an error naming the
 * operand, its size, the limit and what to do. */
sr_status sr_vk_fit_conv(sr_backend *be, const sr_op *op, sr_op *out)
{
    const sr_conv2d_desc *d = &op->p.conv;
    /* depthwise: one kernel per channel, weights [c][1][kh][kw] */
    int depthwise = op->kind == SR_OP_DWCONV2D_FWD ||
                    op->kind == SR_OP_DWCONV2D_BWD_DATA ||
                    op->kind == SR_OP_DWCONV2D_BWD_WEIGHT;
    int wc = depthwise ? 1 : d->c;
    size_t nx = (size_t)d->n * d->c * d->h * d->w;
    size_t nw = (size_t)d->k * wc * d->kh * d->kw;
    size_t ny = (size_t)d->n * d->k * sr_conv2d_out_h(d) * sr_conv2d_out_w(d);
    size_t nb = (size_t)d->k;
    static const char *const SX = "n x c x h x w", *const SY =
        "n x k x out_h x out_w", *const SW = "k x c x kh x kw", *const SB = "k";
    const int dx[4] = {d->n, d->c, d->h, d->w};
    const int dyv[4] = {d->n, d->k, sr_conv2d_out_h(d), sr_conv2d_out_w(d)};
    const int dw[4] = {d->k, wc, d->kh, d->kw};
    const int db[4] = {d->k, 0, 0, 0};
    const char *names[4], *shape[4];
    const int *dims[4];
    size_t words[4];
    *out = *op;
    switch (op->kind) {
    case SR_OP_CONV2D_FWD:        /* x, w, b, y */
    case SR_OP_DWCONV2D_FWD:
        names[0] = "x"; names[1] = "w"; names[2] = "b"; names[3] = "y";
        shape[0] = SX; shape[1] = SW; shape[2] = SB; shape[3] = SY;
        break;
    case SR_OP_CONV2D_BWD_DATA:   /* dy, w, x, dx */
    case SR_OP_DWCONV2D_BWD_DATA:
        names[0] = "dy"; names[1] = "w"; names[2] = "x"; names[3] = "dx";
        shape[0] = SY; shape[1] = SW; shape[2] = SX; shape[3] = SX;
        break;
    case SR_OP_CONV2D_BWD_WEIGHT: /* x, dy, dw, db */
    case SR_OP_DWCONV2D_BWD_WEIGHT:
        names[0] = "x"; names[1] = "dy"; names[2] = "dw"; names[3] = "db";
        shape[0] = SX; shape[1] = SY; shape[2] = SW; shape[3] = SB;
        break;
    default:
        return SR_OK;
    }
    for (int i = 0; i < 4; i++) {
        dims[i] = shape[i] == SX ? dx : shape[i] == SY ? dyv
                : shape[i] == SW ? dw : db;
        words[i] = shape[i] == SX ? nx : shape[i] == SY ? ny
                 : shape[i] == SW ? nw : nb;
    }
    const char *opname = sr_op_name(op->kind);
    for (int i = 0; i < 4; i++) {
        sr_view v = op->v[i];
        if (!v.buf || sr_vk_cap(be, v) == SIZE_MAX) continue;
        sr_vk_backend *vk = sr_vk_be(be);
        size_t off = v.off, start;
        const sr_vk_buf *b = (const sr_vk_buf *)v.buf;
        if (b->parent) off += b->win_start;
        start = off / vk->align_words * vk->align_words;
        if (words[i] > vk->range_words - (off - start)) {
            char desc[96];
            int act = shape[i] == SX || shape[i] == SY;
            if (shape[i] == SB)
                snprintf(desc, sizeof desc, "k = %d", dims[i][0]);
            else
                snprintf(desc, sizeof desc, "%s = %d x %d x %d x %d",
                         shape[i], dims[i][0], dims[i][1], dims[i][2],
                         dims[i][3]);
            return sr_vk_too_big(
                be, opname, names[i], desc, words[i],
                act ? "use a smaller batch (the convolution binds each "
                      "operand whole), or a device with a larger "
                      "maxStorageBufferRange"
                    : "use fewer channels, or a device with a larger "
                      "maxStorageBufferRange");
        }
        SR_TRY(sr_vk_fit(be, v, words[i], opname, names[i], &out->v[i]));
    }
    return SR_OK;
}
