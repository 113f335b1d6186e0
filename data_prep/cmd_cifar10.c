/* sinreq-prep cifar10: the official binary version of CIFAR-10.
 *
 * data_batch_1.bin .. data_batch_5.bin (train, in that order) and
 * test_batch.bin, each a sequence of 3073-byte records: 1 label byte (0..9)
 * then 1024 red, 1024 green, 1024 blue bytes, rows top to bottom: already
 * CHW, so an image is copied as it is. Input: the directory holding the
 * files (or its parent with cifar-10-batches-bin/), or the official
 * cifar-10-binary.tar.gz, whose md5 is checked. */
#include "prep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "tar_read.h"

#define CIFAR_MD5 "c32a1d4ab5d03f1284b67883e8d87530"
#define RECORD 3073
#define NFILES 7   /* 5 train batches, test, meta */

static const char *const file_names[NFILES] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
    "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin",
    "batches.meta.txt",
};

static const char *const default_classes[10] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
    "ship", "truck",
};

struct cifar_split {
    const uint8_t *rec[5];   /* record arrays of the files in this split */
    uint64_t n[5];
    int nfiles;
    uint64_t total;
    uint32_t *labels;
};

static sr_status cifar_fetch(void *ctx, uint64_t i, uint8_t *out)
{
    const struct cifar_split *s = ctx;

    for (int f = 0; f < s->nfiles; f++) {
        if (i < s->n[f]) {
            memcpy(out, s->rec[f] + i * RECORD + 1, RECORD - 1);
            return SR_OK;
        }
        i -= s->n[f];
    }
    return sr_error(SR_E_INTERNAL, "cifar10: image index out of range");
}

static sr_status check_records(const char *where, const char *name,
                               const uint8_t *data, size_t size, uint64_t *n)
{
    SR_CHECK(size > 0, SR_E_FORMAT, "%s: %s is empty", where, name);
    SR_CHECK(size % RECORD == 0, SR_E_FORMAT,
             "%s: %s has %zu bytes, not a whole number of %d-byte records "
             "(truncated, or not the CIFAR-10 binary version? CIFAR-100 "
             "records are 3074 bytes)", where, name, size, RECORD);
    *n = size / RECORD;
    for (uint64_t r = 0; r < *n; r++)
        SR_CHECK(data[r * RECORD] < 10, SR_E_FORMAT,
                 "%s: %s: record %llu has label %u (CIFAR-10 labels are "
                 "0..9; wrong record size?)", where, name,
                 (unsigned long long)r, data[r * RECORD]);
    return SR_OK;
}

/* Class names from batches.meta.txt (one per line), else the defaults. */
static void parse_meta(uint8_t *meta, size_t size, char **names)
{
    char *p = (char *)meta, *end = p + size;
    int k = 0;

    for (int i = 0; i < 10; i++)
        names[i] = NULL;
    while (p < end && k < 10) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;

        while (e > p && (e[-1] == '\r' || e[-1] == ' '))
            e--;
        if (e > p)
            names[k++] = strndup(p, (size_t)(e - p));
        p = nl ? nl + 1 : end;
    }
    if (k != 10)
        for (int i = 0; i < 10; i++) {
            free(names[i]);
            names[i] = NULL;
        }
}

static sr_status fill_split(struct cifar_split *s, uint8_t **data,
                            const uint64_t *n, int first, int count)
{
    uint64_t pos = 0;

    s->nfiles = count;
    s->total = 0;
    for (int f = 0; f < count; f++) {
        s->rec[f] = data[first + f];
        s->n[f] = n[first + f];
        s->total += s->n[f];
    }
    s->labels = malloc(s->total * sizeof *s->labels);
    if (!s->labels)
        return sr_error(SR_E_NOMEM, "out of memory");
    for (int f = 0; f < count; f++)
        for (uint64_t r = 0; r < s->n[f]; r++)
            s->labels[pos++] = s->rec[f][r * RECORD];
    return SR_OK;
}

sr_status prep_cifar10(struct prep_opts *o)
{
    uint8_t *data[NFILES] = { NULL };
    size_t size[NFILES] = { 0 };
    uint64_t n[NFILES] = { 0 };
    char *names[10] = { NULL };
    const char *class_names[10];
    char checksum[1024] = "", hex[PREP_DIGEST_HEX_MAX];
    struct cifar_split train = { .nfiles = 0 }, test = { .nfiles = 0 };
    struct prep_job job;
    char *dir = NULL;
    sr_status st = SR_OK;
    int from_archive = prep_is_file(o->input);

    if (from_archive) {
        if (!o->quiet)
            fprintf(stderr, "cifar10: checking the md5 of %s\n", o->input);
        st = prep_digest_file(o->input, "md5", hex);
        if (st != SR_OK)
            goto out_free;
        if (!o->skip_md5 && strcmp(hex, CIFAR_MD5) != 0) {
            st = sr_error(SR_E_FORMAT, "%s: md5 is %s, but the official "
                          "cifar-10-binary.tar.gz has %s (damaged download? "
                          "--skip-md5 converts it anyway)", o->input, hex,
                          CIFAR_MD5);
            goto out_free;
        }
        snprintf(checksum, sizeof checksum, "md5:%s", hex);
        st = prep_tar_read_members(o->input, file_names, NFILES, data, size);
        if (st != SR_OK)
            goto out_free;
        for (int f = 0; f < NFILES - 1; f++)
            if (!data[f]) {
                st = sr_error(SR_E_FORMAT, "%s: the archive has no %s",
                              o->input, file_names[f]);
                goto out_free;
            }
    } else if (prep_is_dir(o->input)) {
        size_t len = 0;

        dir = prep_join(o->input, "cifar-10-batches-bin");
        if (!dir) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            goto out_free;
        }
        if (!prep_is_dir(dir)) {
            free(dir);
            dir = strdup(o->input);
        }
        for (int f = 0; f < NFILES && dir; f++) {
            char *path = prep_join(dir, file_names[f]);

            if (!path) {
                st = sr_error(SR_E_NOMEM, "out of memory");
                goto out_free;
            }
            if (f == NFILES - 1 && !prep_is_file(path)) {
                free(path);   /* the meta file is optional */
                break;
            }
            if (!prep_is_file(path)) {
                st = sr_error(SR_E_IO, "%s: %s is missing (expected "
                              "data_batch_1..5.bin and test_batch.bin)",
                              dir, file_names[f]);
                free(path);
                goto out_free;
            }
            st = prep_read_file(path, &data[f], &size[f]);
            if (st == SR_OK && f < NFILES - 1)
                st = prep_digest_file(path, "md5", hex);
            free(path);
            if (st != SR_OK)
                goto out_free;
            if (f < NFILES - 1)
                len += (size_t)snprintf(checksum + len, sizeof checksum - len,
                                        "%smd5:%s=%s", f ? " " : "",
                                        file_names[f], hex);
        }
    } else {
        st = sr_error(SR_E_IO, "%s: no such file or directory (expected the "
                      "CIFAR-10 binary directory or cifar-10-binary.tar.gz)",
                      o->input);
        goto out_free;
    }
    for (int f = 0; f < NFILES - 1; f++) {
        st = check_records(o->input, file_names[f], data[f], size[f], &n[f]);
        if (st != SR_OK)
            goto out_free;
    }
    if (data[NFILES - 1])
        parse_meta(data[NFILES - 1], size[NFILES - 1], names);
    for (int k = 0; k < 10; k++)
        class_names[k] = names[k] ? names[k] : default_classes[k];

    st = fill_split(&train, data, n, 0, 5);
    if (st == SR_OK)
        st = fill_split(&test, data, n, 5, 1);
    if (st != SR_OK)
        goto out_free;
    memset(&job, 0, sizeof job);
    job.meta = (struct sr_ds_meta){
        .channels = 3, .height = 32, .width = 32, .num_classes = 10,
        .class_names = class_names, .source_kind = "cifar10-binary",
        .source = o->input, .source_checksum = checksum,
        .conversion = "records copied as they are (label byte, then CHW "
                      "pixels); train = data_batch_1..5 in order",
    };
    job.nparts = 2;
    job.parts[0] = (struct prep_part){ "train", train.total, train.labels,
                                       cifar_fetch, &train };
    job.parts[1] = (struct prep_part){ "test", test.total, test.labels,
                                       cifar_fetch, &test };
    st = prep_run(&job, o);
out_free:
    free(train.labels);
    free(test.labels);
    for (int k = 0; k < 10; k++)
        free(names[k]);
    for (int f = 0; f < NFILES; f++)
        free(data[f]);
    free(dir);
    return st;
}
