/* Backend-independent layer: lifecycle, buffers, capture, and argument
 * validation for every op, so all backends reject bad input the same way. */
#include "backend_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

sr_status sr_backend_create(const char *name, const sr_backend_opts *opts,
                            sr_backend **out)
{
    static const sr_backend_opts defaults = {0};
    SR_CHECK(out, SR_E_ARG, "sr_backend_create: out is NULL");
    *out = NULL;
    if (!opts) opts = &defaults;
    SR_CHECK(name, SR_E_ARG, "backend name is NULL (use \"cpu\" or \"vulkan\")");
    if (strcasecmp(name, "cpu") == 0) return sr_cpu_backend_create(opts, out);
    if (strcasecmp(name, "vulkan") == 0 || strcasecmp(name, "vk") == 0)
        return sr_vk_backend_create(opts, out);
    return sr_error(SR_E_ARG, "unknown backend '%s' (use \"cpu\" or \"vulkan\")",
                    name);
}

void sr_backend_free(sr_backend *be)
{
    if (!be) return;
    free(be->cap_ops);
    be->cap_ops = NULL;
    be->vt->destroy(be);
}

const char *sr_backend_name(const sr_backend *be) { return be->vt->name; }
const char *sr_backend_device_name(const sr_backend *be) { return be->device_name; }

sr_status sr_backend_list_devices(const char *name, void *out)
{
    SR_CHECK(name, SR_E_ARG, "backend name is NULL");
    if (strcasecmp(name, "cpu") == 0) {
        sr_backend *be = NULL;
        SR_TRY(sr_cpu_backend_create(NULL, &be));
        fprintf((FILE *)out, "cpu 0: %s\n", be->device_name);
        sr_backend_free(be);
        return SR_OK;
    }
    if (strcasecmp(name, "vulkan") == 0 || strcasecmp(name, "vk") == 0)
        return sr_vk_list_devices(out);
    return sr_error(SR_E_ARG, "unknown backend '%s' (use \"cpu\" or \"vulkan\")",
                    name);
}

sr_status sr_backend_sync(sr_backend *be) { return be->vt->sync(be); }

static sr_status set_scalar(sr_backend *be, int slot, uint32_t bits)
{
    SR_CHECK(slot >= 0 && slot < SR_SCALAR_SLOTS, SR_E_ARG,
             "scalar slot %d out of range [0, %d)", slot, SR_SCALAR_SLOTS);
    if (be->vt->scalars_will_change) SR_TRY(be->vt->scalars_will_change(be));
    be->scalars[slot] = bits;
    return SR_OK;
}

sr_status sr_backend_set_scalar_f(sr_backend *be, int slot, float value)
{
    union { float f; uint32_t u; } c = {value};
    return set_scalar(be, slot, c.u);
}

sr_status sr_backend_set_scalar_u(sr_backend *be, int slot, uint32_t value)
{
    return set_scalar(be, slot, value);
}

/* ------------------------------------------------------------------ */
/* Buffers                                                             */

sr_status sr_buf_alloc(sr_backend *be, sr_pool pool, size_t words,
                       sr_buf **out)
{
    SR_CHECK(out, SR_E_ARG, "sr_buf_alloc: out is NULL");
    *out = NULL;
    SR_CHECK(words > 0, SR_E_SHAPE, "cannot allocate a buffer of 0 words");
    SR_CHECK((unsigned)pool < SR_POOL_COUNT, SR_E_ARG, "unknown pool %d",
             (int)pool);
    SR_CHECK(words <= ((size_t)1 << 40), SR_E_NOMEM,
             "buffer of %zu words is beyond any device", words);
    return be->vt->buf_alloc(be, pool, words, out);
}

void sr_buf_free(sr_backend *be, sr_buf *buf)
{
    if (buf) be->vt->buf_free(be, buf);
}

size_t sr_buf_words(const sr_buf *buf) { return buf ? buf->words : 0; }

static sr_status check_range(const sr_buf *buf, size_t off, size_t words,
                             const char *what)
{
    SR_CHECK(buf, SR_E_ARG, "%s: buffer is NULL", what);
    SR_CHECK(off <= buf->words && words <= buf->words - off, SR_E_SHAPE,
             "%s: words [%zu, %zu) outside buffer of %zu words", what, off,
             off + words, buf->words);
    return SR_OK;
}

sr_status sr_buf_write(sr_backend *be, sr_buf *buf, size_t off, size_t words,
                       const void *src)
{
    SR_TRY(check_range(buf, off, words, "sr_buf_write"));
    SR_CHECK(src || words == 0, SR_E_ARG, "sr_buf_write: src is NULL");
    SR_CHECK(!be->capturing, SR_E_ARG,
             "sr_buf_write during capture: writes are not part of programs");
    if (words == 0) return SR_OK;
    return be->vt->buf_write(be, buf, off, words, src);
}

sr_status sr_buf_read(sr_backend *be, sr_buf *buf, size_t off, size_t words,
                      void *dst)
{
    SR_TRY(check_range(buf, off, words, "sr_buf_read"));
    SR_CHECK(dst || words == 0, SR_E_ARG, "sr_buf_read: dst is NULL");
    SR_CHECK(!be->capturing, SR_E_ARG,
             "sr_buf_read during capture: reads are not part of programs");
    if (words == 0) return SR_OK;
    return be->vt->buf_read(be, buf, off, words, dst);
}

/* ------------------------------------------------------------------ */
/* Capture and replay                                                  */

struct sr_program {
    sr_op *ops;    /* kept for backends that replay through exec */
    size_t n;
    void *impl;    /* backend's pre-recorded form, if any */
};

sr_status sr_backend_begin_capture(sr_backend *be)
{
    SR_CHECK(!be->capturing, SR_E_ARG, "capture already in progress");
    be->capturing = 1;
    be->cap_n = 0;
    return SR_OK;
}

sr_status sr_backend_end_capture(sr_backend *be, sr_program **out)
{
    SR_CHECK(be->capturing, SR_E_ARG, "end_capture without begin_capture");
    SR_CHECK(out, SR_E_ARG, "end_capture: out is NULL");
    be->capturing = 0;
    *out = NULL;
    sr_program *p = calloc(1, sizeof *p);
    SR_CHECK(p, SR_E_NOMEM, "out of memory for a program");
    p->n = be->cap_n;
    if (p->n) {
        p->ops = malloc(p->n * sizeof *p->ops);
        if (!p->ops) {
            free(p);
            return sr_error(SR_E_NOMEM, "out of memory for %zu ops", be->cap_n);
        }
        memcpy(p->ops, be->cap_ops, p->n * sizeof *p->ops);
    }
    if (be->vt->program_build) {
        sr_status st = be->vt->program_build(be, p->ops, p->n, &p->impl);
        if (st != SR_OK) {
            free(p->ops);
            free(p);
            return st;
        }
    }
    *out = p;
    return SR_OK;
}

sr_status sr_program_run(sr_backend *be, sr_program *prog)
{
    SR_CHECK(prog, SR_E_ARG, "sr_program_run: program is NULL");
    SR_CHECK(!be->capturing, SR_E_ARG, "cannot run a program while capturing");
    if (prog->impl) return be->vt->program_run(be, prog->impl);
    for (size_t i = 0; i < prog->n; i++) SR_TRY(be->vt->exec(be, &prog->ops[i]));
    return SR_OK;
}

void sr_program_free(sr_backend *be, sr_program *prog)
{
    if (!prog) return;
    if (prog->impl && be->vt->program_free) be->vt->program_free(be, prog->impl);
    free(prog->ops);
    free(prog);
}

/* Run now, or append to the program being captured. */
static sr_status submit(sr_backend *be, const sr_op *op)
{
    if (!be->capturing) return be->vt->exec(be, op);
    if (be->cap_n == be->cap_cap) {
        size_t cap = be->cap_cap ? 2 * be->cap_cap : 64;
        sr_op *ops = realloc(be->cap_ops, cap * sizeof *ops);
        SR_CHECK(ops, SR_E_NOMEM, "out of memory while capturing ops");
        be->cap_ops = ops;
        be->cap_cap = cap;
    }
    be->cap_ops[be->cap_n++] = *op;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Validation helpers                                                  */

static const char *const op_names[SR_OP_COUNT] = {
    [SR_OP_FILL] = "fill", [SR_OP_COPY] = "copy", [SR_OP_ADD] = "add",
    [SR_OP_ADD_RELU] = "add_relu",
    [SR_OP_CONV2D_FWD] = "conv2d_fwd",
    [SR_OP_CONV2D_BWD_DATA] = "conv2d_bwd_data",
    [SR_OP_CONV2D_BWD_WEIGHT] = "conv2d_bwd_weight",
    [SR_OP_DWCONV2D_FWD] = "dwconv2d_fwd",
    [SR_OP_DWCONV2D_BWD_DATA] = "dwconv2d_bwd_data",
    [SR_OP_DWCONV2D_BWD_WEIGHT] = "dwconv2d_bwd_weight",
    [SR_OP_LINEAR_FWD] = "linear_fwd",
    [SR_OP_LINEAR_BWD_DATA] = "linear_bwd_data",
    [SR_OP_LINEAR_BWD_WEIGHT] = "linear_bwd_weight",
    [SR_OP_BN_FWD_TRAIN] = "bn_fwd_train", [SR_OP_BN_FWD_EVAL] = "bn_fwd_eval",
    [SR_OP_BN_BWD] = "bn_bwd", [SR_OP_RELU_FWD] = "relu_fwd",
    [SR_OP_RELU_BWD] = "relu_bwd", [SR_OP_DROPOUT_FWD] = "dropout_fwd",
    [SR_OP_DROPOUT_BWD] = "dropout_bwd", [SR_OP_MAXPOOL_FWD] = "maxpool_fwd",
    [SR_OP_MAXPOOL_BWD] = "maxpool_bwd", [SR_OP_AVGPOOL_FWD] = "avgpool_fwd",
    [SR_OP_AVGPOOL_BWD] = "avgpool_bwd", [SR_OP_SOFTMAX_XENT] = "softmax_xent",
    [SR_OP_TOP1_COUNT] = "top1_count", [SR_OP_SGD] = "sgd",
    [SR_OP_DOREFA_W_FWD] = "dorefa_w_fwd", [SR_OP_DOREFA_W_BWD] = "dorefa_w_bwd",
    [SR_OP_WRPN_W_FWD] = "wrpn_w_fwd", [SR_OP_WRPN_W_BWD] = "wrpn_w_bwd",
    [SR_OP_ACTQ_FWD] = "actq_fwd", [SR_OP_ACTQ_BWD] = "actq_bwd",
    [SR_OP_SINREQ] = "sinreq", [SR_OP_WAVEQ] = "waveq",
    [SR_OP_MEAN_ABS_DIFF] = "mean_abs_diff",
};

const char *sr_op_name(sr_op_kind kind)
{
    return (unsigned)kind < SR_OP_COUNT && op_names[kind] ? op_names[kind]
                                                           : "unknown-op";
}

/* Product of dims with overflow and positivity checks. */
static sr_status count(const char *op, size_t *out, int ndims, const int *dims,
                       const char *const *names)
{
    size_t total = 1;
    for (int i = 0; i < ndims; i++) {
        SR_CHECK(dims[i] > 0, SR_E_SHAPE, "%s: %s must be > 0 (got %d)", op,
                 names[i], dims[i]);
        SR_CHECK(total <= ((size_t)1 << 40) / (size_t)dims[i], SR_E_SHAPE,
                 "%s: tensor too large", op);
        total *= (size_t)dims[i];
    }
    *out = total;
    return SR_OK;
}

static sr_status need(const char *op, const char *what, sr_view v,
                      size_t words)
{
    SR_CHECK(v.buf, SR_E_ARG, "%s: operand '%s' is missing", op, what);
    SR_CHECK(v.off <= v.buf->words && words <= v.buf->words - v.off,
             SR_E_SHAPE,
             "%s: operand '%s' needs %zu words at offset %zu but its buffer "
             "has %zu",
             op, what, words, v.off, v.buf->words);
    return SR_OK;
}

static sr_status need_bits(const char *op, int bits, int lo)
{
    SR_CHECK(bits >= lo && bits <= SR_MAX_BITS, SR_E_BITS,
             "%s: bits = %d outside the supported range [%d, %d]", op, bits,
             lo, SR_MAX_BITS);
    return SR_OK;
}

static sr_status need_slot(const char *op, const char *what, int slot)
{
    SR_CHECK(slot >= 0 && slot < SR_SCALAR_SLOTS, SR_E_ARG,
             "%s: %s = %d outside [0, %d)", op, what, slot, SR_SCALAR_SLOTS);
    return SR_OK;
}

static sr_status need_n(const char *op, size_t n)
{
    SR_CHECK(n > 0, SR_E_SHAPE, "%s: element count must be > 0", op);
    SR_CHECK(n <= ((size_t)1 << 40), SR_E_SHAPE, "%s: element count too large",
             op);
    return SR_OK;
}

static sr_op make(sr_op_kind kind, int nv, const sr_view *v)
{
    sr_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.nv = nv;
    for (int i = 0; i < nv; i++) op.v[i] = v[i];
    return op;
}

static sr_op make_ew(sr_op_kind kind, size_t n, float value, int bits, int nv,
                     const sr_view *v)
{
    sr_op op = make(kind, nv, v);
    op.p.ew.n = n;
    op.p.ew.value = value;
    op.p.ew.bits = bits;
    return op;
}

/* ------------------------------------------------------------------ */
/* Elementwise and utility ops                                         */

sr_status sr_fill(sr_backend *be, size_t n, float value, sr_view dst)
{
    SR_TRY(need_n("fill", n));
    SR_TRY(need("fill", "dst", dst, n));
    sr_op op = make_ew(SR_OP_FILL, n, value, 0, 1, &dst);
    return submit(be, &op);
}

sr_status sr_copy(sr_backend *be, size_t n, sr_view src, sr_view dst)
{
    SR_TRY(need_n("copy", n));
    SR_TRY(need("copy", "src", src, n));
    SR_TRY(need("copy", "dst", dst, n));
    sr_view v[] = {src, dst};
    sr_op op = make_ew(SR_OP_COPY, n, 0, 0, 2, v);
    return submit(be, &op);
}

/* y = f(a, b) over n elements (add, add + relu) */
static sr_status ew_binary(sr_backend *be, sr_op_kind kind, size_t n,
                           sr_view a, sr_view b, sr_view y)
{
    const char *name = sr_op_name(kind);
    SR_TRY(need_n(name, n));
    SR_TRY(need(name, "a", a, n));
    SR_TRY(need(name, "b", b, n));
    SR_TRY(need(name, "y", y, n));
    sr_view v[] = {a, b, y};
    sr_op op = make_ew(kind, n, 0, 0, 3, v);
    return submit(be, &op);
}

sr_status sr_add(sr_backend *be, size_t n, sr_view a, sr_view b, sr_view y)
{
    return ew_binary(be, SR_OP_ADD, n, a, b, y);
}

sr_status sr_add_relu(sr_backend *be, size_t n, sr_view a, sr_view b,
                      sr_view y)
{
    return ew_binary(be, SR_OP_ADD_RELU, n, a, b, y);
}

sr_status sr_relu_fwd(sr_backend *be, size_t n, sr_view x, sr_view y)
{
    SR_TRY(need_n("relu_fwd", n));
    SR_TRY(need("relu_fwd", "x", x, n));
    SR_TRY(need("relu_fwd", "y", y, n));
    sr_view v[] = {x, y};
    sr_op op = make_ew(SR_OP_RELU_FWD, n, 0, 0, 2, v);
    return submit(be, &op);
}

sr_status sr_relu_bwd(sr_backend *be, size_t n, sr_view y, sr_view dy,
                      sr_view dx)
{
    SR_TRY(need_n("relu_bwd", n));
    SR_TRY(need("relu_bwd", "y", y, n));
    SR_TRY(need("relu_bwd", "dy", dy, n));
    SR_TRY(need("relu_bwd", "dx", dx, n));
    sr_view v[] = {y, dy, dx};
    sr_op op = make_ew(SR_OP_RELU_BWD, n, 0, 0, 3, v);
    return submit(be, &op);
}

sr_status sr_mean_abs_diff(sr_backend *be, size_t n, sr_view a, sr_view b,
                           sr_view out)
{
    SR_TRY(need_n("mean_abs_diff", n));
    SR_TRY(need("mean_abs_diff", "a", a, n));
    SR_TRY(need("mean_abs_diff", "b", b, n));
    SR_TRY(need("mean_abs_diff", "out", out, 1));
    sr_view v[] = {a, b, out};
    sr_op op = make_ew(SR_OP_MEAN_ABS_DIFF, n, 0, 0, 3, v);
    return submit(be, &op);
}

/* ------------------------------------------------------------------ */
/* Convolution and linear                                              */

int sr_conv2d_out_h(const sr_conv2d_desc *d)
{
    return (d->h + 2 * d->pad - d->kh) / d->stride + 1;
}

int sr_conv2d_out_w(const sr_conv2d_desc *d)
{
    return (d->w + 2 * d->pad - d->kw) / d->stride + 1;
}

static sr_status check_conv(const char *op, const sr_conv2d_desc *d,
                            size_t *nx, size_t *nw, size_t *ny)
{
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    static const char *const names[] = {"n", "c", "h", "w", "k", "kh", "kw"};
    int dims[] = {d->n, d->c, d->h, d->w, d->k, d->kh, d->kw};
    size_t tmp = 0;
    SR_TRY(count(op, &tmp, 7, dims, names));
    SR_CHECK(d->kh <= 11 && d->kw <= 11, SR_E_SHAPE,
             "%s: kernel %dx%d larger than the supported 11x11", op, d->kh,
             d->kw);
    SR_CHECK(d->stride >= 1 && d->stride <= 4, SR_E_SHAPE,
             "%s: stride %d outside [1, 4]", op, d->stride);
    SR_CHECK(d->pad >= 0 && d->pad < d->kh && d->pad < d->kw, SR_E_SHAPE,
             "%s: padding %d must be in [0, kernel) for a %dx%d kernel", op,
             d->pad, d->kh, d->kw);
    SR_CHECK(d->h + 2 * d->pad >= d->kh && d->w + 2 * d->pad >= d->kw,
             SR_E_SHAPE,
             "%s: kernel %dx%d larger than the padded input %dx%d", op, d->kh,
             d->kw, d->h + 2 * d->pad, d->w + 2 * d->pad);
    SR_CHECK(d->bias == 0 || d->bias == 1, SR_E_ARG, "%s: bias must be 0 or 1",
             op);
    if (d->act_bits) SR_TRY(need_bits(op, d->act_bits, SR_MIN_BITS));
    int oh = sr_conv2d_out_h(d), ow = sr_conv2d_out_w(d);
    int dx[] = {d->n, d->c, d->h, d->w};
    int dw[] = {d->k, d->c, d->kh, d->kw};
    int dy[] = {d->n, d->k, oh, ow};
    static const char *const nxn[] = {"n", "c", "h", "w"};
    static const char *const nwn[] = {"k", "c", "kh", "kw"};
    static const char *const nyn[] = {"n", "k", "out_h", "out_w"};
    SR_TRY(count(op, nx, 4, dx, nxn));
    SR_TRY(count(op, nw, 4, dw, nwn));
    SR_TRY(count(op, ny, 4, dy, nyn));
    /* Index arithmetic in shaders is 32-bit. */
    SR_CHECK(*nx < ((size_t)1 << 31) && *ny < ((size_t)1 << 31), SR_E_SHAPE,
             "%s: tensor of more than 2^31 elements", op);
    return SR_OK;
}

static sr_op make_conv(sr_op_kind kind, const sr_conv2d_desc *d,
                       const sr_view *v)
{
    sr_op op = make(kind, 4, v);
    op.p.conv = *d;
    return op;
}

sr_status sr_conv2d_fwd(sr_backend *be, const sr_conv2d_desc *d, sr_view x,
                        sr_view w, sr_view b, sr_view y)
{
    const char *op = "conv2d_fwd";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_conv(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "w", w, nw));
    if (d->bias) SR_TRY(need(op, "b", b, (size_t)d->k));
    SR_TRY(need(op, "y", y, ny));
    sr_view v[] = {x, w, d->bias ? b : SR_NONE, y};
    sr_op o = make_conv(SR_OP_CONV2D_FWD, d, v);
    return submit(be, &o);
}

sr_status sr_conv2d_bwd_data(sr_backend *be, const sr_conv2d_desc *d,
                             sr_view dy, sr_view w, sr_view x, sr_view dx)
{
    const char *op = "conv2d_bwd_data";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_conv(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "dy", dy, ny));
    SR_TRY(need(op, "w", w, nw));
    if (d->act_bits) SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "dx", dx, nx));
    sr_view v[] = {dy, w, d->act_bits ? x : SR_NONE, dx};
    sr_op o = make_conv(SR_OP_CONV2D_BWD_DATA, d, v);
    return submit(be, &o);
}

sr_status sr_conv2d_bwd_weight(sr_backend *be, const sr_conv2d_desc *d,
                               sr_view x, sr_view dy, sr_view dw, sr_view db)
{
    const char *op = "conv2d_bwd_weight";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_conv(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "dy", dy, ny));
    SR_TRY(need(op, "dw", dw, nw));
    if (d->bias) SR_TRY(need(op, "db", db, (size_t)d->k));
    sr_view v[] = {x, dy, dw, d->bias ? db : SR_NONE};
    sr_op o = make_conv(SR_OP_CONV2D_BWD_WEIGHT, d, v);
    return submit(be, &o);
}

/* Depthwise: conv's checks with k == c, weights [c][1][kh][kw]. */
static sr_status check_dwconv(const char *op, const sr_conv2d_desc *d,
                              size_t *nx, size_t *nw, size_t *ny)
{
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    SR_CHECK(d->k == d->c, SR_E_SHAPE, "%s: output channels k = %d must "
             "equal the input channels c = %d (one kernel per channel)", op,
             d->k, d->c);
    SR_TRY(check_conv(op, d, nx, nw, ny));
    *nw = (size_t)d->c * (size_t)d->kh * (size_t)d->kw;
    return SR_OK;
}

sr_status sr_dwconv2d_fwd(sr_backend *be, const sr_conv2d_desc *d, sr_view x,
                          sr_view w, sr_view b, sr_view y)
{
    const char *op = "dwconv2d_fwd";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_dwconv(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "w", w, nw));
    if (d->bias) SR_TRY(need(op, "b", b, (size_t)d->k));
    SR_TRY(need(op, "y", y, ny));
    sr_view v[] = {x, w, d->bias ? b : SR_NONE, y};
    sr_op o = make_conv(SR_OP_DWCONV2D_FWD, d, v);
    return submit(be, &o);
}

sr_status sr_dwconv2d_bwd_data(sr_backend *be, const sr_conv2d_desc *d,
                               sr_view dy, sr_view w, sr_view x, sr_view dx)
{
    const char *op = "dwconv2d_bwd_data";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_dwconv(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "dy", dy, ny));
    SR_TRY(need(op, "w", w, nw));
    if (d->act_bits) SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "dx", dx, nx));
    sr_view v[] = {dy, w, d->act_bits ? x : SR_NONE, dx};
    sr_op o = make_conv(SR_OP_DWCONV2D_BWD_DATA, d, v);
    return submit(be, &o);
}

sr_status sr_dwconv2d_bwd_weight(sr_backend *be, const sr_conv2d_desc *d,
                                 sr_view x, sr_view dy, sr_view dw,
                                 sr_view db)
{
    const char *op = "dwconv2d_bwd_weight";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_dwconv(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "dy", dy, ny));
    SR_TRY(need(op, "dw", dw, nw));
    if (d->bias) SR_TRY(need(op, "db", db, (size_t)d->k));
    sr_view v[] = {x, dy, dw, d->bias ? db : SR_NONE};
    sr_op o = make_conv(SR_OP_DWCONV2D_BWD_WEIGHT, d, v);
    return submit(be, &o);
}

static sr_status check_linear(const char *op, const sr_linear_desc *d,
                              size_t *nx, size_t *nw, size_t *ny)
{
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    static const char *const nxn[] = {"n", "in"};
    static const char *const nwn[] = {"out", "in"};
    static const char *const nyn[] = {"n", "out"};
    int dx[] = {d->n, d->in}, dw[] = {d->out, d->in}, dy[] = {d->n, d->out};
    SR_TRY(count(op, nx, 2, dx, nxn));
    SR_TRY(count(op, nw, 2, dw, nwn));
    SR_TRY(count(op, ny, 2, dy, nyn));
    SR_CHECK(*nx < ((size_t)1 << 31) && *nw < ((size_t)1 << 31), SR_E_SHAPE,
             "%s: tensor of more than 2^31 elements", op);
    SR_CHECK(d->bias == 0 || d->bias == 1, SR_E_ARG, "%s: bias must be 0 or 1",
             op);
    if (d->act_bits) SR_TRY(need_bits(op, d->act_bits, SR_MIN_BITS));
    return SR_OK;
}

static sr_op make_linear(sr_op_kind kind, const sr_linear_desc *d,
                         const sr_view *v)
{
    sr_op op = make(kind, 4, v);
    op.p.linear = *d;
    return op;
}

sr_status sr_linear_fwd(sr_backend *be, const sr_linear_desc *d, sr_view x,
                        sr_view w, sr_view b, sr_view y)
{
    const char *op = "linear_fwd";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_linear(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "w", w, nw));
    if (d->bias) SR_TRY(need(op, "b", b, (size_t)d->out));
    SR_TRY(need(op, "y", y, ny));
    sr_view v[] = {x, w, d->bias ? b : SR_NONE, y};
    sr_op o = make_linear(SR_OP_LINEAR_FWD, d, v);
    return submit(be, &o);
}

sr_status sr_linear_bwd_data(sr_backend *be, const sr_linear_desc *d,
                             sr_view dy, sr_view w, sr_view x, sr_view dx)
{
    const char *op = "linear_bwd_data";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_linear(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "dy", dy, ny));
    SR_TRY(need(op, "w", w, nw));
    if (d->act_bits) SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "dx", dx, nx));
    sr_view v[] = {dy, w, d->act_bits ? x : SR_NONE, dx};
    sr_op o = make_linear(SR_OP_LINEAR_BWD_DATA, d, v);
    return submit(be, &o);
}

sr_status sr_linear_bwd_weight(sr_backend *be, const sr_linear_desc *d,
                               sr_view x, sr_view dy, sr_view dw, sr_view db)
{
    const char *op = "linear_bwd_weight";
    size_t nx = 0, nw = 0, ny = 0;
    SR_TRY(check_linear(op, d, &nx, &nw, &ny));
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "dy", dy, ny));
    SR_TRY(need(op, "dw", dw, nw));
    if (d->bias) SR_TRY(need(op, "db", db, (size_t)d->out));
    sr_view v[] = {x, dy, dw, d->bias ? db : SR_NONE};
    sr_op o = make_linear(SR_OP_LINEAR_BWD_WEIGHT, d, v);
    return submit(be, &o);
}

/* ------------------------------------------------------------------ */
/* Batch norm                                                          */

static sr_status check_bn(const char *op, const sr_bn_desc *d, size_t *nx)
{
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    static const char *const names[] = {"n", "c", "hw"};
    int dims[] = {d->n, d->c, d->hw};
    SR_TRY(count(op, nx, 3, dims, names));
    SR_CHECK(*nx < ((size_t)1 << 31), SR_E_SHAPE,
             "%s: tensor of more than 2^31 elements", op);
    SR_CHECK(d->eps > 0.0f, SR_E_ARG, "%s: eps must be > 0", op);
    SR_CHECK(d->momentum >= 0.0f && d->momentum <= 1.0f, SR_E_ARG,
             "%s: momentum %g outside [0, 1]", op, (double)d->momentum);
    SR_CHECK(d->relu == 0 || d->relu == 1, SR_E_ARG,
             "%s: relu must be 0 or 1, not %d", op, d->relu);
    return SR_OK;
}

static sr_status need_channels(const char *op, const sr_bn_desc *d, int nv,
                               const sr_view *v, const char *const *names)
{
    for (int i = 0; i < nv; i++) SR_TRY(need(op, names[i], v[i], (size_t)d->c));
    return SR_OK;
}

sr_status sr_bn_fwd_train(sr_backend *be, const sr_bn_desc *d, sr_view x,
                          sr_view gamma, sr_view beta, sr_view run_mean,
                          sr_view run_var, sr_view save_mean,
                          sr_view save_invstd, sr_view y)
{
    const char *op = "bn_fwd_train";
    size_t nx = 0;
    SR_TRY(check_bn(op, d, &nx));
    SR_CHECK((size_t)d->n * (size_t)d->hw > 1, SR_E_SHAPE,
             "%s: batch statistics need more than one value per channel", op);
    sr_view v[] = {x, gamma, beta, run_mean, run_var, save_mean, save_invstd, y};
    static const char *const names[] = {"gamma", "beta", "run_mean", "run_var",
                                        "save_mean", "save_invstd"};
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need_channels(op, d, 6, v + 1, names));
    SR_TRY(need(op, "y", y, nx));
    sr_op o = make(SR_OP_BN_FWD_TRAIN, 8, v);
    o.p.bn = *d;
    return submit(be, &o);
}

sr_status sr_bn_fwd_eval(sr_backend *be, const sr_bn_desc *d, sr_view x,
                         sr_view gamma, sr_view beta, sr_view run_mean,
                         sr_view run_var, sr_view y)
{
    const char *op = "bn_fwd_eval";
    size_t nx = 0;
    SR_TRY(check_bn(op, d, &nx));
    sr_view v[] = {x, gamma, beta, run_mean, run_var, y};
    static const char *const names[] = {"gamma", "beta", "run_mean", "run_var"};
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need_channels(op, d, 4, v + 1, names));
    SR_TRY(need(op, "y", y, nx));
    sr_op o = make(SR_OP_BN_FWD_EVAL, 6, v);
    o.p.bn = *d;
    return submit(be, &o);
}

sr_status sr_bn_bwd(sr_backend *be, const sr_bn_desc *d, sr_view x,
                    sr_view dy, sr_view gamma, sr_view save_mean,
                    sr_view save_invstd, sr_view dx, sr_view dgamma,
                    sr_view dbeta)
{
    const char *op = "bn_bwd";
    size_t nx = 0;
    SR_TRY(check_bn(op, d, &nx));
    sr_view v[] = {x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta};
    SR_TRY(need(op, "x", x, nx));
    SR_TRY(need(op, "dy", dy, nx));
    SR_TRY(need(op, "dx", dx, nx));
    static const char *const n1[] = {"gamma", "save_mean", "save_invstd"};
    static const char *const n2[] = {"dgamma", "dbeta"};
    SR_TRY(need_channels(op, d, 3, v + 2, n1));
    SR_TRY(need_channels(op, d, 2, v + 6, n2));
    sr_op o = make(SR_OP_BN_BWD, 8, v);
    o.p.bn = *d;
    return submit(be, &o);
}

/* ------------------------------------------------------------------ */
/* Dropout, pooling                                                    */

static sr_status check_dropout(const char *op, const sr_dropout_desc *d)
{
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    SR_TRY(need_n(op, d->n));
    SR_CHECK(d->n < ((size_t)1 << 32), SR_E_SHAPE,
             "%s: more than 2^32 elements", op);
    SR_CHECK(d->p >= 0.0f && d->p < 1.0f, SR_E_ARG,
             "%s: drop probability %g outside [0, 1)", op, (double)d->p);
    return need_slot(op, "step_slot", d->step_slot);
}

sr_status sr_dropout_fwd(sr_backend *be, const sr_dropout_desc *d, sr_view x,
                         sr_view y)
{
    SR_TRY(check_dropout("dropout_fwd", d));
    SR_TRY(need("dropout_fwd", "x", x, d->n));
    SR_TRY(need("dropout_fwd", "y", y, d->n));
    sr_view v[] = {x, y};
    sr_op o = make(SR_OP_DROPOUT_FWD, 2, v);
    o.p.dropout = *d;
    return submit(be, &o);
}

sr_status sr_dropout_bwd(sr_backend *be, const sr_dropout_desc *d, sr_view dy,
                         sr_view dx)
{
    SR_TRY(check_dropout("dropout_bwd", d));
    SR_TRY(need("dropout_bwd", "dy", dy, d->n));
    SR_TRY(need("dropout_bwd", "dx", dx, d->n));
    sr_view v[] = {dy, dx};
    sr_op o = make(SR_OP_DROPOUT_BWD, 2, v);
    o.p.dropout = *d;
    return submit(be, &o);
}

int sr_pool_out_h(const sr_pool_desc *d)
{
    return (d->h + 2 * d->pad - d->k) / d->stride + 1;
}

int sr_pool_out_w(const sr_pool_desc *d)
{
    return (d->w + 2 * d->pad - d->k) / d->stride + 1;
}

static sr_status check_pool(const char *op, const sr_pool_desc *d, size_t *nx,
                            size_t *ny)
{
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    static const char *const names[] = {"n", "c", "h", "w", "k", "stride"};
    int dims[] = {d->n, d->c, d->h, d->w, d->k, d->stride};
    size_t tmp = 0;
    SR_TRY(count(op, &tmp, 6, dims, names));
    SR_CHECK(d->pad >= 0 && 2 * d->pad <= d->k, SR_E_SHAPE,
             "%s: padding %d must be in [0, k/2] for k = %d", op, d->pad, d->k);
    SR_CHECK(d->h + 2 * d->pad >= d->k && d->w + 2 * d->pad >= d->k,
             SR_E_SHAPE, "%s: window %d larger than the padded input %dx%d",
             op, d->k, d->h + 2 * d->pad, d->w + 2 * d->pad);
    int dx[] = {d->n, d->c, d->h, d->w};
    int dy[] = {d->n, d->c, sr_pool_out_h(d), sr_pool_out_w(d)};
    static const char *const nxn[] = {"n", "c", "h", "w"};
    static const char *const nyn[] = {"n", "c", "out_h", "out_w"};
    SR_TRY(count(op, nx, 4, dx, nxn));
    SR_TRY(count(op, ny, 4, dy, nyn));
    SR_CHECK(*nx < ((size_t)1 << 31), SR_E_SHAPE,
             "%s: tensor of more than 2^31 elements", op);
    return SR_OK;
}

sr_status sr_maxpool_fwd(sr_backend *be, const sr_pool_desc *d, sr_view x,
                         sr_view y, sr_view idx)
{
    size_t nx = 0, ny = 0;
    SR_TRY(check_pool("maxpool_fwd", d, &nx, &ny));
    SR_TRY(need("maxpool_fwd", "x", x, nx));
    SR_TRY(need("maxpool_fwd", "y", y, ny));
    SR_TRY(need("maxpool_fwd", "idx", idx, ny));
    sr_view v[] = {x, y, idx};
    sr_op o = make(SR_OP_MAXPOOL_FWD, 3, v);
    o.p.pool = *d;
    return submit(be, &o);
}

sr_status sr_maxpool_bwd(sr_backend *be, const sr_pool_desc *d, sr_view dy,
                         sr_view idx, sr_view dx)
{
    size_t nx = 0, ny = 0;
    SR_TRY(check_pool("maxpool_bwd", d, &nx, &ny));
    SR_TRY(need("maxpool_bwd", "dy", dy, ny));
    SR_TRY(need("maxpool_bwd", "idx", idx, ny));
    SR_TRY(need("maxpool_bwd", "dx", dx, nx));
    sr_view v[] = {dy, idx, dx};
    sr_op o = make(SR_OP_MAXPOOL_BWD, 3, v);
    o.p.pool = *d;
    return submit(be, &o);
}

static sr_status check_avgpool(const char *op, const sr_avgpool_desc *d,
                               size_t *nx, size_t *ny)
{
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    static const char *const nxn[] = {"n", "c", "h", "w"};
    static const char *const nyn[] = {"n", "c", "oh", "ow"};
    int dx[] = {d->n, d->c, d->h, d->w}, dy[] = {d->n, d->c, d->oh, d->ow};
    SR_TRY(count(op, nx, 4, dx, nxn));
    SR_TRY(count(op, ny, 4, dy, nyn));
    SR_CHECK(*nx < ((size_t)1 << 31) && *ny < ((size_t)1 << 31), SR_E_SHAPE,
             "%s: tensor of more than 2^31 elements", op);
    return SR_OK;
}

sr_status sr_avgpool_fwd(sr_backend *be, const sr_avgpool_desc *d, sr_view x,
                         sr_view y)
{
    size_t nx = 0, ny = 0;
    SR_TRY(check_avgpool("avgpool_fwd", d, &nx, &ny));
    SR_TRY(need("avgpool_fwd", "x", x, nx));
    SR_TRY(need("avgpool_fwd", "y", y, ny));
    sr_view v[] = {x, y};
    sr_op o = make(SR_OP_AVGPOOL_FWD, 2, v);
    o.p.avgpool = *d;
    return submit(be, &o);
}

sr_status sr_avgpool_bwd(sr_backend *be, const sr_avgpool_desc *d,
                         sr_view dy, sr_view dx)
{
    size_t nx = 0, ny = 0;
    SR_TRY(check_avgpool("avgpool_bwd", d, &nx, &ny));
    SR_TRY(need("avgpool_bwd", "dy", dy, ny));
    SR_TRY(need("avgpool_bwd", "dx", dx, nx));
    sr_view v[] = {dy, dx};
    sr_op o = make(SR_OP_AVGPOOL_BWD, 2, v);
    o.p.avgpool = *d;
    return submit(be, &o);
}

/* ------------------------------------------------------------------ */
/* Loss, metrics, optimizer                                            */

static sr_status check_xent(const char *op, int n, int classes)
{
    SR_CHECK(n > 0, SR_E_SHAPE, "%s: batch size must be > 0 (got %d)", op, n);
    SR_CHECK(classes > 1, SR_E_SHAPE, "%s: need at least 2 classes (got %d)",
             op, classes);
    SR_CHECK((size_t)n * (size_t)classes < ((size_t)1 << 31), SR_E_SHAPE,
             "%s: logits larger than 2^31 elements", op);
    return SR_OK;
}

sr_status sr_softmax_xent(sr_backend *be, int n, int classes, sr_view logits,
                          sr_view labels, sr_view loss, sr_view dlogits)
{
    return sr_softmax_xent_smooth(be, n, classes, 0.0f, logits, labels, loss,
                                  dlogits);
}

sr_status sr_softmax_xent_smooth(sr_backend *be, int n, int classes,
                                 float smoothing, sr_view logits,
                                 sr_view labels, sr_view loss, sr_view dlogits)
{
    const char *op = "softmax_xent";
    SR_TRY(check_xent(op, n, classes));
    SR_CHECK(smoothing >= 0.0f && smoothing < 1.0f, SR_E_ARG,
             "%s: label smoothing %g outside [0, 1)", op, (double)smoothing);
    size_t nl = (size_t)n * (size_t)classes;
    SR_TRY(need(op, "logits", logits, nl));
    SR_TRY(need(op, "labels", labels, (size_t)n));
    SR_TRY(need(op, "loss", loss, 1));
    SR_TRY(need(op, "dlogits", dlogits, nl));
    sr_view v[] = {logits, labels, loss, dlogits};
    sr_op o = make(SR_OP_SOFTMAX_XENT, 4, v);
    o.p.xent.n = n;
    o.p.xent.classes = classes;
    o.p.xent.smoothing = smoothing;
    return submit(be, &o);
}

sr_status sr_top1_count(sr_backend *be, int n, int classes, sr_view logits,
                        sr_view labels, sr_view correct)
{
    const char *op = "top1_count";
    SR_TRY(check_xent(op, n, classes));
    SR_TRY(need(op, "logits", logits, (size_t)n * (size_t)classes));
    SR_TRY(need(op, "labels", labels, (size_t)n));
    SR_TRY(need(op, "correct", correct, 1));
    sr_view v[] = {logits, labels, correct};
    sr_op o = make(SR_OP_TOP1_COUNT, 3, v);
    o.p.xent.n = n;
    o.p.xent.classes = classes;
    return submit(be, &o);
}

sr_status sr_sgd(sr_backend *be, const sr_sgd_desc *d, sr_view w, sr_view g,
                 sr_view v)
{
    const char *op = "sgd";
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    SR_TRY(need_n(op, d->n));
    SR_CHECK(d->momentum >= 0.0f && d->momentum < 1.0f, SR_E_ARG,
             "%s: momentum %g outside [0, 1)", op, (double)d->momentum);
    SR_CHECK(d->weight_decay >= 0.0f, SR_E_ARG,
             "%s: weight decay %g is negative", op, (double)d->weight_decay);
    SR_TRY(need_slot(op, "lr_slot", d->lr_slot));
    SR_CHECK(d->nesterov == 0 || d->nesterov == 1, SR_E_ARG,
             "%s: nesterov %d is not 0 or 1", op, d->nesterov);
    if (d->grad_scale_slot)
        SR_TRY(need_slot(op, "grad_scale_slot", d->grad_scale_slot));
    SR_TRY(need(op, "w", w, d->n));
    SR_TRY(need(op, "g", g, d->n));
    SR_TRY(need(op, "v", v, d->n));
    sr_view vv[] = {w, g, v};
    sr_op o = make(SR_OP_SGD, 3, vv);
    o.p.sgd = *d;
    return submit(be, &o);
}

/* ------------------------------------------------------------------ */
/* Quantizers and regularizers                                         */

static sr_status quant_ew(sr_backend *be, sr_op_kind kind, size_t n, int bits,
                          int min_bits, int nv, const sr_view *v,
                          const char *const *names)
{
    const char *op = sr_op_name(kind);
    SR_TRY(need_n(op, n));
    SR_TRY(need_bits(op, bits, min_bits));
    for (int i = 0; i < nv; i++) SR_TRY(need(op, names[i], v[i], n));
    sr_op o = make_ew(kind, n, 0, bits, nv, v);
    return submit(be, &o);
}

sr_status sr_dorefa_w_fwd(sr_backend *be, size_t n, int bits, sr_view w,
                          sr_view wq)
{
    static const char *const names[] = {"w", "wq"};
    sr_view v[] = {w, wq};
    SR_CHECK(!(w.buf == wq.buf && w.off == wq.off), SR_E_ARG,
             "dorefa_w_fwd: w and wq must not alias (backward needs w)");
    return quant_ew(be, SR_OP_DOREFA_W_FWD, n, bits, SR_MIN_BITS, 2, v, names);
}

sr_status sr_dorefa_w_bwd(sr_backend *be, size_t n, int bits, sr_view w,
                          sr_view dwq, sr_view dw)
{
    static const char *const names[] = {"w", "dwq", "dw"};
    sr_view v[] = {w, dwq, dw};
    return quant_ew(be, SR_OP_DOREFA_W_BWD, n, bits, SR_MIN_BITS, 3, v, names);
}

sr_status sr_wrpn_w_fwd(sr_backend *be, size_t n, int bits, sr_view w,
                        sr_view wq)
{
    static const char *const names[] = {"w", "wq"};
    sr_view v[] = {w, wq};
    return quant_ew(be, SR_OP_WRPN_W_FWD, n, bits, 2, 2, v, names);
}

sr_status sr_wrpn_w_bwd(sr_backend *be, size_t n, int bits, sr_view w,
                        sr_view dwq, sr_view dw)
{
    static const char *const names[] = {"w", "dwq", "dw"};
    sr_view v[] = {w, dwq, dw};
    return quant_ew(be, SR_OP_WRPN_W_BWD, n, bits, 2, 3, v, names);
}

sr_status sr_actq_fwd(sr_backend *be, size_t n, int bits, sr_view x,
                      sr_view y)
{
    static const char *const names[] = {"x", "y"};
    sr_view v[] = {x, y};
    return quant_ew(be, SR_OP_ACTQ_FWD, n, bits, SR_MIN_BITS, 2, v, names);
}

sr_status sr_actq_bwd(sr_backend *be, size_t n, int bits, sr_view x,
                      sr_view dy, sr_view dx)
{
    static const char *const names[] = {"x", "dy", "dx"};
    sr_view v[] = {x, dy, dx};
    return quant_ew(be, SR_OP_ACTQ_BWD, n, bits, SR_MIN_BITS, 3, v, names);
}

sr_status sr_sinreq(sr_backend *be, const sr_sinreq_desc *d, sr_view w,
                    sr_view dw, sr_view value)
{
    const char *op = "sinreq";
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    SR_TRY(need_n(op, d->n));
    SR_CHECK(d->quantizer == SR_QUANT_DOREFA || d->quantizer == SR_QUANT_WRPN,
             SR_E_ARG, "%s: quantizer must be DoReFa or WRPN", op);
    SR_TRY(need_bits(op, d->bits,
                     d->quantizer == SR_QUANT_WRPN ? 2 : SR_MIN_BITS));
    SR_CHECK(d->domain == SR_SINREQ_DOMAIN_W || d->domain == SR_SINREQ_DOMAIN_X,
             SR_E_ARG, "%s: domain %d is not W (0) or X (1)", op,
             (int)d->domain);
    SR_CHECK(d->domain != SR_SINREQ_DOMAIN_X || d->quantizer == SR_QUANT_DOREFA,
             SR_E_ARG, "%s: domain X is DoReFa's rounding variable "
             "tanh(w)/(2 max|tanh w|) + 1/2; WRPN rounds w itself, so it has "
             "only domain W", op);
    /* X reads w[arg-max] after the elementwise pass has written dw. */
    SR_CHECK(d->domain != SR_SINREQ_DOMAIN_X ||
                 !(w.buf == dw.buf && w.off == dw.off),
             SR_E_ARG, "%s: domain X needs w and dw apart", op);
    SR_CHECK(d->divisor > 0.0f, SR_E_ARG, "%s: divisor must be > 0", op);
    SR_TRY(need_slot(op, "coef_slot", d->coef_slot));
    SR_TRY(need(op, "w", w, d->n));
    SR_TRY(need(op, "dw", dw, d->n));
    SR_TRY(need(op, "value", value, 1));
    sr_view v[] = {w, dw, value};
    sr_op o = make(SR_OP_SINREQ, 3, v);
    o.p.sinreq = *d;
    return submit(be, &o);
}

sr_status sr_waveq(sr_backend *be, const sr_waveq_desc *d, sr_view w,
                   sr_view beta, sr_view dw, sr_view dbeta, sr_view value)
{
    const char *op = "waveq";
    SR_CHECK(d, SR_E_ARG, "%s: descriptor is NULL", op);
    SR_TRY(need_n(op, d->n));
    SR_CHECK(d->divisor > 0.0f, SR_E_ARG, "%s: divisor must be > 0", op);
    SR_TRY(need_slot(op, "coef_w_slot", d->coef_w_slot));
    SR_TRY(need_slot(op, "coef_beta_slot", d->coef_beta_slot));
    SR_TRY(need(op, "w", w, d->n));
    SR_TRY(need(op, "beta", beta, 1));
    SR_TRY(need(op, "dw", dw, d->n));
    SR_TRY(need(op, "dbeta", dbeta, 1));
    SR_TRY(need(op, "value", value, 1));
    sr_view v[] = {w, beta, dw, dbeta, value};
    sr_op o = make(SR_OP_WAVEQ, 5, v);
    o.p.waveq = *d;
    return submit(be, &o);
}
