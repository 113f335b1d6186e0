/* sinreq-prep idx: MNIST-style IDX files (MNIST, Fashion-MNIST), gzipped
 * or not: train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally .gz).
 * Images: magic 0x00000803, then N, rows, cols (big-endian u32), then
 * N*rows*cols bytes row-major; labels: magic 0x00000801, N, N bytes. */
#include "prep.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "gz_read.h"

#define MAX_CLASSES 256

static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
    "Sneaker", "Bag", "Ankle boot",
};

struct idx_set {
    uint8_t *images_raw, *labels_raw;
    size_t images_size, labels_size;
    const uint8_t *pixels;
    uint64_t n;
    uint32_t rows, cols;
    uint32_t *labels;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static sr_status idx_fetch(void *ctx, uint64_t i, uint8_t *out)
{
    const struct idx_set *s = ctx;
    size_t bytes = (size_t)s->rows * s->cols;

    memcpy(out, s->pixels + i * bytes, bytes);
    return SR_OK;
}

/* Finds <dir>/<name> or <dir>/<name>.gz; returns a malloc'd path or NULL. */
static char *find_idx(const char *dir, const char *name)
{
    char gz[128];
    char *path = prep_join(dir, name);

    if (path && prep_is_file(path))
        return path;
    free(path);
    snprintf(gz, sizeof gz, "%s.gz", name);
    path = prep_join(dir, gz);
    if (path && prep_is_file(path))
        return path;
    free(path);
    return NULL;
}

static sr_status load_set(const char *dir, const char *prefix,
                          struct idx_set *s, char *checksum, size_t cks_size)
{
    char iname[64], lname[64], hex[PREP_DIGEST_HEX_MAX];
    char *ipath = NULL, *lpath = NULL;
    uint64_t nl;
    sr_status st = SR_OK;
    size_t len = strlen(checksum);

    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
    ipath = find_idx(dir, iname);
    lpath = find_idx(dir, lname);
    if (!ipath || !lpath) {
        st = sr_error(SR_E_IO, "%s: %s(.gz) is missing", dir,
                      ipath ? lname : iname);
        goto out_free;
    }
    st = prep_gz_read(ipath, &s->images_raw, &s->images_size);
    if (st == SR_OK)
        st = prep_gz_read(lpath, &s->labels_raw, &s->labels_size);
    if (st != SR_OK)
        goto out_free;
    if (s->images_size < 16 || be32(s->images_raw) != 0x00000803) {
        st = sr_error(SR_E_FORMAT, "%s: not an IDX image file (magic must "
                      "be 0x00000803: unsigned bytes, 3 dimensions)", ipath);
        goto out_free;
    }
    s->n = be32(s->images_raw + 4);
    s->rows = be32(s->images_raw + 8);
    s->cols = be32(s->images_raw + 12);
    if (s->rows == 0 || s->cols == 0 || s->rows > 4096 || s->cols > 4096 ||
        s->images_size != 16 + s->n * s->rows * s->cols) {
        st = sr_error(SR_E_FORMAT, "%s: header says %llu images of %ux%u "
                      "(%llu bytes) but the data has %zu bytes (truncated?)",
                      ipath, (unsigned long long)s->n, s->rows, s->cols,
                      (unsigned long long)(16 + s->n * s->rows * s->cols),
                      s->images_size);
        goto out_free;
    }
    if (s->labels_size < 8 || be32(s->labels_raw) != 0x00000801) {
        st = sr_error(SR_E_FORMAT, "%s: not an IDX label file (magic must "
                      "be 0x00000801)", lpath);
        goto out_free;
    }
    nl = be32(s->labels_raw + 4);
    if (s->labels_size != 8 + nl || nl != s->n) {
        st = sr_error(SR_E_FORMAT, "%s: %llu labels in the header, %zu "
                      "bytes of data, for %llu images", lpath,
                      (unsigned long long)nl, s->labels_size - 8,
                      (unsigned long long)s->n);
        goto out_free;
    }
    s->pixels = s->images_raw + 16;
    s->labels = malloc((s->n ? s->n : 1) * sizeof *s->labels);
    if (!s->labels) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out_free;
    }
    for (uint64_t i = 0; i < s->n; i++)
        s->labels[i] = s->labels_raw[8 + i];
    st = prep_digest_file(ipath, "md5", hex);
    if (st != SR_OK)
        goto out_free;
    len += (size_t)snprintf(checksum + len, cks_size - len, "%smd5:%s=%s",
                            len ? " " : "", strrchr(ipath, '/') + 1, hex);
    st = prep_digest_file(lpath, "md5", hex);
    if (st != SR_OK)
        goto out_free;
    snprintf(checksum + len, cks_size - len, " md5:%s=%s",
             strrchr(lpath, '/') + 1, hex);
out_free:
    free(ipath);
    free(lpath);
    return st;
}

static void free_set(struct idx_set *s)
{
    free(s->images_raw);
    free(s->labels_raw);
    free(s->labels);
}

static int contains_nocase(const char *s, const char *word)
{
    size_t n = strlen(word);

    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return 1;
    return 0;
}

/* Class names: a preset or a comma-separated list; *k is their count. */
static sr_status class_names(const struct prep_opts *o, uint32_t max_label,
                             char **names, uint32_t *k)
{
    const char *spec = o->class_names;

    if (!spec)
        spec = contains_nocase(o->input, "fashion") ? "fashion-mnist" : "digits";
    if (strcmp(spec, "fashion-mnist") == 0) {
        for (*k = 0; *k < 10; (*k)++)
            names[*k] = strdup(fashion_names[*k]);
    } else if (strcmp(spec, "digits") == 0) {
        *k = max_label < 10 ? 10 : max_label + 1;
        for (uint32_t i = 0; i < *k; i++) {
            char buf[16];

            snprintf(buf, sizeof buf, "%u", i);
            names[i] = strdup(buf);
        }
    } else {
        const char *p = spec;

        *k = 0;
        while (*p && *k < MAX_CLASSES) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);

            SR_CHECK(len > 0, SR_E_ARG, "--class-names: empty name at "
                     "position %u", *k + 1);
            names[(*k)++] = strndup(p, len);
            p += len + (e ? 1 : 0);
        }
    }
    for (uint32_t i = 0; i < *k; i++)
        SR_CHECK(names[i], SR_E_NOMEM, "out of memory");
    SR_CHECK(max_label < *k, SR_E_FORMAT, "%s: label %u found but only %u "
             "class names (--class-names)", o->input, max_label, *k);
    return SR_OK;
}

sr_status prep_idx(struct prep_opts *o)
{
    struct idx_set train = { 0 }, test = { 0 };
    char checksum[1024] = "";
    char *names[MAX_CLASSES] = { NULL };
    uint32_t k = 0, max_label = 0;
    struct prep_job job;
    sr_status st;

    if (!prep_is_dir(o->input))
        return sr_error(SR_E_IO, "%s: no such directory (expected a "
                        "directory with train-images-idx3-ubyte[.gz] ...)",
                        o->input);
    st = load_set(o->input, "train", &train, checksum, sizeof checksum);
    if (st == SR_OK)
        st = load_set(o->input, "t10k", &test, checksum, sizeof checksum);
    if (st != SR_OK)
        goto out_free;
    if (train.rows != test.rows || train.cols != test.cols) {
        st = sr_error(SR_E_SHAPE, "%s: train images are %ux%u, test images "
                      "%ux%u", o->input, train.rows, train.cols, test.rows,
                      test.cols);
        goto out_free;
    }
    for (uint64_t i = 0; i < train.n; i++)
        if (train.labels[i] > max_label)
            max_label = train.labels[i];
    for (uint64_t i = 0; i < test.n; i++)
        if (test.labels[i] > max_label)
            max_label = test.labels[i];
    st = class_names(o, max_label, names, &k);
    if (st != SR_OK)
        goto out_free;
    memset(&job, 0, sizeof job);
    job.meta = (struct sr_ds_meta){
        .channels = 1, .height = train.rows, .width = train.cols,
        .num_classes = k, .class_names = (const char *const *)names,
        .source_kind = "idx", .source = o->input, .source_checksum = checksum,
        .conversion = "pixels and labels copied as they are; train = "
                      "train-*, test = t10k-*",
    };
    job.nparts = 2;
    job.parts[0] = (struct prep_part){ "train", train.n, train.labels,
                                       idx_fetch, &train };
    job.parts[1] = (struct prep_part){ "test", test.n, test.labels,
                                       idx_fetch, &test };
    st = prep_run(&job, o);
out_free:
    for (uint32_t i = 0; i < MAX_CLASSES; i++)
        free(names[i]);
    free_set(&train);
    free_set(&test);
    return st;
}
