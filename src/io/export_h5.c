/* Export files: really quantized weights (layout in ckpt_io.h). */
#include "sinreq/ckpt_io.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5util.h"

static int put_float(hid_t g, const sr_model_tensor *t)
{
    hsize_t d[4];
    hid_t s, p, ds;
    int bad;

    for (int i = 0; i < t->ndim; i++)
        d[i] = (hsize_t)t->dims[i];
    s = H5Screate_simple(t->ndim, d, NULL);
    p = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(p, t->ndim, d);
    H5Pset_fletcher32(p);
    ds = H5Dcreate2(g, t->name, H5T_IEEE_F32LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    bad = ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                             H5P_DEFAULT, t->data) < 0;
    sr_h5_close(&ds);
    sr_h5_close(&p);
    sr_h5_close(&s);
    return bad;
}

static int put_codes(hid_t g, const sr_export_layer *q)
{
    size_t bits = (size_t)q->bits * q->numel, nw = (bits + 31) / 32;
    uint32_t *w = calloc(nw ? nw : 1, sizeof *w);
    hsize_t d = nw ? nw : 1;
    hid_t s = H5I_INVALID_HID, p = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    int bad = 1;

    if (!w)
        return 1;
    for (size_t i = 0; i < q->numel; i++)
        for (int b = 0; b < q->bits; b++)
            if ((q->codes[i] >> b) & 1u) {
                size_t at = i * (size_t)q->bits + (size_t)b;
                w[at / 32] |= 1u << (at % 32);
            }
    s = H5Screate_simple(1, &d, NULL);
    p = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(p, 1, &d);
    H5Pset_fletcher32(p);
    ds = H5Dcreate2(g, q->layer, H5T_STD_U32LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    if (ds >= 0 && H5Dwrite(ds, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL,
                            H5P_DEFAULT, w) >= 0) {
        const char *dec = strcmp(q->quantizer, "dorefa") == 0
            ? "float32: wq = 2 * (code / (2^bits - 1)) - 1"
            : "float32: wq = (code - m) / m, m = 2^(bits-1) - 1";
        bad = sr_h5_attr_i32(ds, "bits", q->bits) |
              sr_h5_attr_i32(ds, "numel", (int)q->numel) |
              sr_h5_attr_i32s(ds, "shape", q->dims, q->ndim) |
              sr_h5_attr_str(ds, "tensor", q->tensor) |
              sr_h5_attr_str(ds, "quantizer", q->quantizer) |
              sr_h5_attr_f64(ds, "scale", q->scale) |
              sr_h5_attr_f64(ds, "offset", q->offset) |
              sr_h5_attr_str(ds, "decode", dec);
    }
    sr_h5_close(&ds);
    sr_h5_close(&p);
    sr_h5_close(&s);
    free(w);
    return bad;
}

sr_status sr_export_save(const char *path, const sr_model_meta *m,
                         const sr_model_tensor *f, int nf,
                         const sr_export_layer *q, int nq)
{
    char tmp[4200];
    hid_t file, gf, gq, gp;
    int L = m->n_layers, bad = 0;
    sr_status st = SR_OK;

    SR_TRY(sr_tmp_path(tmp, sizeof tmp, path));
    /* built in memory, written whole (sr_h5_mem_save) */
    file = sr_h5_mem_create(0);
    if (file < 0)
        return sr_h5_error(SR_E_INTERNAL, "cannot set up %s", tmp);
    gf = H5Gcreate2(file, "float", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    gq = H5Gcreate2(file, "quantized", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    gp = H5Gcreate2(file, "quant", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= gf < 0 || gq < 0 || gp < 0;
    bad |= sr_h5_attr_str(file, "format", SR_EXPORT_FORMAT);
    bad |= sr_h5_attr_i32(file, "format_version", SR_EXPORT_FORMAT_VERSION);
    bad |= sr_h5_attr_version(file);
    bad |= sr_model_meta_attrs(file, m);
    if (L > 0 && !bad) {
        const char **names = calloc((size_t)L, sizeof *names);
        int *v = calloc((size_t)L * 3, sizeof *v);
        float *beta = calloc((size_t)L, sizeof *beta);
        bad |= !names || !v || !beta;
        for (int i = 0; !bad && i < L; i++) {
            names[i] = m->layers[i].name;
            v[i] = m->layers[i].quantized;
            v[L + i] = m->layers[i].bits;
            v[2 * L + i] = m->layers[i].act_bits;
            beta[i] = m->layers[i].beta;
        }
        if (!bad)
            bad |= sr_h5_attr_strs(gp, "layers", names, L) |
                   sr_h5_attr_i32s(gp, "quantized", v, L) |
                   sr_h5_attr_i32s(gp, "bits", v + L, L) |
                   sr_h5_attr_i32s(gp, "act_bits", v + 2 * L, L) |
                   sr_h5_attr_f32s(gp, "beta", beta, L);
        free(names);
        free(v);
        free(beta);
    }
    for (int i = 0; !bad && i < nf; i++)
        bad |= put_float(gf, &f[i]);
    for (int i = 0; !bad && i < nq; i++)
        bad |= put_codes(gq, &q[i]);
    if (bad)
        st = sr_h5_error(SR_E_WRITE, "%s: cannot write the export", tmp);
    sr_h5_close(&gp);
    sr_h5_close(&gq);
    sr_h5_close(&gf);
    if (st != SR_OK) {
        sr_h5_mem_abort(&file);
        return st;
    }
    SR_TRY(sr_h5_mem_save(&file, tmp));
    return sr_file_commit(tmp, path, 1);
}

int sr_export_probe(const char *path)
{
    hid_t f;
    char fmt[64];
    int r = 0;

    sr_h5_quiet();
    if (access(path, R_OK) != 0 || H5Fis_hdf5(path) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
        r = sr_h5_read_attr_str(f, "format", fmt, sizeof fmt) == 0 &&
            strcmp(fmt, SR_EXPORT_FORMAT) == 0;
        H5Fclose(f);
    }
    H5Eclear2(H5E_DEFAULT);
    return r;
}

struct lctx {
    sr_export_decoded *d;
    const char *path;
    sr_status st;
    int quant;
};

static int add_tensor(sr_export_decoded *d, const char *name, int ndim,
                      const int *dims, float *data, int bits)
{
    sr_model_tensor *p = realloc(d->t, (size_t)(d->n + 1) * sizeof *p);
    int *b;

    if (!p)
        return -1;
    d->t = p;
    b = realloc(d->bits, (size_t)(d->n + 1) * sizeof *b);
    if (!b)
        return -1;
    d->bits = b;
    p[d->n].name = strdup(name);
    if (!p[d->n].name)
        return -1;
    p[d->n].ndim = ndim;
    memcpy(p[d->n].dims, dims, sizeof p[d->n].dims);
    p[d->n].data = data;
    b[d->n] = bits;
    d->n++;
    return 0;
}

static int have_tensor(const sr_export_decoded *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->t[i].name, name) == 0)
            return 1;
    return 0;
}

/* One /float dataset: float32 of rank 1..4, read as it is. */
static sr_status load_float(struct lctx *c, hid_t ds, const char *name)
{
    hid_t s = H5Dget_space(ds), t = H5Dget_type(ds);
    hsize_t hd[4] = {0};
    int nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s), dims[4] = {0};
    int is_float = t >= 0 && H5Tget_class(t) == H5T_FLOAT;
    size_t n = 1;
    float *v;

    if (nd >= 1 && nd <= 4)
        H5Sget_simple_extent_dims(s, hd, NULL);
    sr_h5_close(&s);
    sr_h5_close(&t);
    if (!is_float || nd < 1 || nd > 4)
        return sr_error(SR_E_FORMAT, "%s: /float/%s is not a float dataset "
                        "of rank 1..4", c->path, name);
    for (int i = 0; i < nd; i++) {
        dims[i] = (int)hd[i];
        n *= hd[i];
    }
    v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return sr_error(SR_E_NOMEM, "out of memory");
    if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        free(v);
        return sr_h5_error(SR_E_IO, "%s: cannot read /float/%s", c->path,
                           name);
    }
    if (add_tensor(c->d, name, nd, dims, v, 0)) {
        free(v);
        return sr_error(SR_E_NOMEM, "out of memory");
    }
    return SR_OK;
}

/* One /quantized dataset: its codes decoded with the fake quantizer's own
 * float32 expressions (qmath.h); every attribute checked against the
 * words it describes and the file's quantizer. */
static sr_status load_codes(struct lctx *c, hid_t ds, const char *name)
{
    const sr_model_meta *m = &c->d->meta;
    hid_t s = H5Dget_space(ds);
    hsize_t hd[1] = {0};
    int bits = 0, numel = 0, shape[4] = {0}, sl, nd;
    char tensor[SR_MODEL_NAME_MAX], qz[16];
    size_t n = 1, words;
    uint32_t *w;
    float *v;

    nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
    if (nd == 1)
        H5Sget_simple_extent_dims(s, hd, NULL);
    sr_h5_close(&s);
    sl = sr_h5_attr_len(ds, "shape");
    if (nd != 1 || sr_h5_read_attr_i32s(ds, "bits", &bits, 1) ||
        sr_h5_read_attr_i32s(ds, "numel", &numel, 1) || sl < 1 || sl > 4 ||
        sr_h5_read_attr_i32s(ds, "shape", shape, sl) ||
        sr_h5_read_attr_str(ds, "tensor", tensor, sizeof tensor) ||
        sr_h5_read_attr_str(ds, "quantizer", qz, sizeof qz))
        return sr_error(SR_E_FORMAT, "%s: /quantized/%s: an attribute (bits, "
                        "numel, shape, tensor, quantizer) is missing or has "
                        "the wrong type", c->path, name);
    for (int i = 0; i < sl; i++) {
        if (shape[i] < 1)
            return sr_error(SR_E_FORMAT, "%s: /quantized/%s@shape[%d] is %d",
                            c->path, name, i, shape[i]);
        n *= (size_t)shape[i];
    }
    if (strcmp(qz, m->quantizer) != 0 ||
        (strcmp(qz, "dorefa") != 0 && strcmp(qz, "wrpn") != 0))
        return sr_error(SR_E_FORMAT, "%s: /quantized/%s@quantizer is \"%s\" "
                        "but the file's is \"%s\"", c->path, name, qz,
                        m->quantizer);
    if (bits < (qz[0] == 'w' ? 2 : 1) || bits > 16)
        return sr_error(SR_E_FORMAT, "%s: /quantized/%s@bits is %d (outside "
                        "%d..16 for %s)", c->path, name, bits,
                        qz[0] == 'w' ? 2 : 1, qz);
    words = (n * (size_t)bits + 31) / 32;
    if (numel < 1 || (size_t)numel != n || (size_t)hd[0] != words)
        return sr_error(SR_E_FORMAT, "%s: /quantized/%s has %llu words, "
                        "numel %d and shape of %zu elements; %zu words of "
                        "%d-bit codes expected", c->path, name,
                        (unsigned long long)hd[0], numel, n, words, bits);
    {
        /* scale and offset are for other readers (code * scale + offset);
         * they must say what the codes decode to here */
        double sc = NAN, off = NAN;
        int d2 = qz[0] == 'd';
        double want_sc = d2 ? 2.0 / (double)((1u << bits) - 1u)
                            : 1.0 / (double)((1u << (bits - 1)) - 1u);
        double want_off = -1.0;
        if (sr_h5_read_attr_f64s(ds, "scale", &sc, 1) ||
            sr_h5_read_attr_f64s(ds, "offset", &off, 1) ||
            !(fabs(sc - want_sc) <= 1e-12 * want_sc) ||
            !(fabs(off - want_off) <= 1e-12))
            return sr_error(SR_E_FORMAT, "%s: /quantized/%s@scale %g, "
                            "@offset %g; %s at %d bits decodes with scale %g, "
                            "offset %g", c->path, name, sc, off, qz, bits,
                            want_sc, want_off);
    }
    w = malloc(words * sizeof *w);
    v = malloc(n * sizeof *v);
    if (!w || !v) {
        free(w);
        free(v);
        return sr_error(SR_E_NOMEM, "out of memory");
    }
    if (H5Dread(ds, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) < 0) {
        sr_status st = sr_h5_error(SR_E_IO, "%s: cannot read /quantized/%s",
                                   c->path, name);
        free(w);
        free(v);
        return st;
    }
    int dor = qz[0] == 'd';
    float mx = dor ? (float)((1u << bits) - 1u)
                   : (float)((1u << (bits - 1)) - 1u);
    for (size_t i = 0; i < n; i++) {
        uint32_t code = 0;
        for (int b = 0; b < bits; b++) {
            size_t at = i * (size_t)bits + (size_t)b;
            code |= ((w[at / 32] >> (at % 32)) & 1u) << b;
        }
        /* WRPN's offset-binary codes go up to 2m: a larger one decodes
         * outside [-1, 1], a value the quantizer never produces */
        if (!dor && (float)code > 2.0f * mx) {
            free(w);
            free(v);
            return sr_error(SR_E_FORMAT, "%s: /quantized/%s: code %u at "
                            "element %zu is outside 0..%u", c->path, name,
                            code, i, (1u << bits) - 2u);
        }
        /* the fake quantizer's own float32 expressions (qmath.h) */
        v[i] = dor ? 2.0f * ((float)code / mx) - 1.0f
                   : ((float)code - mx) / mx;
    }
    free(w);
    if (have_tensor(c->d, tensor)) {
        free(v);
        return sr_error(SR_E_FORMAT, "%s: /quantized/%s holds %s, which is "
                        "also under /float", c->path, name, tensor);
    }
    if (add_tensor(c->d, tensor, sl, shape, v, bits)) {
        free(v);
        return sr_error(SR_E_NOMEM, "out of memory");
    }
    return SR_OK;
}

static herr_t load_cb(hid_t g, const char *name, const H5L_info_t *info,
                      void *data)
{
    struct lctx *c = data;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    (void)info;

    if (ds < 0) {
        c->st = sr_h5_error(SR_E_FORMAT, "%s: /%s/%s is not a dataset",
                            c->path, c->quant ? "quantized" : "float", name);
        return -1;
    }
    c->st = c->quant ? load_codes(c, ds, name) : load_float(c, ds, name);
    H5Dclose(ds);
    return c->st == SR_OK ? 0 : -1;
}

sr_status sr_export_load(const char *path, sr_export_decoded *d)
{
    hid_t f, g;
    struct lctx c = {d, path, SR_OK, 0};

    memset(d, 0, sizeof *d);
    sr_h5_quiet();
    SR_TRY(sr_h5_check_file(path));
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot open as HDF5 (not an HDF5 "
                           "file, truncated or corrupted)", path);
    /* the description exactly as a model file's, checked the same way */
    c.st = sr_model_meta_read(f, path, SR_EXPORT_FORMAT,
                              SR_EXPORT_FORMAT_VERSION, &d->meta);
    for (int k = 0; c.st == SR_OK && k < 2; k++) {
        c.quant = k;
        g = H5Gopen2(f, k ? "quantized" : "float", H5P_DEFAULT);
        if (g < 0)
            c.st = sr_h5_error(SR_E_FORMAT, "%s: group /%s is missing", path,
                               k ? "quantized" : "float");
        else if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, load_cb,
                            &c) < 0 && c.st == SR_OK)
            c.st = sr_h5_error(SR_E_FORMAT, "%s: cannot list /%s", path,
                               k ? "quantized" : "float");
        sr_h5_close(&g);
    }
    H5Fclose(f);
    if (c.st != SR_OK)
        sr_export_decoded_free(d);
    return c.st;
}

void sr_export_decoded_free(sr_export_decoded *d)
{
    for (int i = 0; i < d->n; i++) {
        free((char *)d->t[i].name);
        free((float *)d->t[i].data);
    }
    free(d->t);
    free(d->bits);
    sr_model_meta_free(&d->meta);
    memset(d, 0, sizeof *d);
}
