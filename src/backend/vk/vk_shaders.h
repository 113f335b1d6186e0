/* The embedded SPIR-V blobs, generated at build time from shaders/<name>.comp
 * (shaders/embed.cmake). Looked up by file name without extension. */
#ifndef SR_VK_SHADERS_H
#define SR_VK_SHADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sr_vk_shader_blob {
    const char *name;
    const uint32_t *code;
    size_t bytes;
} sr_vk_shader_blob;

extern const sr_vk_shader_blob sr_vk_shaders[];
extern const int sr_vk_shader_count;

#endif
