/* Tests of the data loader (src/data, include/sinreq/loader.h) on small
 * datasets written here with the sr_ds writer API. Labels are the sample
 * numbers (one class per image), so every row of a batch says which image
 * it came from.
 *
 *   test_loader WORKDIR [H5_MANGLE]     unit tests (H5_MANGLE: the
 *                                       tests/data_prep helper that locates
 *                                       a chunk; without it the corrupted
 *                                       chunk test is skipped)
 *   test_loader --bench FILE.h5 [CAP]   images/s on a real CIFAR-size file
 *                                       (CAP: sr_loader_open_cap's cap;
 *                                       0 = the block path)
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "sinreq/dataset.h"
#include "sinreq/loader.h"
#include "sinreq/rng.h"
#include "transform.h"

static const char *g_dir;

/* ---- datasets ---- */

struct tds {
    char path[512];
    int c, h, w, n_train, n_test;
    uint8_t *train, *test;   /* NCHW */
};

static void tds_free(struct tds *d)
{
    free(d->train);
    free(d->test);
}

static uint8_t *random_images(int n, size_t bytes)
{
    uint8_t *p = malloc((size_t)n * bytes + 1);

    for (size_t i = 0; i < (size_t)n * bytes; i++)
        p[i] = (uint8_t)(rnd_u64() >> 56);
    return p;
}

/* Writes NAME.h5 with n_train + n_test random images (n_test 0: no test
 * split); label = sample number, classes "c0".."c<max>". */
static int tds_make(struct tds *d, const char *name, int c, int h, int w,
                    int n_train, int n_test)
{
    int k = n_train > n_test ? n_train : n_test;
    char **names = calloc((size_t)k, sizeof *names);
    uint32_t *labels = malloc(sizeof(uint32_t) * (size_t)k);
    size_t ib = (size_t)c * h * w;
    struct sr_ds_meta m = { 0 };
    sr_ds_writer *wr = NULL;
    int ok = 0;

    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s/%s.h5", g_dir, name);
    d->c = c;
    d->h = h;
    d->w = w;
    d->n_train = n_train;
    d->n_test = n_test;
    d->train = random_images(n_train, ib);
    d->test = random_images(n_test, ib);
    for (int i = 0; i < k; i++) {
        names[i] = malloc(16);
        snprintf(names[i], 16, "c%d", i);
        labels[i] = (uint32_t)i;
    }
    m.channels = (uint32_t)c;
    m.height = (uint32_t)h;
    m.width = (uint32_t)w;
    m.num_classes = (uint32_t)k;
    m.class_names = (const char *const *)names;
    m.source_kind = "idx";
    m.source = "tests/data/test_loader.c";
    m.created_by = "test_loader";
    m.conversion = "random pixels";
    m.deflate_level = 1;
    m.val_fraction = -1.0;
    if (sr_ds_create(&wr, d->path, &m, SR_DS_OVERWRITE) ||
        (n_train && sr_ds_append(wr, "train", d->train, labels,
                                 (size_t)n_train)) ||
        (n_test && sr_ds_append(wr, "test", d->test, labels,
                                (size_t)n_test))) {
        fprintf(stderr, "cannot write %s: %s\n", d->path, sr_last_error());
        sr_ds_abort(wr);
        goto out;
    }
    if (sr_ds_commit(wr)) {
        fprintf(stderr, "cannot commit %s: %s\n", d->path, sr_last_error());
        goto out;
    }
    ok = 1;
out:
    for (int i = 0; i < k; i++)
        free(names[i]);
    free(names);
    free(labels);
    return ok;
}

static sr_loader_opts opts_for(const struct tds *d, const char *split,
                               int batch, sr_augment aug)
{
    sr_loader_opts o = { 0 };

    o.path = d->path;
    o.split = split;
    o.batch = batch;
    o.augment = aug;
    o.seed = 1234;
    o.nranks = 1;
    return o;
}

static void set_norm(sr_loader_opts *o)
{
    const float m[3] = { 0.5f, 0.4f, 0.3f }, s[3] = { 0.2f, 0.25f, 0.3f };

    memcpy(o->mean, m, sizeof m);
    memcpy(o->std, s, sizeof s);
}

static float norm_ref(int p, double mean, double std)
{
    return (float)(((double)p / 255.0 - mean) / std);
}

/* ---- reading whole epochs ---- */

struct epoch {
    int nb, batch;
    size_t per;          /* floats per image */
    int *nv;
    uint32_t *y;
    float *x;
};

static void epoch_free(struct epoch *e)
{
    free(e->nv);
    free(e->y);
    free(e->x);
    memset(e, 0, sizeof *e);
}

/* Reads batches [from, nb) of `epoch` (seeking first when seek != 0) and
 * checks that the next call then reports the end. */
static int read_batches(sr_loader *ld, int batch, int epoch, int from,
                        int seek, struct epoch *e)
{
    int c, h, w, nv = -1;
    sr_status st;

    sr_loader_shape(ld, &c, &h, &w);
    memset(e, 0, sizeof *e);
    e->nb = sr_loader_batches_per_epoch(ld);
    e->per = (size_t)c * h * w;
    e->batch = batch;
    e->nv = calloc((size_t)e->nb + 1, sizeof(int));
    if (seek && sr_loader_seek(ld, epoch, from)) {
        fprintf(stderr, "seek: %s\n", sr_last_error());
        return 0;
    }
    e->y = calloc((size_t)(e->nb + 1) * batch, sizeof(uint32_t));
    e->x = calloc((size_t)(e->nb + 1) * batch * e->per, sizeof(float));
    for (int b = from; b < e->nb; b++) {
        st = sr_loader_next(ld, e->x + (size_t)b * batch * e->per,
                            e->y + (size_t)b * batch, &e->nv[b]);
        if (st) {
            fprintf(stderr, "next (%d, %d): %s\n", epoch, b, sr_last_error());
            return 0;
        }
    }
    st = sr_loader_next(ld, e->x + (size_t)e->nb * batch * e->per,
                        e->y + (size_t)e->nb * batch, &nv);
    if (st || nv != 0) {
        fprintf(stderr, "end of epoch %d: status %d, n_valid %d\n", epoch,
                (int)st, nv);
        return 0;
    }
    return 1;
}

static sr_loader *open_ok(const sr_loader_opts *o, uint64_t cap)
{
    sr_loader *ld = NULL;

    if (sr_loader_open_cap(o, cap, &ld)) {
        fprintf(stderr, "open %s/%s: %s\n", o->path, o->split,
                sr_last_error());
        return NULL;
    }
    return ld;
}

/* ---- tests ---- */

static void test_shapes(const struct tds *d)
{
    sr_loader_opts o = opts_for(d, "train", 8, SR_AUG_NONE);
    sr_loader *ld;
    int c, h, w;

    group_begin("shapes and facts");
    set_norm(&o);
    ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    CHECK(ld, "open");
    if (!ld)
        goto out;
    sr_loader_shape(ld, &c, &h, &w);
    CHECK(c == 3 && h == 32 && w == 32, "shape %d %d %d", c, h, w);
    CHECK(sr_loader_classes(ld) == d->n_train, "classes %d",
          sr_loader_classes(ld));
    CHECK(strcmp(sr_loader_class_name(ld, 5), "c5") == 0, "class 5");
    CHECK(strcmp(sr_loader_class_name(ld, -1), "") == 0, "class -1");
    CHECK(sr_loader_samples(ld) == (uint64_t)d->n_train, "samples");
    CHECK(sr_loader_batches_per_epoch(ld) == (d->n_train + 7) / 8, "nb %d",
          sr_loader_batches_per_epoch(ld));
    sr_loader_free(ld);

    o.drop_last = 1;
    ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    CHECK(ld && sr_loader_batches_per_epoch(ld) == d->n_train / 8,
          "drop_last nb");
    sr_loader_free(ld);

    o = opts_for(d, "test", 8, SR_AUG_CENTER);
    set_norm(&o);
    o.crop = 24;
    ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    CHECK(ld, "open centre");
    if (ld) {
        sr_loader_shape(ld, &c, &h, &w);
        CHECK(c == 3 && h == 24 && w == 24, "centre shape %d %d", h, w);
        CHECK(sr_loader_samples(ld) == (uint64_t)d->n_test, "test samples");
        sr_loader_free(ld);
    }
    for (int split = 0; split < 2; split++) {
        o = opts_for(d, split ? "test" : "train", 8, SR_AUG_IMAGENET);
        set_norm(&o);
        o.crop = 16;
        ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
        CHECK(ld, "open imagenet %d", split);
        if (ld) {
            sr_loader_shape(ld, &c, &h, &w);
            CHECK(h == 16 && w == 16, "imagenet shape %d %d", h, w);
            sr_loader_free(ld);
        }
    }
out:
    group_end();
}

static void test_norm(const struct tds *d, const struct tds *g1)
{
    sr_loader_opts o = opts_for(d, "train", 7, SR_AUG_NONE);
    struct epoch e;
    sr_loader *ld;
    float mean[3], std[3];
    double rm[3], rs[3];
    size_t plane = (size_t)d->h * d->w;
    int bad = 0;

    group_begin("normalisation");
    set_norm(&o);
    ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    CHECK(ld && read_batches(ld, 7, 0, 0, 0, &e), "explicit: read");
    if (ld) {
        for (int s = 0; s < d->n_train; s++)
            for (int c = 0; c < 3; c++)
                for (size_t k = 0; k < plane; k++) {
                    int p = d->train[((size_t)s * 3 + c) * plane + k];
                    float got = e.x[((size_t)s * 3 + c) * plane + k];

                    bad += got != norm_ref(p, o.mean[c], o.std[c]);
                }
        CHECK(bad == 0, "explicit: %d values differ from (p/255-m)/s", bad);
        sr_loader_norm(ld, mean, std);
        CHECK(mean[1] == 0.4f && std[2] == 0.3f, "sr_loader_norm explicit");
        epoch_free(&e);
        sr_loader_free(ld);
    }

    /* Computed from the train split (float64 reference here). */
    for (int c = 0; c < 3; c++) {
        double s1 = 0, s2 = 0, cnt = (double)d->n_train * plane;

        for (int s = 0; s < d->n_train; s++)
            for (size_t k = 0; k < plane; k++)
                s1 += d->train[((size_t)s * 3 + c) * plane + k] / 255.0;
        rm[c] = s1 / cnt;
        for (int s = 0; s < d->n_train; s++)
            for (size_t k = 0; k < plane; k++) {
                double v = d->train[((size_t)s * 3 + c) * plane + k] / 255.0
                           - rm[c];
                s2 += v * v;
            }
        rs[c] = sqrt(s2 / cnt);
    }
    for (int split = 0; split < 2; split++) {
        o = opts_for(d, split ? "test" : "train", 7, SR_AUG_NONE);
        ld = open_ok(&o, split ? 0 : SR_LOADER_MEM_CAP_DEFAULT);
        CHECK(ld, "computed: open %d", split);
        if (!ld)
            continue;
        sr_loader_norm(ld, mean, std);
        for (int c = 0; c < 3; c++)
            CHECK(fabs(mean[c] - rm[c]) < 1e-7 && fabs(std[c] - rs[c]) < 1e-7,
                  "split %d channel %d: mean %.9f std %.9f, reference %.9f "
                  "%.9f", split, c, mean[c], std[c], rm[c], rs[c]);
        if (split == 1 && read_batches(ld, 7, 0, 0, 0, &e)) {
            bad = 0;
            for (size_t i = 0; i < (size_t)d->n_test * 3 * plane; i++) {
                int c = (int)(i / plane % 3);

                bad += e.x[i] != norm_ref(d->test[i], mean[c], std[c]);
            }
            CHECK(bad == 0, "test split normalised with train mean/std: %d "
                  "differ", bad);
            epoch_free(&e);
        }
        sr_loader_free(ld);
    }

    /* One channel (Fashion-MNIST-like 28x28). */
    o = opts_for(g1, "train", 16, SR_AUG_NONE);
    ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    CHECK(ld, "gray: open");
    if (ld) {
        double s1 = 0, s2 = 0, cnt = (double)g1->n_train * 28 * 28;
        int c, h, w;

        sr_loader_shape(ld, &c, &h, &w);
        CHECK(c == 1 && h == 28 && w == 28, "gray shape %d %d %d", c, h, w);
        for (size_t i = 0; i < (size_t)cnt; i++)
            s1 += g1->train[i] / 255.0;
        for (size_t i = 0; i < (size_t)cnt; i++)
            s2 += (g1->train[i] / 255.0 - s1 / cnt) *
                  (g1->train[i] / 255.0 - s1 / cnt);
        sr_loader_norm(ld, mean, std);
        CHECK(fabs(mean[0] - s1 / cnt) < 1e-7 &&
              fabs(std[0] - sqrt(s2 / cnt)) < 1e-7 && mean[1] == 0 &&
              std[1] == 0, "gray norm %g %g", mean[0], std[0]);
        if (read_batches(ld, 16, 0, 0, 0, &e)) {
            bad = 0;
            for (size_t i = 0; i < (size_t)cnt; i++)
                bad += e.x[i] != norm_ref(g1->train[i], mean[0], std[0]);
            CHECK(bad == 0, "gray values: %d differ", bad);
            epoch_free(&e);
        } else {
            CHECK(0, "gray: read");
        }
        sr_loader_free(ld);
    }
    group_end();
}

/* Every sample once per epoch across ranks; the tail rule; the ranks' rows
 * are slices of the one global order. */
static void test_sharding(const struct tds *d)
{
    static const int cfg[][2] = { { 8, 1 }, { 8, 2 }, { 8, 3 }, { 5, 4 },
                                  { 10, 4 }, { 200, 2 } };
    int n = d->n_train;

    group_begin("sharding, once per epoch");
    for (size_t ci = 0; ci < sizeof cfg / sizeof cfg[0]; ci++)
        for (int drop = 0; drop < 2; drop++)
            for (int epoch = 0; epoch < 2; epoch++) {
                int batch = cfg[ci][0], nr = cfg[ci][1], g = batch * nr;
                int full = n / g, rem = n % g, nb_want = full + (!drop && rem);
                int *count = calloc((size_t)n, sizeof(int)), bad = 0;
                struct epoch glob;
                sr_loader_opts o = opts_for(d, "train", g, SR_AUG_NONE);
                sr_loader *gl;

                /* The one-rank loader with the global batch: the order. */
                set_norm(&o);
                o.shuffle = 1;
                o.drop_last = drop;
                gl = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
                if (!gl || !read_batches(gl, g, epoch, 0, 1, &glob)) {
                    CHECK(0, "global loader");
                    sr_loader_free(gl);
                    free(count);
                    continue;
                }
                for (int r = 0; r < nr; r++) {
                    struct epoch e;
                    sr_loader *ld;

                    o.batch = batch;
                    o.rank = r;
                    o.nranks = nr;
                    ld = open_ok(&o, r == 1 ? 0 : SR_LOADER_MEM_CAP_DEFAULT);
                    if (!ld || !read_batches(ld, batch, epoch, 0, 1, &e)) {
                        CHECK(0, "rank %d loader", r);
                        sr_loader_free(ld);
                        continue;
                    }
                    CHECK(e.nb == nb_want, "batch %d nranks %d drop %d: nb "
                          "%d, expected %d", batch, nr, drop, e.nb, nb_want);
                    for (int b = 0; b < e.nb; b++) {
                        int want = batch, off = r * batch;

                        if (b == full) {
                            int q = rem / nr, m = rem % nr;

                            want = q + (r < m);
                            off = r * q + (r < m ? r : m);
                        }
                        bad += e.nv[b] != want;
                        for (int i = 0; i < batch; i++) {
                            uint32_t y = e.y[(size_t)b * batch + i];

                            if (i >= e.nv[b]) {
                                /* zero-filled rows, label 0 */
                                bad += y != 0 ||
                                       e.x[((size_t)b * batch + i) * e.per] !=
                                       0.0f;
                                continue;
                            }
                            if (y < (uint32_t)n)
                                count[y]++;
                            bad += y != glob.y[(size_t)b * g + off + i];
                        }
                    }
                    epoch_free(&e);
                    sr_loader_free(ld);
                }
                {
                    int once = 0, zero = 0, more = 0;

                    for (int s = 0; s < n; s++) {
                        once += count[s] == 1;
                        zero += count[s] == 0;
                        more += count[s] > 1;
                    }
                    if (drop)
                        CHECK(once == full * g && more == 0, "batch %d "
                              "nranks %d drop_last: %d seen once, %d twice+",
                              batch, nr, once, more);
                    else
                        CHECK(once == n, "batch %d nranks %d: %d once, %d "
                              "never, %d twice+", batch, nr, once, zero, more);
                }
                CHECK(bad == 0, "batch %d nranks %d drop %d epoch %d: %d rows "
                      "or n_valid differ from the global order", batch, nr,
                      drop, epoch, bad);
                epoch_free(&glob);
                sr_loader_free(gl);
                free(count);
            }
    group_end();
}

static int epochs_equal(const struct epoch *a, const struct epoch *b, int from)
{
    if (a->nb != b->nb || a->per != b->per || a->batch != b->batch)
        return 0;
    for (int k = from; k < a->nb; k++)
        if (a->nv[k] != b->nv[k])
            return 0;
    return memcmp(a->y + (size_t)from * a->batch, b->y + (size_t)from *
                  b->batch, sizeof(uint32_t) * (size_t)(a->nb - from) *
                  a->batch) == 0 &&
           memcmp(a->x + (size_t)from * a->batch * a->per, b->x +
                  (size_t)from * b->batch * b->per, sizeof(float) *
                  (size_t)(a->nb - from) * a->batch * a->per) == 0;
}

static void test_order(const struct tds *d)
{
    sr_loader_opts o = opts_for(d, "train", 8, SR_AUG_CIFAR);
    struct epoch e0, e1, f0, s2, ns;
    sr_loader *a, *b, *c;
    int bad = 0;

    group_begin("order and seeds");
    set_norm(&o);
    o.shuffle = 1;
    a = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    b = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    o.seed = 99;
    c = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    if (!a || !b || !c || !read_batches(a, 8, 0, 0, 0, &e0) ||
        !read_batches(a, 8, 1, 0, 1, &e1) || !read_batches(b, 8, 0, 0, 1, &f0)
        || !read_batches(c, 8, 0, 0, 1, &s2)) {
        CHECK(0, "read");
        goto out;
    }
    CHECK(memcmp(e0.y, e1.y, sizeof(uint32_t) * 8 * e0.nb) != 0,
          "epoch 0 and 1 in the same order");
    CHECK(memcmp(e0.y, s2.y, sizeof(uint32_t) * 8 * e0.nb) != 0,
          "seed 1234 and 99 in the same order");
    CHECK(epochs_equal(&e0, &f0, 0), "same seed: batches differ");
    CHECK(memcmp(e0.y, (uint32_t[]){ 0, 1, 2, 3, 4, 5, 6, 7 },
                 sizeof(uint32_t) * 8) != 0, "shuffled order starts 0..7");
    epoch_free(&e0);
    epoch_free(&e1);
    epoch_free(&f0);
    epoch_free(&s2);

    o = opts_for(d, "train", 8, SR_AUG_NONE);
    set_norm(&o);
    sr_loader_free(c);
    c = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    if (c && read_batches(c, 8, 3, 0, 1, &ns)) {
        for (int i = 0; i < d->n_train; i++)
            bad += ns.y[i] != (uint32_t)i;
        CHECK(bad == 0, "no shuffle: not the file order");
        epoch_free(&ns);
    } else {
        CHECK(0, "no shuffle read");
    }
out:
    sr_loader_free(a);
    sr_loader_free(b);
    sr_loader_free(c);
    group_end();
}

/* Which (dy, dx, flip) reproduce row `x` of sample `src` exactly; also
 * checks padding pixels equal the normalised 0. */
static int cifar_match(const uint8_t *src, int c, int h, int w,
                       const float *x, const float *mean, const float *std,
                       int *dy_out, int *dx_out, int *flip_out)
{
    int matches = 0;

    for (int flip = 0; flip < 2; flip++)
        for (int dy = -4; dy <= 4; dy++)
            for (int dx = -4; dx <= 4; dx++) {
                int ok = 1;

                for (int ch = 0; ch < c && ok; ch++)
                    for (int y = 0; y < h && ok; y++)
                        for (int xx = 0; xx < w && ok; xx++) {
                            int sx = (flip ? w - 1 - xx : xx) + dx;
                            int sy = y + dy, p = 0;

                            if (sx >= 0 && sx < w && sy >= 0 && sy < h)
                                p = src[((size_t)ch * h + sy) * w + sx];
                            ok = x[((size_t)ch * h + y) * w + xx] ==
                                 norm_ref(p, mean[ch], std[ch]);
                        }
                if (ok) {
                    matches++;
                    *dy_out = dy;
                    *dx_out = dx;
                    *flip_out = flip;
                }
            }
    return matches;
}

static void test_cifar_aug(const struct tds *d, const struct tds *g1)
{
    const struct tds *sets[2] = { d, g1 };

    group_begin("cifar augmentation");
    for (int si = 0; si < 2; si++) {
        const struct tds *t = sets[si];
        sr_loader_opts o = opts_for(t, "train", 8, SR_AUG_CIFAR);
        size_t ib = (size_t)t->c * t->h * t->w;
        int hist_dx[9] = { 0 }, hist_dy[9] = { 0 }, flips = 0, rows = 0;
        int bad = 0, pad_checked = 0, unique = 0;
        float mean[3], std[3];
        sr_loader *ld;

        o.shuffle = 1;
        set_norm(&o);
        if (t->c == 1)
            o.mean[1] = o.mean[2] = o.std[1] = o.std[2] = 0;
        ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
        if (!ld) {
            CHECK(0, "open");
            continue;
        }
        sr_loader_norm(ld, mean, std);
        for (int ep = 0; ep < 3; ep++) {
            struct epoch e;

            if (!read_batches(ld, 8, ep, 0, 1, &e)) {
                CHECK(0, "read epoch %d", ep);
                break;
            }
            for (int b = 0; b < e.nb; b++)
                for (int i = 0; i < e.nv[b]; i++) {
                    uint32_t s = e.y[(size_t)b * 8 + i];
                    const float *x = e.x + ((size_t)b * 8 + i) * e.per;
                    int dy = 0, dx = 0, fl = 0, m;

                    m = cifar_match(t->train + s * ib, t->c, t->h, t->w, x,
                                    mean, std, &dy, &dx, &fl);
                    bad += m == 0;
                    unique += m == 1;
                    rows++;
                    if (m == 0)
                        continue;
                    hist_dy[dy + 4]++;
                    hist_dx[dx + 4]++;
                    flips += fl;
                    if (dy > 0) {  /* the last row is padding */
                        for (int ch = 0; ch < t->c; ch++)
                            for (int xx = 0; xx < t->w; xx++)
                                bad += x[((size_t)ch * t->h + t->h - 1) *
                                         t->w + xx] !=
                                       (float)((0.0 - mean[ch]) / std[ch]);
                        pad_checked++;
                    }
                }
            epoch_free(&e);
        }
        CHECK(bad == 0, "%dx%dx%d: %d of %d rows match no pad-4 crop/flip "
              "of their source (or padding != normalised 0)", t->c, t->h,
              t->w, bad, rows);
        CHECK(unique == rows, "%d of %d rows have an ambiguous crop", rows -
              unique, rows);
        for (int k = 0; k < 9; k++)
            CHECK(hist_dy[k] > 0 && hist_dx[k] > 0, "offset %d never drawn "
                  "(dy %d, dx %d times)", k - 4, hist_dy[k], hist_dx[k]);
        CHECK(flips > rows / 4 && flips < rows * 3 / 4, "%d flips of %d",
              flips, rows);
        CHECK(pad_checked > 0, "no padded rows");
        sr_loader_free(ld);
    }

    /* The draws depend on (seed, epoch, sample) only: another batch size,
     * rank split and the block path give the same image per sample. */
    {
        sr_loader_opts o = opts_for(d, "train", 8, SR_AUG_CIFAR);
        struct epoch a, b;
        sr_loader *la, *lb;
        int bad = 0, seen = 0;

        o.shuffle = 1;
        set_norm(&o);
        la = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
        o.batch = 5;
        o.nranks = 2;
        o.rank = 1;
        lb = open_ok(&o, 0);
        if (la && lb && read_batches(la, 8, 2, 0, 1, &a) &&
            read_batches(lb, 5, 2, 0, 1, &b)) {
            for (int k = 0; k < b.nb * 5; k++) {
                if (k % 5 >= b.nv[k / 5])
                    continue;
                for (int j = 0; j < a.nb * 8; j++)
                    if (j % 8 < a.nv[j / 8] && a.y[j] == b.y[k]) {
                        bad += memcmp(a.x + (size_t)j * a.per, b.x +
                                      (size_t)k * b.per, sizeof(float) *
                                      a.per) != 0;
                        seen++;
                    }
            }
            CHECK(seen > 0 && bad == 0, "%d of %d samples augmented "
                  "differently with another batch/rank", bad, seen);
            epoch_free(&a);
            epoch_free(&b);
        } else {
            CHECK(0, "open/read");
        }
        sr_loader_free(la);
        sr_loader_free(lb);
    }
    group_end();
}

static void test_seek(const struct tds *d)
{
    sr_loader_opts o = opts_for(d, "train", 8, SR_AUG_CIFAR);
    struct epoch ref[3], e;
    sr_loader *a = NULL, *b = NULL;
    float *x = NULL;
    uint32_t y[8];
    int nv, ok = 1;

    group_begin("seek");
    memset(ref, 0, sizeof ref);
    o.shuffle = 1;
    set_norm(&o);
    o.nranks = 2;
    o.rank = 1;
    a = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    /* Uninterrupted: no seek at all; next epochs after one seek each. */
    for (int ep = 0; ep < 3 && a; ep++)
        ok &= read_batches(a, 8, ep, 0, ep > 0, &ref[ep]);
    CHECK(a && ok, "reference pass");
    if (!a || !ok)
        goto out;
    x = malloc(sizeof(float) * 8 * ref[0].per);

    b = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    CHECK(b && read_batches(b, 8, 1, 2, 1, &e) && epochs_equal(&ref[1], &e, 2),
          "seek(1, 2) in a fresh loader");
    epoch_free(&e);
    CHECK(read_batches(b, 8, 2, 0, 1, &e) && epochs_equal(&ref[2], &e, 0),
          "then epoch 2");
    epoch_free(&e);
    /* Backwards, mid-epoch, with batches prepared ahead. */
    CHECK(sr_loader_seek(b, 0, 0) == SR_OK &&
          sr_loader_next(b, x, y, &nv) == SR_OK &&
          sr_loader_next(b, x, y, &nv) == SR_OK, "two batches of epoch 0");
    CHECK(read_batches(b, 8, 2, 3, 1, &e) && epochs_equal(&ref[2], &e, 3),
          "seek(2, 3) from the middle of epoch 0");
    epoch_free(&e);
    CHECK(read_batches(b, 8, 0, 1, 1, &e) && epochs_equal(&ref[0], &e, 1),
          "seek back to (0, 1)");
    epoch_free(&e);
    /* Repeated seeks without reading. */
    for (int k = 0; k < 20; k++)
        sr_loader_seek(b, k % 3, k % ref[0].nb);
    CHECK(read_batches(b, 8, 1, 0, 1, &e) && epochs_equal(&ref[1], &e, 0),
          "after 20 seeks");
    epoch_free(&e);
    CHECK(sr_loader_seek(b, 1, ref[1].nb) == SR_OK &&
          sr_loader_next(b, x, y, &nv) == SR_OK && nv == 0,
          "seek to the end: n_valid 0");
    CHECK(sr_loader_seek(b, 0, ref[0].nb + 1) == SR_E_ARG &&
          strstr(sr_last_error(), "batch"), "seek past the end: %s",
          sr_last_error());
    CHECK(sr_loader_seek(b, -1, 0) == SR_E_ARG, "negative epoch");
out:
    for (int k = 0; k < 3; k++)
        epoch_free(&ref[k]);
    free(x);
    sr_loader_free(a);
    sr_loader_free(b);
    group_end();
}

/* Whole split in memory vs chunk blocks through the cache. */
static void test_paths(const struct tds *big)
{
    static const struct {
        sr_augment aug;
        const char *split;
        int crop;
    } cases[] = { { SR_AUG_NONE, "train", 0 }, { SR_AUG_CIFAR, "train", 0 },
                  { SR_AUG_IMAGENET, "train", 40 },
                  { SR_AUG_IMAGENET, "test", 40 },
                  { SR_AUG_CENTER, "test", 40 } };

    group_begin("in memory = block cache");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sr_loader_opts o = opts_for(big, cases[k].split, 12, cases[k].aug);
        sr_loader *a, *b;

        o.shuffle = 1;
        o.crop = cases[k].crop;
        o.nranks = 2;
        o.rank = 1;
        a = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);   /* computes mean */
        b = open_ok(&o, 0);
        for (int ep = 0; ep < 2 && a && b; ep++) {
            struct epoch ea, eb;

            CHECK(read_batches(a, 12, ep, 0, 1, &ea) &&
                  read_batches(b, 12, ep, 0, 1, &eb) &&
                  epochs_equal(&ea, &eb, 0), "augment %d %s epoch %d",
                  (int)cases[k].aug, cases[k].split, ep);
            epoch_free(&ea);
            epoch_free(&eb);
        }
        CHECK(a && b, "open");
        sr_loader_free(a);
        sr_loader_free(b);
    }
    group_end();
}

/* The labels (= record numbers) of one epoch, sorted. */
static int limit_records(const struct tds *d, uint64_t limit, uint32_t seed,
                         int shuffle, uint64_t cap, uint32_t *out, int *n)
{
    sr_loader_opts o = opts_for(d, "train", 16, SR_AUG_NONE);
    sr_loader *ld;
    struct epoch e;
    int ok = 0;

    set_norm(&o);
    o.limit = limit;
    o.seed = seed;
    o.shuffle = shuffle;
    ld = open_ok(&o, cap);
    if (ld && read_batches(ld, 16, 1, 0, 1, &e)) {
        size_t ib = (size_t)d->c * d->h * d->w, plane = (size_t)d->h * d->w;
        ok = 1;
        *n = 0;
        for (int b = 0; b < e.nb; b++)
            for (int r = 0; r < e.nv[b]; r++) {
                uint32_t y = e.y[(size_t)b * 16 + r];
                const float *x = e.x + ((size_t)b * 16 + r) * e.per;
                /* the row is that record's image */
                for (int c = 0; c < d->c; c++)
                    if (x[(size_t)c * plane] != norm_ref(d->train[y * ib +
                        (size_t)c * plane], (float)(0.5 - 0.1 * c),
                        (float)(0.2 + 0.05 * c)))
                        ok = 0;
                out[(*n)++] = y;
            }
        epoch_free(&e);
        for (int i = 1; i < *n; i++)     /* insertion sort: small */
            for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
                uint32_t t = out[j];
                out[j] = out[j - 1];
                out[j - 1] = t;
            }
    }
    sr_loader_free(ld);
    return ok;
}

/* A limit: a fixed subset of the records, whatever the seed, order or
 * path; a smaller limit's records are part of a larger one's. */
static void test_limit(const struct tds *big)
{
    uint32_t a[300], b[300], c[300], s[300];
    int na = 0, nb = 0, nc = 0, ns = 0, sub = 1, distinct = 1;
    sr_loader_opts o = opts_for(big, "train", 16, SR_AUG_NONE);
    sr_loader *ld;

    group_begin("limit");
    CHECK(limit_records(big, 50, 1, 0, SR_LOADER_MEM_CAP_DEFAULT, a, &na) &&
          na == 50, "limit 50: %d records, each its own image", na);
    CHECK(limit_records(big, 50, 99, 1, 0, b, &nb) && nb == 50 &&
          memcmp(a, b, sizeof *a * 50) == 0,
          "the same records with another seed, shuffled, block path");
    CHECK(limit_records(big, 20, 7, 1, SR_LOADER_MEM_CAP_DEFAULT, c, &nc) &&
          nc == 20, "limit 20");
    for (int i = 0; i < nc; i++) {
        int found = 0;
        for (int j = 0; j < na; j++)
            found |= a[j] == c[i];
        sub &= found;
    }
    CHECK(sub, "limit 20's records are part of limit 50's");
    for (int i = 1; i < na; i++)
        distinct &= a[i] > a[i - 1];
    CHECK(distinct && na == 50 && a[na - 1] >= 100,
          "distinct records spread over the split, not its first 50 "
          "(last %u)", na ? a[na - 1] : 0);
    CHECK(limit_records(big, 1000, 1, 0, SR_LOADER_MEM_CAP_DEFAULT, s, &ns) &&
          ns == big->n_train, "a limit above the split: all %d", ns);
    o.limit = 50;
    ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    CHECK(ld && sr_loader_samples(ld) == 50 && sr_loader_records(ld) ==
          (uint64_t)big->n_train, "samples 50 of records %d",
          big->n_train);
    sr_loader_free(ld);
    group_end();
}

/* float64 reference of the triangle-filter resampling (all taps, no
 * window bookkeeping). */
static double tri_w(int j, double center, double fs)
{
    double d = fabs(j + 0.5 - center) / fs;

    return d < 1.0 ? 1.0 - d : 0.0;
}

static void ref_resample(const uint8_t *src, int c, int h, int w, double fy0,
                         double fx0, double fbh, double fbw, int ly0, int ly1,
                         int lx0, int lx1, int oh, int ow, int flip,
                         const float *mean, const float *std, float *out)
{
    double sy = fbh / oh, sx = fbw / ow;
    double fsy = sy > 1 ? sy : 1, fsx = sx > 1 ? sx : 1;

    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double cy = fy0 + (y + 0.5) * sy, cx = fx0 + (x + 0.5) * sx;
                double v = 0, wsum = 0, wy = 0, wx = 0;

                for (int i = ly0; i < ly1; i++)
                    wy += tri_w(i, cy, fsy);
                for (int j = lx0; j < lx1; j++)
                    wx += tri_w(j, cx, fsx);
                for (int i = ly0; i < ly1; i++) {
                    double a = tri_w(i, cy, fsy);

                    if (a == 0)
                        continue;
                    for (int j = lx0; j < lx1; j++)
                        v += a * tri_w(j, cx, fsx) *
                             src[((size_t)ch * h + i) * w + j];
                }
                wsum = wy * wx;
                out[((size_t)ch * oh + y) * ow + (flip ? ow - 1 - x : x)] =
                    (float)((v / wsum / 255.0 - mean[ch]) / std[ch]);
            }
}

static void test_imagenet(const struct tds *big, const struct tds *d36)
{
    sr_loader_opts o;
    sr_loader *ld;
    struct epoch e;
    float mean[3], std[3];
    int bad = 0, fallback = 0, flips = 0, rows = 0;
    double maxerr = 0;

    group_begin("imagenet transforms");
    /* Box statistics straight from the draw. */
    for (uint32_t s = 0; s < 20000; s++) {
        int y0, x0, bh, bw, h = 60 + (int)(s % 7), w = 48 + (int)(s % 5);
        double area, ratio;

        sr_data_rrc_box(sr_rng_key(5, SR_DATA_STREAM_AUGMENT, s / 1000), s,
                        h, w, &y0, &x0, &bh, &bw);
        area = (double)bh * bw / ((double)h * w);
        ratio = (double)bw / bh;
        fallback += bh == h && bw == w;
        bad += !(y0 >= 0 && x0 >= 0 && bh > 0 && bw > 0 && y0 + bh <= h &&
                 x0 + bw <= w);
        /* rounding to integers moves area/ratio a little */
        bad += area < 0.08 * 0.9 || ratio < 0.75 * 0.9 || ratio > 4.0 / 3 *
               1.1;
    }
    CHECK(bad == 0, "%d random-resized-crop boxes out of range", bad);
    CHECK(fallback < 400, "%d full-image boxes of 20000", fallback);

    /* Loader output = float64 reference resampling of the drawn box. */
    o = opts_for(big, "train", 12, SR_AUG_IMAGENET);
    o.crop = 24;
    o.shuffle = 1;
    ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    if (ld && read_batches(ld, 12, 1, 0, 1, &e)) {
        uint32_t key = sr_rng_key(o.seed, SR_DATA_STREAM_AUGMENT, 1);
        size_t ib = (size_t)big->c * big->h * big->w;
        float *ref = malloc(sizeof(float) * e.per);

        sr_loader_norm(ld, mean, std);
        for (int b = 0; b < e.nb; b++)
            for (int i = 0; i < e.nv[b]; i++) {
                uint32_t s = e.y[(size_t)b * 12 + i];
                const float *x = e.x + ((size_t)b * 12 + i) * e.per;
                int y0, x0, bh, bw;
                int fl = (int)sr_data_below(key, s * SR_DATA_AUG_STRIDE + 2,
                                            2);

                sr_data_rrc_box(key, s, big->h, big->w, &y0, &x0, &bh, &bw);
                ref_resample(big->train + s * ib, 3, big->h, big->w, y0, x0,
                             bh, bw, y0, y0 + bh, x0, x0 + bw, 24, 24, fl,
                             mean, std, ref);
                for (size_t k = 0; k < e.per; k++)
                    maxerr = fmax(maxerr, fabs(ref[k] - x[k]));
                flips += fl;
                rows++;
            }
        CHECK(maxerr < 2e-4, "random resized crop: max |loader - float64 "
              "reference| = %g", maxerr);
        CHECK(flips > rows / 4 && flips < rows * 3 / 4, "%d flips of %d",
              flips, rows);
        free(ref);
        epoch_free(&e);
    } else {
        CHECK(0, "train open/read");
    }
    sr_loader_free(ld);

    /* Eval: 64x64 stored, crop 40: resize to 45 (40 * 256/224), centre
     * 40 (offset 2). */
    o = opts_for(big, "test", 12, SR_AUG_IMAGENET);
    o.crop = 40;
    ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
    maxerr = 0;
    if (ld && read_batches(ld, 12, 0, 0, 1, &e)) {
        size_t ib = (size_t)big->c * big->h * big->w;
        float *ref = malloc(sizeof(float) * e.per);
        double s = 64.0 / 45.0;

        sr_loader_norm(ld, mean, std);
        for (int k = 0; k < big->n_test; k++) {
            ref_resample(big->test + k * ib, 3, 64, 64, 2 * s, 2 * s, 40 * s,
                         40 * s, 0, 64, 0, 64, 40, 40, 0, mean, std, ref);
            for (size_t j = 0; j < e.per; j++)
                maxerr = fmax(maxerr, fabs(ref[j] - e.x[k * e.per + j]));
        }
        CHECK(maxerr < 2e-4, "eval resize + centre crop: max error %g",
              maxerr);
        free(ref);
        epoch_free(&e);
    } else {
        CHECK(0, "eval open/read");
    }
    sr_loader_free(ld);

    /* Eval without resize (36 = 32 * 256/224 is not larger) and CENTER:
     * exact centre crops. */
    for (int k = 0; k < 2; k++) {
        o = opts_for(d36, "test", 6, k ? SR_AUG_CENTER : SR_AUG_IMAGENET);
        o.crop = k ? 30 : 32;
        set_norm(&o);
        ld = open_ok(&o, SR_LOADER_MEM_CAP_DEFAULT);
        bad = 0;
        if (ld && read_batches(ld, 6, 0, 0, 1, &e)) {
            int cr = o.crop, off = (36 - cr) / 2;

            for (int s = 0; s < d36->n_test; s++)
                for (int ch = 0; ch < 3; ch++)
                    for (int y = 0; y < cr; y++)
                        for (int x = 0; x < cr; x++)
                            bad += e.x[s * e.per + ((size_t)ch * cr + y) * cr
                                       + x] !=
                                   norm_ref(d36->test[(((size_t)s * 3 + ch) *
                                            36 + y + off) * 36 + x + off],
                                            o.mean[ch], o.std[ch]);
            CHECK(bad == 0, "%s: %d pixels differ from the centre crop",
                  k ? "CENTER 30" : "IMAGENET eval 32 of 36", bad);
            epoch_free(&e);
        } else {
            CHECK(0, "open/read %d", k);
        }
        sr_loader_free(ld);
    }
    group_end();
}

static void expect_open_error(const sr_loader_opts *o, sr_status want,
                              const char *needle, const char *what)
{
    sr_loader *ld = (sr_loader *)&ld;   /* must be reset to NULL */
    sr_status st = sr_loader_open(o, &ld);

    CHECK(st == want && ld == NULL && strstr(sr_last_error(), needle),
          "%s: status %s (want %s), handle %p, message \"%s\" lacks \"%s\"",
          what, sr_status_name(st), sr_status_name(want), (void *)ld,
          sr_last_error(), needle);
    if (st == want)
        printf("  %-28s -> %s\n", what, sr_last_error());
    if (st == SR_OK)
        sr_loader_free(ld);
}

static void corrupt_chunk(const struct tds *big, const char *mangle)
{
    char cmd[2048], path[600];
    unsigned long long off = 0, size = 0;
    sr_loader_opts o;
    sr_loader *ld = NULL;
    float *x = NULL;
    uint32_t y[50];
    FILE *p, *f;
    int nv, b;
    sr_status st = SR_OK;

    snprintf(path, sizeof path, "%s/corrupt.h5", g_dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && '%s' '%s' chunk /train/images "
             "2", big->path, path, mangle, path);
    p = popen(cmd, "r");
    if (!p || fscanf(p, "%llu %llu", &off, &size) != 2) {
        CHECK(0, "cannot locate chunk 2 with %s", mangle);
        if (p)
            pclose(p);
        return;
    }
    pclose(p);
    f = fopen(path, "r+b");
    if (!f) {
        CHECK(0, "open %s", path);
        return;
    }
    for (int k = 0; k < 4; k++) {     /* flip bytes in the middle */
        int c;

        fseek(f, (long)(off + size / 2 + (unsigned)k), SEEK_SET);
        c = fgetc(f);
        fseek(f, (long)(off + size / 2 + (unsigned)k), SEEK_SET);
        fputc(c ^ 0x5a, f);
    }
    fclose(f);

    o = opts_for(big, "train", 50, SR_AUG_NONE);
    o.path = path;
    set_norm(&o);
    expect_open_error(&o, SR_E_IO, "/train/images", "corrupted chunk (memory)");

    /* Block path: batches 0-2 (images 0..149) precede chunk 2 (from image
     * 170 at 85 images per chunk); batch 3 reaches it on the thread. */
    x = malloc(sizeof(float) * 50 * 3 * 64 * 64);
    ld = open_ok(&o, 0);
    CHECK(ld, "block path opens a file with a bad chunk");
    if (!ld)
        goto out;
    for (b = 0; b < 3; b++)
        CHECK(sr_loader_next(ld, x, y, &nv) == SR_OK && nv == 50,
              "batch %d before the bad chunk: %s", b, sr_last_error());
    sr_clear_error();
    st = sr_loader_next(ld, x, y, &nv);
    CHECK(st == SR_E_IO && nv == 0 && strstr(sr_last_error(), "/train/images"),
          "error carried to the caller: %s \"%s\"", sr_status_name(st),
          sr_last_error());
    printf("  %-28s -> %s\n", "corrupted chunk (thread)", sr_last_error());
    sr_clear_error();
    st = sr_loader_next(ld, x, y, &nv);
    CHECK(st == SR_E_IO && sr_last_error()[0], "the error is sticky");
    CHECK(sr_loader_seek(ld, 0, 1) == SR_OK &&
          sr_loader_next(ld, x, y, &nv) == SR_OK && nv == 50 &&
          y[0] == 50, "seek after the error recovers");
out:
    sr_loader_free(ld);     /* mid-epoch, failed state */
    free(x);
}

static void test_errors(const struct tds *d, const struct tds *big,
                        const struct tds *only_test, const char *mangle)
{
    sr_loader_opts o, base = opts_for(d, "train", 8, SR_AUG_NONE);
    char missing[600];

    group_begin("errors");
    set_norm(&base);
    o = base;
    snprintf(missing, sizeof missing, "%s/no-such-file.h5", g_dir);
    o.path = missing;
    expect_open_error(&o, SR_E_IO, "no-such-file.h5", "missing file");
    o = base;
    o.split = "val";
    expect_open_error(&o, SR_E_ARG, "splits: train, test", "missing split");
    o = base;
    o.batch = 0;
    expect_open_error(&o, SR_E_ARG, "batch", "batch 0");
    o.batch = -3;
    expect_open_error(&o, SR_E_ARG, "batch", "batch -3");
    o = base;
    o.rank = 2;
    o.nranks = 2;
    expect_open_error(&o, SR_E_ARG, "rank 2", "rank = nranks");
    o.rank = 0;
    o.nranks = 0;
    expect_open_error(&o, SR_E_ARG, "nranks", "nranks 0");
    o = base;
    o.rank = -1;
    expect_open_error(&o, SR_E_ARG, "rank -1", "rank -1");
    o = base;
    o.augment = SR_AUG_CENTER;
    o.crop = 64;
    expect_open_error(&o, SR_E_ARG, "larger than", "centre crop 64 of 32");
    o.augment = SR_AUG_IMAGENET;
    o.split = "test";
    expect_open_error(&o, SR_E_ARG, "larger than", "imagenet eval crop 64");
    o = base;
    o.crop = 24;
    expect_open_error(&o, SR_E_ARG, "IMAGENET or CENTER", "crop with NONE");
    o = base;
    o.augment = (sr_augment)17;
    expect_open_error(&o, SR_E_ARG, "augmentation", "unknown augment");
    o = base;
    o.std[1] = 0;
    expect_open_error(&o, SR_E_ARG, "std", "std 0");
    o = base;
    o.mean[0] = NAN;
    expect_open_error(&o, SR_E_ARG, "channel 0", "mean NaN");
    o = base;
    o.path = NULL;
    expect_open_error(&o, SR_E_ARG, "file", "no path");
    o = opts_for(only_test, "test", 8, SR_AUG_NONE);
    expect_open_error(&o, SR_E_ARG, "no train split", "mean from no train");
    expect_open_error(NULL, SR_E_ARG, "file", "NULL options");
    {
        sr_loader *ld = open_ok(&base, SR_LOADER_MEM_CAP_DEFAULT);
        int nv = 7;

        CHECK(ld && sr_loader_next(ld, NULL, NULL, &nv) == SR_E_ARG,
              "next with NULL buffers");
        sr_loader_free(ld);
        sr_loader_free(NULL);
    }
    if (mangle)
        corrupt_chunk(big, mangle);
    else
        printf("  (corrupted chunk test skipped: no h5_mangle given)\n");
    group_end();
}

/* Shutdown at any point: right after open, with a full ring, while a seek
 * is pending, in a loop. */
static void test_free(const struct tds *big)
{
    sr_loader_opts o = opts_for(big, "train", 16, SR_AUG_IMAGENET);
    float *x = malloc(sizeof(float) * 16 * 3 * 64 * 64);
    uint32_t y[16];
    int nv, ok = 1;

    group_begin("shutdown");
    set_norm(&o);
    o.shuffle = 1;
    for (int k = 0; k < 30; k++) {
        sr_loader *ld = open_ok(&o, k % 2 ? 0 : SR_LOADER_MEM_CAP_DEFAULT);

        if (!ld) {
            ok = 0;
            break;
        }
        if (k % 3 >= 1)
            ok &= sr_loader_next(ld, x, y, &nv) == SR_OK && nv == 16;
        if (k % 3 == 2)
            ok &= sr_loader_seek(ld, 5, 3) == SR_OK;
        sr_loader_free(ld);
    }
    CHECK(ok, "open/next/seek/free cycles");
    free(x);
    group_end();
}

/* ---- benchmark ---- */

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int bench(const char *path, uint64_t cap)
{
    sr_loader_opts o = { 0 };
    sr_loader *ld = NULL;
    float *x, mean[3], std[3];
    uint32_t y[128];
    double t0, t1, t2, rate, min_rate = 20000;
    const char *env = getenv("SR_LOADER_MIN_RATE");
    long images = 0;
    int nv, epochs = 3;

    if (env)
        min_rate = atof(env);
    o.path = path;
    o.split = "train";
    o.batch = 128;
    o.shuffle = 1;
    o.augment = SR_AUG_CIFAR;
    o.seed = 1;
    o.nranks = 1;
    t0 = now_s();
    if (sr_loader_open_cap(&o, cap, &ld)) {
        fprintf(stderr, "open: %s\n", sr_last_error());
        return 1;
    }
    t1 = now_s();
    sr_loader_norm(ld, mean, std);
    printf("open (read %llu images, mean/std from train): %.2f s\n",
           (unsigned long long)sr_loader_samples(ld), t1 - t0);
    printf("mean %.4f %.4f %.4f  std %.4f %.4f %.4f\n", mean[0], mean[1],
           mean[2], std[0], std[1], std[2]);
    x = malloc(sizeof(float) * 128 * 3 * 32 * 32);
    t1 = now_s();
    for (int ep = 0; ep < epochs; ep++) {
        sr_loader_seek(ld, ep, 0);
        while (sr_loader_next(ld, x, y, &nv) == SR_OK && nv > 0)
            images += nv;
    }
    t2 = now_s();
    rate = images / (t2 - t1);
    printf("CIFAR augmentation, batch 128, %d epochs: %ld images in %.2f s "
           "= %.0f images/s (one loader thread; caller only copies)\n",
           epochs, images, t2 - t1, rate);
    free(x);
    sr_loader_free(ld);
    if (images != 50000L * epochs || rate < min_rate) {
        fprintf(stderr, "FAIL: %ld images, %.0f images/s (need %.0f, "
                "SR_LOADER_MIN_RATE)\n", images, rate, min_rate);
        return 1;
    }
    return 0;
}

/* mkdir -p */
static int mkdir_p(const char *dir)
{
    char buf[1024];

    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return 0;
        *p = '/';
    }
    return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

int main(int argc, char **argv)
{
    struct tds d, g1, big, d36, only_test;

    if ((argc == 3 || argc == 4) && strcmp(argv[1], "--bench") == 0)
        return bench(argv[2], argc == 4 ? strtoull(argv[3], NULL, 0) :
                     SR_LOADER_MEM_CAP_DEFAULT);
    if (argc < 2) {
        fprintf(stderr, "usage: test_loader WORKDIR [H5_MANGLE] | "
                "--bench FILE.h5\n");
        return 2;
    }
    g_dir = argv[1];
    if (!mkdir_p(g_dir)) {
        perror(g_dir);
        return 2;
    }
    (void)rnd_int;      /* check.h helpers this test does not need */
    (void)rnd_range;
    test_seed(test_seed_from_env(7));
    if (!tds_make(&d, "rgb32", 3, 32, 32, 103, 37) ||
        !tds_make(&g1, "gray28", 1, 28, 28, 61, 10) ||
        !tds_make(&big, "rgb64", 3, 64, 64, 300, 45) ||
        !tds_make(&d36, "rgb36", 3, 36, 36, 20, 13) ||
        !tds_make(&only_test, "onlytest", 3, 8, 8, 0, 10))
        return 2;

    test_shapes(&d);
    test_norm(&d, &g1);
    test_sharding(&d);
    test_order(&d);
    test_cifar_aug(&d, &g1);
    test_seek(&d);
    test_paths(&big);
    test_limit(&big);
    test_imagenet(&big, &d36);
    test_errors(&d, &big, &only_test, argc > 2 ? argv[2] : NULL);
    test_free(&big);

    tds_free(&d);
    tds_free(&g1);
    tds_free(&big);
    tds_free(&d36);
    tds_free(&only_test);
    return finish();
}
