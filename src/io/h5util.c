/* HDF5 helpers for the model and histogram files: error stack to message,
 * attributes, atomic commit. HDF5 never prints; errors become sr_status. */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct walk {
    char inner[256];   /* innermost description */
    int fletcher;      /* a Fletcher32 mismatch was reported */
    int truncated;     /* the file is shorter than its superblock says */
};

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    struct walk *w = data;
    char minor[128] = "";

    (void)n;
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0)
        minor[0] = '\0';
    if (e->desc && e->desc[0]) {
        if (minor[0])
            snprintf(w->inner, sizeof w->inner, "%s (%s)", e->desc, minor);
        else
            snprintf(w->inner, sizeof w->inner, "%s", e->desc);
        if (strstr(e->desc, "Fletcher32") || strstr(e->desc, "fletcher32"))
            w->fletcher = 1;
        if (strstr(e->desc, "truncated"))
            w->truncated = 1;
    }
    return 0;
}

/* Records `fmt...` followed by the HDF5 error stack's innermost message and
 * a hint for the common corruptions, then clears the stack. */
sr_status sr_h5_error_at(sr_status code, const char *file, int line,
                         const char *fmt, ...)
{
    struct walk w = { .inner = "" };
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &w);
    H5Eclear2(H5E_DEFAULT);
    if (w.fletcher)
        return sr_error_at(code, file, line,
                           "%s: data corrupted (Fletcher32 checksum mismatch; "
                           "re-create the file)", msg);
    if (w.truncated)
        return sr_error_at(code, file, line, "%s: file is truncated (%s)",
                           msg, w.inner);
    if (w.inner[0])
        return sr_error_at(code, file, line, "%s: %s", msg, w.inner);
    return sr_error_at(code, file, line, "%s", msg);
}

void sr_h5_quiet(void)
{
    /* Errors are reported through sr_status, never printed by HDF5. Per
     * thread in a thread-safe HDF5 build. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

sr_status sr_h5_check_file(const char *path)
{
    struct stat sb;
    htri_t is_h5;

    if (stat(path, &sb) != 0)
        return sr_error(SR_E_IO, "%s: no such file or not readable (%s)",
                        path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return sr_error(SR_E_IO, "%s: is a directory, not a file", path);
    if (!S_ISREG(sb.st_mode))
        return sr_error(SR_E_IO, "%s: not a regular file", path);
    if (access(path, R_OK) != 0)
        return sr_error(SR_E_IO, "%s: no such file or not readable (%s)",
                        path, strerror(errno));
    is_h5 = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is_h5 <= 0)
        return sr_error(SR_E_IO, "%s: not an HDF5 file (%lld bytes; "
                        "truncated, damaged or not written by sinreq)", path,
                        (long long)sb.st_size);
    return SR_OK;
}

void sr_h5_close(hid_t *id)
{
    if (*id >= 0)
        H5Idec_ref(*id);
    *id = H5I_INVALID_HID;
}

static int attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                      const void *v, hsize_t n, int scalar)
{
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    hid_t attr = H5I_INVALID_HID;
    int ret = -1;

    if (space < 0)
        goto out;
    if (H5Aexists(loc, name) > 0)
        H5Adelete(loc, name);
    attr = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, mtype, v) < 0)
        goto out;
    ret = 0;
out:
    sr_h5_close(&attr);
    sr_h5_close(&space);
    return ret;
}

static hid_t str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);

    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 ||
                   H5Tset_cset(t, H5T_CSET_UTF8) < 0))
        sr_h5_close(&t);
    return t;
}

int sr_h5_attr_str(hid_t loc, const char *name, const char *value)
{
    hid_t t = str_type();
    int ret = t < 0 ? -1 : attr_write(loc, name, t, t, &value, 1, 1);

    sr_h5_close(&t);
    return ret;
}

int sr_h5_attr_strs(hid_t loc, const char *name, const char *const *v, int n)
{
    hid_t t = str_type();
    int ret = t < 0 ? -1 : attr_write(loc, name, t, t, v, (hsize_t)n, 0);

    sr_h5_close(&t);
    return ret;
}

int sr_h5_attr_i32s(hid_t loc, const char *name, const int *v, int n)
{
    return attr_write(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT, v,
                      (hsize_t)n, 0);
}

int sr_h5_attr_f32s(hid_t loc, const char *name, const float *v, int n)
{
    return attr_write(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v,
                      (hsize_t)n, 0);
}

int sr_h5_attr_f64(hid_t loc, const char *name, double v)
{
    return attr_write(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v, 1, 1);
}

int sr_h5_attr_i32(hid_t loc, const char *name, int v)
{
    return attr_write(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT, &v, 1, 1);
}

int sr_h5_attr_len(hid_t loc, const char *name)
{
    hid_t a = H5I_INVALID_HID, s = H5I_INVALID_HID;
    hssize_t n = -1;

    if (H5Aexists(loc, name) <= 0)
        return -1;
    a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a >= 0)
        s = H5Aget_space(a);
    if (s >= 0)
        n = H5Sget_simple_extent_npoints(s);
    sr_h5_close(&s);
    sr_h5_close(&a);
    return (int)n;
}

int sr_h5_read_attr_str(hid_t loc, const char *name, char *buf, size_t size)
{
    return sr_h5_read_attr_strs(loc, name, buf, size, 1);
}

int sr_h5_read_attr_strs(hid_t loc, const char *name, char *buf, size_t size,
                         int n)
{
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    hid_t sp = H5I_INVALID_HID;
    char **v = NULL;
    int ret = -1;

    if (sr_h5_attr_len(loc, name) != n)
        return -1;
    a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        goto out;
    ft = H5Aget_type(a);
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING || !H5Tis_variable_str(ft))
        goto out;
    mt = str_type();
    v = calloc((size_t)n, sizeof *v);
    if (mt < 0 || !v || H5Aread(a, mt, v) < 0)
        goto out;
    for (int i = 0; i < n; i++)
        snprintf(buf + (size_t)i * size, size, "%s", v[i] ? v[i] : "");
    sp = H5Aget_space(a);
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
    ret = 0;
out:
    free(v);
    sr_h5_close(&sp);
    sr_h5_close(&mt);
    sr_h5_close(&ft);
    sr_h5_close(&a);
    return ret;
}

static int attr_read_num(hid_t loc, const char *name, hid_t mtype, void *v,
                         int n)
{
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID;
    int ret = -1;

    if (sr_h5_attr_len(loc, name) != n)
        return -1;
    a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        goto out;
    ft = H5Aget_type(a);
    if (ft < 0 || (H5Tget_class(ft) != H5T_INTEGER &&
                   H5Tget_class(ft) != H5T_FLOAT))
        goto out;
    if (H5Aread(a, mtype, v) < 0)
        goto out;
    ret = 0;
out:
    sr_h5_close(&ft);
    sr_h5_close(&a);
    return ret;
}

int sr_h5_read_attr_i32s(hid_t loc, const char *name, int *v, int n)
{
    return attr_read_num(loc, name, H5T_NATIVE_INT, v, n);
}

int sr_h5_read_attr_f32s(hid_t loc, const char *name, float *v, int n)
{
    return attr_read_num(loc, name, H5T_NATIVE_FLOAT, v, n);
}

sr_status sr_h5_fsync_path(const char *path, int dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);

    if (fd < 0)
        return sr_error(SR_E_IO, "%s: cannot open to fsync: %s", path,
                        strerror(errno));
    if (fsync(fd) != 0 && !(dir && (errno == EINVAL || errno == EBADF))) {
        int e = errno;
        close(fd);
        return sr_error(SR_E_IO, "%s: fsync failed: %s", path, strerror(e));
    }
    close(fd);
    return SR_OK;
}

sr_status sr_h5_commit_tmp(const char *tmp, const char *path)
{
    char dir[4096];

    SR_TRY(sr_h5_fsync_path(tmp, 0));
    if (rename(tmp, path) != 0) {
        sr_status st = sr_error(SR_E_IO, "cannot rename %s to %s: %s", tmp,
                                path, strerror(errno));
        unlink(tmp);
        return st;
    }
    snprintf(dir, sizeof dir, "%s", path);
    return sr_h5_fsync_path(dirname(dir), 1);
}
