/* A child process reads every variable-length string of an HDF5 file before
 * sinreq opens it for real.
 *
 * Why: HDF5 1.10 reads variable-length strings from the file's global heap
 * without bounds checks (object index, object size and sequence length are
 * trusted), so a damaged byte there can crash the library with SIGSEGV
 * instead of returning an error; no checksum covers the global heap. A
 * crash in a child is contained: the file is refused with a message. Files
 * written before string attributes were probed, or by other tools, are
 * covered alike.
 *
 * What the child's fate means: killed by a signal -> the file is damaged.
 * Exit 0 or an HDF5 error -> nothing to say here (the real open reports
 * errors). Still running after PROBE_SECONDS (another thread held HDF5's
 * global lock at the fork, so the child waits forever) -> inconclusive,
 * killed, and the real open goes ahead. */
#include "h5util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_SECONDS 30
#define PROBE_MAX_STRINGS (1 << 20)

static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && H5Tset_size(t, H5T_VARIABLE) < 0) sr_h5_close(&t);
    return t;
}

/* Reads a string-typed attribute or dataset (opened as `obj`) whole. */
static void read_strings(hid_t obj, int is_attr)
{
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hid_t mt = H5I_INVALID_HID;
    if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_STRING ||
        H5Tis_variable_str(ft) <= 0)
        goto out;
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (n <= 0 || n > PROBE_MAX_STRINGS) goto out;
    char **v = calloc((size_t)n, sizeof *v);
    mt = vlen_str_type();
    if (v && mt >= 0) {
        herr_t r = is_attr ? H5Aread(obj, mt, v)
                           : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        if (r >= 0) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
    }
    free(v);
out:
    sr_h5_close(&mt);
    sr_h5_close(&sp);
    sr_h5_close(&ft);
}

static herr_t probe_attr(hid_t loc, const char *name, const H5A_info_t *info,
                         void *data)
{
    (void)info;
    (void)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a >= 0) read_strings(a, 1);
    sr_h5_close(&a);
    return 0;
}

static herr_t probe_object(hid_t root, const char *name,
                           const H5O_info_t *info, void *data)
{
    (void)data;
    hid_t o = H5Oopen(root, name, H5P_DEFAULT);
    if (o < 0) return 0;
    H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, probe_attr, NULL);
    if (info->type == H5O_TYPE_DATASET) read_strings(o, 0);
    H5Oclose(o);
    return 0;
}

static void probe_child(const char *path)
{
    /* the crash must end the child as a signal: no core file, and no
     * sanitizer handler turning it into an exit code */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    signal(SIGABRT, SIG_DFL);
    signal(SIGFPE, SIG_DFL);
    signal(SIGILL, SIG_DFL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) _exit(1);
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, probe_object, NULL,
              H5O_INFO_BASIC);
    _exit(0);
}

sr_status sr_h5_probe_strings(const char *path)
{
    fflush(NULL); /* nothing buffered is written twice by the child */
    pid_t pid = fork();
    if (pid < 0) return SR_OK; /* cannot probe: the real open goes ahead */
    if (pid == 0) probe_child(path);

    /* wait with a timeout: one poll on a pidfd (a fixed, short sequence
     * of system calls, which tests that count them rely on) */
    int ws = 0;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int r;
        while ((r = poll(&p, 1, PROBE_SECONDS * 1000)) < 0 && errno == EINTR) {}
        close(pfd);
        if (r == 0) kill(pid, SIGKILL); /* hung: inconclusive */
        while (waitpid(pid, &ws, 0) < 0)
            if (errno != EINTR) return SR_OK;
        if (r == 0) return SR_OK;
    } else {
        /* no pidfd (kernel before 5.3): poll the child every 2 ms */
        struct timespec tick = {0, 2 * 1000 * 1000};
        for (long waited_ms = 0;; waited_ms += 2) {
            pid_t r = waitpid(pid, &ws, WNOHANG);
            if (r == pid) break;
            if (r < 0 && errno != EINTR) return SR_OK;
            if (waited_ms >= PROBE_SECONDS * 1000L) {
                kill(pid, SIGKILL);
                while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
                return SR_OK;
            }
            nanosleep(&tick, NULL);
        }
    }
    if (WIFSIGNALED(ws))
        return sr_error(SR_E_IO, "%s: damaged: reading its strings crashed "
                        "the HDF5 library (%s); the file cannot be used",
                        path, strsignal(WTERMSIG(ws)));
    return SR_OK;
}
