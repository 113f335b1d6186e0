/* Writes a small synthetic sinreq dataset for the trainer tests:
 *   mkds OUT.h5 [--train N] [--test N] [--val N] [--classes K] [--size S]
 *        [--channels C]
 * Class k's images are noise around a class-specific colour and stripe
 * pattern, so a network learns them within a few steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/dataset.h"
#include "sinreq/rng.h"

static int add(sr_ds_writer *w, const char *split, int n, int k, int c,
               int s, uint32_t seed)
{
    size_t isz = (size_t)c * s * s;
    uint8_t *img = malloc((size_t)n * isz);
    uint32_t *lab = malloc((size_t)n * sizeof *lab);
    int rc;

    if (!img || !lab)
        return 1;
    for (int i = 0; i < n; i++) {
        uint32_t key = sr_rng_key(seed, (uint32_t)i, 3);
        int y = i % k;
        lab[i] = (uint32_t)y;
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < s * s; p++) {
                int row = p / s;
                int base = 40 + (y * 37 + ch * 71) % 160;
                int stripe = ((row / (1 + y % 4)) & 1) ? 30 : -30;
                int v = base + stripe + (int)(sr_rng_u32(key, (uint32_t)(ch * s * s + p)) % 61) - 30;
                img[(size_t)i * isz + (size_t)ch * s * s + p] =
                    (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    }
    rc = sr_ds_append(w, split, img, lab, (size_t)n) != SR_OK;
    free(img);
    free(lab);
    return rc;
}

int main(int argc, char **argv)
{
    int ntrain = 256, ntest = 100, nval = 0, k = 10, s = 32, c = 3;
    const char *out = NULL;
    char names[64][16];
    const char *pn[64];
    sr_ds_writer *w;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--train") == 0) ntrain = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--test") == 0) ntest = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--val") == 0) nval = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--classes") == 0) k = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--size") == 0) s = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--channels") == 0) c = atoi(argv[++i]);
        else out = argv[i];
    }
    if (!out || k < 1 || k > 64) {
        fprintf(stderr, "usage: mkds OUT.h5 [--train N] [--test N] [--val N] "
                "[--classes K] [--size S] [--channels C]\n");
        return 1;
    }
    for (int i = 0; i < k; i++) {
        snprintf(names[i], sizeof names[i], "class%d", i);
        pn[i] = names[i];
    }
    struct sr_ds_meta m = {
        .channels = (uint32_t)c, .height = (uint32_t)s, .width = (uint32_t)s,
        .num_classes = (uint32_t)k, .class_names = pn,
        .source_kind = "image-folder", .source = "synthetic (tests/train/mkds)",
        .created_by = "mkds", .conversion = "synthetic", .deflate_level = 1,
        .val_fraction = nval ? 0.1 : -1.0,
    };
    if (sr_ds_create(&w, out, &m, SR_DS_OVERWRITE) != SR_OK ||
        add(w, "train", ntrain, k, c, s, 1) || add(w, "test", ntest, k, c, s, 2) ||
        (nval && add(w, "val", nval, k, c, s, 3)) || sr_ds_commit(w) != SR_OK) {
        fprintf(stderr, "mkds: %s\n", sr_last_error());
        return 1;
    }
    return 0;
}
