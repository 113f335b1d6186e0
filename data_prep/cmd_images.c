/* sinreq-prep images: an ImageNet-style image folder.
 *
 *   ROOT/train/<class>/<file>   (required)
 *   ROOT/val/<class>/<file>     (optional, becomes /val)
 *   ROOT/test/<class>/<file>    (optional, becomes /test)
 *
 * Classes are the sub-directories of train/ sorted by name (byte order),
 * labelled 0..K-1; val/ and test/ may only use those names. Files are
 * taken in sorted order within each class, classes in label order, so the
 * output does not depend on the file system or the number of threads.
 * JPEG and PNG are recognised by their first bytes (the extension only
 * selects candidates: .jpg .jpeg .png, any case); hidden files are ignored,
 * other files are counted and reported. Each image is decoded to RGB, its
 * shorter side resized to R (--resize, default --size) and the centre
 * S x S cropped (--size). */
#include "prep.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "jpeg_decode.h"
#include "png_decode.h"

struct names {
    char **v;
    size_t n, cap;
};

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int names_push(struct names *l, char *s)
{
    if (!s)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);

        if (!v) {
            free(s);
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted non-hidden entries of `dir` that are directories (want_dirs) or
 * regular files (!want_dirs). */
static sr_status list_dir(const char *dir, int want_dirs, struct names *out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    sr_status st = SR_OK;

    memset(out, 0, sizeof *out);
    if (!d)
        return sr_error(SR_E_IO, "%s: cannot list the directory", dir);
    while ((e = readdir(d))) {
        char *path;
        struct stat sb;
        int ok;

        if (e->d_name[0] == '.')
            continue;
        path = prep_join(dir, e->d_name);
        if (!path) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            break;
        }
        ok = stat(path, &sb) == 0 &&
             (want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        free(path);
        if (ok && names_push(out, strdup(e->d_name)) < 0) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            break;
        }
    }
    closedir(d);
    if (st != SR_OK) {
        names_free(out);
        return st;
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return SR_OK;
}

static int image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');

    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                   strcasecmp(dot, ".png") == 0);
}

struct img_split {
    const char *name;
    struct names paths;
    uint32_t *labels;
    size_t nlabels_cap;
    uint64_t skipped;
};

struct img_ctx {
    char **paths;
    uint32_t size, resize;
};

/* Copies the last error's message without a debug location (sr_error
 * reuses the buffer it points into). */
static void error_body(char *buf, size_t size)
{
    snprintf(buf, size, "%s", sr_last_error_body());
}

static sr_status img_fetch(void *ctx, uint64_t i, uint8_t *out)
{
    const struct img_ctx *c = ctx;
    const char *path = c->paths[i];
    uint8_t *data = NULL, *rgb = NULL;
    size_t size = 0;
    uint32_t w = 0, h = 0;
    sr_status st;

    st = prep_read_file(path, &data, &size);
    if (st != SR_OK)
        return st;
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        st = prep_jpeg_decode(data, size, c->resize, &rgb, &w, &h);
    else if (size >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        st = prep_png_decode(data, size, &rgb, &w, &h);
    else
        st = sr_error(SR_E_FORMAT, "not a JPEG or PNG file (%zu bytes)", size);
    free(data);
    if (st == SR_OK)
        st = prep_resize_crop(rgb, w, h, 3, c->resize, c->size, out);
    free(rgb);
    if (st != SR_OK) {
        char body[512];

        error_body(body, sizeof body);
        return sr_error(st, "%s: %s", path, body);
    }
    return SR_OK;
}

static int find_class(const struct names *classes, const char *name)
{
    char *key = (char *)name;
    char **hit = bsearch(&key, classes->v, classes->n, sizeof *classes->v,
                         cmp_str);

    return hit ? (int)(hit - classes->v) : -1;
}

static sr_status scan_split(const char *root, struct img_split *s,
                            const struct names *classes)
{
    char *dir = prep_join(root, s->name);
    struct names cdirs = { 0 };
    sr_status st;

    if (!dir)
        return sr_error(SR_E_NOMEM, "out of memory");
    st = list_dir(dir, 1, &cdirs);
    if (st != SR_OK)
        goto out_free;
    for (size_t ci = 0; ci < cdirs.n; ci++) {
        int label = find_class(classes, cdirs.v[ci]);
        struct names files = { 0 };
        char *cdir;

        if (label < 0) {
            st = sr_error(SR_E_FORMAT, "%s/%s: class \"%s\" is not a "
                          "directory of %s/train (classes come from train/)",
                          dir, cdirs.v[ci], cdirs.v[ci], root);
            goto out_free;
        }
        cdir = prep_join(dir, cdirs.v[ci]);
        if (!cdir) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            goto out_free;
        }
        st = list_dir(cdir, 0, &files);
        for (size_t f = 0; st == SR_OK && f < files.n; f++) {
            if (!image_ext(files.v[f])) {
                s->skipped++;
                continue;
            }
            if (s->paths.n == s->nlabels_cap) {
                size_t cap = s->nlabels_cap ? 2 * s->nlabels_cap : 1024;
                uint32_t *l = realloc(s->labels, cap * sizeof *l);

                if (!l) {
                    st = sr_error(SR_E_NOMEM, "out of memory");
                    break;
                }
                s->labels = l;
                s->nlabels_cap = cap;
            }
            if (names_push(&s->paths, prep_join(cdir, files.v[f])) < 0) {
                st = sr_error(SR_E_NOMEM, "out of memory");
                break;
            }
            s->labels[s->paths.n - 1] = (uint32_t)label;
        }
        names_free(&files);
        free(cdir);
        if (st != SR_OK)
            goto out_free;
    }
out_free:
    names_free(&cdirs);
    free(dir);
    return st;
}

sr_status prep_images(struct prep_opts *o)
{
    static const char *const split_names[3] = { "train", "val", "test" };
    struct img_split splits[3];
    struct img_ctx ctx[3];
    struct names classes = { 0 };
    char *dir = NULL, conversion[256];
    struct prep_job job;
    sr_status st;

    memset(splits, 0, sizeof splits);
    SR_CHECK(o->size > 0, SR_E_ARG, "images: --size S is required (output "
             "images are S x S)");
    if (o->resize == 0)
        o->resize = o->size;
    SR_CHECK(o->resize >= o->size, SR_E_ARG, "images: --resize %u is below "
             "--size %u (the crop must fit)", o->resize, o->size);
    if (!prep_is_dir(o->input))
        return sr_error(SR_E_IO, "%s: no such directory (expected ROOT with "
                        "train/<class>/ folders)", o->input);
    dir = prep_join(o->input, "train");
    if (!dir)
        return sr_error(SR_E_NOMEM, "out of memory");
    if (!prep_is_dir(dir)) {
        st = sr_error(SR_E_IO, "%s: no train/ directory (expected "
                      "train/<class>/*.jpg, and test/ or val/)", o->input);
        goto out_free;
    }
    st = list_dir(dir, 1, &classes);
    if (st != SR_OK)
        goto out_free;
    if (classes.n == 0 || classes.n > SR_DS_MAX_CLASSES) {
        st = sr_error(SR_E_FORMAT, "%s: %zu class directories (need 1..%u)",
                      dir, classes.n, SR_DS_MAX_CLASSES);
        goto out_free;
    }
    memset(&job, 0, sizeof job);
    for (int s = 0; s < 3; s++) {
        char *sdir = prep_join(o->input, split_names[s]);
        int present = sdir && prep_is_dir(sdir);

        free(sdir);
        splits[s].name = split_names[s];
        if (!present)
            continue;
        st = scan_split(o->input, &splits[s], &classes);
        if (st != SR_OK)
            goto out_free;
        if (splits[s].skipped && !o->quiet)
            fprintf(stderr, "images: %s/%s: skipped %llu files that are not "
                    ".jpg, .jpeg or .png\n", o->input, split_names[s],
                    (unsigned long long)splits[s].skipped);
        if (splits[s].paths.n == 0) {
            st = sr_error(SR_E_FORMAT, "%s/%s: no .jpg, .jpeg or .png files "
                          "in its class directories", o->input,
                          split_names[s]);
            goto out_free;
        }
        ctx[s] = (struct img_ctx){ splits[s].paths.v, o->size, o->resize };
        job.parts[job.nparts++] = (struct prep_part){
            split_names[s], splits[s].paths.n, splits[s].labels, img_fetch,
            &ctx[s] };
    }
    if (!o->quiet)
        fprintf(stderr, "images: %zu classes; decoding with %d threads\n",
                classes.n, o->threads);
    snprintf(conversion, sizeof conversion, "decoded to RGB, shorter side "
             "resized to %u (triangle filter, antialiased), centre crop "
             "%ux%u; classes = sorted train/ directory names", o->resize,
             o->size, o->size);
    job.meta = (struct sr_ds_meta){
        .channels = 3, .height = o->size, .width = o->size,
        .num_classes = (uint32_t)classes.n,
        .class_names = (const char *const *)classes.v,
        .source_kind = "image-folder", .source = o->input,
        .source_checksum = "", .conversion = conversion,
    };
    st = prep_run(&job, o);
out_free:
    for (int s = 0; s < 3; s++) {
        names_free(&splits[s].paths);
        free(splits[s].labels);
    }
    names_free(&classes);
    free(dir);
    return st;
}
