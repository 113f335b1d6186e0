/* HDF5 helpers for the model and histogram files: error stack to message,
 * attributes, atomic commit. HDF5 never prints; errors become sr_status. */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinreq/version.h"

struct walk {
    char inner[256];   /* innermost description */
    int fletcher;      /* a Fletcher32 mismatch was reported */
    int truncated;     /* the file is shorter than its superblock says */
    int err;           /* the errno of a failed system call, or 0 */
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
        /* the sec2 driver's "file write failed: ..., errno = 28, ..." */
        const char *en = strstr(e->desc, "errno = ");
        if (en && !w->err)
            w->err = atoi(en + 8);
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
    if (w.err > 0) {
        /* a full disk, an I/O error, a read-only file system: a runtime
         * failure (exit 2), told by its reason */
        if (w.err == ENOSPC || w.err == EIO || w.err == EROFS ||
            w.err == EDQUOT)
            code = SR_E_WRITE;
        return sr_error_at(code, file, line, "%s: %s", msg, strerror(w.err));
    }
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

/* A close that fails (a full disk while HDF5 flushes a dataset's cache)
 * leaves the object half-closed in HDF5 1.10, and the library's exit-time
 * cleanup closes it again and crashes. Every file sinreq writes is closed
 * and checked explicitly, so that cleanup is not needed: skipped (it must
 * be asked for before the library's first call). */
__attribute__((constructor)) static void sr_h5_no_exit_cleanup(void)
{
    H5dont_atexit();
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
    return sr_h5_probe_strings(path);
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

/* A fixed-length string, stored inside the attribute itself: a variable-
 * length one would add an entry to the file's global heap, which HDF5 1.10
 * reads without bounds checks (a damaged heap crashes it), and would move
 * the other attributes' strings. */
int sr_h5_attr_version(hid_t file)
{
    const char *v = sr_version();
    hid_t t = H5Tcopy(H5T_C_S1);
    int ret = -1;

    if (t >= 0 && H5Tset_size(t, strlen(v) + 1) >= 0 &&
        H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0)
        ret = attr_write(file, SR_H5_VERSION_ATTR, t, t, v, 1, 1);
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

int sr_h5_attr_u32(hid_t loc, const char *name, uint32_t v)
{
    return attr_write(loc, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, &v, 1, 1);
}

int sr_h5_attr_u64(hid_t loc, const char *name, uint64_t v)
{
    return attr_write(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v, 1, 1);
}

int sr_h5_attr_u64s(hid_t loc, const char *name, const uint64_t *v, int n)
{
    return attr_write(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, v,
                      (hsize_t)n, 0);
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

int sr_h5_read_attr_f64s(hid_t loc, const char *name, double *v, int n)
{
    return attr_read_num(loc, name, H5T_NATIVE_DOUBLE, v, n);
}

hid_t sr_h5_mem_create(int v18)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = H5I_INVALID_HID;

    sr_h5_quiet();
    /* grows in 1 MiB steps; no backing store: the image is written by
     * sr_h5_mem_save alone */
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0 &&
        (!v18 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V18,
                                      H5F_LIBVER_LATEST) >= 0))
        f = H5Fcreate("sinreq-memory-image", H5F_ACC_TRUNC, H5P_DEFAULT,
                      fapl);
    sr_h5_close(&fapl);
    return f;
}

/* Bob Jenkins' lookup3 hashlittle, byte by byte: HDF5's metadata
 * checksum. */
#define ROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
static uint32_t lookup3(const uint8_t *k, size_t n)
{
    uint32_t a, b, c;

    a = b = c = 0xdeadbeefu + (uint32_t)n;
    while (n > 12) {
        a += k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 |
             (uint32_t)k[3] << 24;
        b += k[4] | (uint32_t)k[5] << 8 | (uint32_t)k[6] << 16 |
             (uint32_t)k[7] << 24;
        c += k[8] | (uint32_t)k[9] << 8 | (uint32_t)k[10] << 16 |
             (uint32_t)k[11] << 24;
        a -= c; a ^= ROT(c, 4);  c += b;
        b -= a; b ^= ROT(a, 6);  a += c;
        c -= b; c ^= ROT(b, 8);  b += a;
        a -= c; a ^= ROT(c, 16); c += b;
        b -= a; b ^= ROT(a, 19); a += c;
        c -= b; c ^= ROT(b, 4);  b += a;
        n -= 12;
        k += 12;
    }
    switch (n) {
    case 12: c += (uint32_t)k[11] << 24; /* fall through */
    case 11: c += (uint32_t)k[10] << 16; /* fall through */
    case 10: c += (uint32_t)k[9] << 8;   /* fall through */
    case 9:  c += k[8];                  /* fall through */
    case 8:  b += (uint32_t)k[7] << 24;  /* fall through */
    case 7:  b += (uint32_t)k[6] << 16;  /* fall through */
    case 6:  b += (uint32_t)k[5] << 8;   /* fall through */
    case 5:  b += k[4];                  /* fall through */
    case 4:  a += (uint32_t)k[3] << 24;  /* fall through */
    case 3:  a += (uint32_t)k[2] << 16;  /* fall through */
    case 2:  a += (uint32_t)k[1] << 8;   /* fall through */
    case 1:  a += k[0]; break;
    case 0:  return c;
    }
    c ^= b; c -= ROT(b, 14);
    a ^= c; a -= ROT(c, 11);
    b ^= a; b -= ROT(a, 25);
    c ^= b; c -= ROT(b, 16);
    a ^= c; a -= ROT(c, 4);
    b ^= a; b -= ROT(a, 14);
    c ^= b; c -= ROT(b, 24);
    return c;
}
#undef ROT

/* HDF5 1.10's H5Fget_file_image clears a version 2 superblock's status
 * flags in the image without updating its checksum: recompute it
 * (signature 8, version, offset and length sizes, flags, 4 addresses,
 * then the checksum of all that). Versions 0 and 1 have none. */
static void fix_superblock(uint8_t *img, size_t n)
{
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a,
                                   '\n'};
    size_t len;
    uint32_t sum;

    if (n < 12 || memcmp(img, sig, 8) != 0 || img[8] < 2)
        return;
    len = 12 + 4 * (size_t)img[9];
    if (len + 4 > n)
        return;
    sum = lookup3(img, len);
    for (int i = 0; i < 4; i++)
        img[len + (size_t)i] = (uint8_t)(sum >> (8 * i));
}

/* write() all of buf; -1 with errno on failure */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

sr_status sr_h5_mem_save(hid_t *file, const char *tmp)
{
    /* the metadata cache to the image first */
    ssize_t n = H5Fflush(*file, H5F_SCOPE_GLOBAL) < 0 ? -1
              : H5Fget_file_image(*file, NULL, 0);
    char *img = NULL;
    int fd = -1, e = 0;
    const char *what = "write";
    sr_status st = SR_OK;

    if (n < 0 || !(img = malloc(n > 0 ? (size_t)n : 1)) ||
        H5Fget_file_image(*file, img, (size_t)n) != n) {
        st = img ? sr_h5_error(SR_E_INTERNAL, "%s: cannot build the file "
                               "image", tmp)
                 : sr_error(SR_E_NOMEM, "%s: out of memory for the file "
                            "image (%zd bytes)", tmp, n);
        H5Fclose(*file);
        *file = H5I_INVALID_HID;
        free(img);
        return st;
    }
    fix_superblock((uint8_t *)img, (size_t)n);
    /* an in-memory file: closing it writes nothing */
    if (H5Fclose(*file) < 0)
        st = sr_h5_error(SR_E_INTERNAL, "%s: cannot close the file image",
                         tmp);
    *file = H5I_INVALID_HID;
    if (st == SR_OK) {
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) {
            e = errno;
            what = "create";
        } else if (write_all(fd, img, (size_t)n) != 0) {
            e = errno;
        } else if (fsync(fd) != 0) {
            e = errno;
            what = "sync";
        }
        if (fd >= 0 && close(fd) != 0 && !e)
            e = errno;
        if (e) {
            st = sr_error(SR_E_WRITE, "cannot %s %s: %s", what, tmp,
                          strerror(e));
            if (fd >= 0)
                unlink(tmp);
        }
    }
    free(img);
    return st;
}

void sr_h5_mem_abort(hid_t *file)
{
    if (*file >= 0)
        H5Fclose(*file);
    *file = H5I_INVALID_HID;
    H5Eclear2(H5E_DEFAULT);
}
