/* bench_ops: conv2d throughput of one sinreq backend on the conv shapes of
 * ResNet-20 and VGG-11 (CIFAR, 32x32), forward, backward-data and
 * backward-weight.
 *
 * Each (shape, direction) is run --warmup times untimed, then --reps times
 * timed; every timed call is followed by sr_backend_sync before the clock
 * stops (the Vulkan backend records ops and submits at sync, so one timed
 * call is record + submit + execute + wait). The median time is reported as
 * GFLOP/s with 2*n*k*c*kh*kw*oh*ow flops per direction.
 *
 * Output (stdout), one TSV line per (net, layer, direction), after a header:
 *   backend net layer n c h w k kh stride pad dir gflops ms
 * A failed op prints NA in gflops and ms, its message on stderr, and makes
 * the exit status 2 (the other rows are still measured).
 *
 * The shape table must match SHAPES in bench/bench_ops_torch.py. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinreq/backend.h"
#include "sinreq/status.h"

typedef struct shape {
    const char *net, *layer;
    int c, h, w, k, kh, stride, pad;
} shape;

static const shape SHAPES[] = {
    /* ResNet-20, CIFAR-10 32x32: 3 stages x 3 basic blocks, 1x1 stride-2
     * projection shortcuts. */
    {"resnet20", "conv1",     3, 32, 32, 16, 3, 1, 1},
    {"resnet20", "s1_3x3",   16, 32, 32, 16, 3, 1, 1},
    {"resnet20", "s2_down",  16, 32, 32, 32, 3, 2, 1},
    {"resnet20", "s2_3x3",   32, 16, 16, 32, 3, 1, 1},
    {"resnet20", "s3_down",  32, 16, 16, 64, 3, 2, 1},
    {"resnet20", "s3_3x3",   64,  8,  8, 64, 3, 1, 1},
    {"resnet20", "s2_sc1x1", 16, 32, 32, 32, 1, 2, 0},
    {"resnet20", "s3_sc1x1", 32, 16, 16, 64, 1, 2, 0},
    /* VGG-11 (config A) with BN on CIFAR; conv7 and conv8 share a shape. */
    {"vgg11", "conv1",   3, 32, 32,  64, 3, 1, 1},
    {"vgg11", "conv2",  64, 16, 16, 128, 3, 1, 1},
    {"vgg11", "conv3", 128,  8,  8, 256, 3, 1, 1},
    {"vgg11", "conv4", 256,  8,  8, 256, 3, 1, 1},
    {"vgg11", "conv5", 256,  4,  4, 512, 3, 1, 1},
    {"vgg11", "conv6", 512,  4,  4, 512, 3, 1, 1},
    {"vgg11", "conv7", 512,  2,  2, 512, 3, 1, 1},
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

enum { DIR_FWD = 0, DIR_BWD_DATA, DIR_BWD_WEIGHT, N_DIRS };
static const char *const DIR_NAMES[N_DIRS] = {"fwd", "bwd_data",
                                              "bwd_weight"};

typedef struct options {
    const char *backend;
    const char *shapes;   /* resnet20 | vgg11 | all */
    const char *layer;    /* substring filter, or NULL */
    const char *device;   /* Vulkan device, or NULL */
    int batch, reps, warmup, threads, act_bits, header, verbose;
    int dirs[N_DIRS];
} options;

static void usage(FILE *f)
{
    fprintf(f,
"usage: bench_ops [options]\n"
"  --backend cpu|vulkan   backend to time (default cpu)\n"
"  --shapes resnet20|vgg11|all   conv shapes (default all)\n"
"  --layer STR            only layers whose name contains STR\n"
"  --dirs LIST            comma list of fwd,bwd_data,bwd_weight (default all)\n"
"  --batch N              batch size (default 128)\n"
"  --reps N               timed repetitions, median reported (default 5)\n"
"  --warmup N             untimed calls before timing (default 2)\n"
"  --quick                1 warm-up + 1 timed call (smoke test)\n"
"  --threads N            CPU backend threads; for vulkan also sets\n"
"                         LP_NUM_THREADS (lavapipe) unless already set\n"
"                         (default 0 = OpenMP / driver default)\n"
"  --device STR           Vulkan device index or name substring\n"
"  --act-bits B           time with fused input quantization (default 0)\n"
"  --cpu-time             time by the process's CPU time / threads instead\n"
"                         of the wall clock (a machine shared with other\n"
"                         jobs; also for the peak)\n"
"  --no-header            omit the TSV header line\n"
"  --verbose              print the chosen device\n"
"Output: TSV backend net layer n c h w k kh stride pad dir gflops ms\n");
}

static int parse_int(const char *flag, const char *s, int lo, int hi,
                     int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_ops: %s wants an integer in [%d, %d], got "
                "'%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_dirs(const char *s, int dirs[N_DIRS])
{
    char buf[128];
    char *tok, *save = NULL;
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    memset(dirs, 0, N_DIRS * sizeof dirs[0]);
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int d, found = 0;
        for (d = 0; d < N_DIRS; d++)
            if (strcmp(tok, DIR_NAMES[d]) == 0) dirs[d] = found = 1;
        if (!found) {
            fprintf(stderr, "bench_ops: unknown direction '%s' (want "
                    "fwd, bwd_data, bwd_weight)\n", tok);
            return -1;
        }
    }
    return 0;
}

/* 0 ok, 1 usage error, 2 --help */
/* --cpu-time: time by the process's CPU time (for a shared machine) */
static int g_cpu_time;

static int parse_args(int argc, char **argv, options *o)
{
    int i, reps = -1, warmup = -1, quick = 0;
    memset(o, 0, sizeof *o);
    o->backend = "cpu";
    o->shapes = "all";
    o->batch = 128;
    o->header = 1;
    o->dirs[0] = o->dirs[1] = o->dirs[2] = 1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                      \
        do {                                                              \
            if (!v) {                                                     \
                fprintf(stderr, "bench_ops: %s needs a value\n", a);      \
                return 1;                                                 \
            }                                                             \
            i++;                                                          \
        } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 2;
        } else if (!strcmp(a, "--backend")) {
            NEED_VALUE();
            o->backend = v;
        } else if (!strcmp(a, "--shapes")) {
            NEED_VALUE();
            if (strcmp(v, "resnet20") && strcmp(v, "vgg11") &&
                strcmp(v, "all")) {
                fprintf(stderr, "bench_ops: --shapes wants resnet20, vgg11 "
                        "or all, got '%s'\n", v);
                return 1;
            }
            o->shapes = v;
        } else if (!strcmp(a, "--layer")) {
            NEED_VALUE();
            o->layer = v;
        } else if (!strcmp(a, "--device")) {
            NEED_VALUE();
            o->device = v;
        } else if (!strcmp(a, "--dirs")) {
            NEED_VALUE();
            if (parse_dirs(v, o->dirs)) return 1;
        } else if (!strcmp(a, "--batch")) {
            NEED_VALUE();
            if (parse_int(a, v, 1, 65536, &o->batch)) return 1;
        } else if (!strcmp(a, "--reps")) {
            NEED_VALUE();
            if (parse_int(a, v, 1, 100000, &reps)) return 1;
        } else if (!strcmp(a, "--warmup")) {
            NEED_VALUE();
            if (parse_int(a, v, 0, 100000, &warmup)) return 1;
        } else if (!strcmp(a, "--threads")) {
            NEED_VALUE();
            if (parse_int(a, v, 0, 4096, &o->threads)) return 1;
        } else if (!strcmp(a, "--act-bits")) {
            NEED_VALUE();
            if (parse_int(a, v, 0, SR_MAX_BITS, &o->act_bits)) return 1;
        } else if (!strcmp(a, "--quick")) {
            quick = 1;
        } else if (!strcmp(a, "--cpu-time")) {
            g_cpu_time = 1;
        } else if (!strcmp(a, "--no-header")) {
            o->header = 0;
        } else if (!strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else {
            fprintf(stderr, "bench_ops: unknown option '%s' (see --help)\n",
                    a);
            return 1;
        }
#undef NEED_VALUE
    }
    o->reps = reps >= 0 ? reps : quick ? 1 : 5;
    o->warmup = warmup >= 0 ? warmup : quick ? 1 : 2;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(g_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Uniform in [-1, 1) from a 64-bit LCG: never all zeros (zeros can time
 * differently and hide unwritten outputs). For act_bits > 0 the inputs are
 * in [-0.25, 1.25) so both sides of the clamp are exercised. */
static void fill_random(float *p, size_t n, uint64_t seed, int act)
{
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t i;
    for (i = 0; i < n; i++) {
        float u;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        u = (float)(s >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
        p[i] = act ? 1.5f * u - 0.25f : 2.0f * u - 1.0f;
    }
}

typedef struct bench_bufs {
    sr_buf *x, *w, *y, *dx, *dw;
} bench_bufs;

static void free_bufs(sr_backend *be, bench_bufs *b)
{
    if (b->x) sr_buf_free(be, b->x);
    if (b->w) sr_buf_free(be, b->w);
    if (b->y) sr_buf_free(be, b->y);
    if (b->dx) sr_buf_free(be, b->dx);
    if (b->dw) sr_buf_free(be, b->dw);
    memset(b, 0, sizeof *b);
}

static sr_status upload_random(sr_backend *be, sr_buf *buf, size_t n,
                               uint64_t seed, int act)
{
    sr_status st;
    float *h = malloc(n * sizeof *h);
    if (!h) return sr_error(SR_E_NOMEM, "bench_ops: out of host memory");
    fill_random(h, n, seed, act);
    st = sr_buf_write(be, buf, 0, n, h);
    free(h);
    return st;
}

static sr_status alloc_bufs(sr_backend *be, const sr_conv2d_desc *d,
                            bench_bufs *b)
{
    size_t nx = (size_t)d->n * d->c * d->h * d->w;
    size_t nw = (size_t)d->k * d->c * d->kh * d->kw;
    size_t ny = (size_t)d->n * d->k * sr_conv2d_out_h(d) * sr_conv2d_out_w(d);
    memset(b, 0, sizeof *b);
    SR_TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, nx, &b->x));
    SR_TRY(sr_buf_alloc(be, SR_POOL_WEIGHTS, nw, &b->w));
    SR_TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, ny, &b->y));
    SR_TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, nx, &b->dx));
    SR_TRY(sr_buf_alloc(be, SR_POOL_WEIGHTS, nw, &b->dw));
    SR_TRY(upload_random(be, b->x, nx, 1, d->act_bits > 0));
    SR_TRY(upload_random(be, b->w, nw, 2, 0));
    SR_TRY(upload_random(be, b->y, ny, 3, 0)); /* doubles as dy */
    return sr_backend_sync(be);
}

static sr_status run_dir(sr_backend *be, const sr_conv2d_desc *d, int dir,
                         const bench_bufs *b)
{
    switch (dir) {
    case DIR_FWD:
        return sr_conv2d_fwd(be, d, sr_at(b->x, 0), sr_at(b->w, 0), SR_NONE,
                             sr_at(b->y, 0));
    case DIR_BWD_DATA:
        return sr_conv2d_bwd_data(be, d, sr_at(b->y, 0), sr_at(b->w, 0),
                                  d->act_bits ? sr_at(b->x, 0) : SR_NONE,
                                  sr_at(b->dx, 0));
    default:
        return sr_conv2d_bwd_weight(be, d, sr_at(b->x, 0), sr_at(b->y, 0),
                                    sr_at(b->dw, 0), SR_NONE);
    }
}

/* Median seconds of o->reps timed calls, or a negative value on failure. */
static double time_dir(sr_backend *be, const options *o,
                       const sr_conv2d_desc *d, int dir, const bench_bufs *b)
{
    double *t = malloc((size_t)o->reps * sizeof *t), med;
    int i;
    sr_status st = SR_OK;
    if (!t) return -1.0;
    for (i = 0; i < o->warmup && st == SR_OK; i++) {
        st = run_dir(be, d, dir, b);
        if (st == SR_OK) st = sr_backend_sync(be);
    }
    for (i = 0; i < o->reps && st == SR_OK; i++) {
        double t0 = now_s();
        st = run_dir(be, d, dir, b);
        if (st == SR_OK) st = sr_backend_sync(be);
        t[i] = now_s() - t0;
        if (g_cpu_time && o->threads > 1) t[i] /= o->threads;
    }
    if (st != SR_OK) {
        free(t);
        return -1.0;
    }
    qsort(t, (size_t)o->reps, sizeof *t, cmp_double);
    med = o->reps % 2 ? t[o->reps / 2]
                      : 0.5 * (t[o->reps / 2 - 1] + t[o->reps / 2]);
    free(t);
    return med;
}

int main(int argc, char **argv)
{
    options o;
    sr_backend_opts bo;
    sr_backend *be = NULL;
    sr_status st;
    size_t i;
    int rc = 0, any = 0;

    switch (parse_args(argc, argv, &o)) {
    case 0: break;
    case 2: return 0;
    default: return 1;
    }
    if (o.threads > 0 && !strcmp(o.backend, "vulkan") &&
        !getenv("LP_NUM_THREADS")) {
        char tb[16];
        snprintf(tb, sizeof tb, "%d", o.threads);
        setenv("LP_NUM_THREADS", tb, 0); /* read by lavapipe at load */
    }
    memset(&bo, 0, sizeof bo);
    bo.device = o.device;
    bo.threads = o.threads;
    bo.verbose = o.verbose;
    st = sr_backend_create(o.backend, &bo, &be);
    if (st != SR_OK) {
        fprintf(stderr, "bench_ops: cannot create backend '%s': %s\n",
                o.backend, sr_last_error());
        return 2;
    }
    /* The CPU's FP32 peak with the kernel set in use (an FMA loop on the
     * same threads): every CPU row is also given as a fraction of it. */
    double peak = 0.0;
    if (!strcmp(o.backend, "cpu")) peak = sr_cpu_measure_peak(o.threads, 0.5, g_cpu_time);
    fprintf(stderr, "bench_ops: backend %s on %s; batch %d, warm-up %d, "
            "reps %d, threads %d", sr_backend_name(be),
            sr_backend_device_name(be), o.batch, o.warmup, o.reps, o.threads);
    if (peak > 0.0)
        fprintf(stderr, "; FP32 peak %.1f GFLOP/s (%s FMA loop)",
                peak, sr_cpu_kernel_set());
    fprintf(stderr, "\n");
    if (o.header)
        printf("backend\tnet\tlayer\tn\tc\th\tw\tk\tkh\tstride\tpad\tdir\t"
               "gflops\tms\tof_peak\n");
    fflush(stdout);

    for (i = 0; i < N_SHAPES; i++) {
        const shape *s = &SHAPES[i];
        sr_conv2d_desc d;
        bench_bufs b;
        double flops;
        int dir;
        if (strcmp(o.shapes, "all") && strcmp(o.shapes, s->net)) continue;
        if (o.layer && !strstr(s->layer, o.layer)) continue;
        any = 1;
        memset(&d, 0, sizeof d);
        d.n = o.batch;
        d.c = s->c;
        d.h = s->h;
        d.w = s->w;
        d.k = s->k;
        d.kh = d.kw = s->kh;
        d.stride = s->stride;
        d.pad = s->pad;
        d.act_bits = o.act_bits;
        flops = 2.0 * d.n * d.k * d.c * d.kh * d.kw * sr_conv2d_out_h(&d) *
                sr_conv2d_out_w(&d);
        st = alloc_bufs(be, &d, &b);
        for (dir = 0; dir < N_DIRS; dir++) {
            double t = -1.0;
            if (!o.dirs[dir]) continue;
            if (st == SR_OK) t = time_dir(be, &o, &d, dir, &b);
            printf("%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t",
                   o.backend, s->net, s->layer, d.n, d.c, d.h, d.w, d.k,
                   d.kh, d.stride, d.pad, DIR_NAMES[dir]);
            if (t > 0.0) {
                printf("%.3f\t%.4f\t", flops / t * 1e-9, t * 1e3);
                if (peak > 0.0)
                    printf("%.3f\n", flops / t * 1e-9 / peak);
                else
                    printf("NA\n");
            } else {
                printf("NA\tNA\tNA\n");
                fprintf(stderr, "bench_ops: %s %s %s failed: %s\n", s->net,
                        s->layer, DIR_NAMES[dir], sr_last_error());
                rc = 2;
            }
            fflush(stdout);
        }
        free_bufs(be, &b);
    }
    sr_backend_free(be);
    if (!any) {
        fprintf(stderr, "bench_ops: no shape matches --shapes %s --layer "
                "%s\n", o.shapes, o.layer ? o.layer : "(any)");
        return 1;
    }
    return rc;
}
