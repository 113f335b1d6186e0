/* sinreq: gradient averaging in buckets with non-blocking allreduce
 * (src/dist). See include/sinreq/dist.h and docs/distributed.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

#define SR_DIST_BUCKET_DEFAULT ((size_t)8 << 20)   /* 8 MiB */

typedef struct bucket {
    int ri;          /* index into ranges */
    size_t off;      /* words into ranges[ri].buf */
    size_t words;
    size_t hoff;     /* words into host */
} bucket;

struct sr_dist_grad {
    sr_dist *d;
    sr_backend *be;
    int nr, nb;
    sr_dist_range *ranges;
    bucket *b;
    float *host;
    size_t total;
    MPI_Request *req;
    int active;       /* between begin and the end of finish */
    int next;         /* first bucket not started */
    int verify;
    float pre_scale;  /* != 1: unequal weights, scale before the sum */
    float post_div;   /* != 1: equal weights, divide after the sum */
    double t_begin;
    sr_dist_grad_times times;
};

static int reduces(const sr_dist_grad *g)
{
    return g->d->uses_mpi && g->d->size > 1;
}

sr_status sr_dist_grad_create(sr_dist *d, sr_backend *be,
                              const sr_dist_range *r, int nr,
                              size_t bucket_bytes, sr_dist_grad **out)
{
    sr_dist_grad *g;
    size_t bw, total = 0, o;
    sr_status st = SR_OK;
    int i, nb = 0;

    SR_CHECK(out, SR_E_ARG, "sr_dist_grad_create: out is NULL");
    *out = NULL;
    SR_CHECK(d && be && nr > 0 && r, SR_E_ARG,
             "sr_dist_grad_create: needs a dist handle, a backend and at "
             "least one range");
    if (!bucket_bytes)
        bucket_bytes = SR_DIST_BUCKET_DEFAULT;
    bw = bucket_bytes / sizeof(float);
    SR_CHECK(bw >= 1 && bw <= SR_DIST_CHUNK, SR_E_ARG,
             "sr_dist_grad_create: bucket of %zu bytes; expected 4 bytes to "
             "1 GiB", bucket_bytes);
    for (i = 0; i < nr; i++) {
        SR_CHECK(r[i].buf && r[i].off <= sr_buf_words(r[i].buf) &&
                 r[i].words <= sr_buf_words(r[i].buf) - r[i].off, SR_E_ARG,
                 "sr_dist_grad_create: range %d (words %zu..%zu) is outside "
                 "its buffer", i, r[i].off, r[i].off + r[i].words);
        total += r[i].words;
        nb += (int)((r[i].words + bw - 1) / bw);
    }
    SR_CHECK(total > 0, SR_E_ARG, "sr_dist_grad_create: the ranges are empty");
    if (d->uses_mpi && d->size > 1)
        SR_TRY(sr_dist_check_same(d, total, "sr_dist_grad_create"));

    g = calloc(1, sizeof(*g));
    if (!g)
        return sr_error(SR_E_NOMEM, "sr_dist_grad_create: out of memory");
    g->d = d;
    g->be = be;
    g->nr = nr;
    g->nb = nb;
    g->total = total;
    g->pre_scale = 1.0f;
    g->post_div = 1.0f;
    g->ranges = malloc((size_t)nr * sizeof(*g->ranges));
    g->b = calloc((size_t)nb, sizeof(*g->b));
    g->req = malloc((size_t)nb * sizeof(*g->req));
    g->host = malloc(total * sizeof(float));
    if (!g->ranges || !g->b || !g->req || !g->host) {
        st = sr_error(SR_E_NOMEM, "sr_dist_grad_create: no host memory for "
                      "%zu gradient words", total);
        goto out_free;
    }
    memcpy(g->ranges, r, (size_t)nr * sizeof(*r));
    nb = 0;
    o = 0;
    for (i = 0; i < nr; i++) {
        size_t w;

        for (w = 0; w < r[i].words; w += bw) {
            bucket *k = &g->b[nb++];

            k->ri = i;
            k->off = r[i].off + w;
            k->words = r[i].words - w < bw ? r[i].words - w : bw;
            k->hoff = o;
            o += k->words;
        }
    }
    for (i = 0; i < g->nb; i++)
        g->req[i] = MPI_REQUEST_NULL;
    *out = g;
    return SR_OK;

out_free:
    sr_dist_grad_free(g);
    return st;
}

void sr_dist_grad_free(sr_dist_grad *g)
{
    int i, pending = 0;

    if (!g)
        return;
    /* Requests still in flight own g->host: waiting could hang when the
     * other ranks stopped (this is an error path), so leak instead. */
    for (i = 0; g->req && i < g->nb; i++)
        pending |= g->req[i] != MPI_REQUEST_NULL;
    if (pending)
        return;
    free(g->host);
    free(g->req);
    free(g->b);
    free(g->ranges);
    free(g);
}

int sr_dist_grad_bucket_count(const sr_dist_grad *g)
{
    return g ? g->nb : 0;
}

sr_status sr_dist_grad_bucket(const sr_dist_grad *g, int i,
                              sr_dist_range *out, int *range_index)
{
    SR_CHECK(g && out && i >= 0 && i < g->nb, SR_E_ARG,
             "sr_dist_grad_bucket: bucket %d of %d", i, g ? g->nb : 0);
    out->buf = g->ranges[g->b[i].ri].buf;
    out->off = g->b[i].off;
    out->words = g->b[i].words;
    if (range_index)
        *range_index = g->b[i].ri;
    return SR_OK;
}

void sr_dist_grad_set_verify(sr_dist_grad *g, int on)
{
    if (g)
        g->verify = on;
}

void sr_dist_grad_last_times(const sr_dist_grad *g, sr_dist_grad_times *t)
{
    if (g && t)
        *t = g->times;
}

sr_status sr_dist_grad_begin(sr_dist_grad *g, double weight)
{
    double *w = NULL, sum = 0, mn, mx;
    int i, n;

    SR_CHECK(g, SR_E_ARG, "sr_dist_grad_begin: g is NULL");
    SR_CHECK(!g->active, SR_E_ARG, "sr_dist_grad_begin: the previous step "
             "was not finished (sr_dist_grad_finish)");
    memset(&g->times, 0, sizeof(g->times));
    g->t_begin = sr_dist_now();
    g->next = 0;
    g->pre_scale = 1.0f;
    g->post_div = 1.0f;
    if (!reduces(g)) {
        SR_CHECK(isfinite(weight) && weight > 0, SR_E_ARG,
                 "sr_dist_grad_begin: weight %g; expected > 0", weight);
        g->active = 1;
        return SR_OK;
    }

    /* Every rank needs every weight (and must fail together). */
    n = g->d->size;
    w = malloc((size_t)n * sizeof(double));
    if (!w)
        return sr_error(SR_E_NOMEM, "sr_dist_grad_begin: out of memory");
    {
        MPI_Request r;

        MPI_Iallgather(&weight, 1, MPI_DOUBLE, w, 1, MPI_DOUBLE, g->d->comm,
                       &r);
        sr_dist_wait(g->d, 1, &r, "the gradient average (weights)");
    }
    /* blocking: a rank that is ahead waits here for the others */
    g->times.wait_s = sr_dist_now() - g->t_begin;
    mn = mx = w[0];
    for (i = 0; i < n; i++) {
        if (!isfinite(w[i]) || w[i] < 0) {
            double bad = w[i];

            free(w);
            return sr_error(SR_E_ARG, "sr_dist_grad_begin: rank %d gave "
                            "weight %g; expected >= 0", i, bad);
        }
        sum += w[i];
        mn = w[i] < mn ? w[i] : mn;
        mx = w[i] > mx ? w[i] : mx;
    }
    free(w);
    SR_CHECK(sum > 0, SR_E_ARG, "sr_dist_grad_begin: every rank gave "
             "weight 0 (no valid rows anywhere)");
    if (mn == mx)
        g->post_div = (float)n;
    else
        g->pre_scale = (float)(weight / sum);
    g->active = 1;
    return SR_OK;
}

/* Progress the buckets in flight (Open MPI moves non-blocking collectives
 * only inside MPI calls). */
static void progress(sr_dist_grad *g)
{
    int flag;

    if (g->next > 0)
        MPI_Testall(g->next, g->req, &flag, MPI_STATUSES_IGNORE);
}

static sr_status start_bucket(sr_dist_grad *g, int i)
{
    bucket *k = &g->b[i];
    float *h = g->host + k->hoff;
    double t0 = sr_dist_now();
    size_t j;

    SR_TRY(sr_buf_read(g->be, g->ranges[k->ri].buf, k->off, k->words, h));
    g->times.copy_s += sr_dist_now() - t0;
    if (g->pre_scale != 1.0f)
        for (j = 0; j < k->words; j++)
            h[j] *= g->pre_scale;
    if (g->d->reduce == SR_DIST_REDUCE_EXACT) {
        if (g->d->rank == 0)
            MPI_Ireduce(MPI_IN_PLACE, h, (int)k->words, MPI_FLOAT, MPI_SUM,
                        0, g->d->comm, &g->req[i]);
        else
            MPI_Ireduce(h, NULL, (int)k->words, MPI_FLOAT, MPI_SUM, 0,
                        g->d->comm, &g->req[i]);
    } else {
        MPI_Iallreduce(MPI_IN_PLACE, h, (int)k->words, MPI_FLOAT, MPI_SUM,
                       g->d->comm, &g->req[i]);
    }
    return SR_OK;
}

sr_status sr_dist_grad_bucket_ready(sr_dist_grad *g, int i)
{
    double t0 = sr_dist_now(), c0;

    SR_CHECK(g && g->active, SR_E_ARG, "sr_dist_grad_bucket_ready: no step "
             "begun (sr_dist_grad_begin)");
    SR_CHECK(i >= 0 && i < g->nb, SR_E_ARG, "sr_dist_grad_bucket_ready: "
             "bucket %d of %d", i, g->nb);
    SR_CHECK(i >= g->next - 1, SR_E_ARG, "sr_dist_grad_bucket_ready: bucket "
             "%d after bucket %d: call in increasing order", i, g->next - 1);
    if (!reduces(g)) {
        g->next = i + 1 > g->next ? i + 1 : g->next;
        return SR_OK;
    }
    /* Start every bucket up to i, in order: all ranks then issue the same
     * sequence of collectives whatever ready calls each one made. */
    c0 = g->times.copy_s;
    while (g->next <= i) {
        SR_TRY(start_bucket(g, g->next));
        g->next++;
        g->times.early++;
    }
    progress(g);
    g->times.progress_s += sr_dist_now() - t0 - (g->times.copy_s - c0);
    return SR_OK;
}

sr_status sr_dist_grad_progress(sr_dist_grad *g)
{
    SR_CHECK(g, SR_E_ARG, "sr_dist_grad_progress: g is NULL");
    if (g->active && reduces(g)) {
        double t0 = sr_dist_now();
        progress(g);
        g->times.progress_s += sr_dist_now() - t0;
    }
    return SR_OK;
}

sr_status sr_dist_grad_finish(sr_dist_grad *g)
{
    double t0;
    size_t j;
    int i;

    SR_CHECK(g && g->active, SR_E_ARG, "sr_dist_grad_finish: no step "
             "begun (sr_dist_grad_begin)");
    if (!reduces(g)) {
        g->active = 0;
        g->times.total_s = sr_dist_now() - g->t_begin;
        return SR_OK;
    }
    while (g->next < g->nb) {
        SR_TRY(start_bucket(g, g->next));
        g->next++;
    }
    t0 = sr_dist_now();
    sr_dist_wait(g->d, g->nb, g->req, "the gradient average");
    if (g->d->reduce == SR_DIST_REDUCE_EXACT) {
        /* Rank 0 holds the sums; the same bytes go to everyone. Started
         * after every reduce so that all ranks issue the collectives in
         * the same order. */
        for (i = 0; i < g->nb; i++)
            MPI_Ibcast(g->host + g->b[i].hoff, (int)g->b[i].words, MPI_FLOAT,
                       0, g->d->comm, &g->req[i]);
        sr_dist_wait(g->d, g->nb, g->req, "the gradient average");
    }
    g->times.wait_s += sr_dist_now() - t0;
    g->active = 0;

    if (g->post_div != 1.0f)
        for (j = 0; j < g->total; j++)
            g->host[j] /= g->post_div;
    if (g->verify)
        SR_TRY(sr_dist_check_identical(g->d, sr_dist_hash(g->host, g->total),
                                       "sr_dist_grad_finish"));
    t0 = sr_dist_now();
    for (i = 0; i < g->nb; i++) {
        bucket *k = &g->b[i];

        SR_TRY(sr_buf_write(g->be, g->ranges[k->ri].buf, k->off, k->words,
                            g->host + k->hoff));
    }
    g->times.copy_s += sr_dist_now() - t0;
    g->times.total_s = sr_dist_now() - g->t_begin;
    return SR_OK;
}

sr_status sr_dist_grad_allreduce(sr_dist_grad *g, double weight)
{
    SR_TRY(sr_dist_grad_begin(g, weight));
    return sr_dist_grad_finish(g);
}
