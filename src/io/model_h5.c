/* Model files: the layout is in include/sinreq/model_io.h. */
#include "sinreq/model_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5util.h"

struct sr_model_file {
    char path[4096];
    hid_t file, model;
    sr_model_meta meta;
    int n_tensors;
    char (*names)[SR_MODEL_NAME_MAX];
};

/* ---- writer ---- */

static sr_status write_tensor(hid_t model, const char *path,
                              const sr_model_tensor *t)
{
    hsize_t dims[4];
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hid_t d = H5I_INVALID_HID;
    sr_status st = SR_OK;

    if (t->ndim < 1 || t->ndim > 4)
        return sr_error(SR_E_ARG, "%s: tensor %s has rank %d", path, t->name,
                        t->ndim);
    for (int i = 0; i < t->ndim; i++)
        dims[i] = (hsize_t)t->dims[i];
    space = H5Screate_simple(t->ndim, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    /* Fletcher32 needs a chunked layout: one chunk per tensor. */
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, t->ndim, dims) < 0 ||
        H5Pset_fletcher32(dcpl) < 0) {
        st = sr_h5_error(SR_E_WRITE, "%s: cannot set up /model/%s", path,
                         t->name);
        goto out;
    }
    d = H5Dcreate2(model, t->name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                   H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                          t->data) < 0)
        st = sr_h5_error(SR_E_WRITE, "%s: cannot write /model/%s", path,
                         t->name);
out:
    sr_h5_close(&d);
    sr_h5_close(&dcpl);
    sr_h5_close(&space);
    return st;
}

/* /network_file: the network file's bytes; 0 on success. */
static int write_net_text(hid_t file, const char *text)
{
    hsize_t n = strlen(text);
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), d = H5I_INVALID_HID;
    int bad = space < 0 || dcpl < 0 || n == 0 ||
              H5Pset_chunk(dcpl, 1, &n) < 0 || H5Pset_fletcher32(dcpl) < 0;
    if (!bad) {
        d = H5Dcreate2(file, "network_file", H5T_STD_U8LE, space,
                       H5P_DEFAULT, dcpl, H5P_DEFAULT);
        bad = d < 0 || H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL,
                                H5P_DEFAULT, text) < 0;
    }
    sr_h5_close(&d);
    sr_h5_close(&dcpl);
    sr_h5_close(&space);
    return bad;
}

/* /network_file when the file has it (older files and built-in networks do
 * not): a text of at most 1 MiB without NUL bytes. */
static sr_status read_net_text(hid_t file, const char *path, char **out)
{
    *out = NULL;
    if (H5Lexists(file, "network_file", H5P_DEFAULT) <= 0)
        return SR_OK;
    hid_t d = H5Dopen2(file, "network_file", H5P_DEFAULT);
    hid_t space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    hsize_t n = 0;
    sr_status st = SR_OK;
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, &n, NULL) != 1 || n == 0 ||
        n > ((hsize_t)1 << 20)) {
        st = sr_h5_error(SR_E_FORMAT, "%s: /network_file is not a 1-D byte "
                         "array of 1 B to 1 MiB", path);
        goto out;
    }
    *out = malloc((size_t)n + 1);
    if (!*out) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out;
    }
    if (H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
        st = sr_h5_error(SR_E_FORMAT, "%s: /network_file is unreadable "
                         "(truncated or corrupted)", path);
        goto out;
    }
    (*out)[n] = '\0';
    if (strlen(*out) != (size_t)n)
        st = sr_error(SR_E_FORMAT, "%s: /network_file has a NUL byte at "
                      "offset %zu", path, strlen(*out));
out:
    if (st != SR_OK) {
        free(*out);
        *out = NULL;
    }
    sr_h5_close(&space);
    sr_h5_close(&d);
    return st;
}

void sr_model_meta_free(sr_model_meta *m)
{
    free(m->layers);
    free(m->net_text);
    m->layers = NULL;
    m->net_text = NULL;
    m->n_layers = 0;
}

/* The network description both model and export files carry as root
 * attributes (and /network_file); 0 on success. */
int sr_model_meta_attrs(hid_t file, const sr_model_meta *m)
{
    int in[3] = {m->in_c, m->in_h, m->in_w}, bad = 0;

    if (m->net_text) bad |= write_net_text(file, m->net_text);

    bad |= sr_h5_attr_str(file, "net", m->net);
    bad |= sr_h5_attr_i32(file, "width", m->width);
    bad |= sr_h5_attr_i32(file, "classes", m->classes);
    bad |= sr_h5_attr_i32s(file, "input", in, 3);
    bad |= sr_h5_attr_str(file, "quantizer", m->quantizer);
    bad |= sr_h5_attr_i32(file, "act_bits", m->act_bits);
    bad |= sr_h5_attr_str(file, "regularizer", m->regularizer);
    bad |= sr_h5_attr_f32s(file, "norm_mean", m->norm_mean, 3);
    bad |= sr_h5_attr_f32s(file, "norm_std", m->norm_std, 3);
    bad |= sr_h5_attr_str(file, "program_version", m->program_version);
    return bad;
}

sr_status sr_model_meta_write(hid_t file, hid_t q, const char *path,
                              const sr_model_meta *m)
{
    int L = m->n_layers, bad = 0;
    const char **names = calloc((size_t)(L ? L : 1), sizeof *names);
    int *quant = calloc((size_t)(L ? L : 1), sizeof *quant);
    int *bits = calloc((size_t)(L ? L : 1), sizeof *bits);
    int *abits = calloc((size_t)(L ? L : 1), sizeof *abits);
    float *beta = calloc((size_t)(L ? L : 1), sizeof *beta);
    char stamp[32];
    time_t now = time(NULL);
    struct tm tmv;
    sr_status st = SR_OK;

    if (!names || !quant || !bits || !abits || !beta) {
        st = sr_error(SR_E_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (int i = 0; i < L; i++) {
        names[i] = m->layers[i].name;
        quant[i] = m->layers[i].quantized;
        bits[i] = m->layers[i].bits;
        abits[i] = m->layers[i].act_bits;
        beta[i] = m->layers[i].beta;
    }
    gmtime_r(&now, &tmv);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    bad |= sr_h5_attr_str(file, "format", SR_MODEL_FORMAT);
    bad |= sr_h5_attr_i32(file, "format_version", SR_MODEL_FORMAT_VERSION);
    bad |= sr_h5_attr_version(file);
    bad |= sr_model_meta_attrs(file, m);
    bad |= sr_h5_attr_str(file, "created_at", stamp);
    if (L > 0) {
        bad |= sr_h5_attr_strs(q, "layers", names, L);
        bad |= sr_h5_attr_i32s(q, "quantized", quant, L);
        bad |= sr_h5_attr_i32s(q, "bits", bits, L);
        bad |= sr_h5_attr_i32s(q, "act_bits", abits, L);
        bad |= sr_h5_attr_f32s(q, "beta", beta, L);
    }
    if (bad)
        st = sr_h5_error(SR_E_WRITE, "%s: cannot write the attributes",
                         path);
out:
    free(names);
    free(quant);
    free(bits);
    free(abits);
    free(beta);
    return st;
}

sr_status sr_model_save(const char *path, const sr_model_meta *m,
                        const sr_model_tensor *t, int n)
{
    char tmp[4200];
    hid_t file = H5I_INVALID_HID, model = H5I_INVALID_HID;
    hid_t q = H5I_INVALID_HID;
    sr_status st = SR_OK;

    SR_TRY(sr_tmp_path(tmp, sizeof tmp, path));
    /* built in memory, written whole (sr_h5_mem_save) */
    file = sr_h5_mem_create(0);
    if (file < 0)
        return sr_h5_error(SR_E_INTERNAL, "cannot set up %s", tmp);
    model = H5Gcreate2(file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    q = H5Gcreate2(file, "quant", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (model < 0 || q < 0) {
        st = sr_h5_error(SR_E_WRITE, "%s: cannot create groups", tmp);
        goto out_close;
    }
    st = sr_model_meta_write(file, q, tmp, m);
    for (int i = 0; st == SR_OK && i < n; i++)
        st = write_tensor(model, tmp, &t[i]);
out_close:
    sr_h5_close(&q);
    sr_h5_close(&model);
    if (st != SR_OK) {
        sr_h5_mem_abort(&file);
        return st;
    }
    SR_TRY(sr_h5_mem_save(&file, tmp));
    return sr_file_commit(tmp, path, 1);
}

/* ---- reader ---- */

static sr_status fmt_err(const char *path, const char *format,
                         const char *what)
{
    return sr_error(SR_E_FORMAT, "%s: %s (not a valid %s file)", path, what,
                    format);
}

static herr_t list_cb(hid_t loc, const char *name, const H5L_info_t *info,
                      void *data)
{
    sr_model_file *f = data;
    void *p = realloc(f->names, (size_t)(f->n_tensors + 1) * sizeof *f->names);

    (void)loc;
    (void)info;
    if (!p)
        return -1;
    f->names = p;
    snprintf(f->names[f->n_tensors++], SR_MODEL_NAME_MAX, "%s", name);
    return 0;
}

/* Every value a reader takes from the description is in range: what a
 * network can be built from and evaluated with, nothing silently ignored. */
static sr_status check_meta(const char *path, const char *format,
                            const sr_model_meta *m)
{
    if (m->width < 1 || m->classes < 1 || m->in_c < 1 || m->in_h < 1 ||
        m->in_w < 1)
        return fmt_err(path, format, "width, classes or input out of range");
    if (m->act_bits < 0 || m->act_bits > SR_MODEL_MAX_BITS)
        return sr_error(SR_E_FORMAT, "%s: /@act_bits is %d (0..%d expected)",
                        path, m->act_bits, SR_MODEL_MAX_BITS);
    for (int c = 0; c < 3; c++)
        if (!isfinite(m->norm_mean[c]) || !isfinite(m->norm_std[c]) ||
            !(m->norm_std[c] > 0.0f))
            return sr_error(SR_E_FORMAT, "%s: /@norm_mean[%d] = %g, "
                            "/@norm_std[%d] = %g (finite values and a "
                            "positive std expected)", path, c,
                            (double)m->norm_mean[c], c,
                            (double)m->norm_std[c]);
    for (int i = 0; i < m->n_layers; i++) {
        const sr_model_layer_meta *l = &m->layers[i];
        if (l->quantized != 0 && l->quantized != 1)
            return sr_error(SR_E_FORMAT, "%s: /quant@quantized[%d] (layer "
                            "%s) is %d (0 or 1 expected)", path, i, l->name,
                            l->quantized);
        if (l->quantized ? l->bits < 1 || l->bits > SR_MODEL_MAX_BITS
                         : l->bits != 0)
            return sr_error(SR_E_FORMAT, "%s: /quant@bits[%d] (layer %s) is "
                            "%d (%s expected)", path, i, l->name, l->bits,
                            l->quantized ? "1..16 for a quantized layer"
                                         : "0 for a float layer");
        if (l->act_bits < 0 || l->act_bits > SR_MODEL_MAX_BITS)
            return sr_error(SR_E_FORMAT, "%s: /quant@act_bits[%d] (layer %s) "
                            "is %d (0..%d expected)", path, i, l->name,
                            l->act_bits, SR_MODEL_MAX_BITS);
        if (!isfinite(l->beta))
            return sr_error(SR_E_FORMAT, "%s: /quant@beta[%d] (layer %s) is "
                            "%g (finite expected)", path, i, l->name,
                            (double)l->beta);
    }
    return SR_OK;
}

sr_status sr_model_meta_read(hid_t file, const char *path, const char *format,
                             int version, sr_model_meta *m)
{
    hid_t q = H5I_INVALID_HID;
    char fmt[64];
    int v = 0, in[3];
    char *names = NULL;
    int *tmp = NULL;
    float *beta = NULL;
    sr_status st = SR_OK;

    memset(m, 0, sizeof *m);
    if (sr_h5_read_attr_str(file, "format", fmt, sizeof fmt) ||
        strcmp(fmt, format) != 0) {
        char what[128];
        snprintf(what, sizeof what, "attribute /@format is missing or not "
                 "\"%s\"", format);
        return fmt_err(path, format, what);
    }
    if (sr_h5_read_attr_i32s(file, "format_version", &v, 1))
        return fmt_err(path, format, "attribute /@format_version is missing");
    if (v != version)
        return sr_error(SR_E_FORMAT, "%s: format_version is %d; this program "
                        "reads version %d", path, v, version);
#define NEED(expr, attr)                                                  \
    do {                                                                  \
        if (expr)                                                         \
            return fmt_err(path, format, "attribute /@" attr              \
                           " is missing or has the wrong type");          \
    } while (0)
    NEED(sr_h5_read_attr_str(file, "net", m->net, sizeof m->net), "net");
    NEED(sr_h5_read_attr_i32s(file, "width", &m->width, 1), "width");
    NEED(sr_h5_read_attr_i32s(file, "classes", &m->classes, 1), "classes");
    NEED(sr_h5_read_attr_i32s(file, "input", in, 3), "input");
    NEED(sr_h5_read_attr_str(file, "quantizer", m->quantizer,
                             sizeof m->quantizer), "quantizer");
    NEED(sr_h5_read_attr_i32s(file, "act_bits", &m->act_bits, 1), "act_bits");
    NEED(sr_h5_read_attr_str(file, "regularizer", m->regularizer,
                             sizeof m->regularizer), "regularizer");
    NEED(sr_h5_read_attr_f32s(file, "norm_mean", m->norm_mean, 3), "norm_mean");
    NEED(sr_h5_read_attr_f32s(file, "norm_std", m->norm_std, 3), "norm_std");
    NEED(sr_h5_read_attr_str(file, "program_version", m->program_version,
                             sizeof m->program_version), "program_version");
#undef NEED
    m->in_c = in[0];
    m->in_h = in[1];
    m->in_w = in[2];

    q = H5Gopen2(file, "quant", H5P_DEFAULT);
    if (q < 0)
        return sr_h5_error(SR_E_FORMAT, "%s: group /quant is missing", path);
    int L = sr_h5_attr_len(q, "layers");
    if (L < 1) {
        st = fmt_err(path, format, "/quant@layers is missing or empty");
        goto out;
    }
    m->n_layers = L;
    m->layers = calloc((size_t)L, sizeof *m->layers);
    names = calloc((size_t)L, SR_MODEL_NAME_MAX);
    tmp = calloc((size_t)L, sizeof *tmp);
    beta = calloc((size_t)L, sizeof *beta);
    if (!m->layers || !names || !tmp || !beta) {
        st = sr_error(SR_E_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (sr_h5_read_attr_strs(q, "layers", names, SR_MODEL_NAME_MAX, L) ||
        sr_h5_read_attr_f32s(q, "beta", beta, L)) {
        st = fmt_err(path, format, "/quant@layers or /quant@beta is unreadable");
        goto out;
    }
    for (int i = 0; i < L; i++) {
        snprintf(m->layers[i].name, SR_MODEL_NAME_MAX, "%s",
                 names + (size_t)i * SR_MODEL_NAME_MAX);
        m->layers[i].beta = beta[i];
    }
    static const char *keys[3] = {"quantized", "bits", "act_bits"};
    for (int k = 0; k < 3; k++) {
        if (sr_h5_read_attr_i32s(q, keys[k], tmp, L)) {
            st = sr_error(SR_E_FORMAT, "%s: /quant@%s is missing or does "
                          "not have %d entries", path, keys[k], L);
            goto out;
        }
        for (int i = 0; i < L; i++) {
            int *dst = k == 0 ? &m->layers[i].quantized
                     : k == 1 ? &m->layers[i].bits
                              : &m->layers[i].act_bits;
            *dst = tmp[i];
        }
    }
    st = check_meta(path, format, m);
    if (st == SR_OK) st = read_net_text(file, path, &m->net_text);
out:
    free(names);
    free(tmp);
    free(beta);
    sr_h5_close(&q);
    if (st != SR_OK) sr_model_meta_free(m);
    return st;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

sr_status sr_model_open(const char *path, sr_model_file **out)
{
    sr_model_file *f;
    sr_status st;

    *out = NULL;
    sr_h5_quiet();
    SR_TRY(sr_h5_check_file(path));
    f = calloc(1, sizeof *f);
    if (!f)
        return sr_error(SR_E_NOMEM, "out of memory");
    snprintf(f->path, sizeof f->path, "%s", path);
    f->model = H5I_INVALID_HID;
    f->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->file < 0) {
        st = sr_h5_error(SR_E_IO, "%s: cannot open as HDF5 (not an HDF5 "
                         "file, truncated or corrupted)", path);
        goto fail;
    }
    st = sr_model_meta_read(f->file, path, SR_MODEL_FORMAT,
                            SR_MODEL_FORMAT_VERSION, &f->meta);
    if (st != SR_OK)
        goto fail;
    f->model = H5Gopen2(f->file, "model", H5P_DEFAULT);
    if (f->model < 0) {
        st = sr_h5_error(SR_E_FORMAT, "%s: group /model is missing", path);
        goto fail;
    }
    if (H5Literate(f->model, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, f) < 0) {
        st = sr_h5_error(SR_E_IO, "%s: cannot list /model", path);
        goto fail;
    }
    if (f->n_tensors > 1)
        qsort(f->names, (size_t)f->n_tensors, sizeof *f->names, name_cmp);
    *out = f;
    return SR_OK;
fail:
    sr_model_close(f);
    return st;
}

void sr_model_close(sr_model_file *f)
{
    if (!f)
        return;
    sr_h5_close(&f->model);
    if (f->file >= 0)
        H5Fclose(f->file);
    sr_model_meta_free(&f->meta);
    free(f->names);
    free(f);
}

const sr_model_meta *sr_model_file_meta(const sr_model_file *f)
{
    return &f->meta;
}

const char *sr_model_file_path(const sr_model_file *f)
{
    return f->path;
}

int sr_model_file_tensor_count(const sr_model_file *f)
{
    return f->n_tensors;
}

static sr_status tensor_shape(const sr_model_file *f, const char *name,
                              int *ndim, int *dims, hid_t *dset)
{
    hid_t d, s, t;
    hsize_t hd[8];
    int r;

    if (H5Lexists(f->model, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return sr_error(SR_E_FORMAT, "%s: /model/%s is missing", f->path, name);
    }
    d = H5Dopen2(f->model, name, H5P_DEFAULT);
    if (d < 0)
        return sr_h5_error(SR_E_FORMAT, "%s: /model/%s is not a dataset",
                           f->path, name);
    t = H5Dget_type(d);
    if (t < 0 || H5Tget_class(t) != H5T_FLOAT) {
        if (t >= 0)
            H5Tclose(t);
        H5Dclose(d);
        return sr_error(SR_E_FORMAT, "%s: /model/%s is not a float dataset",
                        f->path, name);
    }
    H5Tclose(t);
    s = H5Dget_space(d);
    r = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
    if (r < 1 || r > 4 || H5Sget_simple_extent_dims(s, hd, NULL) < 0) {
        if (s >= 0)
            H5Sclose(s);
        H5Dclose(d);
        return sr_error(SR_E_FORMAT, "%s: /model/%s has rank %d (1..4 expected)",
                        f->path, name, r);
    }
    H5Sclose(s);
    *ndim = r;
    for (int i = 0; i < r; i++)
        dims[i] = (int)hd[i];
    if (dset)
        *dset = d;
    else
        H5Dclose(d);
    return SR_OK;
}

sr_status sr_model_file_tensor(const sr_model_file *f, int i,
                               const char **name, int *ndim, int *dims)
{
    SR_CHECK(i >= 0 && i < f->n_tensors, SR_E_ARG, "tensor index %d", i);
    *name = f->names[i];
    return tensor_shape(f, f->names[i], ndim, dims, NULL);
}

static void shape_str(char *buf, size_t n, int ndim, const int *dims)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? "x" : "", dims[i]);
}

sr_status sr_model_read(sr_model_file *f, const char *name, int ndim,
                        const int *dims, float *dst)
{
    int fnd, fdims[4];
    hid_t d = H5I_INVALID_HID;
    int same;
    char a[64], b[64];

    SR_TRY(tensor_shape(f, name, &fnd, fdims, &d));
    same = fnd == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = fdims[i] == dims[i];
    if (!same) {
        H5Dclose(d);
        shape_str(a, sizeof a, fnd, fdims);
        shape_str(b, sizeof b, ndim, dims);
        return sr_error(SR_E_FORMAT, "%s: /model/%s has shape %s but the "
                        "network needs %s", f->path, name, a, b);
    }
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        /* the message first: closing clears HDF5's error stack */
        sr_status st = sr_h5_error(SR_E_IO, "%s: cannot read /model/%s",
                                   f->path, name);
        H5Dclose(d);
        return st;
    }
    H5Dclose(d);
    return SR_OK;
}
