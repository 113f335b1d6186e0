/* bench_dataset: a small sinreq dataset for timing the trainer
 * (bench/train_scaling.sh), whose epochs are as long as the benchmark
 * wants them:
 *
 *   bench_dataset OUT.h5 --train N --test M [--from IN.h5]
 *
 * With --from, N training and M test images of IN (a sinreq dataset, e.g.
 * CIFAR-10 from sinreq-prep; 16 runs spread over each split, so a file
 * stored by class gives every class) and its classes; without, N + M
 * random 3x32x32 images, labels i mod 10. A step costs the same either way
 * (the shapes set the work); the real images only make the losses real. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/dataset.h"
#include "sinreq/rng.h"

#define TRY(expr)                                                          \
    do {                                                                   \
        if ((expr) != SR_OK) {                                             \
            fprintf(stderr, "bench_dataset: %s\n", sr_last_error());      \
            goto fail;                                                     \
        }                                                                  \
    } while (0)

/* n images of split `name` into w: copied from `in`, or random. */
static int split(sr_ds_writer *w, sr_ds *in, const char *name, size_t n,
                 size_t isz, uint32_t k)
{
    uint8_t *img = malloc(n * isz + 1);
    uint32_t *lab = NULL, *all = NULL;
    int rc = 1;

    if (!img)
        goto fail;
    if (in) {
        int s = sr_ds_find_split(in, name);
        struct sr_ds_split_info si;
        if (s < 0) {
            fprintf(stderr, "bench_dataset: %s has no /%s\n", sr_ds_path(in),
                    name);
            goto fail;
        }
        sr_ds_split_info(in, s, &si);
        if (si.count < n) {
            fprintf(stderr, "bench_dataset: /%s has %llu images, %zu wanted\n",
                    name, (unsigned long long)si.count, n);
            goto fail;
        }
        lab = malloc((n + 1) * sizeof *lab);
        all = malloc(si.count * sizeof *all);
        if (!lab || !all)
            goto fail;
        TRY(sr_ds_read_labels(in, s, all));
        /* 16 runs spread over the split: a file stored by class (as
         * CIFAR-10 here) still gives every class */
        size_t runs = n < 16 ? n : 16, o = 0;
        for (size_t j = 0; j < runs; j++) {
            size_t len = n / runs + (j < n % runs);
            size_t first = (size_t)(j * (si.count - len) / (runs > 1 ? runs - 1 : 1));
            if (first + len > si.count)
                first = si.count - len;
            TRY(sr_ds_read_images(in, s, first, len, img + o * isz));
            memcpy(lab + o, all + first, len * sizeof *lab);
            o += len;
        }
    } else {
        uint32_t key = sr_rng_key(7, name[1], 0);
        lab = malloc((n + 1) * sizeof *lab);
        if (!lab)
            goto fail;
        for (size_t i = 0; i < n * isz; i++)
            img[i] = (uint8_t)(sr_rng_u32(key, (uint32_t)i) >> 24);
        for (size_t i = 0; i < n; i++)
            lab[i] = (uint32_t)(i % k);
    }
    TRY(sr_ds_append(w, name, img, lab, n));
    rc = 0;
fail:
    free(img);
    free(lab);
    free(all);
    return rc;
}

int main(int argc, char **argv)
{
    const char *out = NULL, *from = NULL;
    long ntrain = -1, ntest = -1;
    sr_ds *in = NULL;
    sr_ds_writer *w = NULL;
    const char *names[64];
    char buf[10][8];
    uint32_t k = 10, c = 3, h = 32, wd = 32;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--train")) ntrain = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--test")) ntest = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--from")) from = argv[++i];
        else if (argv[i][0] != '-' && !out) out = argv[i];
        else out = NULL, i = argc;
    }
    if (!out || ntrain < 1 || ntest < 1) {
        fprintf(stderr, "usage: bench_dataset OUT.h5 --train N --test M "
                "[--from IN.h5]\n");
        return 1;
    }
    if (from) {
        struct sr_ds_split_info si;
        int s;
        TRY(sr_ds_open(&in, from));
        s = sr_ds_find_split(in, "train");
        if (s < 0) {
            fprintf(stderr, "bench_dataset: %s has no /train\n", from);
            goto fail;
        }
        sr_ds_split_info(in, s, &si);
        c = si.channels, h = si.height, wd = si.width;
        k = sr_ds_num_classes(in);
        if (k > 64) {
            fprintf(stderr, "bench_dataset: %u classes; at most 64\n", k);
            goto fail;
        }
        for (uint32_t i = 0; i < k; i++)
            names[i] = sr_ds_class_name(in, i);
    } else {
        for (uint32_t i = 0; i < k; i++) {
            snprintf(buf[i], sizeof buf[i], "c%u", i);
            names[i] = buf[i];
        }
    }
    struct sr_ds_meta m = {
        .channels = c, .height = h, .width = wd, .num_classes = k,
        .class_names = names, .source_kind = "image-folder",
        .source = from ? from : "random (bench/bench_dataset)",
        .created_by = "bench_dataset", .conversion = from ? "16 runs per split"
                                                          : "random",
        .deflate_level = 1, .val_fraction = -1.0,
    };
    TRY(sr_ds_create(&w, out, &m, SR_DS_OVERWRITE));
    if (split(w, in, "train", (size_t)ntrain, (size_t)c * h * wd, k) ||
        split(w, in, "test", (size_t)ntest, (size_t)c * h * wd, k))
        goto fail;
    {
        sr_ds_writer *done = w;   /* commit frees it, whatever happens */
        w = NULL;
        TRY(sr_ds_commit(done));
    }
    sr_ds_close(in);
    return 0;
fail:
    sr_ds_abort(w);
    sr_ds_close(in);
    return 1;
}
