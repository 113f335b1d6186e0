/* sinreq: MPI lifecycle, ranks, host and buffer collectives (src/dist).
 * Gradient buckets are in dist_grad.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dist_internal.h"
#include "sinreq/parse.h"

double sr_dist_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sr_dist_opts_default(sr_dist_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = SR_DIST_AUTO;
    o->reduce = SR_DIST_REDUCE_ALLREDUCE;
}

/* An environment variable as a non-negative int, or -1 (unset/invalid). */
static int env_int(const char *name)
{
    const char *s = getenv(name);
    int v;

    if (!s || !*s)
        return -1;
    if (sr_parse_int(name, s, 0, 1 << 30, &v) != SR_OK) {
        sr_clear_error();
        return -1;
    }
    return v;
}

/* Did a parallel launcher start this process? */
static int launcher_detected(void)
{
    static const char *const vars[] = {
        "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
        "MV2_COMM_WORLD_SIZE",
    };
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (getenv(vars[i]))
            return 1;
    return env_int("SLURM_STEP_NUM_TASKS") > 1;
}

static sr_status resolve_mode(const sr_dist_opts *o, sr_dist_mode *mode)
{
    const char *s = getenv("SINREQ_DIST");

    *mode = o->mode;
    if (*mode != SR_DIST_AUTO)
        return SR_OK;
    if (s && *s) {
        if (!strcasecmp(s, "mpi"))
            *mode = SR_DIST_MPI;
        else if (!strcasecmp(s, "none"))
            *mode = SR_DIST_NONE;
        else if (strcasecmp(s, "auto"))
            return sr_error(SR_E_CONFIG,
                            "SINREQ_DIST=%s: expected auto, mpi or none", s);
    }
    if (*mode == SR_DIST_AUTO)
        *mode = launcher_detected() ? SR_DIST_MPI : SR_DIST_NONE;
    return SR_OK;
}

static sr_status resolve_reduce(const sr_dist_opts *o, sr_dist_reduce *r)
{
    const char *s = getenv("SINREQ_DIST_REDUCE");

    *r = o->reduce;
    if (!s || !*s)
        return SR_OK;
    if (!strcasecmp(s, "exact"))
        *r = SR_DIST_REDUCE_EXACT;
    else if (!strcasecmp(s, "allreduce"))
        *r = SR_DIST_REDUCE_ALLREDUCE;
    else
        return sr_error(SR_E_CONFIG,
                        "SINREQ_DIST_REDUCE=%s: expected allreduce or exact",
                        s);
    return SR_OK;
}

/* Local rank: the launcher's variable when it is consistent with MPI's
 * view, else the rank within MPI_COMM_TYPE_SHARED. SLURM_LOCALID is only
 * trusted inside an srun step of this job's size (a batch script's
 * SLURM_LOCALID=0 is inherited by every rank mpirun starts). */
static sr_status find_local_rank(sr_dist *d)
{
    MPI_Comm node;
    int lr, ls;

    if (MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank,
                            MPI_INFO_NULL, &node) != MPI_SUCCESS)
        return sr_error(SR_E_DEVICE, "MPI_Comm_split_type failed");
    MPI_Comm_rank(node, &lr);
    MPI_Comm_size(node, &ls);
    MPI_Comm_free(&node);
    d->local_rank = lr;
    d->local_size = ls;
    d->local_src = "MPI_COMM_TYPE_SHARED";

    lr = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
    if (lr >= 0 && lr < ls) {
        d->local_rank = lr;
        d->local_src = "OMPI_COMM_WORLD_LOCAL_RANK";
        return SR_OK;
    }
    lr = env_int("SLURM_LOCALID");
    if (lr >= 0 && lr < ls && env_int("SLURM_STEP_NUM_TASKS") == d->size) {
        d->local_rank = lr;
        d->local_src = "SLURM_LOCALID";
    }
    return SR_OK;
}

static sr_status init_mpi(sr_dist *d, int *argc, char ***argv)
{
    int inited = 0, finalized = 0, provided, slurm_tasks;

    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited || finalized)
        return sr_error(SR_E_ARG, "MPI is already %s in this process: "
                        "sr_dist_init may be called once",
                        finalized ? "finalized" : "initialized");
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS)
        return sr_error(SR_E_DEVICE, "MPI_Init_thread failed; run under "
                        "mpirun/srun or set SINREQ_DIST=none");
    MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    d->uses_mpi = 1;

    slurm_tasks = env_int("SLURM_STEP_NUM_TASKS");
    if (slurm_tasks > 1 && d->size == 1 && !getenv("OMPI_COMM_WORLD_SIZE"))
        return sr_error(SR_E_CONFIG, "srun started %d tasks but MPI sees "
                        "only this one: every task would train alone; "
                        "launch with srun --mpi=pmix (or pmi2), see "
                        "docs/distributed.md", slurm_tasks);
    SR_TRY(find_local_rank(d));
    return sr_dist_watch_init(d);
}

sr_status sr_dist_init(int *argc, char ***argv, const sr_dist_opts *opts,
                       sr_dist **out)
{
    sr_dist_opts def;
    sr_dist_mode mode;
    sr_dist *d;
    sr_status st;

    SR_CHECK(out, SR_E_ARG, "sr_dist_init: out is NULL");
    *out = NULL;
    if (!opts) {
        sr_dist_opts_default(&def);
        opts = &def;
    }
    SR_TRY(resolve_mode(opts, &mode));
    d = calloc(1, sizeof(*d));
    if (!d)
        return sr_error(SR_E_NOMEM, "sr_dist_init: out of memory");
    d->rank = 0;
    d->size = 1;
    d->local_rank = 0;
    d->local_size = 1;
    d->local_src = "single";
    if (gethostname(d->node, sizeof d->node - 1) != 0 || !d->node[0])
        snprintf(d->node, sizeof d->node, "?");
    d->comm = MPI_COMM_NULL;
    d->hb = MPI_COMM_NULL;
    d->hb_rreq = MPI_REQUEST_NULL;
    st = resolve_reduce(opts, &d->reduce);
    if (st)
        goto out_free;

    if (mode == SR_DIST_NONE) {
        int n = env_int("OMPI_COMM_WORLD_SIZE");

        if (n < 0)
            n = env_int("SLURM_STEP_NUM_TASKS");
        if (n > 1) {
            st = sr_error(SR_E_CONFIG, "SINREQ_DIST=none but the launcher "
                          "started %d tasks: each would train alone", n);
            goto out_free;
        }
    } else {
        st = init_mpi(d, argc, argv);
        if (st)
            goto out_finalize;
    }
    /* SINREQ_DIST_VERBOSE=1: the same line from `sinreq train` (tests) */
    if (opts->verbose || env_int("SINREQ_DIST_VERBOSE") > 0)
        fprintf(stderr, "sinreq dist: rank %d of %d, local %d of %d (%s), "
                "%s, node %s\n", d->rank, d->size, d->local_rank,
                d->local_size, d->local_src, !d->uses_mpi ? "without MPI" :
                d->reduce == SR_DIST_REDUCE_EXACT ? "reduce+bcast" :
                "allreduce", d->node);
    *out = d;
    return SR_OK;

out_finalize:
    if (d->uses_mpi) {
        sr_dist_watch_free(d);
        MPI_Comm_free(&d->comm);
        MPI_Finalize();
    }
out_free:
    free(d);
    return st;
}

void sr_dist_finalize(sr_dist *d)
{
    if (!d)
        return;
    if (d->uses_mpi) {
        /* MPI_Finalize waits for every rank, unwatched: meet them first
         * in a watched barrier (rank 0 may still write its last files) */
        if (d->timeout > 0 && d->size > 1)
            sr_dist_barrier(d);
        sr_dist_watch_free(d);
        MPI_Comm_free(&d->comm);
        MPI_Finalize();
    }
    free(d);
}

void sr_dist_abort(sr_dist *d, int code)
{
    fflush(stdout);
    fflush(stderr);
    if (d && d->uses_mpi)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int sr_dist_rank(const sr_dist *d) { return d ? d->rank : 0; }
int sr_dist_size(const sr_dist *d) { return d ? d->size : 1; }
int sr_dist_local_rank(const sr_dist *d) { return d ? d->local_rank : 0; }
int sr_dist_local_size(const sr_dist *d) { return d ? d->local_size : 1; }
int sr_dist_uses_mpi(const sr_dist *d) { return d ? d->uses_mpi : 0; }

const char *sr_dist_local_rank_source(const sr_dist *d)
{
    return d ? d->local_src : "single";
}

const char *sr_dist_node(const sr_dist *d)
{
    return d ? d->node : "?";
}

int sr_dist_device_index(const sr_dist *d, int ndevices)
{
    if (ndevices < 1)
        return -1;
    return sr_dist_local_rank(d) % ndevices;
}

/* ------------------------------------------------------------------ */
/* Host collectives                                                    */

sr_status sr_dist_barrier(sr_dist *d)
{
    SR_CHECK(d, SR_E_ARG, "sr_dist_barrier: d is NULL");
    if (d->uses_mpi && d->size > 1) {
        MPI_Request r;

        MPI_Ibarrier(d->comm, &r);
        sr_dist_wait(d, 1, &r, "a barrier");
    }
    return SR_OK;
}

sr_status sr_dist_bcast_bytes(sr_dist *d, void *p, size_t n)
{
    MPI_Request r;
    size_t done, c;

    SR_CHECK(d && (p || !n), SR_E_ARG, "sr_dist_bcast_bytes: NULL argument");
    if (!d->uses_mpi || d->size == 1)
        return SR_OK;
    for (done = 0; done < n; done += c) {
        c = n - done < SR_DIST_CHUNK ? n - done : SR_DIST_CHUNK;
        MPI_Ibcast((char *)p + done, (int)c, MPI_BYTE, 0, d->comm, &r);
        sr_dist_wait(d, 1, &r, "a broadcast from rank 0");
    }
    return SR_OK;
}

sr_status sr_dist_gather_bytes(sr_dist *d, const void *mine, size_t n,
                               void *all)
{
    MPI_Request r;

    SR_CHECK(d && ((mine && all) || !n), SR_E_ARG,
             "sr_dist_gather_bytes: NULL argument");
    SR_CHECK(n < SR_DIST_CHUNK, SR_E_ARG,
             "sr_dist_gather_bytes: %zu bytes per rank is too many", n);
    if (!d->uses_mpi || d->size == 1) {
        if (n)
            memcpy(all, mine, n);
        return SR_OK;
    }
    MPI_Iallgather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE, d->comm,
                   &r);
    sr_dist_wait(d, 1, &r, "a gather over ranks");
    return SR_OK;
}

/* In-place reduction of n elements of `type` with `op`, result everywhere.
 * EXACT: reduce to rank 0, then broadcast its result. Non-blocking calls and
 * sr_dist_wait: the watchdog sees every wait. */
static void reduce_mpi(sr_dist *d, void *v, size_t n, size_t elem,
                       MPI_Datatype type, MPI_Op op)
{
    static const char what[] = "a reduction over ranks";
    MPI_Request r;
    size_t done, c;
    char *p = v;

    for (done = 0; done < n; done += c) {
        c = n - done < SR_DIST_CHUNK ? n - done : SR_DIST_CHUNK;
        if (d->reduce == SR_DIST_REDUCE_EXACT) {
            if (d->rank == 0)
                MPI_Ireduce(MPI_IN_PLACE, p + done * elem, (int)c, type, op,
                            0, d->comm, &r);
            else
                MPI_Ireduce(p + done * elem, NULL, (int)c, type, op, 0,
                            d->comm, &r);
            sr_dist_wait(d, 1, &r, what);
            MPI_Ibcast(p + done * elem, (int)c, type, 0, d->comm, &r);
        } else {
            MPI_Iallreduce(MPI_IN_PLACE, p + done * elem, (int)c, type, op,
                           d->comm, &r);
        }
        sr_dist_wait(d, 1, &r, what);
    }
}

/* One small allreduce (checks, flags), through sr_dist_wait. */
static void allreduce_small(sr_dist *d, void *v, int n, MPI_Datatype type,
                            MPI_Op op, const char *what)
{
    MPI_Request r;

    MPI_Iallreduce(MPI_IN_PLACE, v, n, type, op, d->comm, &r);
    sr_dist_wait(d, 1, &r, what);
}

sr_status sr_dist_sum_f32_mpi(sr_dist *d, float *v, size_t n)
{
    reduce_mpi(d, v, n, sizeof(float), MPI_FLOAT, MPI_SUM);
    return SR_OK;
}

sr_status sr_dist_sum_f32(sr_dist *d, float *v, size_t n)
{
    SR_CHECK(d && (v || !n), SR_E_ARG, "sr_dist_sum_f32: NULL argument");
    if (d->uses_mpi && d->size > 1)
        reduce_mpi(d, v, n, sizeof(float), MPI_FLOAT, MPI_SUM);
    return SR_OK;
}

sr_status sr_dist_sum_f64(sr_dist *d, double *v, size_t n)
{
    SR_CHECK(d && (v || !n), SR_E_ARG, "sr_dist_sum_f64: NULL argument");
    if (d->uses_mpi && d->size > 1)
        reduce_mpi(d, v, n, sizeof(double), MPI_DOUBLE, MPI_SUM);
    return SR_OK;
}

sr_status sr_dist_sum_u64(sr_dist *d, uint64_t *v, size_t n)
{
    SR_CHECK(d && (v || !n), SR_E_ARG, "sr_dist_sum_u64: NULL argument");
    if (d->uses_mpi && d->size > 1)
        reduce_mpi(d, v, n, sizeof(uint64_t), MPI_UINT64_T, MPI_SUM);
    return SR_OK;
}

sr_status sr_dist_max_f64(sr_dist *d, double *v, size_t n)
{
    SR_CHECK(d && (v || !n), SR_E_ARG, "sr_dist_max_f64: NULL argument");
    if (d->uses_mpi && d->size > 1)
        reduce_mpi(d, v, n, sizeof(double), MPI_DOUBLE, MPI_MAX);
    return SR_OK;
}

static sr_status logical(sr_dist *d, int flag, int *res, MPI_Op op)
{
    int v = flag != 0;

    SR_CHECK(d && res, SR_E_ARG, "sr_dist_all/any: NULL argument");
    if (d->uses_mpi && d->size > 1)
        allreduce_small(d, &v, 1, MPI_INT, op, "an agreement between ranks");
    *res = v;
    return SR_OK;
}

sr_status sr_dist_all(sr_dist *d, int flag, int *all)
{
    return logical(d, flag, all, MPI_LAND);
}

sr_status sr_dist_any(sr_dist *d, int flag, int *any)
{
    return logical(d, flag, any, MPI_LOR);
}

sr_status sr_dist_check_same(sr_dist *d, uint64_t n, const char *what)
{
    uint64_t v[2] = {n, ~n};

    allreduce_small(d, v, 2, MPI_UINT64_T, MPI_MAX, "a size check");
    if (v[0] != ~v[1])
        return sr_error(SR_E_ARG, "%s: the ranks passed different sizes "
                        "(%llu to %llu words); every rank must pass the "
                        "same ranges", what, (unsigned long long)~v[1],
                        (unsigned long long)v[0]);
    return SR_OK;
}

uint64_t sr_dist_hash(const float *v, size_t n)
{
    const unsigned char *p = (const unsigned char *)v;
    uint64_t h = 1469598103934665603ull;
    size_t i;

    for (i = 0; i < n * sizeof(float); i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

sr_status sr_dist_check_identical(sr_dist *d, uint64_t h, const char *what)
{
    uint64_t v[2] = {h, ~h};

    allreduce_small(d, v, 2, MPI_UINT64_T, MPI_MAX, "a result check");
    if (v[0] != ~v[1])
        return sr_error(SR_E_INTERNAL, "%s: the ranks hold different "
                        "results after the reduction (rank %d hash %016llx)",
                        what, d->rank, (unsigned long long)h);
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Backend buffer collectives                                          */

static sr_status check_ranges(const sr_dist_range *r, int nr, size_t *total,
                              const char *what)
{
    int i;

    SR_CHECK(nr >= 0 && (r || !nr), SR_E_ARG, "%s: bad range list", what);
    *total = 0;
    for (i = 0; i < nr; i++) {
        SR_CHECK(r[i].buf, SR_E_ARG, "%s: range %d has no buffer", what, i);
        SR_CHECK(r[i].off <= sr_buf_words(r[i].buf) &&
                 r[i].words <= sr_buf_words(r[i].buf) - r[i].off, SR_E_ARG,
                 "%s: range %d (words %zu..%zu) is outside its %zu-word "
                 "buffer", what, i, r[i].off, r[i].off + r[i].words,
                 sr_buf_words(r[i].buf));
        *total += r[i].words;
    }
    return SR_OK;
}

static sr_status pack(sr_backend *be, const sr_dist_range *r, int nr,
                      float *host)
{
    size_t o = 0;
    int i;

    for (i = 0; i < nr; o += r[i].words, i++)
        if (r[i].words)
            SR_TRY(sr_buf_read(be, r[i].buf, r[i].off, r[i].words, host + o));
    return SR_OK;
}

static sr_status unpack(sr_backend *be, const sr_dist_range *r, int nr,
                        const float *host)
{
    size_t o = 0;
    int i;

    for (i = 0; i < nr; o += r[i].words, i++)
        if (r[i].words)
            SR_TRY(sr_buf_write(be, r[i].buf, r[i].off, r[i].words,
                                host + o));
    return SR_OK;
}

sr_status sr_dist_bcast_bufs(sr_dist *d, sr_backend *be,
                             const sr_dist_range *r, int nr)
{
    float *host;
    size_t total;
    sr_status st;

    SR_CHECK(d && be, SR_E_ARG, "sr_dist_bcast_bufs: NULL argument");
    SR_TRY(check_ranges(r, nr, &total, "sr_dist_bcast_bufs"));
    if (!d->uses_mpi || d->size == 1)
        return SR_OK;
    SR_TRY(sr_dist_check_same(d, total, "sr_dist_bcast_bufs"));
    if (!total)
        return SR_OK;
    host = malloc(total * sizeof(float));
    if (!host)
        return sr_error(SR_E_NOMEM, "sr_dist_bcast_bufs: no host memory "
                        "for %zu words", total);
    /* A failed read on rank 0 must not leave the others waiting in the
     * broadcast: agree first. */
    st = d->rank == 0 ? pack(be, r, nr, host) : SR_OK;
    {
        int ok;

        logical(d, st == SR_OK, &ok, MPI_LAND);
        if (!ok) {
            if (st == SR_OK)
                st = sr_error(SR_E_DEVICE, "sr_dist_bcast_bufs: rank 0 "
                              "could not read its buffers");
            goto out_free;
        }
    }
    st = sr_dist_bcast_bytes(d, host, total * sizeof(float));
    if (st == SR_OK && d->rank != 0)
        st = unpack(be, r, nr, host);
out_free:
    free(host);
    return st;
}

sr_status sr_dist_avg_bufs(sr_dist *d, sr_backend *be,
                           const sr_dist_range *r, int nr)
{
    float *host, s;
    size_t total, i;
    sr_status st;
    int ok;

    SR_CHECK(d && be, SR_E_ARG, "sr_dist_avg_bufs: NULL argument");
    SR_TRY(check_ranges(r, nr, &total, "sr_dist_avg_bufs"));
    if (!d->uses_mpi || d->size == 1)
        return SR_OK;
    SR_TRY(sr_dist_check_same(d, total, "sr_dist_avg_bufs"));
    if (!total)
        return SR_OK;
    host = malloc(total * sizeof(float));
    if (!host)
        return sr_error(SR_E_NOMEM, "sr_dist_avg_bufs: no host memory "
                        "for %zu words", total);
    st = pack(be, r, nr, host);
    logical(d, st == SR_OK, &ok, MPI_LAND);
    if (!ok) {
        if (st == SR_OK)
            st = sr_error(SR_E_DEVICE, "sr_dist_avg_bufs: another rank "
                          "could not read its buffers");
        goto out_free;
    }
    reduce_mpi(d, host, total, sizeof(float), MPI_FLOAT, MPI_SUM);
    s = (float)d->size;   /* divide: one rounding, exact for 2^k ranks */
    for (i = 0; i < total; i++)
        host[i] /= s;
    st = unpack(be, r, nr, host);
out_free:
    free(host);
    return st;
}
