/* Vulkan runtime: memory pools (one per sr_pool), a first-fit
 * sub-allocator over large VkDeviceMemory blocks, buffers, host transfers
 * and scratch memory.
 *
 * Weights and activations prefer DEVICE_LOCAL memory; staging uses
 * HOST_VISIBLE | HOST_COHERENT. On unified-memory devices (lavapipe,
 * integrated GPUs) device-local memory is usually host-visible too, and
 * then buffers are mapped and copied with memcpy; otherwise transfers go
 * through a staging buffer and vkCmdCopyBuffer (SINREQ_VK_FORCE_STAGING=1
 * forces that path on unified memory too, to test it on lavapipe).
 *
 * Buffers never outlive the backend: sr_backend_free destroys the ones the
 * caller did not free. */
#include "vk_runtime.h"

#include <stdlib.h>
#include <string.h>

#define MiB ((VkDeviceSize)1 << 20)

static const VkBufferUsageFlags BUF_USAGE =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
    VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT;

static int popcount32(uint32_t x)
{
    int n = 0;
    for (; x; x &= x - 1) n++;
    return n;
}

/* Best memory type among `bits` that has all of `req`, most of `pref` and
 * none of `avoid` if possible; -1 if none has `req`. */
static int find_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits,
                     VkMemoryPropertyFlags req, VkMemoryPropertyFlags pref,
                     VkMemoryPropertyFlags avoid)
{
    int best = -1, best_score = -1000;
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
        if (!(bits & (1u << i)) || (f & req) != req) continue;
        int score = 2 * popcount32(f & pref) - 3 * popcount32(f & avoid);
        if (score > best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    return best;
}

static int force_staging(void)
{
    const char *v = getenv("SINREQ_VK_FORCE_STAGING");
    return v && *v && strcmp(v, "0") != 0;
}

static VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a)
{
    return a > 1 ? (v + a - 1) / a * a : v;
}

/* ------------------------------------------------------------------ */
/* Blocks and ranges                                                   */

static int range_insert(sr_vk_block *bl, int at, VkDeviceSize off,
                        VkDeviceSize size)
{
    if (bl->nfree == bl->capfree) {
        int cap = bl->capfree ? 2 * bl->capfree : 8;
        sr_vk_range *r = realloc(bl->free, (size_t)cap * sizeof *r);
        if (!r) return -1;
        bl->free = r;
        bl->capfree = cap;
    }
    memmove(&bl->free[at + 1], &bl->free[at],
            (size_t)(bl->nfree - at) * sizeof *bl->free);
    bl->free[at].off = off;
    bl->free[at].size = size;
    bl->nfree++;
    return 0;
}

static void range_remove(sr_vk_block *bl, int at)
{
    memmove(&bl->free[at], &bl->free[at + 1],
            (size_t)(bl->nfree - at - 1) * sizeof *bl->free);
    bl->nfree--;
}

/* First fit. Returns 0 and the offset, or -1 if nothing fits (or the
 * free list could not grow, which leaves the block unchanged). */
static int block_take(sr_vk_block *bl, VkDeviceSize size, VkDeviceSize align,
                      VkDeviceSize *out)
{
    for (int i = 0; i < bl->nfree; i++) {
        sr_vk_range r = bl->free[i];
        VkDeviceSize a = align_up(r.off, align);
        if (a + size > r.off + r.size) continue;
        VkDeviceSize head = a - r.off, tail = r.off + r.size - (a + size);
        if (head && tail) {
            if (range_insert(bl, i + 1, a + size, tail)) return -1;
            bl->free[i].size = head;
        } else if (head) {
            bl->free[i].size = head;
        } else if (tail) {
            bl->free[i].off = a + size;
            bl->free[i].size = tail;
        } else {
            range_remove(bl, i);
        }
        *out = a;
        return 0;
    }
    return -1;
}

static void block_give(sr_vk_block *bl, VkDeviceSize off, VkDeviceSize size)
{
    int i = 0;
    while (i < bl->nfree && bl->free[i].off < off) i++;
    int merge_prev = i > 0 && bl->free[i - 1].off + bl->free[i - 1].size == off;
    int merge_next = i < bl->nfree && off + size == bl->free[i].off;
    if (merge_prev && merge_next) {
        bl->free[i - 1].size += size + bl->free[i].size;
        range_remove(bl, i);
    } else if (merge_prev) {
        bl->free[i - 1].size += size;
    } else if (merge_next) {
        bl->free[i].off = off;
        bl->free[i].size += size;
    } else if (range_insert(bl, i, off, size)) {
        /* Out of host memory for the free list: the range leaks until the
         * block is freed, which is harmless. */
    }
}

static void block_destroy(sr_vk_backend *vk, sr_vk_block *bl)
{
    if (bl->map) vkUnmapMemory(vk->dev, bl->mem);
    vkFreeMemory(vk->dev, bl->mem, NULL);
    free(bl->free);
    free(bl);
}

static sr_status block_create(sr_vk_backend *vk, sr_vk_mem_pool *pool,
                              VkDeviceSize size, sr_vk_block **out)
{
    sr_vk_block *bl = calloc(1, sizeof *bl);
    SR_CHECK(bl, SR_E_NOMEM, "out of host memory for a Vulkan memory block");
    VkMemoryAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = size,
        .memoryTypeIndex = pool->type_index,
    };
    VkResult r = vkAllocateMemory(vk->dev, &ai, NULL, &bl->mem);
    if (r != VK_SUCCESS) {
        free(bl);
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
            return sr_error(SR_E_NOMEM,
                            "Vulkan: cannot allocate %.1f MiB for the %s pool "
                            "(%s): the model or batch does not fit this device",
                            (double)size / (double)MiB, pool->name,
                            sr_vk_result_str(r));
        return sr_vk_fail(vk, r, "vkAllocateMemory");
    }
    if (pool->host_visible) {
        void *p = NULL;
        r = vkMapMemory(vk->dev, bl->mem, 0, VK_WHOLE_SIZE, 0, &p);
        if (r != VK_SUCCESS) {
            vkFreeMemory(vk->dev, bl->mem, NULL);
            free(bl);
            return sr_vk_fail(vk, r, "vkMapMemory");
        }
        bl->map = p;
    }
    bl->size = size;
    if (range_insert(bl, 0, 0, size)) {
        block_destroy(vk, bl);
        return sr_error(SR_E_NOMEM, "out of host memory");
    }
    bl->next = pool->blocks;
    pool->blocks = bl;
    *out = bl;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Pools                                                               */

static const char *const pool_names[SR_POOL_COUNT] = {"weights", "activations",
                                                      "staging"};

sr_status sr_vk_memory_init(sr_vk_backend *vk)
{
    /* Memory types allowed for our buffers: ask with a probe buffer. */
    VkBuffer probe;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = 256,
        .usage = BUF_USAGE,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = vkCreateBuffer(vk->dev, &bci, NULL, &probe);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->dev, probe, &req);
    vkDestroyBuffer(vk->dev, probe, NULL);

    const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const VkMemoryPropertyFlags HVC = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                      VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    /* A discrete GPU's host-visible device memory is a small BAR window
     * and slow to read from the host: keep it for staging. Elsewhere the
     * memory is unified and mapping it saves every copy. */
    int discrete = vk->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
    VkDeviceSize block = 64 * MiB;
    if (block > vk->max_alloc) block = vk->max_alloc;
    for (int p = 0; p < SR_POOL_COUNT; p++) {
        sr_vk_mem_pool *pool = &vk->pools[p];
        int t;
        pool->name = pool_names[p];
        if (p == SR_POOL_STAGING) {
            t = find_type(&vk->memprops, req.memoryTypeBits, HVC,
                          VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
            pool->block_size = block < 16 * MiB ? block : 16 * MiB;
        } else {
            t = find_type(&vk->memprops, req.memoryTypeBits, DL,
                          discrete ? 0 : HVC, discrete ? HVC : 0);
            if (t < 0)
                t = find_type(&vk->memprops, req.memoryTypeBits, 0, HVC, 0);
            pool->block_size = block;
        }
        SR_CHECK(t >= 0, SR_E_DEVICE,
                 "Vulkan device %s has no %s memory type usable for storage "
                 "buffers",
                 vk->base.device_name,
                 p == SR_POOL_STAGING ? "host-visible coherent" : "suitable");
        pool->type_index = (uint32_t)t;
        pool->host_visible =
            (vk->memprops.memoryTypes[t].propertyFlags & HVC) == HVC;
        /* Debug knob: exercise the discrete-GPU staging path on unified
         * memory (lavapipe) too. */
        if (p != SR_POOL_STAGING && force_staging()) pool->host_visible = 0;
    }

    SR_TRY(sr_vk_buf_create(vk, SR_POOL_STAGING, SR_SCALAR_SLOTS,
                            &vk->scalar_buf));
    memset(vk->scalar_buf->map, 0, SR_SCALAR_SLOTS * sizeof(uint32_t));
    vk->scalars_dirty = 1;
    SR_TRY(sr_vk_buf_create(vk, SR_POOL_ACTIVATIONS, 1, &vk->dummy));
    if (vk->dummy->map) memset(vk->dummy->map, 0, 4);
    return SR_OK;
}

void sr_vk_memory_destroy(sr_vk_backend *vk)
{
    if (vk->dummy) sr_vk_buf_destroy(vk, vk->dummy);
    if (vk->scalar_buf) sr_vk_buf_destroy(vk, vk->scalar_buf);
    vk->dummy = vk->scalar_buf = NULL;
    /* Buffers the user never freed: their handles die with the backend. */
    while (vk->bufs) sr_vk_buf_destroy(vk, vk->bufs);
    for (int p = 0; p < SR_POOL_COUNT; p++) {
        sr_vk_block *bl = vk->pools[p].blocks;
        while (bl) {
            sr_vk_block *next = bl->next;
            block_destroy(vk, bl);
            bl = next;
        }
        vk->pools[p].blocks = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* Buffers                                                             */

sr_status sr_vk_buf_create(sr_vk_backend *vk, sr_pool pool, size_t words,
                           sr_vk_buf **out)
{
    sr_vk_mem_pool *mp = &vk->pools[pool];
    VkDeviceSize bytes = (VkDeviceSize)words * 4;
    sr_status st;
    *out = NULL;
    /* One buffer is one allocation. Buffers larger than one storage
     * binding (maxStorageBufferRange) are fine: ops bind windows of them
     * (vk_window.c). */
    SR_CHECK(bytes <= vk->max_alloc, SR_E_NOMEM,
             "Vulkan: a buffer of %zu words (%.1f MiB) exceeds this device's "
             "maxMemoryAllocationSize of %.1f MiB (%s); use smaller batches "
             "or a smaller model",
             words, (double)bytes / (double)MiB,
             (double)vk->max_alloc / (double)MiB, vk->base.device_name);

    sr_vk_buf *b = calloc(1, sizeof *b);
    SR_CHECK(b, SR_E_NOMEM, "out of host memory for a buffer");
    b->base.words = words;
    b->base.pool = pool;
    /* Whole 16-byte texels, so an RGBA32F texel view reaches every word. */
    VkDeviceSize padded = (bytes + 15) & ~(VkDeviceSize)15;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = padded,
        .usage = BUF_USAGE,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = vkCreateBuffer(vk->dev, &bci, NULL, &b->buf);
    if (r != VK_SUCCESS) {
        st = sr_vk_fail(vk, r, "vkCreateBuffer");
        goto out_free;
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->dev, b->buf, &req);
    if (!(req.memoryTypeBits & (1u << mp->type_index))) {
        st = sr_error(SR_E_INTERNAL,
                      "Vulkan: buffer cannot use the %s pool's memory type %u",
                      mp->name, mp->type_index);
        goto out_buffer;
    }
    /* 16-byte granularity keeps the free lists short. */
    VkDeviceSize size = align_up(req.size, 16);
    VkDeviceSize off = 0;
    sr_vk_block *bl;
    for (bl = mp->blocks; bl; bl = bl->next)
        if (block_take(bl, size, req.alignment, &off) == 0) break;
    if (!bl) {
        VkDeviceSize bsize = size > mp->block_size ? size : mp->block_size;
        st = block_create(vk, mp, bsize, &bl);
        if (st != SR_OK) goto out_buffer;
        if (block_take(bl, size, req.alignment, &off)) {
            st = sr_error(SR_E_INTERNAL, "Vulkan: fresh block too small");
            goto out_buffer;
        }
    }
    r = vkBindBufferMemory(vk->dev, b->buf, bl->mem, off);
    if (r != VK_SUCCESS) {
        block_give(bl, off, size);
        st = sr_vk_fail(vk, r, "vkBindBufferMemory");
        goto out_buffer;
    }
    b->block = bl;
    b->offset = off;
    b->size = size;
    b->map = bl->map ? bl->map + off : NULL;
    bl->nbufs++;
    b->next = vk->bufs;
    if (vk->bufs) vk->bufs->prev = b;
    vk->bufs = b;
    *out = b;
    return SR_OK;

out_buffer:
    vkDestroyBuffer(vk->dev, b->buf, NULL);
out_free:
    free(b);
    return st;
}

/* The caller guarantees the GPU no longer uses it. */
void sr_vk_buf_destroy(sr_vk_backend *vk, sr_vk_buf *b)
{
    sr_vk_block *bl = b->block;
    sr_vk_mem_pool *mp = &vk->pools[b->base.pool];
    if (b->prev) b->prev->next = b->next;
    else vk->bufs = b->next;
    if (b->next) b->next->prev = b->prev;
    sr_vk_windows_destroy(vk, b);
    if (b->view4) vkDestroyBufferView(vk->dev, b->view4, NULL);
    if (b->view1) vkDestroyBufferView(vk->dev, b->view1, NULL);
    vkDestroyBuffer(vk->dev, b->buf, NULL);
    block_give(bl, b->offset, b->size);
    /* Give oversized or surplus blocks back to the driver; keep the first
     * one, which the next allocation will likely need again. */
    if (--bl->nbufs == 0 && mp->blocks != bl) {
        sr_vk_block **pp = &mp->blocks;
        while (*pp != bl) pp = &(*pp)->next;
        *pp = bl->next;
        block_destroy(vk, bl);
    }
    free(b);
}

sr_status sr_vk_buf_alloc(sr_backend *be, sr_pool pool, size_t words,
                          sr_buf **out)
{
    sr_vk_backend *vk = sr_vk_be(be);
    sr_vk_buf *b;
    SR_CHECK(!vk->lost, SR_E_DEVICE, "Vulkan device was lost");
    SR_TRY(sr_vk_buf_create(vk, pool, words, &b));
    *out = &b->base;
    return SR_OK;
}

void sr_vk_buf_free(sr_backend *be, sr_buf *buf)
{
    sr_vk_backend *vk = sr_vk_be(be);
    sr_vk_buf *b = (sr_vk_buf *)buf;
    /* Pending or running work may still use it. Failure (device lost)
     * leaves nothing to wait for. */
    if (!vk->lost && b->last_serial && sr_vk_wait_serial(vk, b->last_serial))
        vkDeviceWaitIdle(vk->dev);
    sr_vk_programs_forget(vk, b);
    sr_vk_buf_destroy(vk, b);
}

/* Copy between a buffer and a staging buffer in the open immediate command
 * buffer; ordered with the ops around it by the barriers. */
static sr_status record_copy(sr_vk_backend *vk, sr_vk_buf *src,
                             VkDeviceSize src_off, sr_vk_buf *dst,
                             VkDeviceSize dst_off, VkDeviceSize bytes)
{
    VkCommandBuffer cb;
    SR_TRY(sr_vk_open_cb(vk, &cb));
    VkBufferCopy region = {src_off, dst_off, bytes};
    vkCmdCopyBuffer(cb, src->buf, dst->buf, 1, &region);
    sr_vk_barrier(cb);
    src->last_serial = dst->last_serial = vk->next_serial;
    vk->frames[vk->cur].dispatches++;
    return SR_OK;
}

sr_status sr_vk_buf_write(sr_backend *be, sr_buf *buf, size_t off,
                          size_t words, const void *src)
{
    sr_vk_backend *vk = sr_vk_be(be);
    sr_vk_buf *b = (sr_vk_buf *)buf;
    size_t bytes = words * 4;
    SR_CHECK(!vk->lost, SR_E_DEVICE, "Vulkan device was lost");
    if (b->map) {
        /* Ops recorded before this write must see the old contents. */
        if (b->last_serial) SR_TRY(sr_vk_wait_serial(vk, b->last_serial));
        memcpy(b->map + off * 4, src, bytes);
        return SR_OK;
    }
    /* Device-only memory: the copy is queued like an op, so no wait; the
     * staging buffer is freed once that submission completes. */
    sr_vk_buf *st;
    SR_TRY(sr_vk_buf_create(vk, SR_POOL_STAGING, words, &st));
    memcpy(st->map, src, bytes);
    sr_status s = record_copy(vk, st, 0, b, (VkDeviceSize)off * 4, bytes);
    if (s == SR_OK) s = sr_vk_defer_free(vk, st);
    if (s != SR_OK) {
        if (!vk->lost) sr_vk_wait_all(vk);
        sr_vk_buf_destroy(vk, st);
    }
    return s;
}

sr_status sr_vk_buf_read(sr_backend *be, sr_buf *buf, size_t off,
                         size_t words, void *dst)
{
    sr_vk_backend *vk = sr_vk_be(be);
    sr_vk_buf *b = (sr_vk_buf *)buf;
    size_t bytes = words * 4;
    SR_CHECK(!vk->lost, SR_E_DEVICE, "Vulkan device was lost");
    if (b->map) {
        if (b->last_serial) SR_TRY(sr_vk_wait_serial(vk, b->last_serial));
        SR_TRY(sr_vk_check_messages(vk));
        memcpy(dst, b->map + off * 4, bytes);
        return SR_OK;
    }
    sr_vk_buf *st;
    SR_TRY(sr_vk_buf_create(vk, SR_POOL_STAGING, words, &st));
    sr_status s = record_copy(vk, b, (VkDeviceSize)off * 4, st, 0, bytes);
    if (s == SR_OK) s = sr_vk_wait_serial(vk, st->last_serial);
    if (s == SR_OK) s = sr_vk_check_messages(vk);
    if (s == SR_OK) memcpy(dst, st->map, bytes);
    if (s != SR_OK && !vk->lost) sr_vk_wait_all(vk);
    sr_vk_buf_destroy(vk, st);
    return s;
}

/* ------------------------------------------------------------------ */
/* Scratch                                                             */

sr_status sr_vk_scratch(sr_backend *be, size_t words, sr_buf **out)
{
    sr_vk_backend *vk = sr_vk_be(be);
    *out = NULL;
    SR_CHECK(words > 0, SR_E_INTERNAL, "sr_vk_scratch: 0 words");
    /* Scratch is bound whole: at most one binding. */
    SR_CHECK(words <= sr_vk_max_buffer_words(be), SR_E_INTERNAL,
             "sr_vk_scratch: %zu words exceed one storage binding (%zu)",
             words, sr_vk_max_buffer_words(be));
    if (vk->nscratch && vk->scratch[vk->nscratch - 1]->base.words >= words) {
        *out = &vk->scratch[vk->nscratch - 1]->base;
        return SR_OK;
    }
    /* Grow geometrically so a sequence of growing requests allocates only
     * a few buffers; old ones stay alive for programs that recorded them. */
    size_t max = sr_vk_max_buffer_words(be);
    size_t want = words;
    if (vk->nscratch) {
        size_t twice = 2 * vk->scratch[vk->nscratch - 1]->base.words;
        if (twice > want) want = twice < max ? twice : max;
        if (want < words) want = words;
    }
    if (vk->nscratch == vk->capscratch) {
        int cap = vk->capscratch ? 2 * vk->capscratch : 8;
        sr_vk_buf **s = realloc(vk->scratch, (size_t)cap * sizeof *s);
        SR_CHECK(s, SR_E_NOMEM, "out of host memory for scratch buffers");
        vk->scratch = s;
        vk->capscratch = cap;
    }
    sr_vk_buf *b;
    SR_TRY(sr_vk_buf_create(vk, SR_POOL_ACTIVATIONS, want, &b));
    vk->scratch[vk->nscratch++] = b;
    *out = &b->base;
    return SR_OK;
}

void sr_vk_scratch_destroy(sr_vk_backend *vk)
{
    for (int i = 0; i < vk->nscratch; i++) sr_vk_buf_destroy(vk, vk->scratch[i]);
    free(vk->scratch);
    vk->scratch = NULL;
    vk->nscratch = vk->capscratch = 0;
}
