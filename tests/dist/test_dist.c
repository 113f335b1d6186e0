/* tests/dist: the MPI module (src/dist) under mpirun and alone.
 *
 *   test_dist ranks BACKEND       under mpirun -np N: bcast, average,
 *                                 buckets of odd sizes, metrics, agreement
 *   test_dist single BACKEND MPI  alone, no mpirun: rank 0 of 1; MPI = 1
 *                                 expects an MPI singleton (SINREQ_DIST=mpi),
 *                                 0 expects no MPI at all
 *   test_dist kill                under mpirun -np 2: allreduce forever, rank
 *                                 1 kills itself with SIGKILL after 200
 *                                 rounds (tests/dist/kill_rank.sh checks
 *                                 that the job ends, non-zero, in time)
 *
 * Each rank's data is a pure function of (rank, index), so every rank
 * computes the expected average on the host. With 1 or 2 ranks the float
 * sum a + b is exact to compare (commutative, one rounding; / 2 is exact),
 * so those checks are bit-exact; with more ranks MPI may associate the sum
 * differently from the host loop and the bound is 4 ulp-ish (1e-6 rel). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sinreq/backend.h"
#include "sinreq/dist.h"

static sr_dist *g_d;
static sr_backend *g_be;
static int g_rank, g_size;

#define OK(expr) ok_(expr, #expr, __LINE__)
static int ok_(sr_status st, const char *what, int line)
{
    if (st != SR_OK) {
        CHECK(0, "line %d: %s -> %s: %s", line, what, sr_status_name(st),
              sr_last_error());
        return 0;
    }
    return 1;
}

static float val(int rank, size_t j, int salt)
{
    return (float)((double)((j * 2654435761u + (size_t)salt * 97u) % 2001u)
                   / 1000.0 - 1.0) * (float)(rank + 1) + 0.125f * rank;
}

/* Expected weighted average over ranks of val(r, j, salt). */
static float expect_avg(size_t j, int salt, const double *w)
{
    double sum = 0, ws = 0;
    float f = 0;
    int r;

    if (!w) {
        for (r = 0; r < g_size; r++)
            f += val(r, j, salt);
        return f / (float)g_size;
    }
    for (r = 0; r < g_size; r++) {
        sum += w[r] * val(r, j, salt);
        ws += w[r];
    }
    return (float)(sum / ws);
}

/* exact: equal weights with <= 2 ranks (see the top of the file); unequal
 * weights scale each rank's value by w_r / sum w before the sum (two more
 * roundings than the double host reference). */
static int close_to(float got, float want, int exact)
{
    float tol;

    if (exact && g_size <= 2)
        return got == want;
    tol = 4e-7f * (fabsf(want) + 1.0f) * (float)(g_size + 2);
    return fabsf(got - want) <= tol;
}

static sr_buf *alloc_fill(size_t words, int salt)
{
    sr_buf *b = NULL;
    float *h = malloc(words * sizeof(float));
    size_t j;

    if (!h || !OK(sr_buf_alloc(g_be, SR_POOL_WEIGHTS, words, &b))) {
        free(h);
        return NULL;
    }
    for (j = 0; j < words; j++)
        h[j] = val(g_rank, j, salt);
    OK(sr_buf_write(g_be, b, 0, words, h));
    free(h);
    return b;
}

static void test_info(int expect_mpi)
{
    group_begin("rank info");
    CHECK(g_rank >= 0 && g_rank < g_size, "rank %d size %d", g_rank, g_size);
    CHECK(sr_dist_local_rank(g_d) >= 0 &&
          sr_dist_local_rank(g_d) < sr_dist_local_size(g_d),
          "local rank %d of %d", sr_dist_local_rank(g_d),
          sr_dist_local_size(g_d));
    if (expect_mpi >= 0)
        CHECK(sr_dist_uses_mpi(g_d) == expect_mpi, "uses_mpi %d, want %d",
              sr_dist_uses_mpi(g_d), expect_mpi);
    CHECK(sr_dist_device_index(g_d, 1) == 0, "1 device -> index 0");
    CHECK(sr_dist_device_index(g_d, 0) == -1, "0 devices -> -1");
    CHECK(sr_dist_device_index(g_d, 64) == sr_dist_local_rank(g_d),
          "64 devices -> local rank");
    OK(sr_dist_barrier(g_d));
    group_end();
}

static void test_bcast(void)
{
    /* Two buffers, three ranges of odd sizes, one empty. */
    size_t n0 = 1001, n1 = 37;
    sr_buf *b0 = alloc_fill(n0, 1), *b1 = alloc_fill(n1, 2);
    sr_dist_range r[3];
    float *h0 = malloc(n0 * sizeof(float)), *h1 = malloc(n1 * sizeof(float));
    size_t j;
    int bad = 0;
    char msg[64];

    group_begin("bcast buffers");
    if (!b0 || !b1 || !h0 || !h1)
        goto out;
    r[0] = (sr_dist_range){b0, 3, 500};
    r[1] = (sr_dist_range){b1, 0, n1};
    r[2] = (sr_dist_range){b0, n0, 0};
    if (!OK(sr_dist_bcast_bufs(g_d, g_be, r, 3)))
        goto out;
    OK(sr_buf_read(g_be, b0, 0, n0, h0));
    OK(sr_buf_read(g_be, b1, 0, n1, h1));
    for (j = 0; j < n0; j++) {
        int from = j >= 3 && j < 503 ? 0 : g_rank; /* outside: untouched */
        bad += h0[j] != val(from, j, 1);
    }
    for (j = 0; j < n1; j++)
        bad += h1[j] != val(0, j, 2);
    CHECK(!bad, "%d words differ from rank 0's", bad);

    snprintf(msg, sizeof(msg), "rank0 says hi %d", g_rank);
    OK(sr_dist_bcast_bytes(g_d, msg, sizeof(msg)));
    CHECK(!strcmp(msg, "rank0 says hi 0"), "bcast_bytes gave '%s'", msg);
out:
    free(h0);
    free(h1);
    sr_buf_free(g_be, b0);
    sr_buf_free(g_be, b1);
    group_end();
}

static void test_avg(void)
{
    size_t n = 4099;
    sr_buf *b = alloc_fill(n, 3);
    sr_dist_range r = {NULL, 0, 0};
    float *h = malloc(n * sizeof(float));
    size_t j;
    int bad = 0;

    group_begin("average buffers");
    if (!b || !h)
        goto out;
    r = (sr_dist_range){b, 0, n};
    if (!OK(sr_dist_avg_bufs(g_d, g_be, &r, 1)))
        goto out;
    OK(sr_buf_read(g_be, b, 0, n, h));
    for (j = 0; j < n; j++)
        if (!close_to(h[j], expect_avg(j, 3, NULL), 1) && bad++ < 3)
            fprintf(stderr, "  avg[%zu] = %.9g, want %.9g\n", j, h[j],
                    expect_avg(j, 3, NULL));
    CHECK(!bad, "%d of %zu words differ from the host average", bad, n);
out:
    free(h);
    sr_buf_free(g_be, b);
    group_end();
}

/* Gradient plan over two slabs of odd sizes with an odd bucket size;
 * `pattern`: 0 whole-slab path, 1 every bucket ready in order, 2 some
 * buckets ready (the rest started by finish). weighted: rank r's weight is
 * r + 1 (uneven tails), else all equal. */
static void grad_case(size_t bucket_bytes, int pattern, int weighted,
                      double wscale)
{
    size_t n0 = 12345, n1 = 777, j;
    sr_buf *s0 = alloc_fill(n0 + 5, 10), *s1 = alloc_fill(n1, 11);
    sr_dist_range r[2];
    sr_dist_grad *g = NULL;
    double *w = malloc((size_t)g_size * sizeof(double));
    float *h0 = malloc((n0 + 5) * sizeof(float)), *h1 = malloc(n1 * sizeof(float));
    int i, nb, bad = 0, rep;

    if (!s0 || !s1 || !w || !h0 || !h1)
        goto out;
    for (i = 0; i < g_size; i++)
        w[i] = weighted ? (i + 1) * wscale : 32;
    r[0] = (sr_dist_range){s0, 5, n0};  /* slab 0 from word 5 */
    r[1] = (sr_dist_range){s1, 0, n1};
    if (!OK(sr_dist_grad_create(g_d, g_be, r, 2, bucket_bytes, &g)))
        goto out;
    sr_dist_grad_set_verify(g, 1);
    nb = sr_dist_grad_bucket_count(g);
    {
        size_t bw = bucket_bytes / 4, want = (n0 + bw - 1) / bw +
                                             (n1 + bw - 1) / bw;
        CHECK((size_t)nb == want, "%d buckets, want %zu", nb, want);
    }
    /* Twice: the plan is reused step after step (refill between). */
    for (rep = 0; rep < 2; rep++) {
        if (rep) {
            for (j = 0; j < n0 + 5; j++)
                h0[j] = val(g_rank, j, 10);
            OK(sr_buf_write(g_be, s0, 0, n0 + 5, h0));
            for (j = 0; j < n1; j++)
                h1[j] = val(g_rank, j, 11);
            OK(sr_buf_write(g_be, s1, 0, n1, h1));
        }
        if (pattern == 0) {
            if (!OK(sr_dist_grad_allreduce(g, w[g_rank])))
                goto out;
        } else {
            if (!OK(sr_dist_grad_begin(g, w[g_rank])))
                goto out;
            for (i = 0; i < nb; i++)
                if (pattern == 1 || i % 3 == 1)
                    OK(sr_dist_grad_bucket_ready(g, i));
            if (!OK(sr_dist_grad_finish(g)))
                goto out;
        }
        OK(sr_buf_read(g_be, s0, 0, n0 + 5, h0));
        OK(sr_buf_read(g_be, s1, 0, n1, h1));
        for (j = 0; j < 5; j++)
            bad += h0[j] != val(g_rank, j, 10);  /* outside the range */
        for (j = 5; j < n0 + 5; j++)
            bad += !close_to(h0[j], expect_avg(j, 10, weighted ? w : NULL),
                            !weighted);
        for (j = 0; j < n1; j++)
            bad += !close_to(h1[j], expect_avg(j, 11, weighted ? w : NULL),
                            !weighted);
    }
    CHECK(!bad, "bucket %zu B pattern %d weighted %d: %d words wrong",
          bucket_bytes, pattern, weighted, bad);
out:
    sr_dist_grad_free(g);
    free(w);
    free(h0);
    free(h1);
    sr_buf_free(g_be, s0);
    sr_buf_free(g_be, s1);
}

static void test_grad(void)
{
    sr_dist_grad *g = NULL;
    sr_dist_range r, b;
    sr_buf *s = alloc_fill(100, 12);
    int ri = -1, i;

    group_begin("gradient buckets");
    grad_case(4 * 1001, 0, 0, 1);
    grad_case(4 * 1001, 1, 0, 1);
    grad_case(4 * 999, 2, 0, 1);
    grad_case(4 * 4096, 1, 1, 1);
    grad_case(4 * 3, 2, 1, 1);      /* thousands of 3-word buckets */
    grad_case(1 << 20, 1, 0, 1);    /* one bucket per range */
    /* Random odd sizes; every rank draws the same (same seed). */
    for (i = 0; i < 3; i++) {
        size_t bw = (size_t)rnd_int(1, 6000);
        int pattern = rnd_int(0, 2), weighted = rnd_int(0, 1);

        grad_case(4 * bw, pattern, weighted, rnd_range(0.5, 64.0));
    }

    /* Plan layout and API misuse. */
    if (s) {
        r = (sr_dist_range){s, 0, 100};
        if (OK(sr_dist_grad_create(g_d, g_be, &r, 1, 4 * 30, &g))) {
            CHECK(sr_dist_grad_bucket_count(g) == 4, "4 buckets of <= 30");
            OK(sr_dist_grad_bucket(g, 3, &b, &ri));
            CHECK(b.buf == s && b.off == 90 && b.words == 10 && ri == 0,
                  "last bucket %zu+%zu", b.off, b.words);
            CHECK(sr_dist_grad_bucket_ready(g, 0) == SR_E_ARG,
                  "ready before begin");
            CHECK(sr_dist_grad_finish(g) == SR_E_ARG, "finish before begin");
            OK(sr_dist_grad_begin(g, 1.0));
            OK(sr_dist_grad_bucket_ready(g, 2));
            CHECK(sr_dist_grad_bucket_ready(g, 0) == SR_E_ARG,
                  "out-of-order ready accepted");
            CHECK(sr_dist_grad_begin(g, 1.0) == SR_E_ARG, "double begin");
            OK(sr_dist_grad_finish(g));
            sr_dist_grad_free(g);
        }
        r.words = 101;
        CHECK(sr_dist_grad_create(g_d, g_be, &r, 1, 0, &g) == SR_E_ARG,
              "range past the buffer accepted");
        sr_buf_free(g_be, s);
    }
    group_end();
}

static void test_metrics(void)
{
    double f[3] = {0.5 * g_rank, 1.0, -2.0 * g_rank}, m = g_rank;
    uint64_t u[2] = {(uint64_t)g_rank + 1, (uint64_t)1 << 40};
    float v[5];
    int all, any, r, i;
    double want0 = 0, want2 = 0;

    group_begin("metrics");
    for (r = 0; r < g_size; r++) {
        want0 += 0.5 * r;
        want2 += -2.0 * r;
    }
    OK(sr_dist_sum_f64(g_d, f, 3));
    CHECK(f[0] == want0 && f[1] == g_size && f[2] == want2,
          "sum_f64 %g %g %g", f[0], f[1], f[2]);
    OK(sr_dist_sum_u64(g_d, u, 2));
    CHECK(u[0] == (uint64_t)g_size * (g_size + 1) / 2 &&
          u[1] == ((uint64_t)g_size << 40), "sum_u64 %llu %llu",
          (unsigned long long)u[0], (unsigned long long)u[1]);
    OK(sr_dist_max_f64(g_d, &m, 1));
    CHECK(m == g_size - 1, "max %g", m);
    for (i = 0; i < 5; i++)
        v[i] = (float)(i + g_rank);
    OK(sr_dist_sum_f32(g_d, v, 5));
    CHECK(v[4] == (float)(4 * g_size + g_size * (g_size - 1) / 2),
          "sum_f32 %g", v[4]);

    OK(sr_dist_all(g_d, 1, &all));
    CHECK(all == 1, "all(1) = %d", all);
    OK(sr_dist_all(g_d, g_rank != g_size - 1, &all));
    CHECK(all == 0, "all(one rank 0) = %d", all);
    OK(sr_dist_any(g_d, 0, &any));
    CHECK(any == 0, "any(0) = %d", any);
    OK(sr_dist_any(g_d, g_rank == g_size - 1, &any)); /* "SIGUSR1 there" */
    CHECK(any == 1, "any(one rank 1) = %d", any);
    group_end();
}

static int open_backend(const char *name)
{
    sr_backend_opts o;

    memset(&o, 0, sizeof(o));
    o.threads = 1;
    o.validation = !strcmp(name, "vulkan");
    if (!OK(sr_backend_create(name, &o, &g_be)))
        return 0;
    if (g_rank == 0)
        printf("backend %s on %s\n", sr_backend_name(g_be),
               sr_backend_device_name(g_be));
    return 1;
}

static volatile sig_atomic_t g_term;

static void on_term(int sig)
{
    g_term = sig;
}

static int run_kill(void)
{
    struct sigaction sa;
    float v[1024];
    long it;
    int i;

    /* as `sinreq train` does: the watchdog on, SIGTERM (mpirun's, when
     * a rank died) caught so that the wait can say who died */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sr_dist_set_stop_flag(g_d, &g_term);
    if (!OK(sr_dist_set_timeout(g_d, 60)))
        return 2;
    for (i = 0; i < 1024; i++)
        v[i] = 1.0f;
    for (it = 0;; it++) {
        sr_dist_set_context(g_d, it, "none (test)");
        if (it == 200 && g_rank == 1) {
            fprintf(stderr, "test_dist kill: rank 1 sends itself SIGKILL "
                    "after %ld allreduces\n", it);
            kill(getpid(), SIGKILL);
        }
        if (sr_dist_sum_f32(g_d, v, 1024))
            return 2;
        for (i = 0; i < 1024; i++)
            v[i] = 1.0f;
    }
}

int main(int argc, char **argv)
{
    sr_dist_opts o;
    const char *mode = argc > 1 ? argv[1] : "ranks";
    int expect_mpi = -1, rc;

    sr_dist_opts_default(&o);
    o.verbose = 1;
    if (!OK(sr_dist_init(&argc, &argv, &o, &g_d)))
        return finish();
    g_rank = sr_dist_rank(g_d);
    g_size = sr_dist_size(g_d);
    /* Same seed on every rank (SR_TEST_SEED is in every rank's env). */
    if (g_rank == 0)
        test_seed_from_env(42);
    else
        test_seed(getenv("SR_TEST_SEED") ?
                  strtoull(getenv("SR_TEST_SEED"), NULL, 0) : 42);
    if (!strcmp(mode, "kill")) {
        rc = run_kill();
        sr_dist_finalize(g_d);
        return rc;
    }
    if (!strcmp(mode, "single")) {
        expect_mpi = argc > 3 ? atoi(argv[3]) : 0;
        CHECK(g_rank == 0 && g_size == 1, "alone: rank %d of %d", g_rank,
              g_size);
    }
    if (open_backend(argc > 2 ? argv[2] : "cpu")) {
        test_info(expect_mpi);
        test_bcast();
        test_avg();
        test_grad();
        test_metrics();
        sr_backend_free(g_be);
    }
    rc = finish();
    /* Every rank's verdict decides the exit status of all. */
    {
        int all = 0;

        if (sr_dist_all(g_d, rc == 0, &all) == SR_OK && !all)
            rc = 1;
    }
    sr_dist_finalize(g_d);
    return rc;
}
