/* sinreq: reading image datasets in HDF5 (include/sinreq/dataset.h,
 * docs/data.md): every attribute, shape and count checked on open; every
 * failing HDF5 call becomes an sr_status naming the file and the object
 * and ending with the innermost HDF5 error description (e.g. "data error
 * detected by Fletcher32 checksum"). */
#include "sinreq/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "dataset_h5.h"
#include "h5util.h"

struct split_r {
    char name[SR_DS_SPLIT_NAME_MAX];
    hid_t images, labels;
    uint64_t count;
    uint32_t c, h, w;
    uint64_t chunk_images;
};

struct sr_ds {
    char *path;
    hid_t file;
    int nsplits;
    struct split_r splits[SR_DS_MAX_SPLITS];
    uint32_t num_classes;
    char **class_names;
    int nattrs;
    char **attr_names, **attr_values;
};

const char *sr_ds_path(const sr_ds *ds) { return ds->path; }
int sr_ds_num_splits(const sr_ds *ds) { return ds->nsplits; }
uint32_t sr_ds_num_classes(const sr_ds *ds) { return ds->num_classes; }
int sr_ds_num_attrs(const sr_ds *ds) { return ds->nattrs; }

const char *sr_ds_class_name(const sr_ds *ds, uint32_t k)
{
    return k < ds->num_classes ? ds->class_names[k] : "";
}

void sr_ds_attr(const sr_ds *ds, int i, const char **name, const char **value)
{
    *name = ds->attr_names[i];
    *value = ds->attr_values[i];
}

int sr_ds_find_split(const sr_ds *ds, const char *name)
{
    for (int i = 0; i < ds->nsplits; i++)
        if (strcmp(ds->splits[i].name, name) == 0)
            return i;
    return -1;
}

void sr_ds_split_info(const sr_ds *ds, int split, struct sr_ds_split_info *info)
{
    const struct split_r *s = &ds->splits[split];

    info->name = s->name;
    info->count = s->count;
    info->channels = s->c;
    info->height = s->h;
    info->width = s->w;
    info->chunk_images = s->chunk_images;
}

void sr_ds_close(sr_ds *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < ds->nsplits; i++) {
        sr_h5_close(&ds->splits[i].images);
        sr_h5_close(&ds->splits[i].labels);
    }
    if (ds->file >= 0)
        H5Fclose(ds->file);
    H5Eclear2(H5E_DEFAULT);
    for (uint32_t k = 0; ds->class_names && k < ds->num_classes; k++)
        free(ds->class_names[k]);
    free(ds->class_names);
    for (int i = 0; i < ds->nattrs; i++) {
        free(ds->attr_names[i]);
        free(ds->attr_values[i]);
    }
    free(ds->attr_names);
    free(ds->attr_values);
    free(ds->path);
    free(ds);
}

/* Reads a scalar string attribute (fixed or variable length) into buf. */
static sr_status read_attr_text(sr_ds *ds, const char *name, char *buf,
                                size_t size)
{
    hid_t attr, type = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    sr_status st = SR_OK;

    buf[0] = '\0';
    if (H5Aexists(ds->file, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return sr_error(SR_E_FORMAT, "%s: root attribute \"%s\" is missing: "
                        "not a sinreq dataset file (convert the data with "
                        "sinreq-prep)", ds->path, name);
    }
    attr = H5Aopen(ds->file, name, H5P_DEFAULT);
    type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    if (type < 0 || H5Tget_class(type) != H5T_STRING) {
        st = sr_error(SR_E_FORMAT, "%s: root attribute \"%s\" is not a "
                      "string", ds->path, name);
        goto out;
    }
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;

        mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(type));
        if (H5Aread(attr, mtype, &s) < 0) {
            st = sr_h5_error(SR_E_IO, "%s: cannot read attribute \"%s\"",
                          ds->path, name);
            goto out;
        }
        snprintf(buf, size, "%s", s ? s : "");
        H5free_memory(s);
    } else {
        size_t n = H5Tget_size(type);
        char *tmp = calloc(1, n + 1);

        mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, n + 1);
        H5Tset_cset(mtype, H5Tget_cset(type));
        if (!tmp || H5Aread(attr, mtype, tmp) < 0) {
            free(tmp);
            st = sr_h5_error(SR_E_IO, "%s: cannot read attribute \"%s\"",
                          ds->path, name);
            goto out;
        }
        snprintf(buf, size, "%s", tmp);
        free(tmp);
    }
out:
    sr_h5_close(&mtype);
    sr_h5_close(&type);
    sr_h5_close(&attr);
    return st;
}

static sr_status check_format(sr_ds *ds)
{
    char fmt[64];
    uint32_t version = 0;
    hid_t attr;

    SR_TRY(read_attr_text(ds, "format", fmt, sizeof fmt));
    SR_CHECK(strcmp(fmt, SR_DS_FORMAT) == 0, SR_E_FORMAT,
             "%s: format is \"%s\", expected \"%s\"", ds->path, fmt,
             SR_DS_FORMAT);
    if (H5Aexists(ds->file, "format_version") <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return sr_error(SR_E_FORMAT, "%s: root attribute format_version is "
                        "missing", ds->path);
    }
    attr = H5Aopen(ds->file, "format_version", H5P_DEFAULT);
    if (attr < 0 || H5Aread(attr, H5T_NATIVE_UINT32, &version) < 0) {
        sr_h5_close(&attr);
        return sr_h5_error(SR_E_FORMAT, "%s: cannot read format_version",
                        ds->path);
    }
    sr_h5_close(&attr);
    SR_CHECK(version == SR_DS_FORMAT_VERSION, SR_E_FORMAT,
             "%s: format_version is %u; this build reads version %u "
             "(re-create the file with this sinreq-prep)", ds->path, version,
             SR_DS_FORMAT_VERSION);
    return SR_OK;
}

static sr_status read_classes(sr_ds *ds)
{
    hid_t dset, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t mtype = H5I_INVALID_HID;
    hsize_t k = 0;
    sr_status st = SR_OK;
    char **vl = NULL, *fixed = NULL;
    size_t fsize = 0;

    if (H5Lexists(ds->file, "classes", H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return sr_error(SR_E_FORMAT, "%s: dataset /classes is missing",
                        ds->path);
    }
    dset = H5Dopen2(ds->file, "classes", H5P_DEFAULT);
    if (dset < 0)
        return sr_h5_error(SR_E_FORMAT, "%s: cannot open /classes", ds->path);
    type = H5Dget_type(dset);
    space = H5Dget_space(dset);
    if (type < 0 || space < 0 || H5Tget_class(type) != H5T_STRING ||
        H5Sget_simple_extent_ndims(space) != 1) {
        st = sr_error(SR_E_FORMAT, "%s: /classes is not a 1-D string dataset",
                      ds->path);
        goto out;
    }
    H5Sget_simple_extent_dims(space, &k, NULL);
    if (k == 0 || k > SR_DS_MAX_CLASSES) {
        st = sr_error(SR_E_FORMAT, "%s: /classes has %llu entries (need "
                      "1..%u)", ds->path, (unsigned long long)k,
                      SR_DS_MAX_CLASSES);
        goto out;
    }
    ds->class_names = calloc(k, sizeof *ds->class_names);
    if (!ds->class_names) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out;
    }
    ds->num_classes = (uint32_t)k;
    mtype = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mtype, H5Tget_cset(type));   /* no ASCII <-> UTF-8 conversion */
    if (H5Tis_variable_str(type) > 0) {
        vl = calloc(k, sizeof *vl);
        H5Tset_size(mtype, H5T_VARIABLE);
        if (!vl || H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, vl) < 0) {
            st = vl ? sr_h5_error(SR_E_IO, "%s: cannot read /classes", ds->path)
                    : sr_error(SR_E_NOMEM, "out of memory");
            free(vl);
            vl = NULL;
            goto out;
        }
        for (hsize_t i = 0; i < k; i++)
            ds->class_names[i] = strdup(vl[i] ? vl[i] : "");
        H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, vl);
        free(vl);
    } else {
        fsize = H5Tget_size(type) + 1;
        H5Tset_size(mtype, fsize);
        fixed = calloc(k, fsize);
        if (!fixed || H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, fixed) < 0) {
            st = fixed ? sr_h5_error(SR_E_IO, "%s: cannot read /classes", ds->path)
                       : sr_error(SR_E_NOMEM, "out of memory");
            goto out;
        }
        for (hsize_t i = 0; i < k; i++)
            ds->class_names[i] = strndup(fixed + i * fsize, fsize);
    }
    for (hsize_t i = 0; i < k; i++)
        if (!ds->class_names[i]) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            goto out;
        }
out:
    free(fixed);
    sr_h5_close(&mtype);
    sr_h5_close(&space);
    sr_h5_close(&type);
    sr_h5_close(&dset);
    return st;
}

/* The num_classes attribute must agree with /classes: a reader that
 * trusted either alone would size the last layer or accept labels from the
 * wrong one. */
static sr_status check_num_classes(sr_ds *ds)
{
    hid_t attr, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    long long v = 0;
    sr_status st = SR_OK;

    if (H5Aexists(ds->file, "num_classes") <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return sr_error(SR_E_FORMAT, "%s: root attribute num_classes is "
                        "missing", ds->path);
    }
    attr = H5Aopen(ds->file, "num_classes", H5P_DEFAULT);
    type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    if (type < 0 || space < 0 || H5Tget_class(type) != H5T_INTEGER ||
        H5Sget_simple_extent_npoints(space) != 1) {
        st = sr_error(SR_E_FORMAT, "%s: root attribute num_classes is not "
                      "one integer", ds->path);
        goto out;
    }
    if (H5Aread(attr, H5T_NATIVE_LLONG, &v) < 0) {
        st = sr_h5_error(SR_E_FORMAT, "%s: cannot read root attribute "
                      "num_classes", ds->path);
        goto out;
    }
    if (v < 1 || v > SR_DS_MAX_CLASSES)
        st = sr_error(SR_E_FORMAT, "%s: root attribute num_classes is %lld "
                      "(need 1..%u)", ds->path, v, SR_DS_MAX_CLASSES);
    else if ((uint64_t)v != ds->num_classes)
        st = sr_error(SR_E_FORMAT, "%s: root attribute num_classes is %lld "
                      "but /classes names %u classes", ds->path, v,
                      ds->num_classes);
out:
    sr_h5_close(&space);
    sr_h5_close(&type);
    sr_h5_close(&attr);
    H5Eclear2(H5E_DEFAULT);
    return st;
}

/* Opens /<name>/<what>, checks rank and integer type; returns dims. */
static sr_status open_checked(sr_ds *ds, hid_t group, const char *split,
                              const char *what, int rank, int exact_size,
                              hid_t *out, hsize_t *dims)
{
    hid_t dset, type = H5I_INVALID_HID, space = H5I_INVALID_HID, dapl;
    sr_status st = SR_OK;
    int ok;

    if (H5Lexists(group, what, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return sr_error(SR_E_FORMAT, "%s: dataset /%s/%s is missing",
                        ds->path, split, what);
    }
    dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 521, 32u << 20, 1.0);
    dset = H5Dopen2(group, what, dapl);
    sr_h5_close(&dapl);
    if (dset < 0)
        return sr_h5_error(SR_E_FORMAT, "%s: cannot open /%s/%s", ds->path,
                        split, what);
    type = H5Dget_type(dset);
    space = H5Dget_space(dset);
    ok = type >= 0 && space >= 0 && H5Tget_class(type) == H5T_INTEGER &&
         H5Tget_sign(type) == H5T_SGN_NONE &&
         (exact_size ? H5Tget_size(type) == (size_t)exact_size
                     : H5Tget_size(type) <= 4);
    if (!ok) {
        st = sr_error(SR_E_FORMAT, "%s: /%s/%s has the wrong element type "
                      "(expected %s)", ds->path, split, what,
                      exact_size ? "uint8" : "uint8, uint16 or uint32");
        goto out;
    }
    if (H5Sget_simple_extent_ndims(space) != rank) {
        st = sr_error(SR_E_SHAPE, "%s: /%s/%s has %d dimensions, expected %d",
                      ds->path, split, what, H5Sget_simple_extent_ndims(space),
                      rank);
        goto out;
    }
    H5Sget_simple_extent_dims(space, dims, NULL);
out:
    sr_h5_close(&space);
    sr_h5_close(&type);
    if (st != SR_OK)
        sr_h5_close(&dset);
    *out = dset;
    return st;
}

static sr_status open_split_r(sr_ds *ds, const char *name)
{
    struct split_r *s;
    hid_t group, dcpl;
    hsize_t idims[4], ldims[1], chunk[4];
    sr_status st;

    SR_CHECK(ds->nsplits < SR_DS_MAX_SPLITS, SR_E_FORMAT,
             "%s: more than %d splits", ds->path, SR_DS_MAX_SPLITS);
    SR_CHECK(strlen(name) < SR_DS_SPLIT_NAME_MAX, SR_E_FORMAT,
             "%s: split name /%s is too long", ds->path, name);
    s = &ds->splits[ds->nsplits++];
    memset(s, 0, sizeof *s);
    s->images = s->labels = H5I_INVALID_HID;
    snprintf(s->name, sizeof s->name, "%s", name);
    group = H5Gopen2(ds->file, name, H5P_DEFAULT);
    if (group < 0)
        return sr_h5_error(SR_E_FORMAT, "%s: cannot open group /%s", ds->path,
                        name);
    st = open_checked(ds, group, name, "images", 4, 1, &s->images, idims);
    if (st == SR_OK)
        st = open_checked(ds, group, name, "labels", 1, 0, &s->labels, ldims);
    if (st == SR_OK && H5Aexists(group, "count") > 0) {
        uint64_t stored = 0;
        hid_t attr = H5Aopen(group, "count", H5P_DEFAULT);

        if (attr < 0 || H5Aread(attr, H5T_NATIVE_UINT64, &stored) < 0)
            st = sr_h5_error(SR_E_FORMAT, "%s: cannot read /%s@count", ds->path,
                          name);
        else if (stored != idims[0])
            st = sr_error(SR_E_SHAPE, "%s: /%s@count is %llu but "
                          "/%s/images has %llu images (incomplete file?)",
                          ds->path, name, (unsigned long long)stored, name,
                          (unsigned long long)idims[0]);
        sr_h5_close(&attr);
    }
    H5Eclear2(H5E_DEFAULT);
    H5Gclose(group);
    SR_TRY(st);
    SR_CHECK(ldims[0] == idims[0], SR_E_SHAPE, "%s: /%s/labels has %llu "
             "entries but /%s/images has %llu images", ds->path, name,
             (unsigned long long)ldims[0], name,
             (unsigned long long)idims[0]);
    SR_CHECK(idims[1] >= 1 && idims[1] <= 4 && idims[2] > 0 && idims[3] > 0,
             SR_E_SHAPE, "%s: /%s/images has shape [%llu][%llu][%llu][%llu], "
             "expected [N][C][H][W] with C in 1..4", ds->path, name,
             (unsigned long long)idims[0], (unsigned long long)idims[1],
             (unsigned long long)idims[2], (unsigned long long)idims[3]);
    s->count = idims[0];
    s->c = (uint32_t)idims[1];
    s->h = (uint32_t)idims[2];
    s->w = (uint32_t)idims[3];
    s->chunk_images = 1;
    dcpl = H5Dget_create_plist(s->images);
    if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED &&
        H5Pget_chunk(dcpl, 4, chunk) == 4)
        s->chunk_images = chunk[0];
    sr_h5_close(&dcpl);
    H5Eclear2(H5E_DEFAULT);
    if (ds->nsplits > 1) {
        struct split_r *f = &ds->splits[0];

        SR_CHECK(s->c == f->c && s->h == f->h && s->w == f->w, SR_E_SHAPE,
                 "%s: /%s/images are %ux%ux%u but /%s/images are %ux%ux%u",
                 ds->path, name, s->c, s->h, s->w, f->name, f->c, f->h, f->w);
    }
    return SR_OK;
}

struct link_list {
    int n;
    char names[SR_DS_MAX_SPLITS][SR_DS_SPLIT_NAME_MAX];
    int too_many;
};

static herr_t list_groups_cb(hid_t loc, const char *name,
                             const H5L_info_t *info, void *data)
{
    struct link_list *l = data;
    hid_t obj;
    int is_group;

    (void)info;
    obj = H5Oopen(loc, name, H5P_DEFAULT);
    if (obj < 0)
        return 0;   /* dangling link: ignored */
    is_group = H5Iget_type(obj) == H5I_GROUP;
    H5Oclose(obj);
    if (!is_group)
        return 0;
    if (l->n >= SR_DS_MAX_SPLITS || strlen(name) >= SR_DS_SPLIT_NAME_MAX) {
        l->too_many = 1;
        return 0;
    }
    snprintf(l->names[l->n++], SR_DS_SPLIT_NAME_MAX, "%s", name);
    return 0;
}

static int split_rank(const char *name)
{
    static const char *const order[] = { "train", "val", "test", "extra" };

    for (int i = 0; i < 4; i++)
        if (strcmp(name, order[i]) == 0)
            return i;
    return 4;
}

static int split_cmp(const void *a, const void *b)
{
    int ra = split_rank(a), rb = split_rank(b);

    return ra != rb ? ra - rb : strcmp(a, b);
}

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *ainfo,
                      void *data)
{
    sr_ds *ds = data;
    char value[512] = "";
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : 0;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    char **names, **values;

    (void)ainfo;
    if (cls == H5T_STRING && n == 1) {
        sr_h5_close(&type);
        sr_h5_close(&space);
        sr_h5_close(&attr);
        if (read_attr_text(ds, name, value, sizeof value) != SR_OK)
            snprintf(value, sizeof value, "(unreadable)");
    } else if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && n >= 1 && n <= 4096) {
        /* Integers exactly (64-bit seeds), floats in their shortest form. */
        int is_signed = cls == H5T_INTEGER && H5Tget_sign(type) != H5T_SGN_NONE;
        hid_t mtype = cls == H5T_FLOAT ? H5T_NATIVE_DOUBLE
                      : is_signed ? H5T_NATIVE_LLONG : H5T_NATIVE_ULLONG;
        union { double d; long long s; unsigned long long u; } *v;
        size_t len = 0;

        v = malloc((size_t)n * sizeof *v);
        if (v && H5Aread(attr, mtype, v) >= 0) {
            for (hssize_t i = 0; i < n && len + 32 < sizeof value; i++) {
                const char *sep = i ? ", " : "";
                char num[40];

                if (cls == H5T_FLOAT) {
                    snprintf(num, sizeof num, "%.15g", v[i].d);
                    if (strtod(num, NULL) != v[i].d)
                        snprintf(num, sizeof num, "%.17g", v[i].d);
                } else if (is_signed) {
                    snprintf(num, sizeof num, "%lld", v[i].s);
                } else {
                    snprintf(num, sizeof num, "%llu", v[i].u);
                }
                len += (size_t)snprintf(value + len, sizeof value - len,
                                        "%s%s", sep, num);
            }
            if (n > 1 && len + 32 >= sizeof value)
                snprintf(value + len, sizeof value - len, ", ...");
        } else {
            snprintf(value, sizeof value, "(unreadable)");
        }
        free(v);
    } else {
        snprintf(value, sizeof value, "(%lld values)", (long long)n);
    }
    sr_h5_close(&type);
    sr_h5_close(&space);
    sr_h5_close(&attr);
    H5Eclear2(H5E_DEFAULT);
    names = realloc(ds->attr_names, (size_t)(ds->nattrs + 1) * sizeof *names);
    if (!names)
        return -1;
    ds->attr_names = names;
    values = realloc(ds->attr_values, (size_t)(ds->nattrs + 1) * sizeof *values);
    if (!values)
        return -1;
    ds->attr_values = values;
    names[ds->nattrs] = strdup(name);
    values[ds->nattrs] = strdup(value);
    if (!names[ds->nattrs] || !values[ds->nattrs]) {
        free(names[ds->nattrs]);
        free(values[ds->nattrs]);
        return -1;
    }
    ds->nattrs++;
    return 0;
}

sr_status sr_ds_open(sr_ds **out, const char *path)
{
    sr_ds *ds;
    struct stat sb;
    struct link_list links = { 0 };
    hsize_t idx = 0;
    htri_t is_h5;
    sr_status st;

    *out = NULL;
    sr_h5_quiet();
    if (stat(path, &sb) != 0)
        return sr_error(SR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sr_error(SR_E_IO, "%s: not a regular file", path);
    is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return sr_error(SR_E_FORMAT, "%s: not an HDF5 file (%lld bytes; "
                        "truncated or not converted with sinreq-prep?)", path,
                        (long long)sb.st_size);
    }
    SR_TRY(sr_h5_probe_strings(path));
    ds = calloc(1, sizeof *ds);
    if (!ds)
        return sr_error(SR_E_NOMEM, "out of memory");
    ds->path = strdup(path);
    ds->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (!ds->path) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out_close;
    }
    if (ds->file < 0) {
        st = sr_h5_error(SR_E_IO, "%s: cannot open", path);
        goto out_close;
    }
    st = check_format(ds);
    if (st == SR_OK)
        st = read_classes(ds);
    if (st == SR_OK)
        st = check_num_classes(ds);
    if (st != SR_OK)
        goto out_close;
    if (H5Aiterate2(ds->file, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_cb, ds) < 0) {
        st = sr_h5_error(SR_E_IO, "%s: cannot read the root attributes", path);
        goto out_close;
    }
    if (H5Literate(ds->file, H5_INDEX_NAME, H5_ITER_INC, &idx,
                   list_groups_cb, &links) < 0) {
        st = sr_h5_error(SR_E_IO, "%s: cannot list the splits", path);
        goto out_close;
    }
    if (links.too_many) {
        st = sr_error(SR_E_FORMAT, "%s: more than %d groups (splits) or a "
                      "name over %d characters", path, SR_DS_MAX_SPLITS,
                      SR_DS_SPLIT_NAME_MAX - 1);
        goto out_close;
    }
    if (links.n == 0) {
        st = sr_error(SR_E_FORMAT, "%s: no splits (no /train, /test ... "
                      "groups)", path);
        goto out_close;
    }
    qsort(links.names, (size_t)links.n, SR_DS_SPLIT_NAME_MAX, split_cmp);
    for (int i = 0; i < links.n; i++) {
        st = open_split_r(ds, links.names[i]);
        if (st != SR_OK)
            goto out_close;
    }
    *out = ds;
    return SR_OK;

out_close:
    sr_ds_close(ds);
    return st;
}

sr_status sr_ds_read_images(sr_ds *ds, int split, uint64_t first,
                            uint64_t count, uint8_t *buf)
{
    struct split_r *s;
    hsize_t start[4] = { first, 0, 0, 0 }, cnt[4];

    sr_h5_quiet(); /* per thread in a thread-safe HDF5: readers may be loaders */
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    sr_status st = SR_OK;

    SR_CHECK(split >= 0 && split < ds->nsplits, SR_E_ARG,
             "%s: no split number %d", ds->path, split);
    s = &ds->splits[split];
    SR_CHECK(first <= s->count && count <= s->count - first, SR_E_ARG,
             "%s: images [%llu, %llu) are outside /%s/images (%llu images)",
             ds->path, (unsigned long long)first,
             (unsigned long long)(first + count), s->name,
             (unsigned long long)s->count);
    if (count == 0)
        return SR_OK;
    cnt[0] = count;
    cnt[1] = s->c;
    cnt[2] = s->h;
    cnt[3] = s->w;
    fspace = H5Dget_space(s->images);
    mspace = H5Screate_simple(4, cnt, NULL);
    if (fspace < 0 || mspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
        H5Dread(s->images, H5T_NATIVE_UINT8, mspace, fspace, H5P_DEFAULT, buf) < 0)
        st = sr_h5_error(SR_E_IO, "%s: cannot read /%s/images [%llu, %llu)",
                      ds->path, s->name, (unsigned long long)first,
                      (unsigned long long)(first + count));
    sr_h5_close(&mspace);
    sr_h5_close(&fspace);
    return st;
}

sr_status sr_ds_read_labels(sr_ds *ds, int split, uint32_t *labels)
{
    struct split_r *s;

    sr_h5_quiet();

    SR_CHECK(split >= 0 && split < ds->nsplits, SR_E_ARG,
             "%s: no split number %d", ds->path, split);
    s = &ds->splits[split];
    if (s->count == 0)
        return SR_OK;
    if (H5Dread(s->labels, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                labels) < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot read /%s/labels", ds->path,
                        s->name);
    for (uint64_t i = 0; i < s->count; i++)
        SR_CHECK(labels[i] < ds->num_classes, SR_E_FORMAT,
                 "%s: /%s/labels[%llu] = %u is not below num_classes "
                 "(%u)", ds->path, s->name, (unsigned long long)i,
                 labels[i], ds->num_classes);
    return SR_OK;
}
