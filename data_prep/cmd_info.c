/* sinreq-prep info: what a dataset file holds, and a full read that makes
 * HDF5 verify every chunk's Fletcher32 checksum. */
#include "prep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static sr_status verify_split(sr_ds *ds, int s, const struct prep_opts *o)
{
    struct sr_ds_split_info in;
    struct prep_progress prog;
    uint64_t step, pos = 0;
    size_t image_bytes;
    uint8_t *buf;
    sr_status st = SR_OK;

    sr_ds_split_info(ds, s, &in);
    image_bytes = (size_t)in.channels * in.height * in.width;
    /* Whole chunks at a time: every chunk is read (and checked) once. */
    step = in.chunk_images;
    while (step * 2 * image_bytes <= (8u << 20))
        step *= 2;
    buf = malloc(step * image_bytes);
    if (!buf)
        return sr_error(SR_E_NOMEM, "out of memory");
    prep_progress_start(&prog, in.name, in.count, o->quiet);
    while (pos < in.count) {
        uint64_t n = in.count - pos < step ? in.count - pos : step;

        st = sr_ds_read_images(ds, s, pos, n, buf);
        if (st != SR_OK)
            break;
        pos += n;
        prep_progress_update(&prog, pos);
    }
    if (st == SR_OK)
        prep_progress_end(&prog);
    else if (!o->quiet && prog.tty)
        fprintf(stderr, "\n");
    free(buf);
    return st;
}

sr_status prep_info(struct prep_opts *o)
{
    sr_ds *ds = NULL;
    uint32_t k;
    uint64_t **counts = NULL;
    uint32_t *labels = NULL;
    int nsplits, width = 5;
    struct stat sb;
    sr_status st;

    st = sr_ds_open(&ds, o->input);
    if (st != SR_OK)
        return st;
    nsplits = sr_ds_num_splits(ds);
    k = sr_ds_num_classes(ds);
    printf("file: %s", o->input);
    if (stat(o->input, &sb) == 0)
        printf(" (%.1f MiB)", (double)sb.st_size / (1024.0 * 1024.0));
    printf("\nattributes:\n");
    for (int i = 0; i < sr_ds_num_attrs(ds); i++) {
        const char *name, *value;

        sr_ds_attr(ds, i, &name, &value);
        printf("  %s = %s\n", name, value);
    }
    printf("splits:\n");
    for (int s = 0; s < nsplits; s++) {
        struct sr_ds_split_info in;

        sr_ds_split_info(ds, s, &in);
        printf("  /%-6s %8llu images  uint8 [%llu][%u][%u][%u] (NCHW)  "
               "chunk %llu images\n", in.name, (unsigned long long)in.count,
               (unsigned long long)in.count, in.channels, in.height, in.width,
               (unsigned long long)in.chunk_images);
    }
    /* Class counts from the labels (reading them checks their range). */
    counts = calloc((size_t)nsplits, sizeof *counts);
    if (!counts) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out_free;
    }
    for (int s = 0; s < nsplits; s++) {
        struct sr_ds_split_info in;

        sr_ds_split_info(ds, s, &in);
        counts[s] = calloc(k, sizeof **counts);
        labels = malloc((in.count ? in.count : 1) * sizeof *labels);
        if (!counts[s] || !labels) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            goto out_free;
        }
        st = sr_ds_read_labels(ds, s, labels);
        if (st != SR_OK)
            goto out_free;
        for (uint64_t i = 0; i < in.count; i++)
            counts[s][labels[i]]++;
        free(labels);
        labels = NULL;
    }
    for (uint32_t c = 0; c < k; c++)
        if ((int)strlen(sr_ds_class_name(ds, c)) > width)
            width = (int)strlen(sr_ds_class_name(ds, c));
    if (width > 40)
        width = 40;
    printf("classes (%u):\n  %-3s %-*s", k, "id", width, "name");
    for (int s = 0; s < nsplits; s++) {
        struct sr_ds_split_info in;

        sr_ds_split_info(ds, s, &in);
        printf(" %10s", in.name);
    }
    printf("\n");
    for (uint32_t c = 0; c < k; c++) {
        printf("  %-3u %-*.*s", c, width, width, sr_ds_class_name(ds, c));
        for (int s = 0; s < nsplits; s++)
            printf(" %10llu", (unsigned long long)counts[s][c]);
        printf("\n");
    }
    fflush(stdout);
    if (o->quick) {
        printf("verify: skipped (--quick)\n");
        goto out_free;
    }
    for (int s = 0; s < nsplits; s++) {
        st = verify_split(ds, s, o);
        if (st != SR_OK)
            goto out_free;
    }
    printf("verify: OK (every image and label read; Fletcher32 checksums "
           "match)\n");
out_free:
    free(labels);
    for (int s = 0; counts && s < nsplits; s++)
        free(counts[s]);
    free(counts);
    sr_ds_close(ds);
    return st;
}
