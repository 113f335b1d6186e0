/* Private state of the Vulkan runtime, shared by vk_device.c (instance,
 * device, lifecycle), vk_memory.c (pools, buffers, host transfers),
 * vk_pipeline.c (shader modules, pipelines, descriptor sets) and
 * vk_command.c (recording, submission, programs). The op files never see
 * this header: they use only vk_internal.h.
 *
 * Ordering model: one queue. Every submission gets a serial (1, 2, ...);
 * every buffer remembers the serial of the last submission that may touch
 * it (last_serial). The immediate command buffer that is still being
 * recorded will get serial next_serial, so "used by unsubmitted work" is
 * last_serial == next_serial. Host access to a buffer waits only for the
 * submissions up to its last_serial.
 */
#ifndef SR_VK_RUNTIME_H
#define SR_VK_RUNTIME_H

#include <vulkan/vulkan.h>

#include "vk_internal.h"

/* Immediate command buffers in flight at once: recording continues into
 * the next one while the GPU runs the previous ones. */
#define SR_VK_FRAMES 3
/* Dispatches recorded before the immediate command buffer is submitted
 * without being asked, so long op sequences start running early. */
#define SR_VK_FLUSH_DISPATCHES 256
/* Descriptor sets per descriptor pool. */
#define SR_VK_SETS_PER_POOL 256
#define SR_VK_PIPE_BUCKETS 256

struct sr_vk_block;

typedef struct sr_vk_buf {
    sr_buf base;                 /* words, pool */
    VkBuffer buf;
    struct sr_vk_block *block;
    VkDeviceSize offset, size;   /* range taken in the block */
    uint8_t *map;                /* host pointer, NULL if not host-visible */
    uint64_t last_serial;        /* last submission that may touch it */
    VkBufferView view4;          /* RGBA32F texel view, made on first use */
    VkBufferView view1;          /* R32F texel view, made on first use */
    struct sr_vk_buf *prev, *next; /* all live buffers, freed at destroy */
    /* A window (vk_window.c): words [win_start, win_start + base.words)
     * of `parent`, bound as a descriptor range (buf is parent's VkBuffer;
     * block, map, prev/next unused). Owned by the parent, freed with it;
     * programs track and host transfers wait on the parent. */
    struct sr_vk_buf *parent;
    size_t win_start;            /* words, a multiple of the alignment */
    /* A parent's windows made so far (one per distinct start). */
    struct sr_vk_buf **wins;
    int nwins, capwins;
} sr_vk_buf;

typedef struct sr_vk_range {
    VkDeviceSize off, size;
} sr_vk_range;

/* One VkDeviceMemory, carved into buffers; free ranges kept sorted. */
typedef struct sr_vk_block {
    VkDeviceMemory mem;
    VkDeviceSize size;
    uint8_t *map;                /* persistently mapped when host-visible */
    sr_vk_range *free;
    int nfree, capfree;
    int nbufs;                   /* live buffers in this block */
    struct sr_vk_block *next;
} sr_vk_block;

typedef struct sr_vk_mem_pool {
    const char *name;
    uint32_t type_index;
    int host_visible;            /* HOST_VISIBLE | HOST_COHERENT */
    VkDeviceSize block_size;
    sr_vk_block *blocks;
} sr_vk_mem_pool;

/* A growable list of descriptor pools; reset together. */
typedef struct sr_vk_dpools {
    VkDescriptorPool *pools;
    int n, cap, cur;
} sr_vk_dpools;

/* One immediate submission slot. */
typedef struct sr_vk_frame {
    VkCommandBuffer cb;
    VkFence fence;
    int recording;               /* vkBeginCommandBuffer done */
    int in_flight;               /* submitted, fence not yet waited */
    uint64_t serial;
    uint32_t dispatches;         /* commands recorded so far */
    sr_vk_dpools dpools;
    sr_vk_buf **garbage;         /* staging buffers freed on retire */
    int ngarbage, capgarbage;
} sr_vk_frame;

typedef struct sr_vk_program {
    VkCommandBuffer cb;
    VkFence fence;
    int in_flight;
    uint64_t serial;
    sr_vk_dpools dpools;
    sr_vk_buf **bufs;            /* distinct buffers it touches */
    int nbufs, capbufs;
    int stale;                   /* one of them was freed: cannot run */
    struct sr_vk_program *next;  /* the backend's list of live programs */
} sr_vk_program;

typedef struct sr_vk_pipe {
    const char *shader;          /* points into sr_vk_shaders[] */
    uint32_t spec[SR_VK_MAX_SPEC];
    int nspec;
    int texel;                   /* uses the texel-buffer set layout */
    uint32_t hash;
    VkPipeline pipeline;
    struct sr_vk_pipe *next;
} sr_vk_pipe;

typedef struct sr_vk_backend {
    sr_backend base;

    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memprops;
    VkDeviceSize max_alloc;      /* maxMemoryAllocationSize */
    /* Storage-buffer windows (vk_window.c): one binding covers at most
     * range_words words (maxStorageBufferRange / 4, or less when
     * SINREQ_VK_MAX_RANGE lowers it), a multiple of align_words; window
     * starts are multiples of align_words (minStorageBufferOffsetAlignment
     * and minTexelBufferOffsetAlignment, in words). */
    size_t range_words, align_words;
    int range_lowered;           /* SINREQ_VK_MAX_RANGE took effect */

    /* Convolution / GEMM kernel family (SINREQ_VK_KERNELS, else by
     * device type): nonzero for the shared-memory tiled GPU family. */
    int gpu_kernels;

    /* validation messages, reported at the next sync/read/run */
    int validation;
    char vmsg[768];
    uint32_t vmsg_count;

    sr_vk_mem_pool pools[SR_POOL_COUNT];
    sr_vk_buf *bufs;             /* every live buffer */

    /* pipelines */
    VkDescriptorSetLayout set_layout[2];
    VkPipelineLayout pipe_layout;
    /* the same with bindings 0..SR_VK_TEXEL_BINDINGS-1 of set 0 as
     * uniform texel buffers (sr_vk_dispatch.texel) */
    VkDescriptorSetLayout set_layout_texel;
    VkPipelineLayout pipe_layout_texel;
    VkPipelineCache pipe_cache;
    VkShaderModule *modules;     /* per sr_vk_shaders[] entry, lazily */
    sr_vk_pipe *pipes[SR_VK_PIPE_BUCKETS];

    /* scalar slots (set 1) and the NULL-view stand-in */
    sr_vk_buf *scalar_buf;
    VkDescriptorPool scalar_dpool;
    VkDescriptorSet scalar_set;
    int scalars_dirty;
    sr_vk_buf *dummy;

    /* scratch buffers, kept until destroy (programs may reference them) */
    sr_vk_buf **scratch;
    int nscratch, capscratch;

    /* commands */
    VkCommandPool cmd_pool;
    sr_vk_frame frames[SR_VK_FRAMES];
    int cur;                     /* frame being recorded */
    uint64_t next_serial;        /* serial the open frame will get */
    sr_vk_program *building;     /* program being recorded, or NULL */
    sr_vk_program *programs;     /* all live programs */
    int lost;                    /* device lost: every call fails */
} sr_vk_backend;

static inline sr_vk_backend *sr_vk_be(sr_backend *be)
{
    return (sr_vk_backend *)be;
}

/* vk_device.c */
const char *sr_vk_result_str(VkResult r);
sr_status sr_vk_check_messages(sr_vk_backend *vk);
sr_status sr_vk_fail(sr_vk_backend *vk, VkResult r, const char *what);

/* vk_memory.c */
sr_status sr_vk_memory_init(sr_vk_backend *vk);
void sr_vk_memory_destroy(sr_vk_backend *vk);
sr_status sr_vk_buf_create(sr_vk_backend *vk, sr_pool pool, size_t words,
                           sr_vk_buf **out);
void sr_vk_buf_destroy(sr_vk_backend *vk, sr_vk_buf *b);
sr_status sr_vk_buf_alloc(sr_backend *be, sr_pool pool, size_t words,
                          sr_buf **out);
void sr_vk_buf_free(sr_backend *be, sr_buf *buf);
sr_status sr_vk_buf_write(sr_backend *be, sr_buf *buf, size_t off,
                          size_t words, const void *src);
sr_status sr_vk_buf_read(sr_backend *be, sr_buf *buf, size_t off,
                         size_t words, void *dst);
void sr_vk_scratch_destroy(sr_vk_backend *vk);

/* vk_window.c */
sr_status sr_vk_window_init(sr_vk_backend *vk);
void sr_vk_windows_destroy(sr_vk_backend *vk, sr_vk_buf *parent);
/* A conv op with every operand bound through the window that covers it
 * (or the error naming the operand that none covers). */
sr_status sr_vk_fit_conv(sr_backend *be, const sr_op *op, sr_op *out);
/* The buffer a binding names and the descriptor range it covers. */
static inline sr_vk_buf *sr_vk_owner(sr_vk_buf *b)
{
    return b->parent ? b->parent : b;
}

/* vk_pipeline.c */
sr_status sr_vk_pipeline_init(sr_vk_backend *vk);
void sr_vk_pipeline_destroy(sr_vk_backend *vk);
sr_status sr_vk_pipeline_get(sr_vk_backend *vk, const sr_vk_dispatch *d,
                             VkPipeline *out);
sr_status sr_vk_dpools_alloc(sr_vk_backend *vk, sr_vk_dpools *dp, int texel,
                             VkDescriptorSet *out);
void sr_vk_dpools_reset(sr_vk_backend *vk, sr_vk_dpools *dp);
void sr_vk_dpools_destroy(sr_vk_backend *vk, sr_vk_dpools *dp);

/* vk_command.c */
sr_status sr_vk_command_init(sr_vk_backend *vk);
void sr_vk_command_destroy(sr_vk_backend *vk);
sr_status sr_vk_open_cb(sr_vk_backend *vk, VkCommandBuffer *out);
void sr_vk_barrier(VkCommandBuffer cb);
sr_status sr_vk_flush(sr_vk_backend *vk);
sr_status sr_vk_wait_serial(sr_vk_backend *vk, uint64_t serial);
sr_status sr_vk_wait_all(sr_vk_backend *vk);
sr_status sr_vk_defer_free(sr_vk_backend *vk, sr_vk_buf *b);
void sr_vk_programs_forget(sr_vk_backend *vk, sr_vk_buf *b);
sr_status sr_vk_exec(sr_backend *be, const sr_op *op);
sr_status sr_vk_sync(sr_backend *be);
sr_status sr_vk_scalars_will_change(sr_backend *be);
sr_status sr_vk_program_build(sr_backend *be, const sr_op *ops, size_t n,
                              void **impl);
sr_status sr_vk_program_run(sr_backend *be, void *impl);
void sr_vk_program_free(sr_backend *be, void *impl);

#endif
