/* Shared by the Vulkan op files: their entry points, which the dispatch
 * switch in vk_ops.c calls, and the launch helpers over the dispatch
 * contract of vk_internal.h. Not a public header.
 *
 * One op file per CPU op file, holding the same op kinds under the same
 * names (sr_vk_<op> for sr_cpu_<op>): vk_conv.c, vk_linear.c, vk_norm.c,
 * vk_pool.c, vk_quant.c, vk_loss.c, vk_elementwise.c, vk_dwconv.c. Each entry point
 * takes the op record as validated by backend.c (operand order per kind
 * in backend_impl.h). */
#ifndef SR_VK_OPS_H
#define SR_VK_OPS_H

#include <stdint.h>

#include "vk_internal.h"

/* ------------------------------------------------------------------ */
/* Op entry points                                                     */

/* vk_elementwise.c */
sr_status sr_vk_fill(sr_backend *be, const sr_op *op);
sr_status sr_vk_copy(sr_backend *be, const sr_op *op);
sr_status sr_vk_add(sr_backend *be, const sr_op *op);
sr_status sr_vk_add_relu(sr_backend *be, const sr_op *op);
sr_status sr_vk_relu_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_relu_bwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_dropout(sr_backend *be, const sr_op *op); /* fwd and bwd */
sr_status sr_vk_sgd(sr_backend *be, const sr_op *op);

/* vk_conv.c */
sr_status sr_vk_conv2d_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_conv2d_bwd_data(sr_backend *be, const sr_op *op);
sr_status sr_vk_conv2d_bwd_weight(sr_backend *be, const sr_op *op);

/* vk_tiled.c: the GPU family's convolutions (sr_vk_gpu_kernels);
 * SR_E_UNSUPPORTED where they do not apply. fwd: (w, x, b, y); bwd_data:
 * (w, dy, x, dx) with bwd_data set. */
sr_status sr_vk_tiled_conv(sr_backend *be, const sr_conv2d_desc *cd,
                           int bwd_data, sr_view w, sr_view src, sr_view e,
                           sr_view out);
sr_status sr_vk_tiled_bwd_weight(sr_backend *be, const sr_conv2d_desc *cd,
                                 sr_view x, sr_view dy, sr_view dw,
                                 sr_view db);
/* vk_dwconv.c */
sr_status sr_vk_dwconv2d_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_dwconv2d_bwd_data(sr_backend *be, const sr_op *op);
sr_status sr_vk_dwconv2d_bwd_weight(sr_backend *be, const sr_op *op);

/* vk_linear.c */
sr_status sr_vk_linear_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_linear_bwd_data(sr_backend *be, const sr_op *op);
sr_status sr_vk_linear_bwd_weight(sr_backend *be, const sr_op *op);

/* vk_norm.c */
sr_status sr_vk_bn_fwd_train(sr_backend *be, const sr_op *op);
sr_status sr_vk_bn_fwd_eval(sr_backend *be, const sr_op *op);
sr_status sr_vk_bn_bwd(sr_backend *be, const sr_op *op);

/* vk_pool.c */
sr_status sr_vk_maxpool_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_maxpool_bwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_avgpool_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_avgpool_bwd(sr_backend *be, const sr_op *op);

/* vk_loss.c */
sr_status sr_vk_softmax_xent(sr_backend *be, const sr_op *op);
sr_status sr_vk_top1_count(sr_backend *be, const sr_op *op);

/* vk_quant.c */
sr_status sr_vk_dorefa_w_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_dorefa_w_bwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_wrpn_w_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_wrpn_w_bwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_actq_fwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_actq_bwd(sr_backend *be, const sr_op *op);
sr_status sr_vk_sinreq(sr_backend *be, const sr_op *op);
sr_status sr_vk_waveq(sr_backend *be, const sr_op *op);
sr_status sr_vk_mean_abs_diff(sr_backend *be, const sr_op *op);

/* ------------------------------------------------------------------ */
/* 1-D shaders and two-pass reductions (vk_ops.c)                      */

/* Workgroup size of the 1-D shaders (elementwise, pooling, batch norm,
 * reductions) except softmax_xent (64). */
#define SR_VK_LOCAL_1D 256u
/* Items each invocation adds sequentially before a reduction's tree:
 * fewer workgroups means fewer barriers, which are costly on lavapipe
 * (coroutine switches); the sequential run keeps the float error small. */
#define SR_VK_RED_ITEMS 32u
/* Pass-1 workgroups of a 1-D reduction never exceed this, so pass 2 is one
 * workgroup adding at most 16 partials per invocation before its tree. */
#define SR_VK_RED_MAX_PARTIALS 4096u

/* Word offset of v for a shader that indexes words [off, off + n). */
sr_status sr_vk_view_off(sr_view v, size_t n, uint32_t *out);

/* Element count that 32-bit shader indexing (including grid-stride
 * steps) handles. */
sr_status sr_vk_index_count(const char *op, size_t n, uint32_t *out);

/* Items per dispatch (at most n) such that a piece of every view, `unit`
 * words per item, fits one binding (vk_window.c): n when every buffer is
 * bound whole, 0 when not even one item fits. */
size_t sr_vk_items_per_piece(const sr_backend *be, const sr_view *v, int nv,
                             size_t unit, size_t n);

/* v advanced by `words` (NULL views stay NULL). */
sr_view sr_vk_view_at(sr_view v, size_t words);

/* Pass-1 workgroups for a grid-stride reduction over n items: depends on n
 * only (not the device), so results are identical everywhere. */
uint32_t sr_vk_red_partials(size_t n);

/* One dispatch with up to two specialization constants. */
sr_status sr_vk_launch(sr_backend *be, const char *shader, int nspec,
                       uint32_t spec0, uint32_t spec1, const void *push,
                       uint32_t push_bytes, sr_buf *const *bufs, int nbufs,
                       const uint32_t groups[3]);

/* One dispatch over n items at SR_VK_LOCAL_1D per workgroup. */
sr_status sr_vk_launch_1d(sr_backend *be, const char *shader, int nspec,
                          uint32_t spec0, const void *push,
                          uint32_t push_bytes, sr_buf *const *bufs,
                          int nbufs, size_t n);

/* reduce_final.comp modes */
enum { SR_VK_RED_SUM = 0, SR_VK_RED_WAVEQ = 1, SR_VK_RED_COUNT = 2 };

/* Second pass over g partials at part_off in `part`; out0..2 per mode
 * (see shaders/reduce_final.comp). */
sr_status sr_vk_reduce_final(sr_backend *be, uint32_t mode, sr_buf *part,
                             uint32_t part_off, uint32_t g, sr_view out0,
                             sr_view out1, sr_view out2, float div, int slot0,
                             int slot1);

/* Elementwise shaders shared by several op kinds (vk_elementwise.c). */
sr_status sr_vk_ew_unary(sr_backend *be, uint32_t op, size_t n, int bits,
                         sr_view x, sr_view y);
sr_status sr_vk_ew_binary(sr_backend *be, uint32_t op, size_t n, sr_view a,
                          sr_view b, sr_view y);
enum {
    SR_VK_UN_FILL = 0, SR_VK_UN_COPY, SR_VK_UN_RELU, SR_VK_UN_ACTQ,
    SR_VK_UN_WRPN, SR_VK_UN_DROPOUT
};
enum {
    SR_VK_BIN_ADD = 0, SR_VK_BIN_RELU_BWD, SR_VK_BIN_ACTQ_BWD,
    SR_VK_BIN_WRPN_BWD, SR_VK_BIN_ADD_RELU
};

/* ------------------------------------------------------------------ */
/* GEMM tiling and split-K reductions (vk_ops.c), for vk_conv.c and    */
/* vk_linear.c                                                         */

/* The workgroup dimensions every device supports in y and z. */
#define SR_VK_MAX_GROUPS_YZ 65535u

static inline uint32_t sr_vk_div_up(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

typedef struct sr_vk_gemm_tiling {
    uint32_t local, gx;     /* workgroup size, lanes along N */
    uint32_t tiles_m, tiles_n;
    uint32_t groups[3];
} sr_vk_gemm_tiling;

/* Workgroup shape and counts for an m x n output of conv_fallback.comp or
 * linear_gemm.comp. */
sr_status sr_vk_pick_tiling(const sr_backend *be, uint32_t m, uint32_t n,
                            sr_vk_gemm_tiling *t);

/* The GPU family's tiles (tiled_gemm.glsl): workgroup size, output tile
 * BM x BN, reduction slab BK, register block TM x TN per invocation. */
typedef struct sr_vk_tile {
    uint32_t wg, bm, bn, bk, tm, tn;
} sr_vk_tile;

/* Tiles for an m x n output within the device's shared memory and
 * workgroup limits (vk_tiled.c). */
void sr_vk_pick_tile(const sr_backend *be, uint32_t m, uint32_t n,
                     sr_vk_tile *t);

/* v's word offset as the int32 the GEMM shaders index with. */
sr_status sr_vk_word_off(sr_view v, int32_t *out);

/* Sum `splits` partial arrays of `count` words (stride apart) into dst
 * (bwd_weight_reduce.comp). */
sr_status sr_vk_record_split_reduce(sr_backend *be, sr_buf *src,
                                    uint32_t off_s, uint32_t count,
                                    uint32_t splits, uint32_t stride,
                                    sr_view dst);

/* db[ch] = sum over n and hw of dy[n][ch][hw], deterministic
 * (bwd_weight_bias.comp). `scratch` has room for splits * k words at
 * off_part when splits > 1. */
sr_status sr_vk_record_bias_grad(sr_backend *be, sr_view dy, int n, int k,
                                 int hw, sr_view db, sr_buf *scratch,
                                 uint32_t off_part, uint32_t splits);

/* How many ways to split a reduction over n images, partials of `words`
 * each within max_words. */
uint32_t sr_vk_pick_splits(uint32_t invocations, int n, size_t words,
                           size_t max_words);

#endif
