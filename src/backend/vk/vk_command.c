/* Vulkan runtime: command recording (sr_vk_record), immediate-mode
 * submission with fences, the scalar slots, op dispatch to the op files,
 * and programs (record once, replay every step). */
#include "vk_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sr_status sr_vk_command_init(sr_vk_backend *vk)
{
    VkResult r;
    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        /* immediate command buffers are re-begun, which resets them */
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = vk->queue_family,
    };
    r = vkCreateCommandPool(vk->dev, &pci, NULL, &vk->cmd_pool);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateCommandPool");
    for (int i = 0; i < SR_VK_FRAMES; i++) {
        sr_vk_frame *f = &vk->frames[i];
        VkCommandBufferAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = vk->cmd_pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = 1,
        };
        r = vkAllocateCommandBuffers(vk->dev, &ai, &f->cb);
        if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkAllocateCommandBuffers");
        VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        r = vkCreateFence(vk->dev, &fci, NULL, &f->fence);
        if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateFence");
    }
    vk->cur = 0;
    vk->next_serial = 1;
    return SR_OK;
}

void sr_vk_command_destroy(sr_vk_backend *vk)
{
    for (int i = 0; i < SR_VK_FRAMES; i++) {
        sr_vk_frame *f = &vk->frames[i];
        sr_vk_dpools_destroy(vk, &f->dpools);
        for (int j = 0; j < f->ngarbage; j++) sr_vk_buf_destroy(vk, f->garbage[j]);
        free(f->garbage);
        f->garbage = NULL;
        f->ngarbage = f->capgarbage = 0;
        if (f->fence) vkDestroyFence(vk->dev, f->fence, NULL);
        f->fence = VK_NULL_HANDLE;
    }
    /* frees the command buffers too */
    if (vk->cmd_pool) vkDestroyCommandPool(vk->dev, vk->cmd_pool, NULL);
    vk->cmd_pool = VK_NULL_HANDLE;
}

/* Every write by a dispatch or copy before it is visible to every
 * dispatch or copy after it, in this or any later submission. */
void sr_vk_barrier(VkCommandBuffer cb)
{
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                         VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    vkCmdPipelineBarrier(cb,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                             VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                             VK_PIPELINE_STAGE_TRANSFER_BIT,
                         0, 1, &mb, 0, NULL, 0, NULL);
}

/* Device writes become visible to host reads after the fence wait. */
static void host_barrier(VkCommandBuffer cb)
{
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(cb,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                             VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0,
                         NULL);
}

static sr_status begin_cb(sr_vk_backend *vk, VkCommandBuffer cb,
                          VkCommandBufferUsageFlags flags)
{
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = flags,
    };
    VkResult r = vkBeginCommandBuffer(cb, &bi);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkBeginCommandBuffer");
    sr_vk_barrier(cb);
    return SR_OK;
}

sr_status sr_vk_open_cb(sr_vk_backend *vk, VkCommandBuffer *out)
{
    sr_vk_frame *f = &vk->frames[vk->cur];
    /* flush() retires the next frame before making it current, so f is
     * never in flight here */
    if (!f->recording) {
        SR_TRY(begin_cb(vk, f->cb, VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT));
        f->recording = 1;
        f->dispatches = 0;
    }
    *out = f->cb;
    return SR_OK;
}

static sr_status retire_frame(sr_vk_backend *vk, sr_vk_frame *f)
{
    VkResult r = vkWaitForFences(vk->dev, 1, &f->fence, VK_TRUE, UINT64_MAX);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkWaitForFences");
    vkResetFences(vk->dev, 1, &f->fence);
    f->in_flight = 0;
    sr_vk_dpools_reset(vk, &f->dpools);
    for (int i = 0; i < f->ngarbage; i++) sr_vk_buf_destroy(vk, f->garbage[i]);
    f->ngarbage = 0;
    return SR_OK;
}

static sr_status wait_program(sr_vk_backend *vk, sr_vk_program *p)
{
    VkResult r = vkWaitForFences(vk->dev, 1, &p->fence, VK_TRUE, UINT64_MAX);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkWaitForFences");
    vkResetFences(vk->dev, 1, &p->fence);
    p->in_flight = 0;
    return SR_OK;
}

/* Called right before every submission. Nothing in flight reads the
 * scalar buffer when it is dirty: scalars_will_change waited for all. */
static void upload_scalars(sr_vk_backend *vk)
{
    if (!vk->scalars_dirty) return;
    memcpy(vk->scalar_buf->map, vk->base.scalars, sizeof vk->base.scalars);
    vk->scalars_dirty = 0;
}

static sr_status submit(sr_vk_backend *vk, VkCommandBuffer cb, VkFence fence)
{
    upload_scalars(vk);
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cb,
    };
    VkResult r = vkQueueSubmit(vk->queue, 1, &si, fence);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkQueueSubmit");
    return SR_OK;
}

sr_status sr_vk_flush(sr_vk_backend *vk)
{
    sr_vk_frame *f = &vk->frames[vk->cur];
    if (!f->recording || f->dispatches == 0) return SR_OK;
    host_barrier(f->cb);
    VkResult r = vkEndCommandBuffer(f->cb);
    f->recording = 0;
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkEndCommandBuffer");
    SR_TRY(submit(vk, f->cb, f->fence));
    f->in_flight = 1;
    f->serial = vk->next_serial++;
    vk->cur = (vk->cur + 1) % SR_VK_FRAMES;
    sr_vk_frame *g = &vk->frames[vk->cur];
    if (g->in_flight) SR_TRY(retire_frame(vk, g));
    return SR_OK;
}

sr_status sr_vk_wait_serial(sr_vk_backend *vk, uint64_t serial)
{
    SR_CHECK(!vk->lost, SR_E_DEVICE, "Vulkan device was lost");
    if (serial >= vk->next_serial) SR_TRY(sr_vk_flush(vk));
    for (int i = 0; i < SR_VK_FRAMES; i++) {
        sr_vk_frame *f = &vk->frames[i];
        if (f->in_flight && f->serial <= serial) SR_TRY(retire_frame(vk, f));
    }
    for (sr_vk_program *p = vk->programs; p; p = p->next)
        if (p->in_flight && p->serial <= serial) SR_TRY(wait_program(vk, p));
    return SR_OK;
}

sr_status sr_vk_wait_all(sr_vk_backend *vk)
{
    return sr_vk_wait_serial(vk, UINT64_MAX);
}

sr_status sr_vk_defer_free(sr_vk_backend *vk, sr_vk_buf *b)
{
    sr_vk_frame *f = &vk->frames[vk->cur];
    if (f->ngarbage == f->capgarbage) {
        int cap = f->capgarbage ? 2 * f->capgarbage : 8;
        sr_vk_buf **g = realloc(f->garbage, (size_t)cap * sizeof *g);
        SR_CHECK(g, SR_E_NOMEM, "out of host memory");
        f->garbage = g;
        f->capgarbage = cap;
    }
    f->garbage[f->ngarbage++] = b;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Recording                                                           */

static sr_status program_track(sr_vk_program *p, sr_vk_buf *b)
{
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i] == b) return SR_OK;
    if (p->nbufs == p->capbufs) {
        int cap = p->capbufs ? 2 * p->capbufs : 16;
        sr_vk_buf **nb = realloc(p->bufs, (size_t)cap * sizeof *nb);
        SR_CHECK(nb, SR_E_NOMEM, "out of host memory");
        p->bufs = nb;
        p->capbufs = cap;
    }
    p->bufs[p->nbufs++] = b;
    return SR_OK;
}

/* A program whose buffer is freed would replay into freed memory: mark it
 * so sr_program_run refuses instead. */
void sr_vk_programs_forget(sr_vk_backend *vk, sr_vk_buf *b)
{
    for (sr_vk_program *p = vk->programs; p; p = p->next) {
        for (int i = 0; i < p->nbufs; i++) {
            if (p->bufs[i] != b) continue;
            p->bufs[i] = p->bufs[--p->nbufs];
            p->stale = 1;
            break;
        }
    }
}

static sr_status check_dispatch(const sr_vk_backend *vk, const sr_vk_dispatch *d)
{
    SR_CHECK(d && d->shader, SR_E_INTERNAL, "sr_vk_record: no shader");
    SR_CHECK(d->nbufs >= 0 && d->nbufs <= SR_VK_MAX_BINDINGS, SR_E_INTERNAL,
             "%s: %d buffers (max %d)", d->shader, d->nbufs, SR_VK_MAX_BINDINGS);
    SR_CHECK(d->nspec >= 0 && d->nspec <= SR_VK_MAX_SPEC, SR_E_INTERNAL,
             "%s: %d specialization constants (max %d)", d->shader, d->nspec,
             SR_VK_MAX_SPEC);
    SR_CHECK(d->push_bytes <= SR_VK_MAX_PUSH && d->push_bytes % 4 == 0 &&
                 (d->push || !d->push_bytes),
             SR_E_INTERNAL, "%s: bad push constants (%u bytes)", d->shader,
             d->push_bytes);
    for (int i = 0; i < 3; i++)
        SR_CHECK(d->groups[i] <= vk->props.limits.maxComputeWorkGroupCount[i],
                 SR_E_INTERNAL,
                 "%s: %u workgroups in dimension %d exceed the device limit "
                 "%u (fold with sr_vk_groups_1d)",
                 d->shader, d->groups[i], i,
                 vk->props.limits.maxComputeWorkGroupCount[i]);
    return SR_OK;
}

/* The RGBA32F (vec4 == 1) or R32F view of a whole buffer, made on first
 * use and destroyed with the buffer. */
static sr_status texel_view(sr_vk_backend *vk, sr_vk_buf *b, int vec4,
                            VkBufferView *out)
{
    VkBufferView *v = vec4 ? &b->view4 : &b->view1;
    if (!*v) {
        /* sr_vk_buf_create rounds buffers up to whole 16-byte texels; the
         * view stops at sr_vk_max_texel_words (ops check against it). */
        size_t words = vec4 ? (b->base.words + 3) / 4 * 4 : b->base.words;
        size_t max = sr_vk_max_texel_words(&vk->base, vec4);
        if (words > max) words = max;
        /* A window's view starts at the window (aligned for texel views
         * too); its parent is padded to whole texels. */
        VkBufferViewCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
            .buffer = b->buf,
            .format = vec4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT,
            .offset = (VkDeviceSize)b->win_start * 4,
            .range = (VkDeviceSize)words * 4,
        };
        VkResult r = vkCreateBufferView(vk->dev, &ci, NULL, v);
        if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateBufferView");
    }
    *out = *v;
    return SR_OK;
}

sr_status sr_vk_record(sr_backend *be, const sr_vk_dispatch *d)
{
    sr_vk_backend *vk = sr_vk_be(be);
    sr_vk_program *prog = vk->building;
    VkCommandBuffer cb;
    sr_vk_dpools *dp;
    VkPipeline pipe;
    VkDescriptorSet set;

    SR_CHECK(!vk->lost, SR_E_DEVICE, "Vulkan device was lost");
    SR_TRY(check_dispatch(vk, d));
    SR_TRY(sr_vk_pipeline_get(vk, d, &pipe));
    if (prog) {
        cb = prog->cb;
        dp = &prog->dpools;
    } else {
        SR_TRY(sr_vk_open_cb(vk, &cb));
        dp = &vk->frames[vk->cur].dpools;
    }
    SR_TRY(sr_vk_dpools_alloc(vk, dp, d->texel, &set));

    /* All storage bindings are written so any shader may declare any of
     * them; texel bindings only where the op gave a buffer. */
    VkDescriptorBufferInfo bi[SR_VK_MAX_BINDINGS];
    VkBufferView tv[SR_VK_MAX_BINDINGS];
    VkWriteDescriptorSet w[SR_VK_MAX_BINDINGS];
    uint32_t nw = 0;
    for (int i = 0; i < SR_VK_MAX_BINDINGS; i++) {
        sr_vk_buf *b = i < d->nbufs && d->bufs[i] ? (sr_vk_buf *)d->bufs[i]
                                                  : vk->dummy;
        /* Ops bind big buffers through windows (sr_vk_fit); binding one
         * whole would exceed maxStorageBufferRange (or, with
         * SINREQ_VK_MAX_RANGE, hide a missing window from the tests). */
        SR_CHECK(b->parent || b->base.words <= vk->range_words,
                 SR_E_INTERNAL,
                 "%s: binding %d is a buffer of %zu words, more than one "
                 "storage binding covers (%zu words); the op must bind a "
                 "window of it (sr_vk_fit)",
                 d->shader, i, b->base.words, vk->range_words);
        w[nw] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = (uint32_t)i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        };
        if (d->texel && i < SR_VK_TEXEL_BINDINGS) {
            if (b == vk->dummy) continue;
            SR_TRY(texel_view(vk, b, !(d->texel_r32 >> i & 1u), &tv[i]));
            w[nw].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            w[nw].pTexelBufferView = &tv[i];
        } else {
            bi[i] = b->parent
                        ? (VkDescriptorBufferInfo){b->buf,
                                                   (VkDeviceSize)b->win_start * 4,
                                                   (VkDeviceSize)b->base.words * 4}
                        : (VkDescriptorBufferInfo){b->buf, 0, VK_WHOLE_SIZE};
            w[nw].pBufferInfo = &bi[i];
        }
        nw++;
    }
    vkUpdateDescriptorSets(vk->dev, nw, w, 0, NULL);

    VkDescriptorSet sets[2] = {set, vk->scalar_set};
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    VkPipelineLayout layout = d->texel ? vk->pipe_layout_texel : vk->pipe_layout;
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, layout,
                            0, 2, sets, 0, NULL);
    if (d->push_bytes)
        vkCmdPushConstants(cb, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                           d->push_bytes, d->push);
    vkCmdDispatch(cb, d->groups[0] ? d->groups[0] : 1,
                  d->groups[1] ? d->groups[1] : 1,
                  d->groups[2] ? d->groups[2] : 1);
    sr_vk_barrier(cb);

    for (int i = 0; i < d->nbufs; i++) {
        sr_vk_buf *b = (sr_vk_buf *)d->bufs[i];
        if (!b) continue;
        b = sr_vk_owner(b);
        if (prog)
            SR_TRY(program_track(prog, b));
        else
            b->last_serial = vk->next_serial;
    }
    if (prog) return SR_OK;
    /* Long op sequences start running without waiting for a sync. */
    if (++vk->frames[vk->cur].dispatches >= SR_VK_FLUSH_DISPATCHES)
        return sr_vk_flush(vk);
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Backend entry points                                                */

sr_status sr_vk_exec(sr_backend *be, const sr_op *op)
{
    sr_vk_backend *vk = sr_vk_be(be);
    char why[512];
    SR_CHECK(!vk->lost, SR_E_DEVICE, "Vulkan device was lost");
    /* The convolutions bind every operand as one buffer: give them the
     * windows of operands in buffers too big to bind whole. */
    sr_op fitted;
    if (op->kind == SR_OP_CONV2D_FWD || op->kind == SR_OP_CONV2D_BWD_DATA ||
        op->kind == SR_OP_CONV2D_BWD_WEIGHT ||
        op->kind == SR_OP_DWCONV2D_FWD ||
        op->kind == SR_OP_DWCONV2D_BWD_DATA ||
        op->kind == SR_OP_DWCONV2D_BWD_WEIGHT) {
        SR_TRY(sr_vk_fit_conv(be, op, &fitted));
        op = &fitted;
    }
    sr_status st = sr_vk_run_op(be, op);
    if (st != SR_E_UNSUPPORTED) return st;
    /* The op cannot run at this size on this device: name the op in front
     * of the reason its implementation gave. */
    snprintf(why, sizeof why, "%s", sr_last_error());
    return sr_error(SR_E_UNSUPPORTED, "op %s is not supported by the Vulkan backend%s%s",
                    sr_op_name(op->kind), why[0] ? ": " : "", why);
}

sr_status sr_vk_sync(sr_backend *be)
{
    sr_vk_backend *vk = sr_vk_be(be);
    SR_TRY(sr_vk_wait_all(vk));
    return sr_vk_check_messages(vk);
}

sr_status sr_vk_scalars_will_change(sr_backend *be)
{
    sr_vk_backend *vk = sr_vk_be(be);
    /* Recorded-but-unsubmitted ops were issued before the change, so they
     * are submitted with the old values; then nothing may be reading the
     * mapped scalar buffer when the next submission rewrites it. */
    SR_TRY(sr_vk_wait_all(vk));
    vk->scalars_dirty = 1;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Programs                                                            */

static void program_destroy(sr_vk_backend *vk, sr_vk_program *p)
{
    if (p->cb) vkFreeCommandBuffers(vk->dev, vk->cmd_pool, 1, &p->cb);
    if (p->fence) vkDestroyFence(vk->dev, p->fence, NULL);
    sr_vk_dpools_destroy(vk, &p->dpools);
    free(p->bufs);
    free(p);
}

sr_status sr_vk_program_build(sr_backend *be, const sr_op *ops, size_t n,
                              void **impl)
{
    sr_vk_backend *vk = sr_vk_be(be);
    sr_status st;
    VkResult r;
    *impl = NULL;
    SR_CHECK(!vk->lost, SR_E_DEVICE, "Vulkan device was lost");
    SR_CHECK(!vk->building, SR_E_INTERNAL, "nested program build");
    sr_vk_program *p = calloc(1, sizeof *p);
    SR_CHECK(p, SR_E_NOMEM, "out of host memory for a program");
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = vk->cmd_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    r = vkAllocateCommandBuffers(vk->dev, &ai, &p->cb);
    if (r != VK_SUCCESS) {
        p->cb = VK_NULL_HANDLE;
        st = sr_vk_fail(vk, r, "vkAllocateCommandBuffers");
        goto out_destroy;
    }
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    r = vkCreateFence(vk->dev, &fci, NULL, &p->fence);
    if (r != VK_SUCCESS) {
        p->fence = VK_NULL_HANDLE;
        st = sr_vk_fail(vk, r, "vkCreateFence");
        goto out_destroy;
    }
    /* Reusable (no ONE_TIME_SUBMIT): the point is to replay it. */
    st = begin_cb(vk, p->cb, 0);
    if (st != SR_OK) goto out_destroy;
    vk->building = p;
    for (size_t i = 0; i < n && st == SR_OK; i++) st = sr_vk_exec(be, &ops[i]);
    vk->building = NULL;
    host_barrier(p->cb);
    r = vkEndCommandBuffer(p->cb);
    if (st != SR_OK) goto out_destroy;
    if (r != VK_SUCCESS) {
        st = sr_vk_fail(vk, r, "vkEndCommandBuffer");
        goto out_destroy;
    }
    p->next = vk->programs;
    vk->programs = p;
    *impl = p;
    return SR_OK;

out_destroy:
    program_destroy(vk, p);
    return st;
}

sr_status sr_vk_program_run(sr_backend *be, void *impl)
{
    sr_vk_backend *vk = sr_vk_be(be);
    sr_vk_program *p = impl;
    SR_CHECK(!vk->lost, SR_E_DEVICE, "Vulkan device was lost");
    SR_CHECK(!p->stale, SR_E_ARG,
             "sr_program_run: a buffer this program uses was freed; "
             "capture the program again");
    /* Ops issued before the run go first. */
    SR_TRY(sr_vk_flush(vk));
    /* One command buffer cannot be pending twice. */
    if (p->in_flight) SR_TRY(wait_program(vk, p));
    SR_TRY(submit(vk, p->cb, p->fence));
    p->in_flight = 1;
    p->serial = vk->next_serial++;
    for (int i = 0; i < p->nbufs; i++) p->bufs[i]->last_serial = p->serial;
    return sr_vk_check_messages(vk);
}

void sr_vk_program_free(sr_backend *be, void *impl)
{
    sr_vk_backend *vk = sr_vk_be(be);
    sr_vk_program *p = impl;
    if (p->in_flight && !vk->lost && wait_program(vk, p) != SR_OK)
        vkDeviceWaitIdle(vk->dev);
    sr_vk_program **pp = &vk->programs;
    while (*pp && *pp != p) pp = &(*pp)->next;
    if (*pp) *pp = p->next;
    program_destroy(vk, p);
}
