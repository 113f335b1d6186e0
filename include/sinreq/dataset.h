/* sinreq: image datasets in HDF5 (src/io).
 *
 * One layout for every dataset (docs/data.md has the details):
 *
 *   /classes              string [K]          class names, label k -> classes[k]
 *   /<split>/images       uint8 [N][C][H][W]  NCHW, chunked, deflate, Fletcher32
 *   /<split>/labels       uint32 [N]          0 <= label < K
 *   /<split>@count, @class_counts             per-split counts
 *   /@format = "sinreq-dataset", /@format_version = 1, @source, @source_kind,
 *   @source_checksum, @created_by, @created_at, @conversion, @layout,
 *   @num_classes (+ @val_fraction, @val_seed when /val was held out)
 *
 * Splits are named "train", "val", "test" (and "extra" for SVHN's extra set).
 *
 * Writer: sr_ds_create() writes to "<path>.tmp"; sr_ds_commit() flushes,
 * fsyncs and renames it to <path>, so a reader never sees a half-written
 * file. sr_ds_abort() removes the temporary file.
 *
 * Reader: sr_ds_open() checks the format, version and every split's shapes
 * and types; reads report missing datasets, wrong shapes, truncated or
 * corrupted files (Fletcher32 mismatch) as SR_E_FORMAT / SR_E_IO with the
 * file and dataset path in sr_last_error(). HDF5 is not thread-safe in this
 * build: use a handle from one thread at a time (the loader thread). */
#ifndef SINREQ_DATASET_H
#define SINREQ_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

#define SR_DS_FORMAT "sinreq-dataset"
#define SR_DS_FORMAT_VERSION 1u
#define SR_DS_MAX_SPLITS 8
#define SR_DS_MAX_CLASSES 65536

/* ---- writer ---- */

typedef struct sr_ds_writer sr_ds_writer;

struct sr_ds_meta {
    uint32_t channels, height, width;   /* every image is C x H x W */
    uint32_t num_classes;
    const char *const *class_names;     /* num_classes non-empty strings */
    const char *source_kind;   /* "cifar10-binary", "svhn-mat", "image-folder", "idx" */
    const char *source;        /* what was converted (path) */
    const char *source_checksum; /* e.g. "md5:c32a..."; NULL or "" if unknown */
    const char *created_by;    /* e.g. "sinreq-prep 0.1.0" */
    const char *conversion;    /* how pixels/labels were derived (text) */
    int deflate_level;         /* 0..9; 0 stores chunks uncompressed */
    double val_fraction;       /* < 0: no held-out split, not recorded */
    uint64_t val_seed;
};

enum sr_ds_create_flags {
    SR_DS_OVERWRITE = 1u << 0,  /* replace an existing <path> on commit */
};

/* Starts a new file "<path>.tmp". Without SR_DS_OVERWRITE an existing <path>
 * is an error (SR_E_ARG) now and again, atomically, at commit. */
sr_status sr_ds_create(sr_ds_writer **out, const char *path,
                       const struct sr_ds_meta *meta, unsigned flags);

/* Appends `count` images (count x C x H x W bytes, NCHW) and their labels
 * to split `split` (created on first use). Splits may be interleaved. */
sr_status sr_ds_append(sr_ds_writer *w, const char *split,
                       const uint8_t *images, const uint32_t *labels,
                       size_t count);

/* Writes the per-split counts, closes, fsyncs and renames to the final
 * path. Frees `w` whatever the outcome; on failure nothing is left behind. */
sr_status sr_ds_commit(sr_ds_writer *w);

/* Discards everything written; frees `w`. NULL is a no-op. */
void sr_ds_abort(sr_ds_writer *w);

/* ---- reader ---- */

typedef struct sr_ds sr_ds;

struct sr_ds_split_info {
    const char *name;
    uint64_t count;
    uint32_t channels, height, width;
    uint64_t chunk_images;   /* images per stored chunk: read in multiples */
};

sr_status sr_ds_open(sr_ds **out, const char *path);
void sr_ds_close(sr_ds *ds);   /* NULL is a no-op */

const char *sr_ds_path(const sr_ds *ds);
int sr_ds_num_splits(const sr_ds *ds);
/* Index of split `name`, or -1 when the file has none. */
int sr_ds_find_split(const sr_ds *ds, const char *name);
void sr_ds_split_info(const sr_ds *ds, int split, struct sr_ds_split_info *info);

uint32_t sr_ds_num_classes(const sr_ds *ds);
const char *sr_ds_class_name(const sr_ds *ds, uint32_t k);

/* Root attributes, each value formatted as text (for `sinreq-prep info`). */
int sr_ds_num_attrs(const sr_ds *ds);
void sr_ds_attr(const sr_ds *ds, int i, const char **name, const char **value);

/* Reads images [first, first + count) of `split` into `buf`
 * (count x C x H x W bytes). */
sr_status sr_ds_read_images(sr_ds *ds, int split, uint64_t first,
                            uint64_t count, uint8_t *buf);

/* Reads all labels of `split` into `labels` (count entries); checks each is
 * below num_classes. */
sr_status sr_ds_read_labels(sr_ds *ds, int split, uint32_t *labels);

#endif
