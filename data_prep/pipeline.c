/* sinreq-prep: the common conversion pipeline (val split, threaded fetch,
 * batched writes, summary) and the progress display. */
#include "prep.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sinreq/rng.h"
#include "sinreq/version.h"

#define BATCH_IMAGES 1024

double prep_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- files ---- */

int prep_is_dir(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int prep_is_file(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

char *prep_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);

    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

sr_status prep_read_file(const char *path, uint8_t **data, size_t *size)
{
    struct stat sb;
    uint8_t *buf;
    size_t got = 0;
    int fd;

    *data = NULL;
    *size = 0;
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return sr_error(SR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sr_error(SR_E_IO, "%s: not a regular file", path);
    }
    buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
    if (!buf) {
        close(fd);
        return sr_error(SR_E_NOMEM, "%s: out of memory for %lld bytes", path,
                        (long long)sb.st_size);
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;

            free(buf);
            close(fd);
            return sr_error(SR_E_IO, "%s: read failed: %s", path,
                            r < 0 ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *size = got;
    return SR_OK;
}

/* ---- progress ---- */

void prep_progress_start(struct prep_progress *p, const char *label,
                         uint64_t total, int quiet)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->t0 = p->last = prep_now();
    p->last_pct = -1;
}

static void fmt_eta(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);

    if (s < 0 || s > 1e7)
        snprintf(buf, n, "--:--");
    else
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

void prep_progress_update(struct prep_progress *p, uint64_t done)
{
    double now = prep_now(), dt = now - p->t0;
    double rate = dt > 0 ? (double)done / dt : 0;
    int pct = p->total ? (int)(100.0 * (double)done / (double)p->total) : 100;
    char eta[32];

    p->done = done;
    if (p->quiet)
        return;
    fmt_eta(eta, sizeof eta, rate > 0 ? (double)(p->total - done) / rate : -1);
    if (p->tty) {
        char bar[31];
        int fill = pct * 30 / 100;

        if (now - p->last < 0.1 && done < p->total)
            return;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%-6s [%s] %3d%% %llu/%llu  %.0f img/s  ETA %s ",
                p->label, bar, pct, (unsigned long long)done,
                (unsigned long long)p->total, rate, eta);
        fflush(stderr);
        p->last = now;
    } else {
        /* Plain lines for logs: every 10% or every 30 s. */
        if (pct / 10 == p->last_pct / 10 && now - p->last < 30)
            return;
        fprintf(stderr, "%s: %llu/%llu (%d%%) %.0f img/s ETA %s\n", p->label,
                (unsigned long long)done, (unsigned long long)p->total, pct,
                rate, eta);
        p->last = now;
        p->last_pct = pct;
    }
}

void prep_progress_end(struct prep_progress *p)
{
    double dt = prep_now() - p->t0;

    if (p->quiet)
        return;
    if (p->tty)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%s: %llu images in %.1f s (%.0f img/s)\n", p->label,
            (unsigned long long)p->done, dt, dt > 0 ? (double)p->done / dt : 0);
}

/* ---- validation split ---- */

static uint64_t rand_below(uint32_t key, uint32_t *ctr, uint64_t n)
{
    /* Rejection sampling on 64 random bits: unbiased for any n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, r;

    do {
        r = (uint64_t)sr_rng_u32(key, (*ctr)++) << 32;
        r |= sr_rng_u32(key, (*ctr)++);
    } while (r >= limit);
    return r % n;
}

sr_status prep_stratified_split(const uint32_t *labels, uint64_t n,
                                uint32_t num_classes, double fraction,
                                uint64_t seed, uint8_t *is_val)
{
    uint64_t *idx = NULL, *count = NULL, *start = NULL, *fill = NULL;
    sr_status st = SR_OK;

    SR_CHECK(fraction >= 0 && fraction < 1, SR_E_ARG,
             "--val-fraction %g is not in [0, 1)", fraction);
    memset(is_val, 0, n);
    if (fraction == 0 || n == 0)
        return SR_OK;
    idx = malloc(n * sizeof *idx);
    count = calloc(num_classes, sizeof *count);
    start = calloc(num_classes, sizeof *start);
    fill = calloc(num_classes, sizeof *fill);
    if (!idx || !count || !start || !fill) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out_free;
    }
    /* Bucket the indices by class, keeping the source order. */
    for (uint64_t i = 0; i < n; i++)
        count[labels[i]]++;
    for (uint32_t c = 1; c < num_classes; c++)
        start[c] = start[c - 1] + count[c - 1];
    for (uint64_t i = 0; i < n; i++)
        idx[start[labels[i]] + fill[labels[i]]++] = i;
    for (uint32_t c = 0; c < num_classes; c++) {
        uint64_t *ci = idx + start[c], nc = count[c];
        uint64_t k = (uint64_t)floor(fraction * (double)nc + 0.5);
        uint32_t key = sr_rng_key((uint32_t)seed ^ 0x5eedu, c,
                                  (uint32_t)(seed >> 32));
        uint32_t ctr = 0;

        /* Partial Fisher-Yates: the first k after shuffling are held out. */
        for (uint64_t j = 0; j < k; j++) {
            uint64_t r = j + rand_below(key, &ctr, nc - j), t = ci[j];

            ci[j] = ci[r];
            ci[r] = t;
            is_val[ci[j]] = 1;
        }
    }
out_free:
    free(fill);
    free(start);
    free(count);
    free(idx);
    return st;
}

/* ---- threaded fetch ---- */

struct batch {
    const struct prep_part *part;
    const uint64_t *index;    /* source indices of this output split, or NULL */
    uint64_t first, count;    /* output positions [first, first + count) */
    size_t image_bytes;
    uint8_t *images;
    uint32_t *labels;
    atomic_uint_fast64_t next;
    pthread_mutex_t lock;
    atomic_int failed;        /* workers stop early once one failed */
    sr_status st;
    char msg[1024];
};

static void batch_fail(struct batch *b, sr_status st)
{
    pthread_mutex_lock(&b->lock);
    if (b->st == SR_OK) {
        b->st = st;
        atomic_store(&b->failed, 1);
        snprintf(b->msg, sizeof b->msg, "%s", sr_last_error());
    }
    pthread_mutex_unlock(&b->lock);
}

static void *batch_worker(void *arg)
{
    struct batch *b = arg;
    uint64_t i;

    while ((i = atomic_fetch_add(&b->next, 1)) < b->count) {
        uint64_t src = b->index ? b->index[b->first + i] : b->first + i;
        sr_status st;

        if (atomic_load(&b->failed))
            break;
        b->labels[i] = b->part->labels[src];
        st = b->part->fetch(b->part->ctx, src, b->images + i * b->image_bytes);
        if (st != SR_OK) {
            batch_fail(b, st);
            break;
        }
    }
    return NULL;
}

struct batch_run {
    pthread_t tid[64];
    int nthreads;
};

static sr_status batch_start(struct batch *b, struct batch_run *r, int threads)
{
    atomic_store(&b->next, 0);
    atomic_store(&b->failed, 0);
    b->st = SR_OK;
    b->msg[0] = '\0';
    r->nthreads = 0;
    if (threads <= 1)
        return SR_OK;   /* fetched by batch_finish on the calling thread */
    for (int t = 0; t < threads && t < 64; t++) {
        if (pthread_create(&r->tid[t], NULL, batch_worker, b) != 0)
            break;   /* fewer threads still finish the batch */
        r->nthreads++;
    }
    return SR_OK;
}

static sr_status batch_finish(struct batch *b, struct batch_run *r)
{
    char file[256];
    int line = 0, off = 0;

    if (r->nthreads == 0)
        batch_worker(b);
    for (int t = 0; t < r->nthreads; t++)
        pthread_join(r->tid[t], NULL);
    r->nthreads = 0;
    if (b->st == SR_OK)
        return SR_OK;
    /* Re-raise the worker's message on this thread, same file and line. */
    if (sscanf(b->msg, "%255[^:]:%d: %n", file, &line, &off) == 2 && off > 0)
        return sr_error_at(b->st, file, line, "%s", b->msg + off);
    return sr_error(b->st, "%s", b->msg);
}

static void print_summary(const struct prep_job *job, uint64_t *const *counts,
                          const char *const *names, int nsplits,
                          const struct prep_opts *o, double seconds)
{
    const struct sr_ds_meta *m = &job->meta;
    int width = 5;
    struct stat sb;

    for (uint32_t k = 0; k < m->num_classes; k++)
        if ((int)strlen(m->class_names[k]) > width)
            width = (int)strlen(m->class_names[k]);
    if (width > 40)
        width = 40;
    printf("%-*s", width, "class");
    for (int s = 0; s < nsplits; s++)
        printf(" %10s", names[s]);
    printf("\n");
    for (uint32_t k = 0; k < m->num_classes; k++) {
        printf("%-*.*s", width, width, m->class_names[k]);
        for (int s = 0; s < nsplits; s++)
            printf(" %10llu", (unsigned long long)counts[s][k]);
        printf("\n");
    }
    printf("%-*s", width, "total");
    for (int s = 0; s < nsplits; s++) {
        uint64_t t = 0;

        for (uint32_t k = 0; k < m->num_classes; k++)
            t += counts[s][k];
        printf(" %10llu", (unsigned long long)t);
    }
    printf("\n");
    printf("wrote %s: %u classes, images %ux%ux%u (CxHxW)", o->output,
           m->num_classes, m->channels, m->height, m->width);
    if (stat(o->output, &sb) == 0)
        printf(", %.1f MiB", (double)sb.st_size / (1024.0 * 1024.0));
    printf(", %.1f s\n", seconds);
}

/* Writes one output split: `n` images, source indices index[0..n) (or the
 * identity when NULL), in batches, fetching batch k+1 while writing k. */
static sr_status write_split(sr_ds_writer *w, const char *name,
                             const struct prep_part *part,
                             const uint64_t *index, uint64_t n,
                             size_t image_bytes, struct prep_opts *o)
{
    struct batch b[2];
    struct batch_run run[2] = { { .nthreads = 0 } };
    struct prep_progress prog;
    uint64_t pos = 0;
    sr_status st = SR_OK;
    int cur = 0, threads = o->threads > 0 ? o->threads : 1;

    memset(b, 0, sizeof b);
    for (int i = 0; i < 2; i++) {
        b[i].part = part;
        b[i].index = index;
        b[i].image_bytes = image_bytes;
        b[i].images = malloc(BATCH_IMAGES * image_bytes);
        b[i].labels = malloc(BATCH_IMAGES * sizeof *b[i].labels);
        pthread_mutex_init(&b[i].lock, NULL);
        if (!b[i].images || !b[i].labels)
            st = sr_error(SR_E_NOMEM, "out of memory for a batch of %d "
                          "images", BATCH_IMAGES);
    }
    if (st != SR_OK)
        goto out_free;
    /* An empty split still gets its (empty) datasets. */
    st = sr_ds_append(w, name, b[0].images, b[0].labels, 0);
    if (st != SR_OK) {
        o->runtime_failure = 1;
        goto out_free;
    }
    prep_progress_start(&prog, name, n, o->quiet);
    if (n > 0) {
        b[0].first = 0;
        b[0].count = n < BATCH_IMAGES ? n : BATCH_IMAGES;
        batch_start(&b[0], &run[0], threads);
    }
    while (pos < n) {
        struct batch *c = &b[cur], *nx = &b[cur ^ 1];

        st = batch_finish(c, &run[cur]);
        if (st != SR_OK)
            break;
        if (pos + c->count < n) {
            nx->first = pos + c->count;
            nx->count = n - nx->first < BATCH_IMAGES ? n - nx->first
                                                     : BATCH_IMAGES;
            batch_start(nx, &run[cur ^ 1], threads);
        }
        st = sr_ds_append(w, name, c->images, c->labels, c->count);
        if (st != SR_OK) {
            o->runtime_failure = st != SR_E_ARG;
            break;
        }
        pos += c->count;
        prep_progress_update(&prog, pos);
        cur ^= 1;
    }
    /* Never leave a thread running on failure. */
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < run[i].nthreads; t++)
            pthread_join(run[i].tid[t], NULL);
    if (st == SR_OK)
        prep_progress_end(&prog);
    else if (!o->quiet && prog.tty)
        fprintf(stderr, "\n");
out_free:
    for (int i = 0; i < 2; i++) {
        free(b[i].images);
        free(b[i].labels);
        pthread_mutex_destroy(&b[i].lock);
    }
    return st;
}

sr_status prep_run(struct prep_job *job, struct prep_opts *o)
{
    struct sr_ds_meta *m = &job->meta;
    size_t image_bytes = (size_t)m->channels * m->height * m->width;
    const char *names[PREP_MAX_PARTS + 1];
    uint64_t *counts[PREP_MAX_PARTS + 1] = { NULL };
    uint8_t *is_val = NULL;
    uint64_t *train_idx = NULL, *val_idx = NULL, ntrain = 0, nval = 0;
    sr_ds_writer *w = NULL;
    char *source_abs = NULL;
    int train = -1, nsplits = 0;
    double t0 = prep_now();
    sr_status st = SR_OK;

    for (int p = 0; p < job->nparts; p++) {
        for (uint64_t i = 0; i < job->parts[p].count; i++)
            SR_CHECK(job->parts[p].labels[i] < m->num_classes, SR_E_FORMAT,
                     "%s: label %u of %s image %llu is not below %u", o->input,
                     job->parts[p].labels[i], job->parts[p].split,
                     (unsigned long long)i, m->num_classes);
        if (strcmp(job->parts[p].split, "train") == 0)
            train = p;
        SR_CHECK(strcmp(job->parts[p].split, "val") != 0 ||
                 o->val_fraction == 0, SR_E_ARG,
                 "%s already has a validation split; drop --val-fraction",
                 o->input);
    }
    m->val_fraction = -1;
    if (o->val_fraction > 0) {
        const struct prep_part *tp;

        SR_CHECK(train >= 0, SR_E_ARG, "--val-fraction: %s has no training "
                 "split to hold images out of", o->input);
        tp = &job->parts[train];
        is_val = malloc(tp->count ? tp->count : 1);
        train_idx = malloc((tp->count ? tp->count : 1) * sizeof *train_idx);
        val_idx = malloc((tp->count ? tp->count : 1) * sizeof *val_idx);
        if (!is_val || !train_idx || !val_idx) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            goto out_free;
        }
        st = prep_stratified_split(tp->labels, tp->count, m->num_classes,
                                   o->val_fraction, o->seed, is_val);
        if (st != SR_OK)
            goto out_free;
        for (uint64_t i = 0; i < tp->count; i++) {
            if (is_val[i])
                val_idx[nval++] = i;
            else
                train_idx[ntrain++] = i;
        }
        m->val_fraction = o->val_fraction;
        m->val_seed = o->seed;
    }
    /* Record the input as an absolute path: the file outlives the cwd. */
    source_abs = realpath(o->input, NULL);
    if (source_abs)
        m->source = source_abs;
    m->deflate_level = o->deflate;
    /* static: the meta may be read after this returns */
    static char created_by[96];
    snprintf(created_by, sizeof created_by, "sinreq-prep %s", sr_version());
    m->created_by = created_by;
    st = sr_ds_create(&w, o->output, m, o->force ? SR_DS_OVERWRITE : 0);
    if (st != SR_OK) {
        o->runtime_failure = st != SR_E_ARG;
        goto out_free;
    }
    for (int p = 0; p < job->nparts; p++) {
        const struct prep_part *part = &job->parts[p];

        if (p == train && is_val) {
            st = write_split(w, "train", part, train_idx, ntrain, image_bytes, o);
            if (st == SR_OK)
                st = write_split(w, "val", part, val_idx, nval, image_bytes, o);
        } else {
            st = write_split(w, part->split, part, NULL, part->count,
                             image_bytes, o);
        }
        if (st != SR_OK)
            goto out_abort;
    }
    st = sr_ds_commit(w);
    w = NULL;
    if (st != SR_OK) {
        o->runtime_failure = st != SR_E_ARG;
        goto out_free;
    }
    if (o->quiet)
        goto out_free;
    /* Summary: per class per split, from the labels actually written. */
    for (int p = 0; p < job->nparts; p++) {
        const struct prep_part *part = &job->parts[p];
        int vs = -1;

        names[nsplits] = part->split;
        counts[nsplits] = calloc(m->num_classes, sizeof **counts);
        if (p == train && is_val) {
            vs = nsplits + 1;
            names[vs] = "val";
            counts[vs] = calloc(m->num_classes, sizeof **counts);
        }
        if (!counts[nsplits] || (vs >= 0 && !counts[vs])) {
            st = sr_error(SR_E_NOMEM, "out of memory");
            goto out_free;
        }
        for (uint64_t i = 0; i < part->count; i++)
            counts[vs >= 0 && is_val[i] ? vs : nsplits][part->labels[i]]++;
        nsplits += vs >= 0 ? 2 : 1;
    }
    print_summary(job, counts, names, nsplits, o, prep_now() - t0);
    goto out_free;

out_abort:
    sr_ds_abort(w);
out_free:
    for (int s = 0; s < PREP_MAX_PARTS + 1; s++)
        free(counts[s]);
    free(val_idx);
    free(train_idx);
    free(is_val);
    free(source_abs);
    return st;
}
