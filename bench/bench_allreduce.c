/* bench_allreduce: MPI allreduce latency and bandwidth through src/dist, and
 * the gradient-bucket pipeline with a synthetic backward (docs/distributed.md).
 *
 *   mpirun -np 2 bench_allreduce [--min B] [--max B] [--time S]
 *   mpirun -np 2 bench_allreduce --buckets [--words N] [--bucket-mb M]
 *                                [--compute-ms T] [--steps K]
 *
 * Sizes mode: for each size (powers of 2 from --min to --max bytes, floats)
 * sr_dist_sum_f32 runs untimed twice, then about --time seconds of calls
 * (7 to 20000) after a barrier, each call timed alone; per rank the median
 * and the minimum, then the slower rank's (a shared, loaded machine makes
 * means useless: one preemption costs a whole time slice). TSV: ranks bytes
 * reps median_us min_us algbw_GBps busbw_GBps (bandwidths from the median),
 * then a fit of the ring model t = 2(N-1) alpha + 2(N-1)/N bytes / beta to
 * the medians and to the minima:
 *   alpha = t(smallest size) / (2(N-1))     (latency per message step)
 *   beta  = 2(N-1)/N / slope, slope the least-squares slope of t over the
 *           sizes >= 1 MiB                  (bytes/s per link)
 *
 * Buckets mode: a CPU-backend gradient of --words floats in buckets of
 * --bucket-mb; "backward" is a host busy loop of --compute-ms per step,
 * spread over the buckets in proportion to their size, that writes each
 * bucket (sr_fill) when its share is done. Three schedules, --steps each:
 *   serial     compute everything, then sr_dist_grad_allreduce (today's
 *              trainer: sr_nn_backward is one call)
 *   overlap    begin; per bucket: compute, sr_dist_grad_bucket_ready; finish
 *   overlap+p  as overlap, with sr_dist_grad_progress every 0.5 ms of compute
 * TSV: schedule step_ms wait_ms copy_ms (medians over steps, rank 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinreq/backend.h"
#include "sinreq/dist.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Least-squares slope of t over the sizes >= 1 MiB, and the ring fit. */
static void fit(int n, const size_t *bytes, const double *t, int m,
                const char *what)
{
    double ring = 2.0 * (n - 1) / n, sx = 0, sy = 0, sxx = 0, sxy = 0;
    double slope;
    int i, k = 0;

    for (i = 0; i < m; i++) {
        if (bytes[i] < (1u << 20))
            continue;
        sx += (double)bytes[i];
        sy += t[i];
        sxx += (double)bytes[i] * bytes[i];
        sxy += (double)bytes[i] * t[i];
        k++;
    }
    if (n < 2 || k < 2)
        return;
    slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
    printf("# fit of the %s times (ring model, %d ranks): alpha = %.3f us, "
           "beta = %.3f GB/s (slope over sizes >= 1 MiB: %.4f ns/byte)\n",
           what, n, t[0] / (2.0 * (n - 1)) * 1e6, ring / slope / 1e9,
           slope * 1e9);
}

static int run_sizes(sr_dist *d, size_t min_b, size_t max_b, double tbudget)
{
    int rank = sr_dist_rank(d), n = sr_dist_size(d), reps, i, m = 0;
    double ring = 2.0 * (n - 1) / n, tmed[64], tmin[64], *ts;
    size_t bytes, sz[64];
    float *v = calloc(max_b / 4 + 1, sizeof(float));

    ts = malloc(20000 * sizeof(double));
    if (!v || !ts) {
        free(v);
        free(ts);
        return 2;
    }
    if (rank == 0)
        printf("ranks\tbytes\treps\tmedian_us\tmin_us\talgbw_GBps\t"
               "busbw_GBps\n");
    for (bytes = min_b; bytes <= max_b && m < 64; bytes *= 2, m++) {
        size_t w = bytes / 4 ? bytes / 4 : 1;
        double t0, est, r[2];

        sr_dist_sum_f32(d, v, w);
        t0 = now();
        sr_dist_sum_f32(d, v, w);
        est = now() - t0;
        sr_dist_max_f64(d, &est, 1);   /* same reps on every rank */
        reps = (int)(tbudget / (est > 1e-7 ? est : 1e-7));
        reps = reps < 7 ? 7 : reps > 20000 ? 20000 : reps;
        sr_dist_barrier(d);
        for (i = 0; i < reps; i++) {
            t0 = now();
            sr_dist_sum_f32(d, v, w);
            ts[i] = now() - t0;
        }
        r[0] = median(ts, reps);
        r[1] = ts[0];                  /* sorted by median() */
        sr_dist_max_f64(d, r, 2);      /* the slower rank decides */
        sz[m] = w * 4;
        tmed[m] = r[0];
        tmin[m] = r[1];
        if (rank == 0)
            printf("%d\t%zu\t%d\t%.2f\t%.2f\t%.3f\t%.3f\n", n, sz[m],
                   reps, r[0] * 1e6, r[1] * 1e6, sz[m] / r[0] / 1e9,
                   ring * sz[m] / r[0] / 1e9);
        fflush(stdout);
    }
    if (rank == 0) {
        fit(n, sz, tmed, m, "median");
        fit(n, sz, tmin, m, "minimum");
    }
    free(ts);
    free(v);
    return 0;
}

static void spin(double s)
{
    double end = now() + s;

    while (now() < end)
        ;
}

/* One step of the synthetic backward; returns the step time. */
static int bucket_step(sr_dist_grad *g, sr_backend *be, int sched,
                       double compute_s, size_t total, double *step_s)
{
    int nb = sr_dist_grad_bucket_count(g), i;
    double t0;
    sr_dist_range r;

    t0 = now();
    if (sched > 0 && sr_dist_grad_begin(g, 1.0))
        return 2;
    for (i = 0; i < nb; i++) {
        double share;

        sr_dist_grad_bucket(g, i, &r, NULL);
        share = compute_s * (double)r.words / (double)total;
        if (sched == 2) {
            while (share > 0) {
                spin(share < 5e-4 ? share : 5e-4);
                share -= 5e-4;
                sr_dist_grad_progress(g);
            }
        } else {
            spin(share);
        }
        if (sr_fill(be, r.words, 1.0f + (float)i, sr_at(r.buf, r.off)))
            return 2;
        if (sched > 0 && sr_dist_grad_bucket_ready(g, i))
            return 2;
    }
    if (sched > 0 ? sr_dist_grad_finish(g) : sr_dist_grad_allreduce(g, 1.0))
        return 2;
    *step_s = now() - t0;
    return 0;
}

static int run_buckets(sr_dist *d, size_t words, double bucket_mb,
                       double compute_ms, int steps)
{
    static const char *const names[] = {"serial", "overlap", "overlap+p"};
    sr_backend *be = NULL;
    sr_buf *buf = NULL;
    sr_dist_grad *g = NULL;
    sr_dist_range r;
    sr_backend_opts bo;
    sr_dist_grad_times tm;
    double *st = malloc((size_t)steps * 3 * sizeof(double));
    int rc = 2, s, k;

    memset(&bo, 0, sizeof(bo));
    bo.threads = 1;
    if (!st || sr_backend_create("cpu", &bo, &be) ||
        sr_buf_alloc(be, SR_POOL_WEIGHTS, words, &buf))
        goto out;
    r = (sr_dist_range){buf, 0, words};
    if (sr_dist_grad_create(d, be, &r, 1, (size_t)(bucket_mb * 1048576.0),
                            &g))
        goto out;
    if (sr_dist_rank(d) == 0)
        printf("# %zu floats (%.1f MB), %d buckets of <= %.1f MB, compute "
               "%.1f ms per step, %d ranks\nschedule\tstep_ms\twait_ms\t"
               "copy_ms\n", words, words * 4 / 1e6,
               sr_dist_grad_bucket_count(g), bucket_mb, compute_ms,
               sr_dist_size(d));
    for (s = 0; s < 3; s++) {
        double *t = st, *w = st + steps, *c = st + 2 * steps, dt = 0;

        for (k = -1; k < steps; k++) {   /* k = -1: warm-up */
            sr_dist_barrier(d);
            if (bucket_step(g, be, s, compute_ms * 1e-3, words, &dt))
                goto out;
            sr_dist_max_f64(d, &dt, 1);
            sr_dist_grad_last_times(g, &tm);
            if (k >= 0) {
                t[k] = dt;
                w[k] = tm.wait_s;
                c[k] = tm.copy_s;
            }
        }
        if (sr_dist_rank(d) == 0)
            printf("%s\t%.2f\t%.2f\t%.2f\n", names[s],
                   median(t, steps) * 1e3, median(w, steps) * 1e3,
                   median(c, steps) * 1e3);
        fflush(stdout);
    }
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_allreduce: %s\n", sr_last_error());
    sr_dist_grad_free(g);
    if (be) {
        sr_buf_free(be, buf);
        sr_backend_free(be);
    }
    free(st);
    return rc;
}

int main(int argc, char **argv)
{
    size_t min_b = 4, max_b = (size_t)64 << 20, words = 11700000;
    double tbudget = 0.2, bucket_mb = 8, compute_ms = 50;
    int buckets = 0, steps = 10, i, rc;
    sr_dist *d;

    if (sr_dist_init(&argc, &argv, NULL, &d)) {
        fprintf(stderr, "bench_allreduce: %s\n", sr_last_error());
        return 2;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";

        if (!strcmp(a, "--buckets")) {
            buckets = 1;
            continue;
        }
        i++;
        if (!strcmp(a, "--min"))
            min_b = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--max"))
            max_b = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--time"))
            tbudget = atof(v);
        else if (!strcmp(a, "--words"))
            words = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--bucket-mb"))
            bucket_mb = atof(v);
        else if (!strcmp(a, "--compute-ms"))
            compute_ms = atof(v);
        else if (!strcmp(a, "--steps"))
            steps = atoi(v);
        else {
            fprintf(stderr, "bench_allreduce: unknown option %s (see the "
                    "comment at the top of bench/bench_allreduce.c)\n", a);
            sr_dist_finalize(d);
            return 1;
        }
    }
    if (min_b < 4 || max_b < min_b || steps < 1 || !words ||
        bucket_mb <= 0) {
        fprintf(stderr, "bench_allreduce: bad sizes\n");
        sr_dist_finalize(d);
        return 1;
    }
    rc = buckets ? run_buckets(d, words, bucket_mb, compute_ms, steps)
                 : run_sizes(d, min_b, max_b, tbudget);
    sr_dist_finalize(d);
    return rc;
}
