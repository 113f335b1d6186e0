/* Shared by the Vulkan misc op files (vk_ops_misc.c, vk_ops_norm.c,
 * vk_ops_quant.c): launch helpers over the dispatch contract of
 * vk_internal.h. Not a public header. */
#ifndef SR_VK_OPS_MISC_H
#define SR_VK_OPS_MISC_H

#include <stdint.h>

#include "vk_internal.h"

/* Workgroup size of every misc shader except softmax_xent (64). */
#define SR_VK_MISC_LOCAL 256u
/* Items each invocation adds sequentially before a reduction's tree:
 * fewer workgroups means fewer barriers, which are costly on lavapipe
 * (coroutine switches); the sequential run keeps the float error small. */
#define SR_VK_MISC_ITEMS 32u
/* Pass-1 workgroups of a 1-D reduction never exceed this, so pass 2 is one
 * workgroup adding at most 16 partials per invocation before its tree. */
#define SR_VK_MISC_MAX_PARTIALS 4096u

/* Word offset of v for a shader that indexes words [off, off + n). */
sr_status sr_vk_misc_off(sr_view v, size_t n, uint32_t *out);

/* Element count that 32-bit shader indexing (including grid-stride
 * steps) handles. */
sr_status sr_vk_misc_count(const char *op, size_t n, uint32_t *out);

/* Items per dispatch (at most n) such that a piece of every view, `unit`
 * words per item, fits one binding (vk_window.c): n when every buffer is
 * bound whole, 0 when not even one item fits. */
size_t sr_vk_misc_chunk(const sr_backend *be, const sr_view *v, int nv,
                        size_t unit, size_t n);

/* v advanced by `words` (NULL views stay NULL). */
sr_view sr_vk_misc_at(sr_view v, size_t words);

/* Pass-1 workgroups for a grid-stride reduction over n items: depends on n
 * only (not the device), so results are identical everywhere. */
uint32_t sr_vk_misc_partials(size_t n);

/* One dispatch with up to two specialization constants. */
sr_status sr_vk_misc_launch(sr_backend *be, const char *shader, int nspec,
                            uint32_t spec0, uint32_t spec1, const void *push,
                            uint32_t push_bytes, sr_buf *const *bufs,
                            int nbufs, const uint32_t groups[3]);

/* reduce_final.comp modes */
enum { SR_VK_RED_SUM = 0, SR_VK_RED_WAVEQ = 1, SR_VK_RED_COUNT = 2 };

/* Second pass over g partials at part_off in `part`; out0..2 per mode
 * (see shaders/reduce_final.comp). */
sr_status sr_vk_misc_reduce_final(sr_backend *be, uint32_t mode,
                                  sr_buf *part, uint32_t part_off,
                                  uint32_t g, sr_view out0, sr_view out1,
                                  sr_view out2, float div, int slot0,
                                  int slot1);

/* Elementwise shaders shared by several op kinds. */
sr_status sr_vk_misc_unary(sr_backend *be, uint32_t op, size_t n, int bits,
                           sr_view x, sr_view y);
sr_status sr_vk_misc_binary(sr_backend *be, uint32_t op, size_t n,
                            sr_view a, sr_view b, sr_view y);
enum {
    SR_VK_UN_FILL = 0, SR_VK_UN_COPY, SR_VK_UN_RELU, SR_VK_UN_ACTQ,
    SR_VK_UN_WRPN, SR_VK_UN_DROPOUT
};
enum {
    SR_VK_BIN_ADD = 0, SR_VK_BIN_RELU_BWD, SR_VK_BIN_ACTQ_BWD,
    SR_VK_BIN_WRPN_BWD
};

/* Per-file op groups; each returns SR_E_UNSUPPORTED for other kinds. */
sr_status sr_vk_exec_norm_ops(sr_backend *be, const sr_op *op);
sr_status sr_vk_exec_quant_ops(sr_backend *be, const sr_op *op);

#endif
