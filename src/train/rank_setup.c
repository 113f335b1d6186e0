/* Per-rank execution settings of a data-parallel run (train_run.c): which
 * Vulkan device a rank takes and how many CPU threads it uses. Nothing here
 * runs for a single process. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinreq/backend.h"
#include "sinreq/dist.h"
#include "train_internal.h"

int sr_train_rank_threads(const sr_dist *d, int threads)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int n, local = sr_dist_local_size(d);

    if (threads > 0 || local <= 1)
        return threads;
    CPU_ZERO(&set);
    n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                    : (int)online;
    if (n < 1)
        n = 1;
    /* bound to a subset by the launcher (mpirun --bind-to, srun
     * --cpu-bind): that subset is this rank's; otherwise share the node */
    if (online > 0 && n >= online)
        n /= local;
    return n < 1 ? 1 : n;
}

void sr_train_rank_lp_threads(int threads)
{
    char v[16];

    if (threads < 1 || getenv("LP_NUM_THREADS"))
        return;
    snprintf(v, sizeof v, "%d", threads);
    setenv("LP_NUM_THREADS", v, 0);
}

/* "vulkan I: NAME (TYPE, driver ...)" lines of sr_backend_list_devices. */
static int type_rank(const char *line)
{
    static const char *t[] = {"(discrete GPU,", "(integrated GPU,",
                              "(virtual GPU,", "(CPU,"};
    for (int i = 0; i < 4; i++)
        if (strstr(line, t[i]))
            return 4 - i;
    return 0;
}

/* The device for local rank `local_rank` among the usable devices of the
 * best type in `list` (sr_backend_list_devices' lines): a node's GPUs, not
 * lavapipe next to them (lavapipe alone: every rank on it). More local
 * ranks than devices share them round-robin. */
int sr_train_pick_device(const char *list, int local_rank)
{
    char *copy, *save = NULL;
    int idx[64], nd = 0, best = 0;

    for (int pass = 0; pass < 2; pass++) {
        copy = strdup(list ? list : "");
        if (!copy)
            return -1;
        for (char *l = strtok_r(copy, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            unsigned i;
            int r = type_rank(l);
            if (sscanf(l, "vulkan %u:", &i) != 1 || strstr(l, "[unusable"))
                continue;
            if (pass == 0 && r > best)
                best = r;
            else if (pass == 1 && r == best && nd < 64)
                idx[nd++] = (int)i;
        }
        free(copy);
    }
    if (nd == 0 || local_rank < 0)
        return -1;
    return idx[local_rank % nd];
}

sr_status sr_train_rank_device(const sr_dist *d, char *out, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    int dev;
    FILE *f;
    sr_status st;

    out[0] = '\0';
    f = open_memstream(&text, &len);
    SR_CHECK(f, SR_E_NOMEM, "out of memory");
    st = sr_backend_list_devices("vulkan", f);
    fclose(f);
    if (st != SR_OK) {
        free(text);
        return st;
    }
    dev = sr_train_pick_device(text, sr_dist_local_rank(d));
    free(text);
    if (dev >= 0)   /* none: let the backend report it */
        snprintf(out, n, "%d", dev);
    return SR_OK;
}
