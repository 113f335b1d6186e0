/* Stand-in when the project is configured with -DSR_WITH_VULKAN=OFF. */
#include "backend_impl.h"

static sr_status no_vulkan(void)
{
    return sr_error(SR_E_UNSUPPORTED,
                    "this build has no Vulkan backend: reconfigure with "
                    "-DSR_WITH_VULKAN=ON (needs libvulkan-dev and glslc)");
}

sr_status sr_vk_backend_create(const sr_backend_opts *opts, sr_backend **out)
{
    (void)opts;
    *out = NULL;
    return no_vulkan();
}

sr_status sr_vk_list_devices(void *out)
{
    (void)out;
    return no_vulkan();
}
