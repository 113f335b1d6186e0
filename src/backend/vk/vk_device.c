/* Vulkan runtime: instance, validation messenger, device selection,
 * backend lifecycle (sr_vk_backend_create, destroy) and device listing. */
#include "vk_runtime.h"
#include "sinreq/parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char VALIDATION_LAYER[] = "VK_LAYER_KHRONOS_validation";

const char *sr_vk_result_str(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
    }
}

/* A failed Vulkan call: device loss poisons the backend, since nothing
 * submitted afterwards can be trusted. */
sr_status sr_vk_fail(sr_vk_backend *vk, VkResult r, const char *what)
{
    if (r == VK_ERROR_DEVICE_LOST) {
        vk->lost = 1;
        return sr_error(SR_E_DEVICE,
                        "%s: Vulkan device lost (%s); the backend cannot be "
                        "used any more (driver crash, GPU reset or timeout)",
                        what, vk->base.device_name);
    }
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return sr_error(SR_E_NOMEM, "%s: %s", what, sr_vk_result_str(r));
    return sr_error(SR_E_DEVICE, "%s failed: %s (%d)", what,
                    sr_vk_result_str(r), (int)r);
}

/* ------------------------------------------------------------------ */
/* Validation messages                                                 */

static VKAPI_ATTR VkBool32 VKAPI_CALL
on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                 VkDebugUtilsMessageTypeFlagsEXT types,
                 const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    sr_vk_backend *vk = user;
    (void)types;
    if (!(severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)))
        return VK_FALSE;
    /* Keep the first message (the cause; later ones are often fallout)
     * and count the rest. */
    if (vk->vmsg_count++ == 0)
        snprintf(vk->vmsg, sizeof vk->vmsg, "%s",
                 data && data->pMessage ? data->pMessage : "(no text)");
    return VK_FALSE;
}

sr_status sr_vk_check_messages(sr_vk_backend *vk)
{
    if (vk->lost)
        return sr_error(SR_E_DEVICE, "Vulkan device %s was lost earlier",
                        vk->base.device_name);
    if (!vk->vmsg_count) return SR_OK;
    uint32_t n = vk->vmsg_count;
    vk->vmsg_count = 0;
    return sr_error(SR_E_DEVICE, "Vulkan validation (%u message%s): %s", n,
                    n == 1 ? "" : "s", vk->vmsg);
}

/* ------------------------------------------------------------------ */
/* Instance                                                            */

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* Which driver-selection variable is steering the loader, for messages. */
static void icd_env_hint(char *buf, size_t n)
{
    static const char *const vars[] = {"VK_ICD_FILENAMES", "VK_DRIVER_FILES",
                                       "VK_ADD_DRIVER_FILES"};
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "; %s=%s is set", vars[i], v);
        }
    }
}

static int has_layer(const char *name)
{
    uint32_t n = 0;
    int found = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || !n)
        return 0;
    VkLayerProperties *lp = calloc(n, sizeof *lp);
    if (!lp) return 0;
    if (vkEnumerateInstanceLayerProperties(&n, lp) >= 0)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(lp[i].layerName, name) == 0) found = 1;
    free(lp);
    return found;
}

static int has_instance_ext(const char *name)
{
    uint32_t n = 0;
    int found = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS)
        return 0;
    VkExtensionProperties *ep = calloc(n ? n : 1, sizeof *ep);
    if (!ep) return 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, ep) >= 0)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(ep[i].extensionName, name) == 0) found = 1;
    free(ep);
    return found;
}

static sr_status no_driver(const char *why)
{
    char hint[512];
    icd_env_hint(hint, sizeof hint);
    return sr_error(SR_E_DEVICE,
                    "no Vulkan driver found (%s): install mesa-vulkan-drivers "
                    "(CPU lavapipe) or your GPU vendor's Vulkan driver%s",
                    why, hint);
}

/* vk may be NULL (device listing): then no validation. */
static sr_status create_instance(sr_vk_backend *vk, int validation,
                                 VkInstance *out)
{
    *out = VK_NULL_HANDLE;
    PFN_vkEnumerateInstanceVersion enum_version =
        (PFN_vkEnumerateInstanceVersion)vkGetInstanceProcAddr(
            NULL, "vkEnumerateInstanceVersion");
    uint32_t loader_version = VK_API_VERSION_1_0;
    if (enum_version) enum_version(&loader_version);
    SR_CHECK(loader_version >= VK_API_VERSION_1_2, SR_E_DEVICE,
             "the Vulkan loader supports only API %u.%u; sinreq needs 1.2: "
             "update libvulkan1",
             VK_API_VERSION_MAJOR(loader_version),
             VK_API_VERSION_MINOR(loader_version));

    const char *exts[3];
    uint32_t next = 0;
    VkInstanceCreateFlags flags = 0;
    /* MoltenVK and other non-conformant drivers are only listed when the
     * application opts in. */
    if (has_instance_ext(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        exts[next++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
    const char *layers[1];
    uint32_t nlayers = 0;
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug_message,
        .pUserData = vk,
    };
    if (validation) {
        SR_CHECK(has_layer(VALIDATION_LAYER), SR_E_DEVICE,
                 "Vulkan validation requested but %s is not installed: "
                 "install the package vulkan-validationlayers (or unset "
                 "SINREQ_VK_VALIDATION)",
                 VALIDATION_LAYER);
        layers[nlayers++] = VALIDATION_LAYER;
        exts[next++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "sinreq",
        .applicationVersion = VK_MAKE_API_VERSION(0, 0, 1, 0),
        .pEngineName = "sinreq",
        .apiVersion = VK_API_VERSION_1_2,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        /* chained so instance creation/destruction is validated too */
        .pNext = validation ? &mci : NULL,
        .flags = flags,
        .pApplicationInfo = &app,
        .enabledLayerCount = nlayers,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = next,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateInstance(&ci, NULL, out);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
        return no_driver(r == VK_ERROR_INCOMPATIBLE_DRIVER
                             ? "vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER"
                             : "vkCreateInstance: VK_ERROR_INITIALIZATION_FAILED");
    if (r == VK_ERROR_LAYER_NOT_PRESENT)
        return sr_error(SR_E_DEVICE,
                        "Vulkan validation layer failed to load: reinstall "
                        "vulkan-validationlayers");
    if (r != VK_SUCCESS)
        return sr_error(SR_E_DEVICE, "vkCreateInstance failed: %s (%d)",
                        sr_vk_result_str(r), (int)r);
    if (validation && vk) {
        PFN_vkCreateDebugUtilsMessengerEXT create_messenger =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
                *out, "vkCreateDebugUtilsMessengerEXT");
        if (!create_messenger ||
            create_messenger(*out, &mci, NULL, &vk->messenger) != VK_SUCCESS) {
            vkDestroyInstance(*out, NULL);
            *out = VK_NULL_HANDLE;
            return sr_error(SR_E_DEVICE,
                            "cannot create the VK_EXT_debug_utils messenger "
                            "for validation");
        }
    }
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Physical devices                                                    */

typedef struct dev_info {
    VkPhysicalDevice phys;
    VkPhysicalDeviceProperties props;
    char driver[VK_MAX_DRIVER_NAME_SIZE + VK_MAX_DRIVER_INFO_SIZE + 4];
    int compute_family;      /* -1 if none */
    const char *unusable;    /* NULL if usable */
} dev_info;

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

/* Higher is preferred. */
static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static void describe(dev_info *di)
{
    vkGetPhysicalDeviceProperties(di->phys, &di->props);
    snprintf(di->driver, sizeof di->driver, "version 0x%x",
             di->props.driverVersion);
    di->compute_family = -1;
    di->unusable = NULL;
    if (di->props.apiVersion < VK_API_VERSION_1_2) {
        di->unusable = "needs Vulkan 1.2";
        return;
    }
    /* VkPhysicalDeviceDriverProperties is core 1.2: only query it then. */
    VkPhysicalDeviceDriverProperties drv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
    };
    VkPhysicalDeviceProperties2 p2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &drv,
    };
    vkGetPhysicalDeviceProperties2(di->phys, &p2);
    if (drv.driverName[0])
        snprintf(di->driver, sizeof di->driver, "%s%s%s", drv.driverName,
                 drv.driverInfo[0] ? " " : "", drv.driverInfo);

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(di->phys, &nq, NULL);
    VkQueueFamilyProperties *qf = calloc(nq ? nq : 1, sizeof *qf);
    if (!qf) {
        di->unusable = "out of host memory";
        return;
    }
    vkGetPhysicalDeviceQueueFamilyProperties(di->phys, &nq, qf);
    for (uint32_t i = 0; i < nq && di->compute_family < 0; i++)
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && qf[i].queueCount)
            di->compute_family = (int)i;
    free(qf);
    if (di->compute_family < 0) di->unusable = "no compute queue";
}

static void format_device(const dev_info *di, char *buf, size_t n)
{
    uint32_t v = di->props.apiVersion;
    /* Truncating an absurdly long driver string is fine. */
    if (snprintf(buf, n, "%s (%s, driver %s, API %u.%u.%u)",
                 di->props.deviceName, type_name(di->props.deviceType),
                 di->driver, VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                 VK_API_VERSION_PATCH(v)) >= (int)n)
        buf[n - 1] = '\0';
}

static sr_status enum_devices(VkInstance inst, dev_info **out, uint32_t *count)
{
    uint32_t n = 0;
    VkPhysicalDevice *pd = NULL;
    VkResult r;
    *out = NULL;
    *count = 0;
    /* The count can change between the two calls (hot-plug, an ICD that
     * initialises lazily): retry on VK_INCOMPLETE. */
    do {
        r = vkEnumeratePhysicalDevices(inst, &n, NULL);
        if (r != VK_SUCCESS || n == 0) break;
        free(pd);
        pd = calloc(n, sizeof *pd);
        SR_CHECK(pd, SR_E_NOMEM, "out of memory listing Vulkan devices");
        r = vkEnumeratePhysicalDevices(inst, &n, pd);
    } while (r == VK_INCOMPLETE);
    if (r != VK_SUCCESS || n == 0) {
        free(pd);
        if (r != VK_SUCCESS && r != VK_ERROR_INITIALIZATION_FAILED)
            return sr_error(SR_E_DEVICE,
                            "vkEnumeratePhysicalDevices failed: %s",
                            sr_vk_result_str(r));
        return no_driver(r == VK_SUCCESS ? "no physical devices"
                                         : "vkEnumeratePhysicalDevices: "
                                           "VK_ERROR_INITIALIZATION_FAILED");
    }
    dev_info *di = calloc(n, sizeof *di);
    if (!di) {
        free(pd);
        return sr_error(SR_E_NOMEM, "out of memory listing Vulkan devices");
    }
    for (uint32_t i = 0; i < n; i++) {
        di[i].phys = pd[i];
        describe(&di[i]);
    }
    free(pd);
    *out = di;
    *count = n;
    return SR_OK;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < nl && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == nl) return 1;
    }
    return nl == 0;
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* want: NULL = best by type; else index or name substring. */
static sr_status pick_device(const dev_info *di, uint32_t n, const char *want,
                             const char *want_src, uint32_t *out)
{
    char line[512];
    if (want && *want) {
        int found = -1;
        if (all_digits(want)) {
            uint64_t idx;
            if (sr_parse_u64("device", want, n ? n - 1 : 0, &idx) == SR_OK &&
                idx < n)
                found = (int)idx;
        } else {
            for (uint32_t i = 0; i < n && found < 0; i++)
                if (contains_nocase(di[i].props.deviceName, want)) found = (int)i;
        }
        if (found < 0) {
            char list[1024] = "";
            for (uint32_t i = 0; i < n; i++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s%u: %s",
                         i ? ", " : "", i, di[i].props.deviceName);
            }
            /* a bad --device value is a usage error (exit 1) */
            return sr_error(SR_E_CONFIG,
                            "no Vulkan device matches '%s' (from %s); "
                            "devices: %s (see `sinreq devices`)",
                            want, want_src, list);
        }
        if (di[found].unusable) {
            format_device(&di[found], line, sizeof line);
            return sr_error(SR_E_DEVICE,
                            "Vulkan device %d (%s) cannot be used: %s", found,
                            line, di[found].unusable);
        }
        *out = (uint32_t)found;
        return SR_OK;
    }
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (di[i].unusable) continue;
        if (best < 0 || type_rank(di[i].props.deviceType) >
                            type_rank(di[best].props.deviceType))
            best = (int)i;
    }
    if (best < 0) {
        format_device(&di[0], line, sizeof line);
        return sr_error(SR_E_DEVICE,
                        "no usable Vulkan device: %u found, none with "
                        "Vulkan 1.2 and a compute queue (first: %s: %s); "
                        "update the driver or install mesa-vulkan-drivers",
                        n, line, di[0].unusable);
    }
    *out = (uint32_t)best;
    return SR_OK;
}

sr_status sr_vk_list_devices(void *out)
{
    FILE *f = out ? (FILE *)out : stdout;
    VkInstance inst;
    dev_info *di = NULL;
    uint32_t n = 0, best = 0;
    char line[512];
    SR_TRY(create_instance(NULL, 0, &inst));
    sr_status st = enum_devices(inst, &di, &n);
    if (st != SR_OK) goto out_instance;
    /* Mark the default choice; a failure just means none is usable. */
    int have_best = pick_device(di, n, NULL, NULL, &best) == SR_OK;
    sr_clear_error();
    for (uint32_t i = 0; i < n; i++) {
        format_device(&di[i], line, sizeof line);
        fprintf(f, "vulkan %u: %s%s%s%s%s\n", i, line,
                have_best && i == best ? " [default]" : "",
                di[i].unusable ? " [unusable: " : "",
                di[i].unusable ? di[i].unusable : "",
                di[i].unusable ? "]" : "");
    }
    free(di);
out_instance:
    vkDestroyInstance(inst, NULL);
    return st;
}

/* ------------------------------------------------------------------ */
/* Logical device                                                      */

static int has_device_ext(VkPhysicalDevice phys, const char *name)
{
    uint32_t n = 0;
    int found = 0;
    if (vkEnumerateDeviceExtensionProperties(phys, NULL, &n, NULL) != VK_SUCCESS)
        return 0;
    VkExtensionProperties *ep = calloc(n ? n : 1, sizeof *ep);
    if (!ep) return 0;
    if (vkEnumerateDeviceExtensionProperties(phys, NULL, &n, ep) >= 0)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(ep[i].extensionName, name) == 0) found = 1;
    free(ep);
    return found;
}

static sr_status create_device(sr_vk_backend *vk)
{
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = vk->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    const char *exts[1];
    uint32_t next = 0;
    /* Required when the driver is a portability implementation. */
    if (has_device_ext(vk->phys, "VK_KHR_portability_subset"))
        exts[next++] = "VK_KHR_portability_subset";
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = next,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateDevice(vk->phys, &dci, NULL, &vk->dev);
    if (r != VK_SUCCESS) return sr_vk_fail(vk, r, "vkCreateDevice");
    vkGetDeviceQueue(vk->dev, vk->queue_family, 0, &vk->queue);
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

static void vk_destroy(sr_backend *be);

static const sr_backend_vt vk_vt = {
    .name = "vulkan",
    .destroy = vk_destroy,
    .buf_alloc = sr_vk_buf_alloc,
    .buf_free = sr_vk_buf_free,
    .buf_write = sr_vk_buf_write,
    .buf_read = sr_vk_buf_read,
    .exec = sr_vk_exec,
    .sync = sr_vk_sync,
    .scalars_will_change = sr_vk_scalars_will_change,
    .program_build = sr_vk_program_build,
    .program_run = sr_vk_program_run,
    .program_free = sr_vk_program_free,
};

static void vk_destroy(sr_backend *be)
{
    sr_vk_backend *vk = sr_vk_be(be);
    if (vk->dev) {
        /* Nothing may be in use when objects go away. */
        if (!vk->lost) sr_vk_wait_all(vk);
        vkDeviceWaitIdle(vk->dev);
        while (vk->programs) sr_vk_program_free(be, vk->programs);
        sr_vk_command_destroy(vk);
        sr_vk_pipeline_destroy(vk);
        sr_vk_scratch_destroy(vk);
        sr_vk_memory_destroy(vk);
        vkDestroyDevice(vk->dev, NULL);
    }
    if (vk->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
                vk->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy_messenger)
            destroy_messenger(vk->instance, vk->messenger, NULL);
    }
    if (vk->instance) vkDestroyInstance(vk->instance, NULL);
    /* Messages raised while tearing down have no later call to fail:
     * print them so tests and users still see them. */
    if (vk->vmsg_count)
        fprintf(stderr, "sinreq: Vulkan validation (%u messages) at "
                "shutdown: %s\n", vk->vmsg_count, vk->vmsg);
    free(vk);
}

/* Convolution and GEMM kernel family: CPU implementations (lavapipe) keep
 * the texel-buffer / register-block kernels tuned for them, GPUs get the
 * shared-memory tiled family (tiled_conv.comp, tiled_gemm.comp).
 * SINREQ_VK_KERNELS=lavapipe|gpu overrides it, so both run anywhere. */
static sr_status pick_kernels(sr_vk_backend *vk)
{
    const char *env = getenv("SINREQ_VK_KERNELS");
    if (!env || !*env) {
        vk->gpu_kernels = vk->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU;
        return SR_OK;
    }
    if (strcmp(env, "gpu") == 0)
        vk->gpu_kernels = 1;
    else if (strcmp(env, "lavapipe") == 0)
        vk->gpu_kernels = 0;
    else
        return sr_error(SR_E_CONFIG, "SINREQ_VK_KERNELS='%s': expected "
                        "'lavapipe' or 'gpu' (or unset: chosen by the device "
                        "type)", env);
    return SR_OK;
}

sr_status sr_vk_backend_create(const sr_backend_opts *opts, sr_backend **out)
{
    static const sr_backend_opts defaults = {0};
    dev_info *di = NULL;
    uint32_t ndev = 0, pick = 0;
    sr_status st;

    SR_CHECK(out, SR_E_ARG, "sr_vk_backend_create: out is NULL");
    *out = NULL;
    if (!opts) opts = &defaults;
    sr_vk_backend *vk = calloc(1, sizeof *vk);
    SR_CHECK(vk, SR_E_NOMEM, "out of memory for the Vulkan backend");
    vk->base.vt = &vk_vt;
    vk->validation = opts->validation || env_flag("SINREQ_VK_VALIDATION");

    st = create_instance(vk, vk->validation, &vk->instance);
    if (st != SR_OK) goto out_free;
    st = enum_devices(vk->instance, &di, &ndev);
    if (st != SR_OK) goto out_destroy;

    const char *want = opts->device, *src = "the device option";
    const char *env = getenv("SINREQ_VK_DEVICE");
    if (env && *env) {
        want = env;
        src = "SINREQ_VK_DEVICE";
    }
    st = pick_device(di, ndev, want, src, &pick);
    if (st != SR_OK) goto out_destroy;

    vk->phys = di[pick].phys;
    vk->props = di[pick].props;
    st = pick_kernels(vk);
    if (st != SR_OK) goto out_destroy;
    vk->queue_family = (uint32_t)di[pick].compute_family;
    char line[512];
    format_device(&di[pick], line, sizeof line);
    if (snprintf(vk->base.device_name, sizeof vk->base.device_name,
                 "Vulkan: %s, %s kernels", line,
                 vk->gpu_kernels ? "gpu" : "lavapipe") >=
        (int)sizeof vk->base.device_name)
        vk->base.device_name[sizeof vk->base.device_name - 1] = '\0';
    if (opts->verbose)
        fprintf(stderr, "sinreq: %s%s\n", vk->base.device_name,
                vk->validation ? " [validation on]" : "");
    free(di);
    di = NULL;

    vkGetPhysicalDeviceMemoryProperties(vk->phys, &vk->memprops);
    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
    };
    VkPhysicalDeviceProperties2 p2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &m3,
    };
    vkGetPhysicalDeviceProperties2(vk->phys, &p2);
    vk->max_alloc = m3.maxMemoryAllocationSize ? m3.maxMemoryAllocationSize
                                               : ((VkDeviceSize)1 << 30);

    st = sr_vk_window_init(vk);
    if (st != SR_OK) goto out_destroy;
    if (opts->verbose && vk->range_lowered)
        fprintf(stderr, "sinreq: SINREQ_VK_MAX_RANGE: storage bindings of at "
                "most %zu bytes (the device allows %u)\n",
                vk->range_words * 4,
                (unsigned)vk->props.limits.maxStorageBufferRange);
    st = create_device(vk);
    if (st != SR_OK) goto out_destroy;
    /* From here on vk_destroy can tear down a partial backend. */
    st = sr_vk_memory_init(vk);
    if (st == SR_OK) st = sr_vk_pipeline_init(vk);
    if (st == SR_OK) st = sr_vk_command_init(vk);
    if (st == SR_OK) st = sr_vk_check_messages(vk);
    if (st != SR_OK) {
        vk_destroy(&vk->base);
        return st;
    }
    *out = &vk->base;
    return SR_OK;

out_destroy:
    free(di);
    if (vk->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
                vk->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy_messenger)
            destroy_messenger(vk->instance, vk->messenger, NULL);
    }
    vkDestroyInstance(vk->instance, NULL);
out_free:
    free(vk);
    return st;
}

/* ------------------------------------------------------------------ */
/* Limits for the op files                                             */

uint32_t sr_vk_max_groups_x(const sr_backend *be)
{
    return ((const sr_vk_backend *)be)->props.limits.maxComputeWorkGroupCount[0];
}

int sr_vk_gpu_kernels(const sr_backend *be)
{
    return ((const sr_vk_backend *)be)->gpu_kernels;
}

uint32_t sr_vk_max_shared_bytes(const sr_backend *be)
{
    return ((const sr_vk_backend *)be)->props.limits.maxComputeSharedMemorySize;
}

uint32_t sr_vk_max_invocations(const sr_backend *be)
{
    const VkPhysicalDeviceLimits *l = &((const sr_vk_backend *)be)->props.limits;
    uint32_t n = l->maxComputeWorkGroupInvocations;
    return n < l->maxComputeWorkGroupSize[0] ? n : l->maxComputeWorkGroupSize[0];
}

int sr_vk_device_is_cpu(const sr_backend *be)
{
    return ((const sr_vk_backend *)be)->props.deviceType ==
           VK_PHYSICAL_DEVICE_TYPE_CPU;
}

size_t sr_vk_max_texel_words(const sr_backend *be, int vec4)
{
    const VkPhysicalDeviceLimits *l = &((const sr_vk_backend *)be)->props.limits;
    size_t words = (size_t)l->maxTexelBufferElements * (vec4 ? 4 : 1);
    /* a texel view is made of one binding's range (a window's, for
     * buffers larger than that) */
    size_t buf = sr_vk_max_buffer_words(be) / 4 * 4;
    return words < buf ? words : buf;
}

void sr_vk_groups_1d(const sr_backend *be, size_t n, uint32_t local,
                     uint32_t groups[3])
{
    size_t maxx = sr_vk_max_groups_x(be);
    size_t g = (n + local - 1) / (local ? local : 1);
    if (g == 0) g = 1;
    /* Fold into y, then shrink x so the last row wastes little. */
    size_t gy = (g + maxx - 1) / maxx;
    size_t gx = (g + gy - 1) / gy;
    groups[0] = (uint32_t)gx;
    groups[1] = (uint32_t)gy;
    groups[2] = 1;
}
