/* sinreq: writing image datasets in HDF5 (include/sinreq/dataset.h,
 * docs/data.md): built in "<path>.tmp", committed whole by sr_ds_commit.
 * Every failing HDF5 call becomes an sr_status naming the file and the
 * object (src/io/h5util.h). */
#include "sinreq/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "dataset_h5.h"
#include "h5util.h"

#define LABEL_CHUNK 16384
#define IMAGE_CHUNK_BYTES (1u << 20)   /* ~1 MiB of images per chunk */
#define IMAGE_CHUNK_MAX 512

struct split_w {
    char name[SR_DS_SPLIT_NAME_MAX];
    hid_t group, images, labels;
    uint64_t count;
    uint64_t *class_counts;
};

struct sr_ds_writer {
    char *path, *tmp_path;
    unsigned flags;
    hid_t file;
    uint32_t c, h, w, num_classes;
    int deflate_level;
    size_t image_bytes;
    hsize_t chunk_images;
    int nsplits;
    struct split_w splits[SR_DS_MAX_SPLITS];
};

static int split_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= SR_DS_SPLIT_NAME_MAX || strcmp(s, "classes") == 0)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static sr_status write_classes(sr_ds_writer *w, const char *const *names)
{
    hsize_t k = w->num_classes;
    hid_t type = H5Tcopy(H5T_C_S1), space = H5I_INVALID_HID;
    hid_t dset = H5I_INVALID_HID;
    sr_status st = SR_OK;

    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5T_CSET_UTF8) < 0 ||
        (space = H5Screate_simple(1, &k, NULL)) < 0 ||
        (dset = H5Dcreate2(w->file, "classes", type, space, H5P_DEFAULT,
                           H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) < 0)
        st = sr_h5_error(SR_E_IO, "%s: cannot write /classes", w->tmp_path);
    sr_h5_close(&dset);
    sr_h5_close(&space);
    sr_h5_close(&type);
    return st;
}

static sr_status write_root_attrs(sr_ds_writer *w, const struct sr_ds_meta *m)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    hid_t root = w->file;

    if (!gmtime_r(&now, &tm) ||
        !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(when, sizeof when, "unknown");
    if (sr_h5_attr_str(root, "format", SR_DS_FORMAT) < 0 ||
        sr_h5_attr_u32(root, "format_version", SR_DS_FORMAT_VERSION) < 0 ||
        sr_h5_attr_str(root, "source_kind", m->source_kind ? m->source_kind : "") < 0 ||
        sr_h5_attr_str(root, "source", m->source ? m->source : "") < 0 ||
        sr_h5_attr_str(root, "source_checksum",
                 m->source_checksum ? m->source_checksum : "") < 0 ||
        sr_h5_attr_str(root, "created_by", m->created_by ? m->created_by : "") < 0 ||
        sr_h5_attr_str(root, "created_at", when) < 0 ||
        sr_h5_attr_str(root, "conversion", m->conversion ? m->conversion : "") < 0 ||
        sr_h5_attr_str(root, "layout", "NCHW uint8") < 0 ||
        sr_h5_attr_u32(root, "num_classes", w->num_classes) < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot write root attributes",
                        w->tmp_path);
    if (m->val_fraction >= 0 &&
        (sr_h5_attr_f64(root, "val_fraction", m->val_fraction) < 0 ||
         sr_h5_attr_u64(root, "val_seed", m->val_seed) < 0))
        return sr_h5_error(SR_E_IO, "%s: cannot write root attributes",
                        w->tmp_path);
    return SR_OK;
}

sr_status sr_ds_create(sr_ds_writer **out, const char *path,
                       const struct sr_ds_meta *m, unsigned flags)
{
    sr_ds_writer *w;
    hid_t fapl = H5I_INVALID_HID;
    struct stat sb;
    sr_status st;

    *out = NULL;
    sr_h5_quiet();
    SR_CHECK(path && path[0], SR_E_ARG, "output path is empty");
    SR_CHECK(m->channels > 0 && m->height > 0 && m->width > 0 &&
             m->channels <= 4 && m->height <= 65536 && m->width <= 65536,
             SR_E_SHAPE, "%s: image shape %ux%ux%u is not supported",
             path, m->channels, m->height, m->width);
    SR_CHECK(m->num_classes > 0 && m->num_classes <= SR_DS_MAX_CLASSES,
             SR_E_ARG, "%s: %u classes (need 1..%u)", path, m->num_classes,
             SR_DS_MAX_CLASSES);
    SR_CHECK(m->deflate_level >= 0 && m->deflate_level <= 9, SR_E_ARG,
             "deflate level %d is not in 0..9", m->deflate_level);
    for (uint32_t k = 0; k < m->num_classes; k++)
        SR_CHECK(m->class_names && m->class_names[k] && m->class_names[k][0],
                 SR_E_ARG, "%s: class %u has no name", path, k);
    if (!(flags & SR_DS_OVERWRITE) && stat(path, &sb) == 0)
        return sr_error(SR_E_ARG, "%s exists; not overwriting it "
                        "(use --force to replace it)", path);

    w = calloc(1, sizeof *w);
    if (!w)
        return sr_error(SR_E_NOMEM, "out of memory");
    w->file = H5I_INVALID_HID;
    w->path = strdup(path);
    w->tmp_path = malloc(strlen(path) + 5);
    if (!w->path || !w->tmp_path) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out_free;
    }
    st = sr_tmp_path(w->tmp_path, strlen(path) + 5, path);
    if (st != SR_OK)
        goto out_free;
    w->flags = flags;
    w->c = m->channels;
    w->h = m->height;
    w->w = m->width;
    w->num_classes = m->num_classes;
    w->deflate_level = m->deflate_level;
    w->image_bytes = (size_t)m->channels * m->height * m->width;
    w->chunk_images = IMAGE_CHUNK_BYTES / w->image_bytes;
    if (w->chunk_images < 1)
        w->chunk_images = 1;
    if (w->chunk_images > IMAGE_CHUNK_MAX)
        w->chunk_images = IMAGE_CHUNK_MAX;

    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        st = sr_h5_error(SR_E_INTERNAL, "cannot set up HDF5 file access");
        goto out_free;
    }
    errno = 0;
    w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (w->file < 0) {
        /* the failed system call's reason (a full disk: exit 2), and no
         * empty .tmp left behind */
        int e = errno;
        sr_h5_close(&fapl);
        if (e == ENOSPC || e == EIO || e == EROFS || e == EDQUOT)
            st = sr_error(SR_E_WRITE, "cannot create %s: %s", w->tmp_path,
                          strerror(e));
        else
            st = sr_h5_error(SR_E_IO, "cannot create %s (is the directory "
                          "writable?)%s%s", w->tmp_path, e ? ": " : "",
                          e ? strerror(e) : "");
        H5Eclear2(H5E_DEFAULT);
        unlink(w->tmp_path);
        goto out_free;
    }
    sr_h5_close(&fapl);
    st = write_root_attrs(w, m);
    if (st == SR_OK)
        st = write_classes(w, m->class_names);
    if (st != SR_OK)
        goto out_abort;
    *out = w;
    return SR_OK;

out_abort:
    sr_ds_abort(w);
    return st;
out_free:
    free(w->path);
    free(w->tmp_path);
    free(w);
    return st;
}

static hid_t create_chunked(hid_t loc, const char *name, hid_t type, int rank,
                            const hsize_t *dims, const hsize_t *chunk,
                            int level, size_t cache_bytes)
{
    hsize_t zero[4] = { 0 }, maxd[4];
    hid_t space, dcpl = H5I_INVALID_HID, dapl = H5I_INVALID_HID;
    hid_t dset = H5I_INVALID_HID;

    for (int i = 0; i < rank; i++) {
        zero[i] = i ? dims[i] : 0;
        maxd[i] = i ? dims[i] : H5S_UNLIMITED;
    }
    space = H5Screate_simple(rank, zero, maxd);
    if (space < 0)
        goto out;
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dcpl < 0 || dapl < 0 || H5Pset_chunk(dcpl, rank, chunk) < 0 ||
        (level > 0 && H5Pset_deflate(dcpl, (unsigned)level) < 0) ||
        H5Pset_fletcher32(dcpl) < 0 ||     /* after deflate: covers stored bytes */
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0 ||
        H5Pset_chunk_cache(dapl, 521, cache_bytes, 1.0) < 0)
        goto out;
    dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, dapl);
out:
    sr_h5_close(&dapl);
    sr_h5_close(&dcpl);
    sr_h5_close(&space);
    return dset;
}

static sr_status open_split_w(sr_ds_writer *w, const char *name,
                              struct split_w **out)
{
    struct split_w *s;
    hsize_t idims[4] = { 0, w->c, w->h, w->w };
    hsize_t ichunk[4] = { w->chunk_images, w->c, w->h, w->w };
    hsize_t ldims[1] = { 0 }, lchunk[1] = { LABEL_CHUNK };
    size_t cache = 4 * w->chunk_images * w->image_bytes;

    for (int i = 0; i < w->nsplits; i++)
        if (strcmp(w->splits[i].name, name) == 0) {
            *out = &w->splits[i];
            return SR_OK;
        }
    SR_CHECK(split_name_ok(name), SR_E_ARG, "split name \"%s\" is not "
             "allowed (lower case letters, digits, _)", name);
    SR_CHECK(w->nsplits < SR_DS_MAX_SPLITS, SR_E_ARG, "%s: more than %d "
             "splits", w->path, SR_DS_MAX_SPLITS);
    s = &w->splits[w->nsplits];
    memset(s, 0, sizeof *s);
    s->group = s->images = s->labels = H5I_INVALID_HID;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->class_counts = calloc(w->num_classes, sizeof *s->class_counts);
    if (!s->class_counts)
        return sr_error(SR_E_NOMEM, "out of memory");
    w->nsplits++;   /* from here on, sr_ds_abort frees it */
    if (cache < (1u << 20))
        cache = 1u << 20;
    s->group = H5Gcreate2(w->file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (s->group < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot create group /%s", w->tmp_path,
                        name);
    s->images = create_chunked(s->group, "images", H5T_STD_U8LE, 4, idims,
                               ichunk, w->deflate_level, cache);
    if (s->images < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot create /%s/images", w->tmp_path,
                        name);
    if (sr_h5_attr_str(s->images, "dims", "N C H W") < 0 ||
        sr_h5_attr_str(s->images, "channel_order", w->c == 3 ? "RGB" :
                 w->c == 1 ? "gray" : "unspecified") < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot write attributes of /%s/images",
                        w->tmp_path, name);
    s->labels = create_chunked(s->group, "labels", H5T_STD_U32LE, 1, ldims,
                               lchunk, w->deflate_level, 1u << 20);
    if (s->labels < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot create /%s/labels", w->tmp_path,
                        name);
    *out = s;
    return SR_OK;
}

static int extend_write(hid_t dset, int rank, uint64_t old_n, size_t count,
                        hid_t mem_type, const void *buf)
{
    hsize_t dims[4], start[4] = { 0 }, cnt[4];
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    int ret = -1;

    fspace = H5Dget_space(dset);
    if (fspace < 0 || H5Sget_simple_extent_dims(fspace, dims, NULL) != rank)
        goto out;
    sr_h5_close(&fspace);
    dims[0] = old_n + count;
    if (H5Dset_extent(dset, dims) < 0)
        goto out;
    fspace = H5Dget_space(dset);
    start[0] = old_n;
    memcpy(cnt, dims, sizeof cnt);
    cnt[0] = count;
    mspace = H5Screate_simple(rank, cnt, NULL);
    if (fspace < 0 || mspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
        H5Dwrite(dset, mem_type, mspace, fspace, H5P_DEFAULT, buf) < 0)
        goto out;
    ret = 0;
out:
    sr_h5_close(&mspace);
    sr_h5_close(&fspace);
    return ret;
}

sr_status sr_ds_append(sr_ds_writer *w, const char *split,
                       const uint8_t *images, const uint32_t *labels,
                       size_t count)
{
    struct split_w *s = NULL;

    SR_CHECK(w && split, SR_E_ARG, "sr_ds_append: no writer or split");
    SR_TRY(open_split_w(w, split, &s));
    if (count == 0)
        return SR_OK;
    for (size_t i = 0; i < count; i++)
        SR_CHECK(labels[i] < w->num_classes, SR_E_ARG,
                 "%s: label %u of image %llu of split %s is not below the "
                 "number of classes (%u)", w->path, labels[i],
                 (unsigned long long)(s->count + i), split, w->num_classes);
    if (extend_write(s->images, 4, s->count, count, H5T_NATIVE_UINT8, images) < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot write /%s/images [%llu, %llu)",
                        w->tmp_path, split, (unsigned long long)s->count,
                        (unsigned long long)(s->count + count));
    if (extend_write(s->labels, 1, s->count, count, H5T_NATIVE_UINT32, labels) < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot write /%s/labels", w->tmp_path,
                        split);
    for (size_t i = 0; i < count; i++)
        s->class_counts[labels[i]]++;
    s->count += count;
    return SR_OK;
}

static void free_writer(sr_ds_writer *w)
{
    for (int i = 0; i < w->nsplits; i++) {
        sr_h5_close(&w->splits[i].labels);
        sr_h5_close(&w->splits[i].images);
        sr_h5_close(&w->splits[i].group);
        free(w->splits[i].class_counts);
    }
    if (w->file >= 0)
        H5Fclose(w->file);
    H5Eclear2(H5E_DEFAULT);
    free(w->path);
    free(w->tmp_path);
    free(w);
}

void sr_ds_abort(sr_ds_writer *w)
{
    if (!w)
        return;
    unlink(w->tmp_path);   /* HDF5 keeps its own descriptor until close */
    free_writer(w);
}

sr_status sr_ds_commit(sr_ds_writer *w)
{
    sr_status st = SR_OK;
    herr_t closed;

    SR_CHECK(w, SR_E_ARG, "sr_ds_commit: no writer");
    for (int i = 0; i < w->nsplits; i++) {
        struct split_w *s = &w->splits[i];

        if (sr_h5_attr_u64(s->group, "count", s->count) < 0 ||
            sr_h5_attr_u64s(s->group, "class_counts", s->class_counts,
                            (int)w->num_classes) < 0) {
            st = sr_h5_error(SR_E_IO, "%s: cannot write the counts of /%s",
                          w->tmp_path, s->name);
            goto out_abort;
        }
        sr_h5_close(&s->labels);
        sr_h5_close(&s->images);
        sr_h5_close(&s->group);
    }
    if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) {
        st = sr_h5_error(SR_E_IO, "%s: flush failed (disk full?)", w->tmp_path);
        goto out_abort;
    }
    closed = H5Fclose(w->file);
    w->file = H5I_INVALID_HID;
    if (closed < 0) {
        st = sr_h5_error(SR_E_IO, "%s: close failed (disk full?)", w->tmp_path);
        goto out_abort;
    }
    st = sr_file_sync(w->tmp_path, 0);
    if (st != SR_OK)
        goto out_abort;
    /* without SR_DS_OVERWRITE a link, which fails if the target appeared
     * meanwhile: never overwrite */
    st = sr_file_commit(w->tmp_path, w->path, w->flags & SR_DS_OVERWRITE);
    if (st == SR_E_ARG) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sr_last_error());
        st = sr_error(SR_E_ARG, "%s (use --force to replace it)", msg);
    }
    free_writer(w);
    return st;

out_abort:
    sr_ds_abort(w);
    return st;
}
