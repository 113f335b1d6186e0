/* sinreq-prep svhn: the Street View House Numbers "cropped digits" files
 * train_32x32.mat, test_32x32.mat and optionally extra_32x32.mat.
 * X is uint8 32 x 32 x 3 x N in MATLAB's column-major order (element
 * (h, w, c, n) at h + 32 w + 1024 c + 3072 n: image n is contiguous and its
 * planes are stored transposed, column by column); y is 1..10, 10 meaning
 * the digit 0. Output: label = y mod 10, classes "0".."9", images CHW. */
#include "prep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "mat_read.h"

static const char *const digit_names[10] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
};

/* One output part may be made of two files (train + extra). */
struct svhn_part {
    const struct prep_mat_images *m[2];
    int nfiles;
    uint32_t *labels;
    uint64_t total;
};

static sr_status svhn_fetch(void *ctx, uint64_t i, uint8_t *out)
{
    const struct svhn_part *p = ctx;
    const struct prep_mat_images *m = p->m[0];
    size_t hw;
    const uint8_t *x;

    if (i >= m->n) {
        i -= m->n;
        m = p->m[1];
    }
    hw = (size_t)m->h * m->w;
    x = m->x + i * hw * m->c;
    /* out[c][h][w] = X(h, w, c, i) = x[h + H w + H W c] */
    for (uint32_t c = 0; c < m->c; c++)
        for (uint32_t h = 0; h < m->h; h++)
            for (uint32_t w = 0; w < m->w; w++)
                out[(c * m->h + h) * m->w + w] = x[h + (size_t)m->h * w + hw * c];
    return SR_OK;
}

static sr_status load(const struct prep_opts *o, const char *name,
                      struct prep_mat_images *m, char *checksum, size_t cks)
{
    char *path = prep_join(o->input, name), hex[PREP_DIGEST_HEX_MAX];
    size_t len = strlen(checksum);
    sr_status st;

    if (!path)
        return sr_error(SR_E_NOMEM, "out of memory");
    if (!prep_is_file(path)) {
        st = sr_error(SR_E_IO, "%s: %s is missing", o->input, name);
        goto out_free;
    }
    if (!o->quiet)
        fprintf(stderr, "svhn: reading %s\n", path);
    st = prep_mat_read_xy(path, m);
    if (st != SR_OK)
        goto out_free;
    if (m->c != 3) {
        st = sr_error(SR_E_FORMAT, "%s: X has %u channels, SVHN has 3", path,
                      m->c);
        goto out_free;
    }
    for (uint64_t i = 0; i < m->n; i++)
        if (m->y[i] < 1 || m->y[i] > 10) {
            st = sr_error(SR_E_FORMAT, "%s: y(%llu) = %u; SVHN labels are "
                          "1..10 (10 is the digit 0)", path,
                          (unsigned long long)i + 1, m->y[i]);
            goto out_free;
        }
    st = prep_digest_file(path, "md5", hex);
    if (st == SR_OK)
        snprintf(checksum + len, cks - len, "%smd5:%s=%s", len ? " " : "",
                 name, hex);
out_free:
    free(path);
    return st;
}

static sr_status make_part(struct svhn_part *p, const struct prep_mat_images *a,
                           const struct prep_mat_images *b)
{
    uint64_t pos = 0;

    p->m[0] = a;
    p->m[1] = b;
    p->nfiles = b ? 2 : 1;
    p->total = a->n + (b ? b->n : 0);
    p->labels = malloc((p->total ? p->total : 1) * sizeof *p->labels);
    if (!p->labels)
        return sr_error(SR_E_NOMEM, "out of memory");
    for (int f = 0; f < p->nfiles; f++)
        for (uint64_t i = 0; i < p->m[f]->n; i++)
            p->labels[pos++] = p->m[f]->y[i] % 10;   /* 10 -> digit 0 */
    return SR_OK;
}

sr_status prep_svhn(struct prep_opts *o)
{
    struct prep_mat_images train = { 0 }, test = { 0 }, extra = { 0 };
    struct svhn_part ptrain = { .nfiles = 0 }, ptest = { .nfiles = 0 };
    struct svhn_part pextra = { .nfiles = 0 };
    char checksum[1024] = "", *extra_path = NULL;
    int use_extra = 0;
    struct prep_job job;
    sr_status st;

    if (!prep_is_dir(o->input))
        return sr_error(SR_E_IO, "%s: no such directory (expected a "
                        "directory with train_32x32.mat and test_32x32.mat)",
                        o->input);
    extra_path = prep_join(o->input, "extra_32x32.mat");
    if (!extra_path)
        return sr_error(SR_E_NOMEM, "out of memory");
    use_extra = strcmp(o->extra, "skip") != 0 && prep_is_file(extra_path);
    free(extra_path);
    st = load(o, "train_32x32.mat", &train, checksum, sizeof checksum);
    if (st == SR_OK)
        st = load(o, "test_32x32.mat", &test, checksum, sizeof checksum);
    if (st == SR_OK && use_extra)
        st = load(o, "extra_32x32.mat", &extra, checksum, sizeof checksum);
    if (st != SR_OK)
        goto out_free;
    if (test.h != train.h || test.w != train.w ||
        (use_extra && (extra.h != train.h || extra.w != train.w))) {
        st = sr_error(SR_E_SHAPE, "%s: the .mat files hold images of "
                      "different sizes", o->input);
        goto out_free;
    }
    memset(&job, 0, sizeof job);
    if (use_extra && strcmp(o->extra, "train") == 0) {
        st = make_part(&ptrain, &train, &extra);
        use_extra = 0;
    } else {
        st = make_part(&ptrain, &train, NULL);
    }
    if (st == SR_OK)
        st = make_part(&ptest, &test, NULL);
    if (st == SR_OK && use_extra)
        st = make_part(&pextra, &extra, NULL);
    if (st != SR_OK)
        goto out_free;
    job.meta = (struct sr_ds_meta){
        .channels = 3, .height = train.h, .width = train.w, .num_classes = 10,
        .class_names = digit_names, .source_kind = "svhn-mat",
        .source = o->input, .source_checksum = checksum,
        .conversion = use_extra ? "X (H x W x C x N, column-major) "
            "transposed to NCHW; label = y mod 10 (y = 10 is digit 0); "
            "extra_32x32.mat as /extra"
            : strcmp(o->extra, "train") == 0 && ptrain.nfiles == 2
            ? "X (H x W x C x N, column-major) transposed to NCHW; label = "
              "y mod 10 (y = 10 is digit 0); /train = train_32x32 then "
              "extra_32x32"
            : "X (H x W x C x N, column-major) transposed to NCHW; label = "
              "y mod 10 (y = 10 is digit 0)",
    };
    job.parts[job.nparts++] = (struct prep_part){ "train", ptrain.total,
        ptrain.labels, svhn_fetch, &ptrain };
    job.parts[job.nparts++] = (struct prep_part){ "test", ptest.total,
        ptest.labels, svhn_fetch, &ptest };
    if (use_extra)
        job.parts[job.nparts++] = (struct prep_part){ "extra", pextra.total,
            pextra.labels, svhn_fetch, &pextra };
    st = prep_run(&job, o);
out_free:
    free(ptrain.labels);
    free(ptest.labels);
    free(pextra.labels);
    prep_mat_free(&train);
    prep_mat_free(&test);
    prep_mat_free(&extra);
    return st;
}
