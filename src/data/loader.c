/* sinreq: the training data loader (include/sinreq/loader.h).
 *
 * Shape of the thing:
 *  - sr_loader_open (caller's thread): checks the options, opens the file,
 *    reads the labels, reads the whole split when it fits under the memory
 *    cap, computes mean/std from the train split when not given, starts the
 *    producer thread.
 *  - The producer thread fills a ring of SR_LOADER_SLOTS prepared batches
 *    in the order (epoch, batch) = (e, 0), (e, 1), ... (e, nb-1), (e+1, 0),
 *    ... so the first batch of the next epoch is ready when the trainer
 *    seeks to it. A batch is a pure function of (seed, epoch, batch index,
 *    rank), so what the thread prepared ahead is always valid, and a seek to
 *    anything else just discards it (a generation counter marks a batch in
 *    flight as stale).
 *  - sr_loader_next (caller's thread) copies the head slot out. An error on
 *    the thread is stored in its slot with the message, and re-raised by
 *    every sr_loader_next until a seek.
 * Only the producer thread touches the HDF5 handle after open (and only on
 * the block path: an in-memory split closes the file at open). */
#include "sinreq/loader.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/dataset.h"
#include "sinreq/rng.h"
#include "transform.h"

#define SR_LOADER_SLOTS 3
#define SR_LOADER_CACHE_BYTES (32u << 20)    /* block cache of the big path */
#define SR_LOADER_STAT_BLOCK_BYTES (8u << 20) /* reads while computing mean */
#define MSG_MAX 1024

struct slot {
    float *x;
    uint32_t *y;
    int n_valid;
    int epoch, index;
    sr_status st;
    char msg[MSG_MAX];
};

struct block {
    uint8_t *data;
    int64_t id;        /* block number, -1 when empty */
    uint64_t used;     /* LRU stamp */
};

struct row_ref {
    uint32_t sample;
    int row;
};

struct sr_loader {
    /* Fixed after open. */
    char *path, *split_name;
    int batch, shuffle, drop_last, rank, nranks, train_tf;
    sr_augment aug;
    uint32_t seed;
    int c, h, w;              /* stored */
    int oh, ow;               /* output (C is unchanged) */
    int rs_h, rs_w;           /* IMAGENET eval: resized size, 0 = none */
    size_t img_bytes, out_floats; /* per image */
    uint64_t n, full, rem;    /* samples; full global batches; tail rows */
    uint64_t records;         /* in the split (n < records: a limit) */
    uint32_t *rec;            /* a limit: sample i is record rec[i] (sorted);
                                 NULL: sample i is record i */
    int nb;                   /* batches per epoch (every rank) */
    int classes;
    char **class_names;
    float mean[3], std[3];
    float lut[3][256], scale[3], shift[3];
    uint32_t *labels;
    uint8_t *images;          /* whole split, or NULL: block path */

    /* Producer thread only (after open). */
    sr_ds *ds;
    int split;
    uint64_t block_images;
    struct block *cache;
    int ncache;
    uint64_t stamp;
    uint32_t *perm;
    int perm_epoch;
    struct row_ref *refs;

    /* Shared, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv_prod, cv_cons;
    pthread_t thread;
    int thread_started, stop, failed;
    struct slot slots[SR_LOADER_SLOTS];
    int head, count;
    uint64_t gen;
    int busy, busy_e, busy_b;  /* batch in production and its generation */
    uint64_t busy_gen;
    int next_e, next_b;        /* the next batch the producer starts */

    /* Caller only. */
    int cur_e, cur_b;
};

/* ---- errors crossing threads ---- */

/* Re-raises a message recorded on the producer thread in the caller's
 * thread-local buffer, keeping its "file:line: " origin. */
static sr_status reraise(sr_status st, const char *msg)
{
    char file[128];
    int line, used = 0;

    if (sscanf(msg, "%127[^: ]:%d: %n", file, &line, &used) == 2 && used > 0)
        return sr_error_at(st, file, line, "%s", msg + used);
    return sr_error(st, "data loader thread: %s", msg);
}

/* ---- geometry ---- */

/* Rows of this rank's batch b: positions [*first, *first + *cnt) of the
 * epoch's order. */
static void batch_rows(const sr_loader *ld, int b, uint64_t *first,
                       int *cnt)
{
    uint64_t g = (uint64_t)ld->batch * ld->nranks;

    if ((uint64_t)b < ld->full) {
        *first = b * g + (uint64_t)ld->rank * ld->batch;
        *cnt = ld->batch;
    } else {
        /* Tail: rem rows split evenly, in order; the first rem % nranks
         * ranks take one more. */
        uint64_t q = ld->rem / ld->nranks, r = ld->rem % ld->nranks;
        uint64_t k = (uint64_t)ld->rank;

        *first = ld->full * g + k * q + (k < r ? k : r);
        *cnt = (int)(q + (k < r));
    }
}

/* ---- block cache (big splits) ---- */

static sr_status cache_get(sr_loader *ld, uint32_t sample,
                           const uint8_t **img)
{
    uint32_t rec = ld->rec ? ld->rec[sample] : sample;
    int64_t id = (int64_t)(rec / ld->block_images);
    struct block *victim = &ld->cache[0];
    uint64_t first, cnt;
    sr_status st;

    for (int i = 0; i < ld->ncache; i++) {
        struct block *b = &ld->cache[i];

        if (b->id == id) {
            b->used = ++ld->stamp;
            *img = b->data + (rec - id * ld->block_images) * ld->img_bytes;
            return SR_OK;
        }
        if (b->used < victim->used)
            victim = b;
    }
    first = (uint64_t)id * ld->block_images;
    cnt = ld->records - first < ld->block_images ? ld->records - first
                                                  : ld->block_images;
    victim->id = -1;
    st = sr_ds_read_images(ld->ds, ld->split, first, cnt, victim->data);
    if (st)
        return st;
    victim->id = id;
    victim->used = ++ld->stamp;
    *img = victim->data + (rec - first) * ld->img_bytes;
    return SR_OK;
}

static int ref_cmp(const void *a, const void *b)
{
    const struct row_ref *x = a, *y = b;

    return x->sample < y->sample ? -1 : x->sample > y->sample;
}

/* ---- one batch ---- */

static sr_status transform_one(sr_loader *ld, const uint8_t *img,
                               uint32_t sample, uint32_t key, float *out)
{
    int dy, dx, flip, y0, x0, bh, bw;

    switch (ld->aug) {
    case SR_AUG_NONE:
        sr_data_crop(img, ld->c, ld->h, ld->w, 0, 0, ld->h, ld->w, ld->lut,
                     out);
        return SR_OK;
    case SR_AUG_CIFAR:
        sr_data_cifar_draw(key, sample, 4, &dy, &dx, &flip);
        sr_data_pad_crop(img, ld->c, ld->h, ld->w, dy, dx, flip, ld->lut,
                         out);
        return SR_OK;
    case SR_AUG_IMAGENET:
        if (ld->train_tf) {
            flip = (int)sr_data_below(key, (uint32_t)(sample *
                                      SR_DATA_AUG_STRIDE) + 2, 2);
            sr_data_rrc_box(key, sample, ld->h, ld->w, &y0, &x0, &bh, &bw);
            return sr_data_resample(img, ld->c, ld->h, ld->w, y0, x0, bh, bw,
                                    y0, y0 + bh, x0, x0 + bw, ld->oh, ld->ow,
                                    flip, ld->scale, ld->shift, out);
        }
        if (ld->rs_h) {
            /* Resize to rs_h x rs_w, then the centre oh x ow of that: the
             * same taps as resizing the whole image, restricted. */
            double sy = (double)ld->h / ld->rs_h, sx = (double)ld->w / ld->rs_w;
            int cy = (ld->rs_h - ld->oh) / 2, cx = (ld->rs_w - ld->ow) / 2;

            return sr_data_resample(img, ld->c, ld->h, ld->w, cy * sy,
                                    cx * sx, ld->oh * sy, ld->ow * sx, 0,
                                    ld->h, 0, ld->w, ld->oh, ld->ow, 0,
                                    ld->scale, ld->shift, out);
        }
        /* fall through - centre crop of the stored image */
    case SR_AUG_CENTER:
        sr_data_crop(img, ld->c, ld->h, ld->w, (ld->h - ld->oh) / 2,
                     (ld->w - ld->ow) / 2, ld->oh, ld->ow, ld->lut, out);
        return SR_OK;
    }
    return sr_error(SR_E_INTERNAL, "unknown augmentation %d", (int)ld->aug);
}

static sr_status produce(sr_loader *ld, int epoch, int b, struct slot *s)
{
    uint32_t key = sr_rng_key(ld->seed, SR_DATA_STREAM_AUGMENT,
                              (uint32_t)epoch);
    uint64_t first;
    int cnt, i;
    sr_status st;

    if (ld->shuffle && ld->perm_epoch != epoch) {
        sr_data_permute(ld->perm, (uint32_t)ld->n,
                        sr_rng_key(ld->seed, SR_DATA_STREAM_SHUFFLE,
                                   (uint32_t)epoch));
        ld->perm_epoch = epoch;
    }
    batch_rows(ld, b, &first, &cnt);
    for (i = 0; i < cnt; i++) {
        uint64_t p = first + (uint64_t)i;

        ld->refs[i].sample = ld->shuffle ? ld->perm[p] : (uint32_t)p;
        ld->refs[i].row = i;
    }
    /* The block path visits rows grouped by block: each block read once. */
    if (!ld->images)
        qsort(ld->refs, (size_t)cnt, sizeof *ld->refs, ref_cmp);
    for (i = 0; i < cnt; i++) {
        uint32_t smp = ld->refs[i].sample;
        int row = ld->refs[i].row;
        const uint8_t *img;

        if (ld->images) {
            img = ld->images + (size_t)smp * ld->img_bytes;
        } else {
            st = cache_get(ld, smp, &img);
            if (st)
                return st;
        }
        st = transform_one(ld, img, smp, key, s->x + (size_t)row *
                           ld->out_floats);
        if (st)
            return st;
        s->y[row] = ld->labels[smp];
    }
    memset(s->x + (size_t)cnt * ld->out_floats, 0,
           sizeof(float) * ld->out_floats * (size_t)(ld->batch - cnt));
    memset(s->y + cnt, 0, sizeof(uint32_t) * (size_t)(ld->batch - cnt));
    s->n_valid = cnt;
    return SR_OK;
}

static void advance(const sr_loader *ld, int *e, int *b)
{
    if (++*b >= ld->nb) {
        *b = 0;
        ++*e;
    }
}

static void *producer_main(void *arg)
{
    sr_loader *ld = arg;

    pthread_mutex_lock(&ld->mu);
    for (;;) {
        struct slot *s;
        int e, b, k;
        uint64_t g;
        sr_status st;

        while (!ld->stop && (ld->count == SR_LOADER_SLOTS || ld->failed ||
                             ld->nb == 0))
            pthread_cond_wait(&ld->cv_prod, &ld->mu);
        if (ld->stop)
            break;
        k = (ld->head + ld->count) % SR_LOADER_SLOTS;
        s = &ld->slots[k];
        e = ld->next_e;
        b = ld->next_b;
        g = ld->gen;
        ld->busy = 1;
        ld->busy_e = e;
        ld->busy_b = b;
        ld->busy_gen = g;
        pthread_mutex_unlock(&ld->mu);

        st = produce(ld, e, b, s);
        if (st) {
            snprintf(s->msg, sizeof s->msg, "%s", sr_last_error());
            sr_clear_error();
        }

        pthread_mutex_lock(&ld->mu);
        ld->busy = 0;
        if (g != ld->gen)
            continue;              /* a seek made it stale: discard */
        s->epoch = e;
        s->index = b;
        s->st = st;
        ld->count++;
        if (st)
            ld->failed = 1;
        else
            advance(ld, &ld->next_e, &ld->next_b);
        pthread_cond_broadcast(&ld->cv_cons);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* ---- open ---- */

static sr_status check_opts(const sr_loader_opts *o)
{
    SR_CHECK(o && o->path && o->path[0], SR_E_ARG,
             "data loader: no dataset file given");
    SR_CHECK(o->split && o->split[0], SR_E_ARG,
             "data loader: no split given (\"train\", \"test\", \"val\")");
    SR_CHECK(o->batch > 0, SR_E_ARG,
             "data loader: the batch size must be positive (got %d)",
             o->batch);
    SR_CHECK(o->nranks >= 1, SR_E_ARG,
             "data loader: nranks must be at least 1 (got %d)", o->nranks);
    SR_CHECK(o->rank >= 0 && o->rank < o->nranks, SR_E_ARG,
             "data loader: rank %d is outside 0..%d (nranks %d)", o->rank,
             o->nranks - 1, o->nranks);
    SR_CHECK((uint64_t)o->batch * (uint64_t)o->nranks <= INT32_MAX, SR_E_ARG,
             "data loader: batch %d x %d ranks is too large", o->batch,
             o->nranks);
    SR_CHECK((int)o->augment >= (int)SR_AUG_NONE &&
             (int)o->augment <= (int)SR_AUG_CENTER,
             SR_E_ARG, "data loader: unknown augmentation %d", (int)o->augment);
    SR_CHECK(o->crop >= 0, SR_E_ARG,
             "data loader: the crop size must not be negative (got %d)",
             o->crop);
    return SR_OK;
}

static void list_splits(const sr_ds *ds, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < sr_ds_num_splits(ds) && used < len; i++) {
        struct sr_ds_split_info info;
        int k;

        sr_ds_split_info(ds, i, &info);
        k = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                     info.name);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

/* Output geometry and the transform flavour. */
static sr_status set_geometry(sr_loader *ld, int crop)
{
    int smin = ld->h < ld->w ? ld->h : ld->w;

    ld->oh = ld->h;
    ld->ow = ld->w;
    ld->train_tf = strcmp(ld->split_name, "train") == 0;
    switch (ld->aug) {
    case SR_AUG_NONE:
    case SR_AUG_CIFAR:
        SR_CHECK(crop == 0 || (crop == ld->h && crop == ld->w), SR_E_ARG,
                 "data loader: crop %d needs augment IMAGENET or CENTER; "
                 "%s stores %dx%d images (crop 0 keeps them)", crop,
                 ld->path, ld->h, ld->w);
        return SR_OK;
    case SR_AUG_IMAGENET:
        ld->oh = ld->ow = crop ? crop : smin;
        if (ld->train_tf)
            return SR_OK;
        {
            int r = (int)((long)ld->oh * 256 / 224);

            if (smin > r) {
                /* torchvision Resize(r): shorter side r, the longer one
                 * scaled and truncated. */
                ld->rs_h = ld->h == smin ? r : (int)((long)r * ld->h / smin);
                ld->rs_w = ld->w == smin ? r : (int)((long)r * ld->w / smin);
                return SR_OK;
            }
        }
        /* fall through - centre crop of the stored image */
    case SR_AUG_CENTER:
        ld->oh = ld->ow = crop ? crop : smin;
        SR_CHECK(ld->oh <= ld->h && ld->ow <= ld->w, SR_E_ARG,
                 "data loader: centre crop %d is larger than the %dx%d "
                 "images of %s (/%s)", ld->oh, ld->h, ld->w, ld->path,
                 ld->split_name);
        return SR_OK;
    }
    return SR_OK;
}

/* Exact per-channel mean and (population) std of pixel/255 over the train
 * split: a histogram of the 256 values per channel, then float64 sums. */
static sr_status compute_norm(sr_loader *ld, sr_ds *ds)
{
    int tr = sr_ds_find_split(ds, "train");
    struct sr_ds_split_info info;
    uint64_t (*hist)[256] = NULL, blk;
    uint8_t *buf = NULL;
    size_t ib;
    sr_status st = SR_OK;
    char names[256];

    if (tr < 0) {
        list_splits(ds, names, sizeof names);
        return sr_error(SR_E_ARG, "data loader: mean/std not given and %s has "
                        "no train split to compute them from (splits: %s); "
                        "pass them explicitly", ld->path, names);
    }
    sr_ds_split_info(ds, tr, &info);
    SR_CHECK(info.count > 0, SR_E_FORMAT, "data loader: mean/std not given "
             "and the train split of %s is empty", ld->path);
    hist = calloc(3, sizeof *hist);
    if (!hist)
        return sr_error(SR_E_NOMEM, "out of memory");
    ib = (size_t)info.channels * info.height * info.width;
    if (ld->images && ld->split == tr && !ld->rec) {
        buf = ld->images;
        blk = info.count;
    } else {
        uint64_t ch = info.chunk_images ? info.chunk_images : 1;

        blk = SR_LOADER_STAT_BLOCK_BYTES / ib / ch * ch;
        if (blk < ch)
            blk = ch;
        buf = malloc(blk * ib);
        if (!buf) {
            st = sr_error(SR_E_NOMEM, "out of memory (%llu bytes)",
                          (unsigned long long)(blk * ib));
            goto out_hist;
        }
    }
    for (uint64_t first = 0; first < info.count; first += blk) {
        uint64_t cnt = info.count - first < blk ? info.count - first : blk;
        size_t plane = (size_t)info.height * info.width;

        if (buf != ld->images) {
            st = sr_ds_read_images(ds, tr, first, cnt, buf);
            if (st)
                goto out_buf;
        }
        for (uint64_t i = 0; i < cnt; i++)
            for (uint32_t c = 0; c < info.channels; c++) {
                const uint8_t *p = buf + i * ib + c * plane;
                uint64_t *hc = hist[c];

                for (size_t k = 0; k < plane; k++)
                    hc[p[k]]++;
            }
    }
    for (uint32_t c = 0; c < info.channels; c++) {
        double tot = (double)info.count * info.height * info.width;
        double m = 0.0, v = 0.0;

        for (int p = 0; p < 256; p++)
            m += (double)hist[c][p] * p;
        m /= 255.0 * tot;
        for (int p = 0; p < 256; p++) {
            double d = p / 255.0 - m;

            v += (double)hist[c][p] * d * d;
        }
        v /= tot;
        ld->mean[c] = (float)m;
        ld->std[c] = v > 0 ? (float)sqrt(v) : 1.0f;
    }
out_buf:
    if (buf != ld->images)
        free(buf);
out_hist:
    free(hist);
    return st;
}

static sr_status set_norm(sr_loader *ld, const sr_loader_opts *o, sr_ds *ds)
{
    int given = 0;

    for (int c = 0; c < ld->c; c++)
        given |= o->mean[c] != 0.0f || o->std[c] != 0.0f;
    if (!given)
        return compute_norm(ld, ds);
    for (int c = 0; c < ld->c; c++) {
        SR_CHECK(isfinite(o->mean[c]) && isfinite(o->std[c]) &&
                 o->std[c] > 0.0f, SR_E_ARG,
                 "data loader: normalisation of channel %d: mean %g, std %g "
                 "(std must be positive; all zero computes both from the "
                 "train split)", c, o->mean[c], o->std[c]);
        ld->mean[c] = o->mean[c];
        ld->std[c] = o->std[c];
    }
    return SR_OK;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* A limit's records: the first n of a permutation that depends on nothing
 * but the record count, sorted (file order reads blocks once). */
static sr_status pick_subset(sr_loader *ld)
{
    uint32_t *perm = malloc(sizeof *perm * ld->records);

    if (!perm)
        return sr_error(SR_E_NOMEM, "out of memory");
    sr_data_permute(perm, (uint32_t)ld->records,
                    sr_rng_key(0, SR_DATA_STREAM_SUBSET, 0));
    qsort(perm, (size_t)ld->n, sizeof *perm, u32_cmp);
    ld->rec = malloc(sizeof *perm * (ld->n ? ld->n : 1));
    if (ld->rec)
        memcpy(ld->rec, perm, sizeof *perm * ld->n);
    free(perm);
    return ld->rec ? SR_OK : sr_error(SR_E_NOMEM, "out of memory");
}

/* A limit's labels, and its images when they are held in memory: the
 * blocks that hold chosen records, each read once. */
static sr_status read_subset(sr_loader *ld, sr_ds *ds)
{
    uint32_t *all = malloc(sizeof *all * (ld->records ? ld->records : 1));
    uint8_t *blk = NULL;
    sr_status st;

    if (!all)
        return sr_error(SR_E_NOMEM, "out of memory");
    st = sr_ds_read_labels(ds, ld->split, all);
    for (uint64_t i = 0; st == SR_OK && i < ld->n; i++)
        ld->labels[i] = all[ld->rec[i]];
    free(all);
    if (st || !ld->images)
        return st;
    blk = malloc(ld->block_images * ld->img_bytes);
    if (!blk)
        return sr_error(SR_E_NOMEM, "out of memory");
    for (uint64_t i = 0; i < ld->n;) {
        uint64_t first = ld->rec[i] / ld->block_images * ld->block_images;
        uint64_t cnt = ld->records - first < ld->block_images
                           ? ld->records - first : ld->block_images;

        st = sr_ds_read_images(ds, ld->split, first, cnt, blk);
        if (st)
            break;
        for (; i < ld->n && ld->rec[i] < first + cnt; i++)
            memcpy(ld->images + i * ld->img_bytes,
                   blk + (ld->rec[i] - first) * ld->img_bytes, ld->img_bytes);
    }
    free(blk);
    return st;
}

static sr_status alloc_buffers(sr_loader *ld, uint64_t mem_cap)
{
    uint64_t bytes = ld->n * ld->img_bytes;

    ld->labels = malloc(sizeof(uint32_t) * (ld->n ? ld->n : 1));
    ld->refs = malloc(sizeof *ld->refs * (size_t)ld->batch);
    if (ld->shuffle)
        ld->perm = malloc(sizeof(uint32_t) * (ld->n ? ld->n : 1));
    if (!ld->labels || !ld->refs || (ld->shuffle && !ld->perm))
        return sr_error(SR_E_NOMEM, "out of memory");
    for (int i = 0; i < SR_LOADER_SLOTS; i++) {
        ld->slots[i].x = malloc(sizeof(float) * ld->out_floats *
                                (size_t)ld->batch);
        ld->slots[i].y = malloc(sizeof(uint32_t) * (size_t)ld->batch);
        if (!ld->slots[i].x || !ld->slots[i].y)
            return sr_error(SR_E_NOMEM, "data loader: out of memory for "
                            "%d batches of %d x %zu floats", SR_LOADER_SLOTS,
                            ld->batch, ld->out_floats);
    }
    if (bytes <= mem_cap) {
        ld->images = malloc(bytes ? bytes : 1);
        if (!ld->images)
            return sr_error(SR_E_NOMEM, "data loader: out of memory reading "
                            "/%s of %s whole (%llu bytes)", ld->split_name,
                            ld->path, (unsigned long long)bytes);
        return SR_OK;
    }
    ld->ncache = (int)(SR_LOADER_CACHE_BYTES /
                       (ld->block_images * ld->img_bytes));
    if (ld->ncache < 2)
        ld->ncache = 2;
    ld->cache = calloc((size_t)ld->ncache, sizeof *ld->cache);
    if (!ld->cache)
        return sr_error(SR_E_NOMEM, "out of memory");
    for (int i = 0; i < ld->ncache; i++) {
        ld->cache[i].id = -1;
        ld->cache[i].data = malloc(ld->block_images * ld->img_bytes);
        if (!ld->cache[i].data)
            return sr_error(SR_E_NOMEM, "out of memory (block cache)");
    }
    return SR_OK;
}

static sr_status copy_classes(sr_loader *ld, const sr_ds *ds)
{
    ld->classes = (int)sr_ds_num_classes(ds);
    ld->class_names = calloc((size_t)ld->classes + 1, sizeof(char *));
    if (!ld->class_names)
        return sr_error(SR_E_NOMEM, "out of memory");
    for (int k = 0; k < ld->classes; k++) {
        ld->class_names[k] = strdup(sr_ds_class_name(ds, (uint32_t)k));
        if (!ld->class_names[k])
            return sr_error(SR_E_NOMEM, "out of memory");
    }
    return SR_OK;
}

sr_status sr_loader_open_cap(const sr_loader_opts *opts, uint64_t mem_cap,
                             sr_loader **out)
{
    struct sr_ds_split_info info;
    sr_loader *ld;
    sr_ds *ds = NULL;
    uint64_t g;
    sr_status st;
    char names[256];

    if (out)
        *out = NULL;
    SR_CHECK(out, SR_E_ARG, "data loader: no output handle");
    st = check_opts(opts);
    if (st)
        return st;
    ld = calloc(1, sizeof *ld);
    if (!ld)
        return sr_error(SR_E_NOMEM, "out of memory");
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv_prod, NULL);
    pthread_cond_init(&ld->cv_cons, NULL);
    ld->path = strdup(opts->path);
    ld->split_name = strdup(opts->split);
    if (!ld->path || !ld->split_name) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out_free;
    }
    ld->batch = opts->batch;
    ld->shuffle = !!opts->shuffle;
    ld->drop_last = !!opts->drop_last;
    ld->rank = opts->rank;
    ld->nranks = opts->nranks;
    ld->aug = opts->augment;
    ld->seed = opts->seed;
    ld->perm_epoch = -1;

    st = sr_ds_open(&ds, opts->path);
    if (st)
        goto out_free;
    ld->split = sr_ds_find_split(ds, opts->split);
    if (ld->split < 0) {
        list_splits(ds, names, sizeof names);
        st = sr_error(SR_E_ARG, "data loader: %s has no split \"%s\" "
                      "(splits: %s)%s", opts->path, opts->split, names,
                      strcmp(opts->split, "val") == 0 ?
                      "; hold one out with sinreq-prep --val-fraction" : "");
        goto out_free;
    }
    sr_ds_split_info(ds, ld->split, &info);
    if (info.count > UINT32_MAX || info.channels < 1 || info.channels > 3) {
        st = sr_error(SR_E_UNSUPPORTED, "data loader: /%s of %s has %llu "
                      "images of %u channels (at most 2^32-1 images of 1..3 "
                      "channels)", opts->split, opts->path,
                      (unsigned long long)info.count, info.channels);
        goto out_free;
    }
    ld->records = info.count;
    ld->n = opts->limit && opts->limit < info.count ? opts->limit
                                                     : info.count;
    if (ld->n < ld->records) {
        st = pick_subset(ld);
        if (st)
            goto out_free;
    }
    ld->c = (int)info.channels;
    ld->h = (int)info.height;
    ld->w = (int)info.width;
    ld->img_bytes = (size_t)ld->c * ld->h * ld->w;
    ld->block_images = info.chunk_images ? info.chunk_images : 1;
    st = set_geometry(ld, opts->crop);
    if (st)
        goto out_free;
    ld->out_floats = (size_t)ld->c * ld->oh * ld->ow;

    g = (uint64_t)ld->batch * ld->nranks;
    ld->full = ld->n / g;
    ld->rem = ld->n % g;
    if (ld->full + (!ld->drop_last && ld->rem) > INT32_MAX) {
        st = sr_error(SR_E_ARG, "data loader: too many batches per epoch");
        goto out_free;
    }
    ld->nb = (int)(ld->full + (!ld->drop_last && ld->rem));

    st = copy_classes(ld, ds);
    if (st)
        goto out_free;
    st = alloc_buffers(ld, mem_cap);
    if (st)
        goto out_free;
    if (ld->rec) {
        st = read_subset(ld, ds);
        if (st)
            goto out_free;
    } else {
        st = sr_ds_read_labels(ds, ld->split, ld->labels);
        if (st)
            goto out_free;
        if (ld->images) {
            st = sr_ds_read_images(ds, ld->split, 0, ld->n, ld->images);
            if (st)
                goto out_free;
        }
    }
    st = set_norm(ld, opts, ds);
    if (st)
        goto out_free;
    sr_data_norm_tables(ld->c, ld->mean, ld->std, ld->lut, ld->scale,
                        ld->shift);
    if (ld->images) {
        sr_ds_close(ds);    /* everything is in memory */
        ds = NULL;
    }
    ld->ds = ds;
    ds = NULL;

    if (pthread_create(&ld->thread, NULL, producer_main, ld) != 0) {
        st = sr_error(SR_E_INTERNAL, "data loader: cannot start its thread");
        goto out_free;
    }
    ld->thread_started = 1;
    *out = ld;
    return SR_OK;

out_free:
    sr_ds_close(ds);
    sr_loader_free(ld);
    return st;
}

sr_status sr_loader_open(const sr_loader_opts *opts, sr_loader **out)
{
    return sr_loader_open_cap(opts, SR_LOADER_MEM_CAP_DEFAULT, out);
}

void sr_loader_free(sr_loader *ld)
{
    if (!ld)
        return;
    if (ld->thread_started) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = 1;
        pthread_cond_broadcast(&ld->cv_prod);
        pthread_mutex_unlock(&ld->mu);
        pthread_join(ld->thread, NULL);
    }
    sr_ds_close(ld->ds);
    for (int i = 0; i < SR_LOADER_SLOTS; i++) {
        free(ld->slots[i].x);
        free(ld->slots[i].y);
    }
    if (ld->cache)
        for (int i = 0; i < ld->ncache; i++)
            free(ld->cache[i].data);
    free(ld->cache);
    if (ld->class_names)
        for (int k = 0; k < ld->classes; k++)
            free(ld->class_names[k]);
    free(ld->class_names);
    free(ld->images);
    free(ld->labels);
    free(ld->perm);
    free(ld->rec);
    free(ld->refs);
    free(ld->path);
    free(ld->split_name);
    pthread_cond_destroy(&ld->cv_cons);
    pthread_cond_destroy(&ld->cv_prod);
    pthread_mutex_destroy(&ld->mu);
    free(ld);
}

/* ---- queries ---- */

void sr_loader_shape(const sr_loader *ld, int *c, int *h, int *w)
{
    if (c)
        *c = ld->c;
    if (h)
        *h = ld->oh;
    if (w)
        *w = ld->ow;
}

int sr_loader_classes(const sr_loader *ld) { return ld->classes; }

const char *sr_loader_class_name(const sr_loader *ld, int i)
{
    return i >= 0 && i < ld->classes ? ld->class_names[i] : "";
}

uint64_t sr_loader_samples(const sr_loader *ld) { return ld->n; }
uint64_t sr_loader_records(const sr_loader *ld) { return ld->records; }
int sr_loader_batches_per_epoch(const sr_loader *ld) { return ld->nb; }

void sr_loader_norm(const sr_loader *ld, float mean[3], float std[3])
{
    for (int c = 0; c < 3; c++) {
        mean[c] = c < ld->c ? ld->mean[c] : 0.0f;
        std[c] = c < ld->c ? ld->std[c] : 0.0f;
    }
}

/* ---- seek / next ---- */

sr_status sr_loader_seek(sr_loader *ld, int epoch, int batch_index)
{
    int te, tb, i, found = 0;

    SR_CHECK(ld, SR_E_ARG, "data loader: no loader");
    SR_CHECK(epoch >= 0 && batch_index >= 0 && batch_index <= ld->nb,
             SR_E_ARG, "data loader: cannot seek to epoch %d batch %d "
             "(batches 0..%d per epoch)", epoch, batch_index, ld->nb);
    te = epoch;
    tb = batch_index;
    if (tb == ld->nb) {     /* at the end: prepare the next epoch */
        tb = 0;
        te++;
    }
    pthread_mutex_lock(&ld->mu);
    ld->cur_e = epoch;
    ld->cur_b = batch_index;
    if (!ld->failed) {
        /* The pending sequence is consecutive: ring slots, then the batch
         * in flight, then next. Keep what starts at the target. */
        for (i = 0; i < ld->count && !found; i++) {
            struct slot *s = &ld->slots[(ld->head + i) % SR_LOADER_SLOTS];

            if (s->epoch == te && s->index == tb) {
                ld->head = (ld->head + i) % SR_LOADER_SLOTS;
                ld->count -= i;
                found = 1;
            }
        }
        if (!found && ((ld->busy && ld->busy_gen == ld->gen &&
                        ld->busy_e == te && ld->busy_b == tb) ||
                       (!(ld->busy && ld->busy_gen == ld->gen) &&
                        ld->next_e == te && ld->next_b == tb))) {
            ld->head = (ld->head + ld->count) % SR_LOADER_SLOTS;
            ld->count = 0;
            found = 1;
        }
    }
    if (!found) {
        ld->gen++;
        ld->count = 0;
        ld->failed = 0;
        ld->next_e = te;
        ld->next_b = tb;
    }
    pthread_cond_broadcast(&ld->cv_prod);
    pthread_mutex_unlock(&ld->mu);
    return SR_OK;
}

sr_status sr_loader_next(sr_loader *ld, float *x, uint32_t *labels,
                         int *n_valid)
{
    struct slot *s;

    SR_CHECK(ld && x && labels && n_valid, SR_E_ARG,
             "data loader: sr_loader_next needs a loader and x, labels, "
             "n_valid buffers");
    *n_valid = 0;
    if (ld->cur_b >= ld->nb)
        return SR_OK;
    pthread_mutex_lock(&ld->mu);
    while (ld->count == 0)
        pthread_cond_wait(&ld->cv_cons, &ld->mu);
    s = &ld->slots[ld->head];
    pthread_mutex_unlock(&ld->mu);
    /* The slot stays ours until popped: the producer writes only outside
     * [head, head + count). */
    if (s->st)
        return reraise(s->st, s->msg);
    SR_CHECK(s->epoch == ld->cur_e && s->index == ld->cur_b, SR_E_INTERNAL,
             "data loader: prepared batch (%d, %d) but expected (%d, %d)",
             s->epoch, s->index, ld->cur_e, ld->cur_b);
    memcpy(x, s->x, sizeof(float) * ld->out_floats * (size_t)ld->batch);
    memcpy(labels, s->y, sizeof(uint32_t) * (size_t)ld->batch);
    *n_valid = s->n_valid;
    pthread_mutex_lock(&ld->mu);
    ld->head = (ld->head + 1) % SR_LOADER_SLOTS;
    ld->count--;
    pthread_cond_broadcast(&ld->cv_prod);
    pthread_mutex_unlock(&ld->mu);
    ld->cur_b++;
    return SR_OK;
}
