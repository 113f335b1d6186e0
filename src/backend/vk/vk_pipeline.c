/* Vulkan runtime: the one pipeline layout every shader shares, shader
 * modules, the pipeline cache keyed by (shader, specialization constants),
 * and descriptor pools. */
#include "vk_runtime.h"

#include <stdlib.h>
#include <string.h>

#include "vk_shaders.h"

sr_status sr_vk_pipeline_init(sr_vk_backend *vk)
{
    VkResult r;
    VkDescriptorSetLayoutBinding b[SR_VK_MAX_BINDINGS];
    for (int i = 0; i < SR_VK_MAX_BINDINGS; i++) {
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = (uint32_t)i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    }
    VkDescriptorSetLayoutCreateInfo lci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = SR_VK_MAX_BINDINGS,
        .pBindings = b,
    };
    r = vkCreateDescriptorSetLayout(vk->dev, &lci, NULL, &vk->set_layout[0]);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateDescriptorSetLayout");
    lci.bindingCount = 1; /* set 1: the scalar slots */
    r = vkCreateDescriptorSetLayout(vk->dev, &lci, NULL, &vk->set_layout[1]);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateDescriptorSetLayout");

    VkPushConstantRange pcr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, SR_VK_MAX_PUSH};
    VkPipelineLayoutCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 2,
        .pSetLayouts = vk->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &pcr,
    };
    r = vkCreatePipelineLayout(vk->dev, &pci, NULL, &vk->pipe_layout);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreatePipelineLayout");

    /* The texel-buffer variant of set 0 (sr_vk_dispatch.texel). */
    for (int i = 0; i < SR_VK_TEXEL_BINDINGS; i++)
        b[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    lci.bindingCount = SR_VK_MAX_BINDINGS;
    r = vkCreateDescriptorSetLayout(vk->dev, &lci, NULL, &vk->set_layout_texel);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateDescriptorSetLayout");
    VkDescriptorSetLayout tl[2] = {vk->set_layout_texel, vk->set_layout[1]};
    pci.pSetLayouts = tl;
    r = vkCreatePipelineLayout(vk->dev, &pci, NULL, &vk->pipe_layout_texel);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreatePipelineLayout");

    VkPipelineCacheCreateInfo cci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
    };
    r = vkCreatePipelineCache(vk->dev, &cci, NULL, &vk->pipe_cache);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreatePipelineCache");

    vk->modules = calloc(sr_vk_shader_count ? (size_t)sr_vk_shader_count : 1,
                         sizeof *vk->modules);
    SR_CHECK(vk->modules, SR_E_NOMEM, "out of host memory");

    /* The scalar set never changes: the buffer is fixed, its contents are
     * refreshed before each submission. */
    VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1};
    VkDescriptorPoolCreateInfo dpci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = 1,
        .poolSizeCount = 1,
        .pPoolSizes = &ps,
    };
    r = vkCreateDescriptorPool(vk->dev, &dpci, NULL, &vk->scalar_dpool);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateDescriptorPool");
    VkDescriptorSetAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = vk->scalar_dpool,
        .descriptorSetCount = 1,
        .pSetLayouts = &vk->set_layout[1],
    };
    r = vkAllocateDescriptorSets(vk->dev, &ai, &vk->scalar_set);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkAllocateDescriptorSets");
    VkDescriptorBufferInfo bi = {vk->scalar_buf->buf, 0, VK_WHOLE_SIZE};
    VkWriteDescriptorSet w = {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = vk->scalar_set,
        .dstBinding = 0,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = &bi,
    };
    vkUpdateDescriptorSets(vk->dev, 1, &w, 0, NULL);
    return SR_OK;
}

void sr_vk_pipeline_destroy(sr_vk_backend *vk)
{
    for (int i = 0; i < SR_VK_PIPE_BUCKETS; i++) {
        sr_vk_pipe *p = vk->pipes[i];
        while (p) {
            sr_vk_pipe *next = p->next;
            vkDestroyPipeline(vk->dev, p->pipeline, NULL);
            free(p);
            p = next;
        }
        vk->pipes[i] = NULL;
    }
    if (vk->modules) {
        for (int i = 0; i < sr_vk_shader_count; i++)
            if (vk->modules[i]) vkDestroyShaderModule(vk->dev, vk->modules[i], NULL);
        free(vk->modules);
        vk->modules = NULL;
    }
    if (vk->scalar_dpool) vkDestroyDescriptorPool(vk->dev, vk->scalar_dpool, NULL);
    if (vk->pipe_cache) vkDestroyPipelineCache(vk->dev, vk->pipe_cache, NULL);
    if (vk->pipe_layout) vkDestroyPipelineLayout(vk->dev, vk->pipe_layout, NULL);
    if (vk->pipe_layout_texel)
        vkDestroyPipelineLayout(vk->dev, vk->pipe_layout_texel, NULL);
    if (vk->set_layout_texel)
        vkDestroyDescriptorSetLayout(vk->dev, vk->set_layout_texel, NULL);
    for (int i = 0; i < 2; i++)
        if (vk->set_layout[i])
            vkDestroyDescriptorSetLayout(vk->dev, vk->set_layout[i], NULL);
}

static uint32_t fnv1a(uint32_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static sr_status get_module(sr_vk_backend *vk, const char *name, int *index)
{
    int i;
    for (i = 0; i < sr_vk_shader_count; i++)
        if (strcmp(sr_vk_shaders[i].name, name) == 0) break;
    SR_CHECK(i < sr_vk_shader_count, SR_E_INTERNAL,
             "Vulkan shader '%s' is not embedded (no shaders/%s.comp in this "
             "build)",
             name, name);
    if (!vk->modules[i]) {
        VkShaderModuleCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
            .codeSize = sr_vk_shaders[i].bytes,
            .pCode = sr_vk_shaders[i].code,
        };
        VkResult r = vkCreateShaderModule(vk->dev, &ci, NULL, &vk->modules[i]);
        if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateShaderModule");
    }
    *index = i;
    return SR_OK;
}

sr_status sr_vk_pipeline_get(sr_vk_backend *vk, const sr_vk_dispatch *d,
                             VkPipeline *out)
{
    int texel = d->texel != 0;
    uint32_t h = fnv1a(2166136261u, d->shader, strlen(d->shader));
    h = fnv1a(h, &d->nspec, sizeof d->nspec);
    h = fnv1a(h, d->spec, (size_t)d->nspec * sizeof d->spec[0]);
    h = fnv1a(h, &texel, sizeof texel);
    sr_vk_pipe **bucket = &vk->pipes[h % SR_VK_PIPE_BUCKETS];
    for (sr_vk_pipe *p = *bucket; p; p = p->next) {
        if (p->hash == h && p->nspec == d->nspec && p->texel == texel &&
            strcmp(p->shader, d->shader) == 0 &&
            memcmp(p->spec, d->spec, (size_t)d->nspec * sizeof d->spec[0]) == 0) {
            *out = p->pipeline;
            return SR_OK;
        }
    }

    int mi = 0;
    SR_TRY(get_module(vk, d->shader, &mi));
    VkSpecializationMapEntry me[SR_VK_MAX_SPEC];
    for (int i = 0; i < d->nspec; i++)
        me[i] = (VkSpecializationMapEntry){(uint32_t)i, (uint32_t)(4 * i), 4};
    VkSpecializationInfo si = {
        .mapEntryCount = (uint32_t)d->nspec,
        .pMapEntries = me,
        .dataSize = (size_t)d->nspec * 4,
        .pData = d->spec,
    };
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = vk->modules[mi],
            .pName = "main",
            .pSpecializationInfo = d->nspec ? &si : NULL,
        },
        .layout = texel ? vk->pipe_layout_texel : vk->pipe_layout,
    };
    sr_vk_pipe *p = calloc(1, sizeof *p);
    SR_CHECK(p, SR_E_NOMEM, "out of host memory for a pipeline");
    VkResult r = vkCreateComputePipelines(vk->dev, vk->pipe_cache, 1, &ci,
                                          NULL, &p->pipeline);
    if (r != VK_SUCCESS) {
        free(p);
        sr_vk_fail(vk, r, "vkCreateComputePipelines");
        return sr_error(SR_E_DEVICE,
                        "Vulkan: cannot create the pipeline for shader '%s' "
                        "(%s)",
                        d->shader, sr_vk_result_str(r));
    }
    /* Key on the blob's name: it lives as long as the program. */
    p->shader = sr_vk_shaders[mi].name;
    memcpy(p->spec, d->spec, (size_t)d->nspec * sizeof d->spec[0]);
    p->nspec = d->nspec;
    p->texel = texel;
    p->hash = h;
    p->next = *bucket;
    *bucket = p;
    *out = p->pipeline;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Descriptor pools                                                    */

sr_status sr_vk_dpools_alloc(sr_vk_backend *vk, sr_vk_dpools *dp, int texel,
                             VkDescriptorSet *out)
{
    VkResult r;
    for (;;) {
        if (dp->cur == dp->n) {
            if (dp->n == dp->cap) {
                int cap = dp->cap ? 2 * dp->cap : 4;
                VkDescriptorPool *p = realloc(dp->pools, (size_t)cap * sizeof *p);
                SR_CHECK(p, SR_E_NOMEM, "out of host memory");
                dp->pools = p;
                dp->cap = cap;
            }
            VkDescriptorPoolSize ps[2] = {
                {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                 SR_VK_SETS_PER_POOL * SR_VK_MAX_BINDINGS},
                {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                 SR_VK_SETS_PER_POOL * SR_VK_TEXEL_BINDINGS},
            };
            VkDescriptorPoolCreateInfo ci = {
                .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                .maxSets = SR_VK_SETS_PER_POOL,
                .poolSizeCount = 2,
                .pPoolSizes = ps,
            };
            r = vkCreateDescriptorPool(vk->dev, &ci, NULL, &dp->pools[dp->n]);
            if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateDescriptorPool");
            dp->n++;
        }
        VkDescriptorSetAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = dp->pools[dp->cur],
            .descriptorSetCount = 1,
            .pSetLayouts = texel ? &vk->set_layout_texel : &vk->set_layout[0],
        };
        r = vkAllocateDescriptorSets(vk->dev, &ai, out);
        if (r == VK_SUCCESS) return SR_OK;
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
            return sr_vk_fail(vk, r, "vkAllocateDescriptorSets");
        dp->cur++; /* this pool is full: move on to the next */
    }
}

void sr_vk_dpools_reset(sr_vk_backend *vk, sr_vk_dpools *dp)
{
    for (int i = 0; i < dp->n; i++) vkResetDescriptorPool(vk->dev, dp->pools[i], 0);
    dp->cur = 0;
}

void sr_vk_dpools_destroy(sr_vk_backend *vk, sr_vk_dpools *dp)
{
    for (int i = 0; i < dp->n; i++)
        vkDestroyDescriptorPool(vk->dev, dp->pools[i], NULL);
    free(dp->pools);
    memset(dp, 0, sizeof *dp);
}
