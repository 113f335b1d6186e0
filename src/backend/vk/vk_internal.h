/* Vulkan backend internals shared by the runtime (vk_command.c, ...) and the
 * op files (vk_ops.c, vk_conv.c, ...). Only src/backend/vk includes vulkan.h.
 *
 * Dispatch contract (every op file uses only this):
 *  - A shader is an embedded shaders/<name>.comp, local size chosen in the
 *    shader (or via specialization constants).
 *  - Storage buffers: set 0, bindings 0..nbufs-1, each bound WHOLE; the word
 *    offsets of the views are passed by the op in its push constants
 *    (so offsets need no alignment). A view with buf == NULL binds a 1-word
 *    dummy buffer. A buffer larger than one binding is bound through a
 *    window (sr_vk_fit below): the window is bound whole, offsets are
 *    relative to its start.
 *  - Or, with sr_vk_dispatch.texel, bindings 0..3 are uniform texel
 *    buffers (RGBA32F or R32F views of whole buffers; see the field), the
 *    rest storage buffers as above.
 *  - Scalar slots: set 1, binding 0, `readonly buffer { uint scalars[]; }`,
 *    always bound (shaders/common.glsl declares it); the runtime copies the
 *    host array into it before each submission.
 *  - Push constants: at most 128 bytes, one range for the compute stage.
 *  - Specialization constants: constant_id 0..nspec-1, 32-bit each.
 *  - Every dispatch is followed by a compute->compute memory barrier, so an
 *    op always sees the previous op's writes (correct first; the graph is
 *    mostly a chain anyway).
 *  - Recording goes to the open immediate command buffer (submitted at
 *    sync/read/write) or, while a program is being built, to that program's
 *    command buffer. Op code does not need to know which.
 */
#ifndef SR_VK_INTERNAL_H
#define SR_VK_INTERNAL_H

#include "backend_impl.h"

#define SR_VK_MAX_BINDINGS 8
#define SR_VK_MAX_SPEC 12
#define SR_VK_MAX_PUSH 128

typedef struct sr_vk_dispatch {
    const char *shader;                  /* embedded shader name */
    uint32_t spec[SR_VK_MAX_SPEC];       /* specialization constants */
    int nspec;
    const void *push;                    /* push constant data */
    uint32_t push_bytes;
    sr_buf *bufs[SR_VK_MAX_BINDINGS];    /* bound whole at set 0 */
    int nbufs;
    uint32_t groups[3];                  /* workgroup counts, 0 means 1 */
    /* Nonzero: bindings 0..SR_VK_TEXEL_BINDINGS-1 of set 0 are uniform
     * texel buffers instead (`uniform samplerBuffer`, texelFetch): a
     * R32G32B32A32_SFLOAT view of the whole buffer, so texel i is words
     * 4i..4i+3. lavapipe reads texel buffers with vector gathers, much
     * faster than its per-lane storage-buffer loads. A NULL buffer there
     * leaves the binding unwritten (the shader must not use it); the
     * remaining bindings are storage buffers as usual. */
    int texel;
    /* With texel: bit i gives binding i an R32_SFLOAT view instead
     * (texel i is word i, any word offset). */
    uint32_t texel_r32;
} sr_vk_dispatch;

#define SR_VK_TEXEL_BINDINGS 4

/* Record one compute dispatch (pipeline looked up in the cache keyed by
 * shader + specialization constants, created on first use). */
sr_status sr_vk_record(sr_backend *be, const sr_vk_dispatch *d);

/* Scratch memory for an op's intermediate results (reduction partials,
 * im2col columns). The returned buffer stays alive until the backend is
 * freed, so programs that recorded it stay valid; consecutive ops may get
 * the same buffer back (the per-dispatch barrier orders them). */
sr_status sr_vk_scratch(sr_backend *be, size_t words, sr_buf **out);

/* Device limits the op code needs. */
uint32_t sr_vk_max_groups_x(const sr_backend *be);     /* maxComputeWorkGroupCount[0] */
/* Words one storage binding covers: maxStorageBufferRange / 4, or less
 * where SINREQ_VK_MAX_RANGE lowers it (vk_window.c). */
size_t sr_vk_max_buffer_words(const sr_backend *be);

/* Windows (vk_window.c). A buffer of at most sr_vk_max_buffer_words is
 * bound whole; a bigger one only through windows: views of at most
 * sr_vk_max_buffer_words words starting at an aligned word. Op code binds
 * what sr_vk_fit returns and splits its work so that every binding's words
 * fit: sr_vk_span_words from any offset always do. */
size_t sr_vk_span_words(const sr_backend *be);
/* SIZE_MAX when v's buffer is bound whole (any extent is fine), else
 * sr_vk_span_words: what one dispatch may address through v. */
size_t sr_vk_cap(const sr_backend *be, sr_view v);
/* *out addresses the same `words` words as v ([v.off, v.off + words)):
 * v itself where its buffer is bound whole, else a window and the offset
 * into it. Fails, naming op and operand `what`, where no window covers
 * them. NULL views pass through. */
sr_status sr_vk_fit(sr_backend *be, sr_view v, size_t words, const char *op,
                    const char *what, sr_view *out);
/* The SR_E_UNSUPPORTED error for an operand of `words` words that no
 * binding covers and the op cannot split: names op, operand (and its
 * shape, "n x c x h x w = 2 x 3 x 4 x 5", unless NULL), size, the limit
 * (and SINREQ_VK_MAX_RANGE where it applies) and `remedy`. */
sr_status sr_vk_too_big(const sr_backend *be, const char *op,
                        const char *what, const char *shape, size_t words,
                        const char *remedy);
/* Words of a buffer that its texel view reaches (RGBA32F when vec4, else
 * R32F): maxTexelBufferElements may be as low as 65536 texels, so ops
 * check their buffers against this and fall back where it is exceeded. */
size_t sr_vk_max_texel_words(const sr_backend *be, int vec4);
/* A CPU implementation (lavapipe): a few threads, so ops may prefer less
 * parallelism where it costs extra work (split-K partials). */
int sr_vk_device_is_cpu(const sr_backend *be);
/* Nonzero where convolutions and GEMMs use the GPU family (shared-memory
 * tiles, tiled_conv.comp / tiled_gemm.comp) instead of the lavapipe one;
 * see pick_kernels in vk_device.c. */
int sr_vk_gpu_kernels(const sr_backend *be);
/* maxComputeSharedMemorySize (bytes) */
uint32_t sr_vk_max_shared_bytes(const sr_backend *be);
/* Invocations a 1-D workgroup may have (maxComputeWorkGroupInvocations,
 * maxComputeWorkGroupSize[0]) */
uint32_t sr_vk_max_invocations(const sr_backend *be);

/* Records op: the one switch from op kind to the op file that implements
 * it (vk_ops.c). SR_E_UNSUPPORTED means this device cannot run the op at
 * this size; the message says why. */
sr_status sr_vk_run_op(sr_backend *be, const sr_op *op);

/* 1-D launch helper: groups for n items at `local` per group, folded into
 * y when n / local exceeds the x limit (shaders use sr_global_index()). */
void sr_vk_groups_1d(const sr_backend *be, size_t n, uint32_t local,
                     uint32_t groups[3]);

#endif
