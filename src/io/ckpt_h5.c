/* Checkpoint files: the container (include/sinreq/ckpt_io.h). What goes in
 * a checkpoint is the trainer's business (src/train/ckpt.c). */
#include "sinreq/ckpt_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5util.h"
#include "sinreq/parse.h"

struct sr_ckpt_writer {
    char path[4096], tmp[4200];
    hid_t file;
};

struct sr_ckpt_file {
    char path[4096];
    hid_t file;
};

static const char *gname(const char *group)
{
    return group && group[0] ? group : "/";
}

/* Open group (creating it and its parents when create). */
static hid_t group_open(hid_t file, const char *group, int create)
{
    hid_t g, lcpl;

    if (strcmp(gname(group), "/") == 0)
        return H5Gopen2(file, "/", H5P_DEFAULT);
    if (H5Lexists(file, group, H5P_DEFAULT) > 0)
        return H5Gopen2(file, group, H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    if (!create)
        return H5I_INVALID_HID;
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0)
        return H5I_INVALID_HID;
    H5Pset_create_intermediate_group(lcpl, 1);
    g = H5Gcreate2(file, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

/* ---- writer ---- */

sr_status sr_ckpt_create(const char *path, sr_ckpt_writer **out)
{
    sr_ckpt_writer *w;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tmv;

    *out = NULL;
    sr_h5_quiet();
    w = calloc(1, sizeof *w);
    SR_CHECK(w, SR_E_NOMEM, "out of memory");
    snprintf(w->path, sizeof w->path, "%s", path);
    if (sr_tmp_path(w->tmp, sizeof w->tmp, path) != SR_OK) {
        free(w);
        return SR_E_ARG;
    }
    /* 1.8+ object headers carry checksums of their own: the attributes
     * (step, epoch, config) are protected as the datasets are. Built in
     * memory, written whole by sr_ckpt_commit. */
    w->file = sr_h5_mem_create(1);
    if (w->file < 0) {
        sr_status st = sr_h5_error(SR_E_INTERNAL, "cannot set up %s",
                                   w->tmp);
        free(w);
        return st;
    }
    gmtime_r(&now, &tmv);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    if (sr_h5_attr_str(w->file, "format", SR_CKPT_FORMAT) ||
        sr_h5_attr_i32(w->file, "format_version", SR_CKPT_FORMAT_VERSION) ||
        sr_h5_attr_version(w->file) ||
        sr_h5_attr_str(w->file, "created_at", stamp)) {
        sr_status st = sr_h5_error(SR_E_WRITE, "%s: cannot write attributes",
                                   w->tmp);
        sr_ckpt_abort(w);
        return st;
    }
    *out = w;
    return SR_OK;
}

sr_status sr_ckpt_put_f32(sr_ckpt_writer *w, const char *group,
                          const char *name, int ndim, const int *dims,
                          const float *data)
{
    hsize_t hd[4];
    hid_t g, space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hid_t d = H5I_INVALID_HID;
    sr_status st = SR_OK;
    size_t n = 1;

    SR_CHECK(ndim >= 1 && ndim <= 4, SR_E_ARG, "%s: %s/%s has rank %d",
             w->tmp, gname(group), name, ndim);
    for (int i = 0; i < ndim; i++) {
        hd[i] = (hsize_t)dims[i];
        n *= (size_t)dims[i];
    }
    g = group_open(w->file, group, 1);
    if (g < 0)
        return sr_h5_error(SR_E_WRITE, "%s: cannot create group %s", w->tmp,
                           gname(group));
    space = H5Screate_simple(ndim, hd, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || dcpl < 0 ||
        (n > 0 && (H5Pset_chunk(dcpl, ndim, hd) < 0 ||
                   H5Pset_fletcher32(dcpl) < 0))) {
        st = sr_h5_error(SR_E_WRITE, "%s: cannot set up %s/%s", w->tmp,
                         gname(group), name);
        goto out;
    }
    d = H5Dcreate2(g, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                   H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                          data) < 0)
        st = sr_h5_error(SR_E_WRITE, "%s: cannot write %s/%s", w->tmp,
                         gname(group), name);
out:
    sr_h5_close(&d);
    sr_h5_close(&dcpl);
    sr_h5_close(&space);
    sr_h5_close(&g);
    return st;
}

enum { A_I64, A_F64, A_STR, A_I32S, A_STRS };

static sr_status put_attr(sr_ckpt_writer *w, const char *group,
                          const char *name, int kind, const void *v, int n)
{
    hid_t g = group_open(w->file, group, 1);
    int bad = -1;

    if (g >= 0) {
        switch (kind) {
        case A_I64: {
            hid_t s = H5Screate(H5S_SCALAR);
            hid_t a = s < 0 ? -1 : H5Acreate2(g, name, H5T_STD_I64LE, s,
                                              H5P_DEFAULT, H5P_DEFAULT);
            bad = a < 0 || H5Awrite(a, H5T_NATIVE_INT64, v) < 0;
            sr_h5_close(&a);
            sr_h5_close(&s);
            break;
        }
        case A_F64: bad = sr_h5_attr_f64(g, name, *(const double *)v); break;
        case A_STR: bad = sr_h5_attr_str(g, name, v); break;
        case A_I32S: bad = sr_h5_attr_i32s(g, name, v, n); break;
        case A_STRS: bad = sr_h5_attr_strs(g, name, v, n); break;
        }
    }
    sr_h5_close(&g);
    if (bad)
        return sr_h5_error(SR_E_WRITE, "%s: cannot write attribute %s@%s",
                           w->tmp, gname(group), name);
    return SR_OK;
}

sr_status sr_ckpt_attr_i64(sr_ckpt_writer *w, const char *group,
                           const char *name, int64_t v)
{
    return put_attr(w, group, name, A_I64, &v, 1);
}

sr_status sr_ckpt_attr_f64(sr_ckpt_writer *w, const char *group,
                           const char *name, double v)
{
    return put_attr(w, group, name, A_F64, &v, 1);
}

sr_status sr_ckpt_attr_str(sr_ckpt_writer *w, const char *group,
                           const char *name, const char *v)
{
    return put_attr(w, group, name, A_STR, v, 1);
}

sr_status sr_ckpt_attr_i32s(sr_ckpt_writer *w, const char *group,
                            const char *name, const int *v, int n)
{
    return put_attr(w, group, name, A_I32S, v, n);
}

sr_status sr_ckpt_attr_strs(sr_ckpt_writer *w, const char *group,
                            const char *name, const char *const *v, int n)
{
    return put_attr(w, group, name, A_STRS, v, n);
}

sr_status sr_ckpt_commit(sr_ckpt_writer *w)
{
    const char *sl = getenv("SINREQ_TEST_CKPT_SLEEP");
    sr_status st = sr_h5_mem_save(&w->file, w->tmp);

    if (st == SR_OK && sl) {
        double secs = 0;
        st = sr_parse_double("SINREQ_TEST_CKPT_SLEEP", sl, 0, 3600, &secs);
        if (secs > 0)
            usleep((useconds_t)(secs * 1e6));
    }
    if (st == SR_OK)
        st = sr_file_commit(w->tmp, w->path, 1);
    free(w);
    return st;
}

void sr_ckpt_abort(sr_ckpt_writer *w)
{
    if (!w)
        return;
    sr_h5_mem_abort(&w->file);
    free(w);
}

/* ---- reader ---- */

sr_status sr_ckpt_open(const char *path, sr_ckpt_file **out)
{
    sr_ckpt_file *f;
    char fmt[64];
    int v = 0;
    sr_status st;

    *out = NULL;
    sr_h5_quiet();
    SR_TRY(sr_h5_check_file(path));
    f = calloc(1, sizeof *f);
    SR_CHECK(f, SR_E_NOMEM, "out of memory");
    snprintf(f->path, sizeof f->path, "%s", path);
    f->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->file < 0) {
        st = sr_h5_error(SR_E_IO, "%s: cannot open as HDF5 (not an HDF5 "
                         "file, truncated or corrupted)", path);
        free(f);
        return st;
    }
    if (sr_h5_read_attr_str(f->file, "format", fmt, sizeof fmt) ||
        strcmp(fmt, SR_CKPT_FORMAT) != 0) {
        st = sr_error(SR_E_FORMAT, "%s: /@format is missing or not \"%s\" "
                      "(not a sinreq checkpoint)", path, SR_CKPT_FORMAT);
        goto fail;
    }
    if (sr_h5_read_attr_i32s(f->file, "format_version", &v, 1) ||
        v != SR_CKPT_FORMAT_VERSION) {
        st = sr_error(SR_E_FORMAT, "%s: checkpoint format_version is %d; this "
                      "program reads version %d", path, v,
                      SR_CKPT_FORMAT_VERSION);
        goto fail;
    }
    *out = f;
    return SR_OK;
fail:
    sr_ckpt_close(f);
    return st;
}

void sr_ckpt_close(sr_ckpt_file *f)
{
    if (!f)
        return;
    if (f->file >= 0)
        H5Fclose(f->file);
    free(f);
}

const char *sr_ckpt_path(const sr_ckpt_file *f)
{
    return f->path;
}

struct verify {
    sr_ckpt_file *f;
    sr_status st;
    void *buf;
    size_t cap;
};

static herr_t verify_cb(hid_t obj, const char *name, const H5O_info_t *info,
                        void *data)
{
    struct verify *v = data;
    hid_t d, t, s;
    size_t bytes;

    if (info->type != H5O_TYPE_DATASET)
        return 0;
    d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0) {
        v->st = sr_h5_error(SR_E_IO, "%s: cannot open /%s", v->f->path, name);
        return -1;
    }
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    bytes = (size_t)H5Sget_simple_extent_npoints(s) * H5Tget_size(t);
    if (bytes > v->cap) {
        void *p = realloc(v->buf, bytes);
        if (!p) {
            H5Sclose(s);
            H5Tclose(t);
            H5Dclose(d);
            v->st = sr_error(SR_E_NOMEM, "out of memory");
            return -1;
        }
        v->buf = p;
        v->cap = bytes;
    }
    if (bytes && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v->buf) < 0) {
        v->st = sr_h5_error(SR_E_IO, "%s: cannot read /%s", v->f->path, name);
        H5Sclose(s);
        H5Tclose(t);
        H5Dclose(d);
        return -1;
    }
    /* variable-length strings (damaged or foreign files) were allocated by
     * the read */
    if (bytes && (H5Tis_variable_str(t) > 0 || H5Tdetect_class(t, H5T_VLEN) > 0))
        H5Dvlen_reclaim(t, s, H5P_DEFAULT, v->buf);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    return 0;
}

sr_status sr_ckpt_verify(sr_ckpt_file *f)
{
    struct verify v = {f, SR_OK, NULL, 0};
    herr_t r = H5Ovisit(f->file, H5_INDEX_NAME, H5_ITER_INC, verify_cb, &v);

    free(v.buf);
    if (v.st != SR_OK)
        return v.st;
    if (r < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot walk the file", f->path);
    return SR_OK;
}

int sr_ckpt_has(sr_ckpt_file *f, const char *group, const char *name)
{
    char p[512];
    int r;

    snprintf(p, sizeof p, "%s/%s", gname(group), name);
    if (strcmp(gname(group), "/") && H5Lexists(f->file, gname(group),
                                               H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    r = H5Lexists(f->file, p, H5P_DEFAULT) > 0;
    H5Eclear2(H5E_DEFAULT);
    return r;
}

static void dims_text(char *buf, size_t n, int ndim, const int *dims)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? "x" : "", dims[i]);
}

sr_status sr_ckpt_get_f32(sr_ckpt_file *f, const char *group,
                          const char *name, int ndim, const int *dims,
                          float *dst)
{
    char p[512], a[64], b[64];
    hid_t d, s = H5I_INVALID_HID, t = H5I_INVALID_HID;
    hsize_t hd[8];
    int fnd, fdims[8], same, is_float;
    size_t n = 1;
    sr_status st = SR_OK;

    /* an absolute name for messages, as h5dump shows it */
    if (strcmp(gname(group), "/") == 0)
        snprintf(p, sizeof p, "/%s", name);
    else
        snprintf(p, sizeof p, "%s%s/%s", gname(group)[0] == '/' ? "" : "/",
                 gname(group), name);
    if (!sr_ckpt_has(f, group, name))
        return sr_error(SR_E_FORMAT, "%s: %s is missing", f->path, p);
    d = H5Dopen2(f->file, p, H5P_DEFAULT);
    if (d < 0)
        return sr_h5_error(SR_E_FORMAT, "%s: %s is not a dataset", f->path, p);
    s = H5Dget_space(d);
    t = H5Dget_type(d);
    is_float = t >= 0 && H5Tget_class(t) == H5T_FLOAT;
    fnd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
    if (fnd < 1 || fnd > 8 || H5Sget_simple_extent_dims(s, hd, NULL) < 0)
        fnd = 0;
    sr_h5_close(&t);
    sr_h5_close(&s);
    /* the full shape: a transposed tensor has the right count */
    for (int i = 0; i < fnd; i++) {
        fdims[i] = hd[i] > 0x7fffffff ? -1 : (int)hd[i];
        n *= (size_t)hd[i];
    }
    same = fnd == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = fdims[i] == dims[i];
    if (!is_float) {
        st = sr_error(SR_E_FORMAT, "%s: %s is not a float dataset", f->path,
                      p);
    } else if (!same) {
        dims_text(a, sizeof a, fnd, fdims);
        dims_text(b, sizeof b, ndim, dims);
        st = sr_error(SR_E_FORMAT, "%s: %s has shape %s but the network "
                      "needs %s", f->path, p, fnd ? a : "(none)", b);
    } else if (n && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                            H5P_DEFAULT, dst) < 0) {
        st = sr_h5_error(SR_E_IO, "%s: cannot read %s", f->path, p);
    }
    H5Dclose(d);
    return st;
}

static sr_status get_attr(sr_ckpt_file *f, const char *group,
                          const char *name, hid_t mtype, void *v, int n)
{
    hid_t g = group_open(f->file, group, 0), a = H5I_INVALID_HID;
    int bad = 1;

    if (g >= 0 && sr_h5_attr_len(g, name) == n) {
        a = H5Aopen(g, name, H5P_DEFAULT);
        bad = a < 0 || H5Aread(a, mtype, v) < 0;
    }
    sr_h5_close(&a);
    sr_h5_close(&g);
    if (bad)
        return sr_error(SR_E_FORMAT, "%s: attribute %s@%s is missing or "
                        "unreadable", f->path, gname(group), name);
    return SR_OK;
}

sr_status sr_ckpt_get_i64(sr_ckpt_file *f, const char *group,
                          const char *name, int64_t *v)
{
    return get_attr(f, group, name, H5T_NATIVE_INT64, v, 1);
}

sr_status sr_ckpt_get_f64(sr_ckpt_file *f, const char *group,
                          const char *name, double *v)
{
    return get_attr(f, group, name, H5T_NATIVE_DOUBLE, v, 1);
}

sr_status sr_ckpt_get_i32s(sr_ckpt_file *f, const char *group,
                           const char *name, int *v, int n)
{
    return get_attr(f, group, name, H5T_NATIVE_INT, v, n);
}

sr_status sr_ckpt_get_str(sr_ckpt_file *f, const char *group,
                          const char *name, char **v)
{
    hid_t g = group_open(f->file, group, 0);
    hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID;
    char *s = NULL;
    int bad = 1;

    *v = NULL;
    if (g >= 0 && sr_h5_attr_len(g, name) == 1) {
        a = H5Aopen(g, name, H5P_DEFAULT);
        t = H5Tcopy(H5T_C_S1);
        if (a >= 0 && t >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 &&
            H5Tset_cset(t, H5T_CSET_UTF8) >= 0 && H5Aread(a, t, &s) >= 0 && s) {
            *v = strdup(s);
            bad = *v == NULL;
            H5free_memory(s);
        }
    }
    sr_h5_close(&t);
    sr_h5_close(&a);
    sr_h5_close(&g);
    if (bad)
        return sr_error(SR_E_FORMAT, "%s: attribute %s@%s is missing or "
                        "unreadable", f->path, gname(group), name);
    return SR_OK;
}

/* ---- the network description (/meta) ---- */

sr_status sr_ckpt_put_meta(sr_ckpt_writer *w, const sr_model_meta *m)
{
    hid_t g = group_open(w->file, "meta", 1);
    hid_t q = g < 0 ? H5I_INVALID_HID : group_open(w->file, "meta/quant", 1);
    sr_status st;

    if (g < 0 || q < 0)
        st = sr_h5_error(SR_E_WRITE, "%s: cannot create group /meta", w->tmp);
    else
        st = sr_model_meta_write(g, q, w->tmp, m);
    sr_h5_close(&q);
    sr_h5_close(&g);
    return st;
}

sr_status sr_ckpt_get_meta(sr_ckpt_file *f, sr_model_meta *m)
{
    char where[4200];
    hid_t g = group_open(f->file, "meta", 0);
    sr_status st;

    memset(m, 0, sizeof *m);
    if (g < 0)
        return sr_error(SR_E_FORMAT, "%s: no group /meta (the network "
                        "description; checkpoints of older sinreq versions "
                        "lack it: evaluate the run's model.h5 instead)",
                        f->path);
    snprintf(where, sizeof where, "%s (group /meta)", f->path);
    st = sr_model_meta_read(g, where, SR_MODEL_FORMAT,
                            SR_MODEL_FORMAT_VERSION, m);
    sr_h5_close(&g);
    return st;
}
