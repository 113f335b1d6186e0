/* test_ops: every op of one backend against the float64 reference
 * (tests/ref) on random inputs and several shapes, odd sizes included.
 *
 *   test_ops cpu | vulkan | vulkan-missing-driver [group-substring]
 *
 * Every operand lives in one slab buffer per case, at odd word offsets with
 * sentinel guard words between operands (a few cases use offset 0 and no
 * gaps). After the ops run, the whole slab is read back and every word that
 * is not an output must be bitwise unchanged: inputs are not modified and
 * nothing is written out of bounds.
 *
 * Error bounds (float32 backend vs float64 reference), one per op, checked
 * as max|got - ref| <= tol * (floor + max|ref|) over each output tensor
 * (floor = 1 unless stated; 0 = purely relative to the tensor's magnitude):
 *   exact (tol 0): fill, copy, relu fwd/bwd, maxpool y and idx, top1,
 *     dropout mask, quantizer levels (up to one level where the reference's
 *     pre-round value is within 1e-4 of a rounding boundary, where float32
 *     and float64 may legitimately round differently).
 *   TOL_EW   1e-6  one or two float ops per element (add, dropout scale,
 *                  WRPN/actq values, STE masks, sgd over 3 steps)
 *   TOL_GEMM 3e-5  conv/dwconv/linear: reductions of up to ~6000
 *                  products of O(1) values; float32 rounding grows like
 *                  sqrt(K) u |partial sums| ~ 1e-4 absolute for outputs of
 *                  magnitude ~70, i.e. ~1e-6 relative; 3e-5 leaves margin
 *                  for blocked/FMA summation and still flags any indexing
 *                  bug (O(1) errors).
 *   TOL_BN   1e-4  batch statistics over up to 4096 values with mean 2,
 *                  std 0.6 (one-pass variance in float loses ~10x)
 *   TOL_POOL 1e-6  avgpool (means of <= 169 values), maxpool bwd sums
 *   TOL_XENT 1e-5  softmax/log-sum-exp over up to 1000 classes
 *   TOL_TRANS      DoReFa dw (tanh), SinReQ/WaveQ (sin of arguments up to
 *                  ~800 rad): 2e-5 normwise on cpu; Vulkan's sin/tanh
 *                  precision is implementation-defined (the spec allows
 *                  2^-11 absolute for sin on [-pi, pi]; GPUs use fast
 *                  approximations with poor range reduction), so 1e-3
 *                  there. (lavapipe passes at 2e-5 as well.)
 *   mean_abs_diff  1e-5 relative (a float sum of up to 1e5 terms).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ref/ref_ops.h"
#include "sinreq/backend.h"
#include "sinreq/qmath.h"
#include "sinreq/rng.h"

#define TOL_EW 1e-6
#define TOL_GEMM 3e-5
#define TOL_BN 1e-4
#define TOL_POOL 1e-6
#define TOL_XENT 1e-5
static double TOL_TRANS = 2e-5;

static sr_backend *g_be;
static const char *g_filter;
static int g_case; /* running case counter: alternates slab layouts */

/* ------------------------------------------------------------------ */
/* Status checks                                                       */

static int ok_at(sr_status st, const char *expr, int line)
{
    if (!check_record(st == SR_OK)) {
        fprintf(stderr, "  FAIL test_ops.c:%d [%s]: %s -> %s: %s\n", line,
                g_group, expr, sr_status_name(st), sr_last_error());
        return 0;
    }
    return 1;
}
#define OK(expr) ok_at((expr), #expr, __LINE__)

/* Expect a specific failure status and a non-empty message. */
static void expect_at(sr_status want, sr_status got, const char *expr, int line)
{
    const char *msg = sr_last_error();
    if (!check_record(got == want && msg && msg[0])) {
        fprintf(stderr, "  FAIL test_ops.c:%d [%s]: %s -> %s (want %s), "
                "message \"%s\"\n", line, g_group, expr, sr_status_name(got),
                sr_status_name(want), msg ? msg : "(null)");
    }
}
#define EXPECT(want, expr)                                                  \
    do {                                                                    \
        sr_clear_error();                                                   \
        expect_at((want), (expr), #expr, __LINE__);                         \
    } while (0)

/* ------------------------------------------------------------------ */
/* Scratch memory for reference doubles, freed per case                 */

static void **g_scratch;
static size_t g_nscratch, g_capscratch;

static void *scratch(size_t bytes)
{
    if (g_nscratch == g_capscratch) {
        g_capscratch = g_capscratch ? 2 * g_capscratch : 64;
        g_scratch = realloc(g_scratch, g_capscratch * sizeof *g_scratch);
        if (!g_scratch) abort();
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) abort();
    g_scratch[g_nscratch++] = p;
    return p;
}

static void scratch_free(void)
{
    for (size_t i = 0; i < g_nscratch; i++) free(g_scratch[i]);
    g_nscratch = 0;
}

static double *dz(size_t n) { return scratch(n * sizeof(double)); }

static double *dv(const float *f, size_t n)
{
    double *d = dz(n);
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    return d;
}

static float *fz(size_t n) { return scratch(n * sizeof(float)); }

/* ------------------------------------------------------------------ */
/* Slabs: all operands of a case in one buffer, at offsets, with guards  */

#define SENTINEL 0x7fc0beefu /* a NaN no op produces */
#define MAX_REGIONS 16

typedef struct slab {
    sr_buf *buf;
    size_t words;
    uint32_t *host;   /* mirror: inputs as written, then results */
    uint32_t *before; /* snapshot at upload */
    size_t cursor;
    int tight;        /* 1: first operand at offset 0, no gaps */
    int nr;
    size_t off[MAX_REGIONS], n[MAX_REGIONS];
    int out[MAX_REGIONS];
} slab;

static void slab_init(slab *s)
{
    memset(s, 0, sizeof *s);
    s->tight = (g_case++ % 4) == 3;
}

static int slab_region(slab *s, size_t n, int is_out)
{
    if (s->nr == MAX_REGIONS) abort();
    if (!s->tight) s->cursor += 1 + (size_t)rnd_int(0, 6); /* odd-ish gaps */
    int r = s->nr++;
    s->off[r] = s->cursor;
    s->n[r] = n;
    s->out[r] = is_out;
    s->cursor += n;
    return r;
}
static int slab_in(slab *s, size_t n) { return slab_region(s, n, 0); }
static int slab_out(slab *s, size_t n) { return slab_region(s, n, 1); }

static int slab_alloc(slab *s)
{
    s->words = s->cursor + (s->tight ? 0 : 3);
    s->host = malloc(s->words * 4);
    s->before = malloc(s->words * 4);
    if (!s->host || !s->before) abort();
    for (size_t i = 0; i < s->words; i++) s->host[i] = SENTINEL;
    /* outputs start as garbage so an element the op forgets is caught */
    for (int r = 0; r < s->nr; r++)
        if (s->out[r])
            for (size_t i = 0; i < s->n[r]; i++) {
                float g = (float)rnd_range(-1e3, 1e3);
                memcpy(&s->host[s->off[r] + i], &g, 4);
            }
    return OK(sr_buf_alloc(g_be, SR_POOL_ACTIVATIONS, s->words, &s->buf));
}

static float *F(slab *s, int r) { return (float *)(void *)(s->host + s->off[r]); }
static uint32_t *U(slab *s, int r) { return s->host + s->off[r]; }
static sr_view V(slab *s, int r) { return sr_at(s->buf, s->off[r]); }

static int slab_upload(slab *s)
{
    memcpy(s->before, s->host, s->words * 4);
    return OK(sr_buf_write(g_be, s->buf, 0, s->words, s->host));
}

/* Read back; every non-output word must be bitwise unchanged. */
static int slab_download(slab *s, const char *what)
{
    if (!OK(sr_buf_read(g_be, s->buf, 0, s->words, s->host))) return 0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < s->words; i++) {
        int is_out = 0;
        for (int r = 0; r < s->nr; r++)
            if (s->out[r] && i >= s->off[r] && i < s->off[r] + s->n[r]) is_out = 1;
        if (!is_out && s->host[i] != s->before[i]) {
            if (!bad) first = i;
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %zu words outside the outputs changed (first at word "
          "%zu of %zu): inputs modified or out-of-bounds writes", what, bad,
          first, s->words);
    return bad == 0;
}

static void slab_free(slab *s)
{
    sr_buf_free(g_be, s->buf);
    free(s->host);
    free(s->before);
    s->buf = NULL;
    s->host = s->before = NULL;
}

/* ------------------------------------------------------------------ */
/* Data and comparisons                                                */

static void fill_f(float *p, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)rnd_range(lo, hi);
}

/* Move activations away from k-bit rounding boundaries (float32 and
 * float64 would round those differently), keep some exact 0 and 1. */
static void nudge_q(float *x, size_t n, int bits)
{
    double m = (double)((1u << bits) - 1u);
    for (size_t i = 0; i < n; i++) {
        if (x[i] > 0.0f && x[i] < 1.0f) {
            double v = (double)x[i] * m, f = v - floor(v);
            if (fabs(f - 0.5) < 1e-3) x[i] = (float)((floor(v) + 0.25) / m);
        }
        if (i % 17 == 5) x[i] = 0.0f;
        if (i % 19 == 7) x[i] = 1.0f;
    }
}

/* max|got - ref| <= tol * (floor + max|ref|), and got finite */
static void cmp(const char *what, const float *got, const double *ref,
                size_t n, double tol, double floor_)
{
    double maxerr = 0, maxref = 0;
    size_t worst = 0, nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) nonfinite++;
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= maxerr)) { /* NaN-safe */
            maxerr = isnan(e) ? INFINITY : e;
            worst = i;
        }
        if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
    }
    double bound = tol * (floor_ + maxref);
    CHECK(nonfinite == 0 && maxerr <= bound,
          "%s: max|got-ref| = %.3g at [%zu] (got %.9g, ref %.9g), bound %.3g "
          "(tol %.1g, max|ref| %.3g), %zu non-finite",
          what, maxerr, worst, n ? (double)got[worst] : 0.0,
          n ? ref[worst] : 0.0, bound, tol, maxref, nonfinite);
}

static void cmp_u32(const char *what, const uint32_t *got, const uint32_t *ref,
                    size_t n)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != ref[i]) {
            if (!bad) first = i;
            bad++;
        }
    CHECK(bad == 0, "%s: %zu of %zu differ, first [%zu]: got %u, ref %u", what,
          bad, n, first, n ? got[first] : 0, n ? ref[first] : 0);
}

/* Quantized values: equal to the reference within 1e-6, or one level off
 * where the reference's pre-round value is within 1e-4 of a boundary. */
static void cmp_quant(const char *what, const float *got, const double *ref,
                      const double *pre, size_t n, double step)
{
    size_t bad = 0, first = 0, exempt = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (d <= 1e-6) continue;
        if (pre) {
            double f = fabs(pre[i]) - floor(fabs(pre[i]));
            if (fabs(f - 0.5) < 1e-4 && fabs(d - step) <= 1e-6) {
                exempt++;
                continue;
            }
        }
        if (!bad) first = i;
        bad++;
    }
    CHECK(bad == 0, "%s: %zu of %zu values differ (first [%zu]: got %.9g, ref "
          "%.9g, pre-round %.9g)", what, bad, n, first,
          n ? (double)got[first] : 0.0, n ? ref[first] : 0.0,
          pre && n ? pre[first] : 0.0);
    if (exempt)
        printf("       %s: %zu value(s) one level off at a rounding boundary "
               "(allowed)\n", what, exempt);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Distinct output values (exact float equality) are all levels; with
 * expect_all, every level appears. */
static void check_levels(const char *what, const float *got, size_t n,
                         const double *levels, int nlev, int expect_all)
{
    float *s = fz(n);
    memcpy(s, got, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_float);
    int distinct = 0, offlevel = 0;
    float bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && s[i] == s[i - 1]) continue;
        distinct++;
        int hit = 0;
        for (int l = 0; l < nlev; l++) hit |= fabs((double)s[i] - levels[l]) <= 1e-6;
        if (!hit) {
            offlevel++;
            bad = s[i];
        }
    }
    CHECK(offlevel == 0 && distinct <= nlev && (!expect_all || distinct == nlev),
          "%s: %d distinct values (want %s%d), %d not a level (e.g. %.9g)", what,
          distinct, expect_all ? "" : "<= ", nlev, offlevel, (double)bad);
}

static int want(const char *group)
{
    return !g_filter || strstr(group, g_filter);
}

/* ------------------------------------------------------------------ */
/* Utility ops                                                         */

static void test_utility(void)
{
    size_t sizes[] = {1, 13, 1000, 65537};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char what[64];
        slab s;
        slab_init(&s);
        int a = slab_in(&s, n), b = slab_in(&s, n), f = slab_out(&s, n),
            c = slab_out(&s, n), y = slab_out(&s, n), ya = slab_out(&s, n),
            yb = slab_out(&s, n), yr = slab_out(&s, n), yra = slab_out(&s, n);
        if (!slab_alloc(&s)) continue;
        fill_f(F(&s, a), n, -2, 2);
        fill_f(F(&s, b), n, -2, 2);
        memcpy(F(&s, ya), F(&s, a), n * 4); /* ya plays 'a' for y == a */
        memcpy(F(&s, yb), F(&s, b), n * 4); /* yb plays 'b' for y == b */
        memcpy(F(&s, yra), F(&s, a), n * 4);
        double *ra = dv(F(&s, a), n), *rb = dv(F(&s, b), n);
        slab_upload(&s);
        OK(sr_fill(g_be, n, -1.5f, V(&s, f)));
        OK(sr_copy(g_be, n, V(&s, a), V(&s, c)));
        OK(sr_add(g_be, n, V(&s, a), V(&s, b), V(&s, y)));
        OK(sr_add(g_be, n, V(&s, ya), V(&s, b), V(&s, ya))); /* y aliases a */
        OK(sr_add(g_be, n, V(&s, a), V(&s, yb), V(&s, yb))); /* y aliases b */
        OK(sr_add_relu(g_be, n, V(&s, a), V(&s, b), V(&s, yr)));
        OK(sr_add_relu(g_be, n, V(&s, yra), V(&s, b), V(&s, yra)));
        snprintf(what, sizeof what, "fill/copy/add n=%zu", n);
        if (slab_download(&s, what)) {
            double *rf = dz(n), *rs = dz(n);
            for (size_t i = 0; i < n; i++) {
                rf[i] = -1.5;
                rs[i] = ra[i] + rb[i];
            }
            snprintf(what, sizeof what, "fill n=%zu", n);
            cmp(what, F(&s, f), rf, n, 0, 1);
            snprintf(what, sizeof what, "copy n=%zu", n);
            cmp(what, F(&s, c), ra, n, 0, 1);
            snprintf(what, sizeof what, "add n=%zu", n);
            cmp(what, F(&s, y), rs, n, TOL_EW, 1);
            snprintf(what, sizeof what, "add y=a n=%zu", n);
            cmp(what, F(&s, ya), rs, n, TOL_EW, 1);
            snprintf(what, sizeof what, "add y=b n=%zu", n);
            cmp(what, F(&s, yb), rs, n, TOL_EW, 1);
            /* add_relu: exactly max(the add's float result, 0) */
            double *rr = dz(n);
            for (size_t i = 0; i < n; i++)
                rr[i] = F(&s, y)[i] > 0.0f ? F(&s, y)[i] : 0.0f;
            snprintf(what, sizeof what, "add_relu n=%zu", n);
            cmp(what, F(&s, yr), rr, n, 0, 1);
            snprintf(what, sizeof what, "add_relu y=a n=%zu", n);
            cmp(what, F(&s, yra), rr, n, 0, 1);
        }
        slab_free(&s);
        scratch_free();
    }
}

/* ------------------------------------------------------------------ */
/* Convolution                                                         */

static void test_conv_case(sr_conv2d_desc d)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "conv n%d c%d %dx%d k%d %dx%d s%d p%d b%d a%d",
             d.n, d.c, d.h, d.w, d.k, d.kh, d.kw, d.stride, d.pad, d.bias,
             d.act_bits);
    int oh = ref_conv_out_h(&d), ow = ref_conv_out_w(&d);
    CHECK(sr_conv2d_out_h(&d) == oh && sr_conv2d_out_w(&d) == ow,
          "%s: sr_conv2d_out_h/w %dx%d, want %dx%d", name, sr_conv2d_out_h(&d),
          sr_conv2d_out_w(&d), oh, ow);
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.k * d.c * d.kh * d.kw;
    size_t ny = (size_t)d.n * d.k * oh * ow;
    slab s;
    slab_init(&s);
    int x = slab_in(&s, nx), w = slab_in(&s, nw), b = slab_in(&s, d.k),
        dy = slab_in(&s, ny), y = slab_out(&s, ny), dx = slab_out(&s, nx),
        dw = slab_out(&s, nw), db = slab_out(&s, d.k);
    if (!slab_alloc(&s)) return;
    if (d.act_bits) {
        fill_f(F(&s, x), nx, -0.3, 1.3);
        nudge_q(F(&s, x), nx, d.act_bits);
    } else {
        fill_f(F(&s, x), nx, -1, 1);
    }
    fill_f(F(&s, w), nw, -1, 1);
    fill_f(F(&s, b), d.k, -1, 1);
    fill_f(F(&s, dy), ny, -1, 1);
    double *rx = dv(F(&s, x), nx), *rw = dv(F(&s, w), nw), *rb = dv(F(&s, b), d.k);
    double *rdy = dv(F(&s, dy), ny);
    slab_upload(&s);
    OK(sr_conv2d_fwd(g_be, &d, V(&s, x), V(&s, w), V(&s, b), V(&s, y)));
    OK(sr_conv2d_bwd_data(g_be, &d, V(&s, dy), V(&s, w), V(&s, x), V(&s, dx)));
    OK(sr_conv2d_bwd_weight(g_be, &d, V(&s, x), V(&s, dy), V(&s, dw), V(&s, db)));
    /* db is an output only with bias; without, its garbage must stay */
    if (!d.bias) s.out[db] = 0;
    if (slab_download(&s, name)) {
        double *ry = dz(ny), *rdx = dz(nx), *rdw = dz(nw), *rdb = dz(d.k);
        ref_conv2d_fwd(&d, rx, rw, rb, ry);
        ref_conv2d_bwd_data(&d, rdy, rw, rx, rdx);
        ref_conv2d_bwd_weight(&d, rx, rdy, rdw, rdb);
        snprintf(what, sizeof what, "%s fwd", name);
        cmp(what, F(&s, y), ry, ny, TOL_GEMM, 1);
        snprintf(what, sizeof what, "%s bwd_data", name);
        cmp(what, F(&s, dx), rdx, nx, TOL_GEMM, 1);
        snprintf(what, sizeof what, "%s bwd_weight dw", name);
        cmp(what, F(&s, dw), rdw, nw, TOL_GEMM, 1);
        if (d.bias) {
            snprintf(what, sizeof what, "%s bwd_weight db", name);
            cmp(what, F(&s, db), rdb, d.k, TOL_GEMM, 1);
        }
    }
    slab_free(&s);
    scratch_free();
}

static void test_conv(void)
{
    static const sr_conv2d_desc cases[] = {
        /* n  c  h   w  k  kh kw st pad bias act */
        {1, 3, 7, 7, 5, 3, 3, 1, 1, 1, 0},
        {5, 13, 7, 7, 3, 1, 1, 1, 0, 1, 0},
        {2, 3, 13, 13, 4, 5, 5, 2, 2, 0, 0},
        {1, 3, 35, 35, 8, 11, 11, 4, 2, 1, 0},  /* AlexNet conv1-like */
        {2, 13, 9, 11, 7, 3, 5, 1, 1, 1, 0},    /* non-square kernel */
        {5, 4, 8, 8, 6, 3, 3, 3, 0, 1, 0},      /* stride 3 */
        {2, 3, 7, 7, 4, 3, 3, 4, 1, 1, 0},      /* stride 4 */
        {1, 6, 14, 14, 16, 5, 5, 1, 0, 1, 0},   /* cifar10net conv2 */
        {3, 2, 6, 6, 3, 1, 1, 2, 0, 0, 0},      /* 1x1/2 shortcut */
        {4, 16, 15, 15, 33, 3, 3, 2, 1, 1, 0},  /* bigger GEMM, odd sizes */
        {2, 32, 8, 8, 64, 3, 3, 1, 1, 0, 0},
        {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0},      /* everything 1 */
        {2, 3, 7, 7, 5, 3, 3, 1, 1, 1, 2},      /* fused 2-bit activations */
        {1, 13, 9, 9, 4, 5, 5, 2, 2, 0, 4},
        {5, 3, 7, 7, 2, 3, 3, 1, 1, 1, 1},
        {2, 8, 11, 11, 6, 11, 11, 1, 5, 1, 8},
        /* output planes of >= 256 pixels: the CPU backend's per-image path */
        {3, 3, 17, 19, 5, 3, 3, 1, 1, 1, 0},
        {2, 5, 23, 21, 4, 5, 3, 1, 2, 0, 3},    /* + fused 3-bit activations */
        {2, 4, 33, 33, 6, 3, 3, 2, 1, 1, 0},
        {2, 7, 16, 16, 3, 1, 1, 1, 0, 1, 0},
        /* Vulkan row blocks of 8-32 pixels reading x as vec4s (XV4) at
         * phases 3, 2, 0, 1; few channels; the STE mask as vec4s; 20 wide
         * falls back to single-word reads */
        {1, 3, 32, 32, 16, 3, 3, 1, 1, 0, 0},
        {5, 1, 32, 32, 3, 3, 3, 2, 1, 1, 0},
        {2, 2, 48, 48, 4, 5, 5, 1, 2, 0, 0},
        {3, 4, 36, 36, 2, 5, 5, 1, 0, 1, 0},
        {2, 2, 16, 16, 3, 7, 7, 1, 3, 1, 0},
        {2, 3, 24, 24, 5, 3, 3, 1, 1, 0, 4},
        {5, 4, 20, 20, 3, 3, 3, 1, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_conv_case(cases[i]);
}


/* Results do not depend on the thread count: every CPU convolution path
 * (the direct engine, im2col + SGEMM for 1x1 and small planes) gives the
 * same bits with 1 and with 3 threads. The Vulkan backend has no thread
 * count; there this compares the device with itself. */
static void conv_run(sr_backend *be, const sr_conv2d_desc *d, const float *hx,
                     const float *hw, const float *hb, const float *hdy,
                     float *out, size_t nx, size_t nw, size_t ny)
{
    sr_buf *bx = NULL, *bw = NULL, *bb = NULL, *bdy = NULL, *by = NULL,
           *bdx = NULL, *bdw = NULL, *bdb = NULL;
    if (!OK(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, nx, &bx)) ||
        !OK(sr_buf_alloc(be, SR_POOL_WEIGHTS, nw, &bw)) ||
        !OK(sr_buf_alloc(be, SR_POOL_WEIGHTS, (size_t)d->k, &bb)) ||
        !OK(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, ny, &bdy)) ||
        !OK(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, ny, &by)) ||
        !OK(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, nx, &bdx)) ||
        !OK(sr_buf_alloc(be, SR_POOL_WEIGHTS, nw, &bdw)) ||
        !OK(sr_buf_alloc(be, SR_POOL_WEIGHTS, (size_t)d->k, &bdb)))
        goto out_free;
    OK(sr_buf_write(be, bx, 0, nx, hx));
    OK(sr_buf_write(be, bw, 0, nw, hw));
    OK(sr_buf_write(be, bb, 0, (size_t)d->k, hb));
    OK(sr_buf_write(be, bdy, 0, ny, hdy));
    OK(sr_conv2d_fwd(be, d, sr_at(bx, 0), sr_at(bw, 0), sr_at(bb, 0), sr_at(by, 0)));
    OK(sr_conv2d_bwd_data(be, d, sr_at(bdy, 0), sr_at(bw, 0), sr_at(bx, 0),
                          sr_at(bdx, 0)));
    OK(sr_conv2d_bwd_weight(be, d, sr_at(bx, 0), sr_at(bdy, 0), sr_at(bdw, 0),
                            sr_at(bdb, 0)));
    OK(sr_buf_read(be, by, 0, ny, out));
    OK(sr_buf_read(be, bdx, 0, nx, out + ny));
    OK(sr_buf_read(be, bdw, 0, nw, out + ny + nx));
    OK(sr_buf_read(be, bdb, 0, (size_t)d->k, out + ny + nx + nw));
out_free:
    sr_buf_free(be, bx); sr_buf_free(be, bw); sr_buf_free(be, bb);
    sr_buf_free(be, bdy); sr_buf_free(be, by); sr_buf_free(be, bdx);
    sr_buf_free(be, bdw); sr_buf_free(be, bdb);
}

static void test_conv_threads(void)
{
    static const sr_conv2d_desc cases[] = {
        /* n  c  h   w  k  kh kw st pad bias act */
        {5, 16, 32, 32, 16, 3, 3, 1, 1, 0, 0},  /* ResNet-20 stage 1 */
        {5, 16, 32, 32, 32, 3, 3, 2, 1, 0, 0},  /* downsampling */
        {5, 16, 32, 32, 32, 1, 1, 2, 0, 0, 0},  /* 1x1/2 shortcut */
        {7, 64, 8, 8, 64, 3, 3, 1, 1, 1, 4},    /* 8x8, bias, 4-bit acts */
        {6, 32, 4, 4, 40, 3, 3, 1, 1, 1, 0},    /* 4x4 plane */
        {4, 96, 2, 2, 80, 3, 3, 1, 1, 1, 0},    /* 2x2 plane, VGG-like */
        {3, 5, 19, 17, 7, 5, 3, 2, 2, 1, 3},
    };
    sr_backend *one = NULL, *three = NULL;
    sr_backend_opts o1 = {0}, o3 = {0};
    o1.threads = 1;
    o3.threads = 3;
    if (strcmp(sr_backend_name(g_be), "cpu")) {
        one = three = g_be;
    } else if (!OK(sr_backend_create("cpu", &o1, &one)) ||
               !OK(sr_backend_create("cpu", &o3, &three))) {
        goto out_free;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sr_conv2d_desc d = cases[i];
        size_t oh = (size_t)sr_conv2d_out_h(&d), ow = (size_t)sr_conv2d_out_w(&d);
        size_t nx = (size_t)d.n * d.c * d.h * d.w;
        size_t nw = (size_t)d.k * d.c * d.kh * d.kw, ny = (size_t)d.n * d.k * oh * ow;
        size_t tot = ny + nx + nw + (size_t)d.k;
        float *hx = malloc(nx * 4), *hw = malloc(nw * 4), *hb = malloc((size_t)d.k * 4),
              *hdy = malloc(ny * 4), *r1 = calloc(tot, 4), *r3 = calloc(tot, 4);
        if (hx && hw && hb && hdy && r1 && r3) {
            fill_f(hx, nx, -0.3, 1.3);
            fill_f(hw, nw, -1, 1);
            fill_f(hb, (size_t)d.k, -1, 1);
            fill_f(hdy, ny, -1, 1);
            conv_run(one, &d, hx, hw, hb, hdy, r1, nx, nw, ny);
            conv_run(three, &d, hx, hw, hb, hdy, r3, nx, nw, ny);
            if (!d.bias) memset(r1 + ny + nx + nw, 0, (size_t)d.k * 4),
                         memset(r3 + ny + nx + nw, 0, (size_t)d.k * 4);
            CHECK(memcmp(r1, r3, tot * 4) == 0,
                  "conv n%d c%d %dx%d k%d %dx%d s%d: 1 and 3 threads differ "
                  "(y %d, dx %d, dw %d)", d.n, d.c, d.h, d.w, d.k, d.kh, d.kw,
                  d.stride, memcmp(r1, r3, ny * 4) != 0,
                  memcmp(r1 + ny, r3 + ny, nx * 4) != 0,
                  memcmp(r1 + ny + nx, r3 + ny + nx, nw * 4) != 0);
        }
        free(hx); free(hw); free(hb); free(hdy); free(r1); free(r3);
    }
out_free:
    if (one && one != g_be) sr_backend_free(one);
    if (three && three != g_be) sr_backend_free(three);
}

/* ------------------------------------------------------------------ */
/* Depthwise convolution                                               */

static void test_dwconv_case(sr_conv2d_desc d)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "dwconv n%d c%d %dx%d %dx%d s%d p%d b%d a%d",
             d.n, d.c, d.h, d.w, d.kh, d.kw, d.stride, d.pad, d.bias,
             d.act_bits);
    int oh = ref_conv_out_h(&d), ow = ref_conv_out_w(&d);
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.c * d.kh * d.kw;
    size_t ny = (size_t)d.n * d.c * oh * ow;
    slab s;
    slab_init(&s);
    int x = slab_in(&s, nx), w = slab_in(&s, nw), b = slab_in(&s, d.c),
        dy = slab_in(&s, ny), y = slab_out(&s, ny), dx = slab_out(&s, nx),
        dw = slab_out(&s, nw), db = slab_out(&s, d.c);
    if (!slab_alloc(&s)) return;
    if (d.act_bits) {
        fill_f(F(&s, x), nx, -0.3, 1.3);
        nudge_q(F(&s, x), nx, d.act_bits);
    } else {
        fill_f(F(&s, x), nx, -1, 1);
    }
    fill_f(F(&s, w), nw, -1, 1);
    fill_f(F(&s, b), d.c, -1, 1);
    fill_f(F(&s, dy), ny, -1, 1);
    double *rx = dv(F(&s, x), nx), *rw = dv(F(&s, w), nw), *rb = dv(F(&s, b), d.c);
    double *rdy = dv(F(&s, dy), ny);
    slab_upload(&s);
    OK(sr_dwconv2d_fwd(g_be, &d, V(&s, x), V(&s, w), V(&s, b), V(&s, y)));
    OK(sr_dwconv2d_bwd_data(g_be, &d, V(&s, dy), V(&s, w), V(&s, x), V(&s, dx)));
    OK(sr_dwconv2d_bwd_weight(g_be, &d, V(&s, x), V(&s, dy), V(&s, dw),
                              V(&s, db)));
    if (!d.bias) s.out[db] = 0;
    if (slab_download(&s, name)) {
        double *ry = dz(ny), *rdx = dz(nx), *rdw = dz(nw), *rdb = dz(d.c);
        ref_dwconv2d_fwd(&d, rx, rw, rb, ry);
        ref_dwconv2d_bwd_data(&d, rdy, rw, rx, rdx);
        ref_dwconv2d_bwd_weight(&d, rx, rdy, rdw, rdb);
        snprintf(what, sizeof what, "%s fwd", name);
        cmp(what, F(&s, y), ry, ny, TOL_GEMM, 1);
        snprintf(what, sizeof what, "%s bwd_data", name);
        cmp(what, F(&s, dx), rdx, nx, TOL_GEMM, 1);
        snprintf(what, sizeof what, "%s bwd_weight dw", name);
        cmp(what, F(&s, dw), rdw, nw, TOL_GEMM, 1);
        if (d.bias) {
            snprintf(what, sizeof what, "%s bwd_weight db", name);
            cmp(what, F(&s, db), rdb, d.c, TOL_GEMM, 1);
        }
    }
    slab_free(&s);
    scratch_free();
}

/* The three ops' outputs (y, dx, dw, db laid end to end) on backend be. */
static void dwconv_run(sr_backend *be, const sr_conv2d_desc *d,
                       const float *hx, const float *hw, const float *hb,
                       const float *hdy, float *out, size_t nx, size_t nw,
                       size_t ny)
{
    sr_buf *bx = NULL, *bw = NULL, *bb = NULL, *bdy = NULL, *by = NULL,
           *bdx = NULL, *bdw = NULL, *bdb = NULL;
    size_t nc = (size_t)d->c;
    if (!OK(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, nx, &bx)) ||
        !OK(sr_buf_alloc(be, SR_POOL_WEIGHTS, nw, &bw)) ||
        !OK(sr_buf_alloc(be, SR_POOL_WEIGHTS, nc, &bb)) ||
        !OK(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, ny, &bdy)) ||
        !OK(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, ny, &by)) ||
        !OK(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, nx, &bdx)) ||
        !OK(sr_buf_alloc(be, SR_POOL_WEIGHTS, nw, &bdw)) ||
        !OK(sr_buf_alloc(be, SR_POOL_WEIGHTS, nc, &bdb)))
        goto out_free;
    OK(sr_buf_write(be, bx, 0, nx, hx));
    OK(sr_buf_write(be, bw, 0, nw, hw));
    OK(sr_buf_write(be, bb, 0, nc, hb));
    OK(sr_buf_write(be, bdy, 0, ny, hdy));
    OK(sr_dwconv2d_fwd(be, d, sr_at(bx, 0), sr_at(bw, 0), sr_at(bb, 0),
                       sr_at(by, 0)));
    OK(sr_dwconv2d_bwd_data(be, d, sr_at(bdy, 0), sr_at(bw, 0), sr_at(bx, 0),
                            sr_at(bdx, 0)));
    OK(sr_dwconv2d_bwd_weight(be, d, sr_at(bx, 0), sr_at(bdy, 0),
                              sr_at(bdw, 0), sr_at(bdb, 0)));
    OK(sr_buf_read(be, by, 0, ny, out));
    OK(sr_buf_read(be, bdx, 0, nx, out + ny));
    OK(sr_buf_read(be, bdw, 0, nw, out + ny + nx));
    OK(sr_buf_read(be, bdb, 0, nc, out + ny + nx + nw));
out_free:
    sr_buf_free(be, bx); sr_buf_free(be, bw); sr_buf_free(be, bb);
    sr_buf_free(be, bdy); sr_buf_free(be, by); sr_buf_free(be, bdx);
    sr_buf_free(be, bdw); sr_buf_free(be, bdb);
}

/* Against the reference on odd shapes (1-13 channels, batch 1 and 5,
 * strides 1-2, kernels 1, 3, 5, fused activation bits); then the same bits
 * on every run, and (CPU) with 1 and 3 threads. */
static void test_dwconv(void)
{
    static const sr_conv2d_desc cases[] = {
        /* n  c  h   w  k=c kh kw st pad bias act */
        {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0},      /* everything 1 */
        {1, 3, 7, 7, 3, 3, 3, 1, 1, 1, 0},
        {5, 13, 9, 11, 13, 3, 3, 2, 1, 0, 0},
        {5, 7, 8, 8, 7, 1, 1, 2, 0, 1, 0},
        {1, 5, 13, 12, 5, 5, 5, 1, 2, 1, 0},
        {5, 2, 11, 9, 2, 5, 5, 2, 2, 0, 0},
        {1, 11, 5, 5, 11, 5, 5, 1, 0, 1, 0},    /* kernel = image */
        {5, 4, 6, 7, 4, 3, 5, 1, 1, 1, 0},      /* non-square kernel */
        {5, 6, 10, 10, 6, 3, 3, 1, 1, 0, 4},    /* fused 4-bit activations */
        {1, 9, 7, 9, 9, 3, 3, 2, 1, 1, 2},
        {5, 1, 12, 12, 1, 5, 5, 2, 1, 1, 1},
        {2, 12, 16, 16, 12, 3, 3, 1, 1, 0, 3},
        {3, 8, 4, 4, 8, 3, 3, 4, 2, 1, 0},      /* stride 4 */
        {2, 16, 32, 32, 16, 3, 3, 1, 1, 0, 0},  /* MobileNet's first stage */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_dwconv_case(cases[i]);

    sr_backend *one = NULL, *three = NULL;
    sr_backend_opts o1 = {0}, o3 = {0};
    o1.threads = 1;
    o3.threads = 3;
    if (strcmp(sr_backend_name(g_be), "cpu")) {
        one = three = g_be;
    } else if (!OK(sr_backend_create("cpu", &o1, &one)) ||
               !OK(sr_backend_create("cpu", &o3, &three))) {
        goto out_free;
    }
    static const sr_conv2d_desc tcases[] = {
        {5, 13, 17, 15, 13, 3, 3, 1, 1, 1, 0},
        {5, 32, 16, 16, 32, 3, 3, 2, 1, 0, 4},
        {3, 7, 9, 9, 7, 5, 5, 2, 2, 1, 0},
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        sr_conv2d_desc d = tcases[i];
        size_t oh = (size_t)sr_conv2d_out_h(&d), ow = (size_t)sr_conv2d_out_w(&d);
        size_t nx = (size_t)d.n * d.c * d.h * d.w;
        size_t nw = (size_t)d.c * d.kh * d.kw, ny = (size_t)d.n * d.c * oh * ow;
        size_t tot = ny + nx + nw + (size_t)d.c;
        float *hx = malloc(nx * 4), *hw = malloc(nw * 4),
              *hb = malloc((size_t)d.c * 4), *hdy = malloc(ny * 4),
              *r1 = calloc(tot, 4), *r3 = calloc(tot, 4), *r3b = calloc(tot, 4);
        if (hx && hw && hb && hdy && r1 && r3 && r3b) {
            fill_f(hx, nx, -0.3, 1.3);
            fill_f(hw, nw, -1, 1);
            fill_f(hb, (size_t)d.c, -1, 1);
            fill_f(hdy, ny, -1, 1);
            dwconv_run(one, &d, hx, hw, hb, hdy, r1, nx, nw, ny);
            dwconv_run(three, &d, hx, hw, hb, hdy, r3, nx, nw, ny);
            dwconv_run(three, &d, hx, hw, hb, hdy, r3b, nx, nw, ny);
            if (!d.bias) {
                memset(r1 + ny + nx + nw, 0, (size_t)d.c * 4);
                memset(r3 + ny + nx + nw, 0, (size_t)d.c * 4);
                memset(r3b + ny + nx + nw, 0, (size_t)d.c * 4);
            }
            CHECK(memcmp(r3, r3b, tot * 4) == 0,
                  "dwconv n%d c%d %dx%d: two runs differ", d.n, d.c, d.h, d.w);
            CHECK(memcmp(r1, r3, tot * 4) == 0,
                  "dwconv n%d c%d %dx%d %dx%d s%d: 1 and 3 threads differ "
                  "(y %d, dx %d, dw %d)", d.n, d.c, d.h, d.w, d.kh, d.kw,
                  d.stride, memcmp(r1, r3, ny * 4) != 0,
                  memcmp(r1 + ny, r3 + ny, nx * 4) != 0,
                  memcmp(r1 + ny + nx, r3 + ny + nx, nw * 4) != 0);
        }
        free(hx); free(hw); free(hb); free(hdy); free(r1); free(r3); free(r3b);
    }
out_free:
    if (one && one != g_be) sr_backend_free(one);
    if (three && three != g_be) sr_backend_free(three);
}

/* ------------------------------------------------------------------ */
/* Linear                                                              */

static void test_linear_case(sr_linear_desc d)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "linear n%d in%d out%d b%d a%d", d.n, d.in,
             d.out, d.bias, d.act_bits);
    size_t nx = (size_t)d.n * d.in, nw = (size_t)d.out * d.in,
           ny = (size_t)d.n * d.out;
    slab s;
    slab_init(&s);
    int x = slab_in(&s, nx), w = slab_in(&s, nw), b = slab_in(&s, d.out),
        dy = slab_in(&s, ny), y = slab_out(&s, ny), dx = slab_out(&s, nx),
        dw = slab_out(&s, nw), db = slab_out(&s, d.out);
    if (!slab_alloc(&s)) return;
    if (d.act_bits) {
        fill_f(F(&s, x), nx, -0.3, 1.3);
        nudge_q(F(&s, x), nx, d.act_bits);
    } else {
        fill_f(F(&s, x), nx, -1, 1);
    }
    fill_f(F(&s, w), nw, -1, 1);
    fill_f(F(&s, b), d.out, -1, 1);
    fill_f(F(&s, dy), ny, -1, 1);
    double *rx = dv(F(&s, x), nx), *rw = dv(F(&s, w), nw),
           *rb = dv(F(&s, b), d.out), *rdy = dv(F(&s, dy), ny);
    slab_upload(&s);
    OK(sr_linear_fwd(g_be, &d, V(&s, x), V(&s, w), V(&s, b), V(&s, y)));
    OK(sr_linear_bwd_data(g_be, &d, V(&s, dy), V(&s, w), V(&s, x), V(&s, dx)));
    OK(sr_linear_bwd_weight(g_be, &d, V(&s, x), V(&s, dy), V(&s, dw), V(&s, db)));
    if (!d.bias) s.out[db] = 0;
    if (slab_download(&s, name)) {
        double *ry = dz(ny), *rdx = dz(nx), *rdw = dz(nw), *rdb = dz(d.out);
        ref_linear_fwd(&d, rx, rw, rb, ry);
        ref_linear_bwd_data(&d, rdy, rw, rx, rdx);
        ref_linear_bwd_weight(&d, rx, rdy, rdw, rdb);
        snprintf(what, sizeof what, "%s fwd", name);
        cmp(what, F(&s, y), ry, ny, TOL_GEMM, 1);
        snprintf(what, sizeof what, "%s bwd_data", name);
        cmp(what, F(&s, dx), rdx, nx, TOL_GEMM, 1);
        snprintf(what, sizeof what, "%s bwd_weight dw", name);
        cmp(what, F(&s, dw), rdw, nw, TOL_GEMM, 1);
        if (d.bias) {
            snprintf(what, sizeof what, "%s bwd_weight db", name);
            cmp(what, F(&s, db), rdb, d.out, TOL_GEMM, 1);
        }
    }
    slab_free(&s);
    scratch_free();
}

static void test_linear(void)
{
    static const sr_linear_desc cases[] = {
        {1, 7, 3, 1, 0},   {5, 13, 10, 1, 0}, {4, 400, 120, 1, 0},
        {3, 257, 33, 0, 0}, {8, 512, 10, 1, 0}, {1, 1, 1, 1, 0},
        {17, 84, 10, 1, 0}, {5, 64, 17, 1, 3},  {2, 13, 5, 0, 1},
        {3, 100, 9, 1, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_linear_case(cases[i]);
}

/* ------------------------------------------------------------------ */
/* Batch norm                                                          */

static void test_bn_case(sr_bn_desc d)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "bn n%d c%d hw%d eps%g mom%g%s", d.n, d.c,
             d.hw, (double)d.eps, (double)d.momentum, d.relu ? " relu" : "");
    size_t nx = (size_t)d.n * d.c * d.hw, C = (size_t)d.c;
    slab s;
    slab_init(&s);
    int x = slab_in(&s, nx), g = slab_in(&s, C), be = slab_in(&s, C),
        dy = slab_in(&s, nx), erm = slab_in(&s, C), erv = slab_in(&s, C),
        rm = slab_out(&s, C), rv = slab_out(&s, C), sm = slab_out(&s, C),
        si = slab_out(&s, C), y = slab_out(&s, nx), ye = slab_out(&s, nx),
        dx = slab_out(&s, nx), dg = slab_out(&s, C), db = slab_out(&s, C),
        ye0 = slab_out(&s, nx);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, x), nx, 1, 3);
    fill_f(F(&s, g), C, 0.5, 1.5);
    fill_f(F(&s, be), C, -1, 1);
    fill_f(F(&s, dy), nx, -1, 1);
    fill_f(F(&s, rm), C, -1, 1);  /* running stats: in/out */
    fill_f(F(&s, rv), C, 0.5, 2);
    fill_f(F(&s, erm), C, 1, 3);  /* eval stats */
    fill_f(F(&s, erv), C, 0.1, 2);
    double *rx = dv(F(&s, x), nx), *rg = dv(F(&s, g), C), *rbe = dv(F(&s, be), C),
           *rdy = dv(F(&s, dy), nx), *rrm = dv(F(&s, rm), C),
           *rrv = dv(F(&s, rv), C), *rerm = dv(F(&s, erm), C),
           *rerv = dv(F(&s, erv), C);
    slab_upload(&s);
    OK(sr_bn_fwd_train(g_be, &d, V(&s, x), V(&s, g), V(&s, be), V(&s, rm),
                       V(&s, rv), V(&s, sm), V(&s, si), V(&s, y)));
    OK(sr_bn_fwd_eval(g_be, &d, V(&s, x), V(&s, g), V(&s, be), V(&s, erm),
                      V(&s, erv), V(&s, ye)));
    sr_bn_desc unfused = d;
    unfused.relu = 0;  /* the fused ReLU must equal max(unfused, 0) bitwise */
    OK(sr_bn_fwd_eval(g_be, &unfused, V(&s, x), V(&s, g), V(&s, be),
                      V(&s, erm), V(&s, erv), V(&s, ye0)));
    OK(sr_bn_bwd(g_be, &d, V(&s, x), V(&s, dy), V(&s, g), V(&s, sm), V(&s, si),
                 V(&s, dx), V(&s, dg), V(&s, db)));
    if (slab_download(&s, name)) {
        double *ry = dz(nx), *rsm = dz(C), *rsi = dz(C), *rye = dz(nx),
               *rdx = dz(nx), *rdg = dz(C), *rdb = dz(C);
        ref_bn_fwd_train(&d, rx, rg, rbe, rrm, rrv, rsm, rsi, ry);
        ref_bn_fwd_eval(&d, rx, rg, rbe, rerm, rerv, rye);
        /* backward gets the statistics the backend saved (its inputs):
         * with few values per channel, x - mean cancels so strongly that
         * the float32 rounding of save_mean alone moves dx by ~1e-3 */
        double *bsm = dv(F(&s, sm), C), *bsi = dv(F(&s, si), C);
        ref_bn_bwd(&d, rx, rdy, rg, bsm, bsi, rdx, rdg, rdb);
        snprintf(what, sizeof what, "%s train y", name);
        cmp(what, F(&s, y), ry, nx, TOL_BN, 1);
        snprintf(what, sizeof what, "%s save_mean", name);
        cmp(what, F(&s, sm), rsm, C, TOL_BN, 1);
        snprintf(what, sizeof what, "%s save_invstd", name);
        cmp(what, F(&s, si), rsi, C, TOL_BN, 1);
        snprintf(what, sizeof what, "%s run_mean", name);
        cmp(what, F(&s, rm), rrm, C, TOL_BN, 1);
        snprintf(what, sizeof what, "%s run_var (unbiased)", name);
        cmp(what, F(&s, rv), rrv, C, TOL_BN, 1);
        snprintf(what, sizeof what, "%s eval y", name);
        cmp(what, F(&s, ye), rye, nx, TOL_BN, 1);
        if (d.relu) {
            double *rmax = dz(nx);
            for (size_t i = 0; i < nx; i++)
                rmax[i] = F(&s, ye0)[i] > 0.0f ? F(&s, ye0)[i] : 0.0f;
            snprintf(what, sizeof what, "%s eval y = max(unfused y, 0)", name);
            cmp(what, F(&s, ye), rmax, nx, 0, 1);
        }
        snprintf(what, sizeof what, "%s bwd dx", name);
        cmp(what, F(&s, dx), rdx, nx, TOL_BN, 1);
        snprintf(what, sizeof what, "%s bwd dgamma", name);
        cmp(what, F(&s, dg), rdg, C, TOL_BN, 1);
        snprintf(what, sizeof what, "%s bwd dbeta", name);
        cmp(what, F(&s, db), rdb, C, TOL_BN, 1);
    }
    slab_free(&s);
    scratch_free();
}

static void test_bn(void)
{
    static const sr_bn_desc cases[] = {
        {5, 3, 49, 1e-5f, 0.1f, 0}, {1, 13, 49, 1e-5f, 0.1f, 0},
        {2, 16, 1, 1e-5f, 0.1f, 0}, {4, 7, 9, 1e-3f, 0.5f, 0},
        {8, 64, 64, 1e-5f, 0.1f, 0}, {3, 5, 1, 1e-5f, 1.0f, 0},
        {2, 4, 33, 1e-5f, 0.0f, 0}, {5, 3, 49, 1e-5f, 0.1f, 1},
        {1, 13, 49, 1e-5f, 0.1f, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_bn_case(cases[i]);
}

/* ------------------------------------------------------------------ */
/* ReLU, dropout                                                       */

static void test_relu(void)
{
    size_t sizes[] = {1, 7, 1000, 40001};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char what[64];
        slab s;
        slab_init(&s);
        int x = slab_in(&s, n), dy = slab_in(&s, n), y = slab_out(&s, n),
            xa = slab_out(&s, n), dx = slab_out(&s, n);
        if (!slab_alloc(&s)) continue;
        fill_f(F(&s, x), n, -1, 1);
        F(&s, x)[0] = 0.0f; /* relu(0) = 0 and gradient 0 there */
        fill_f(F(&s, dy), n, -1, 1);
        memcpy(F(&s, xa), F(&s, x), n * 4);
        double *rx = dv(F(&s, x), n), *rdy = dv(F(&s, dy), n);
        slab_upload(&s);
        OK(sr_relu_fwd(g_be, n, V(&s, x), V(&s, y)));
        OK(sr_relu_fwd(g_be, n, V(&s, xa), V(&s, xa))); /* in place */
        OK(sr_relu_bwd(g_be, n, V(&s, y), V(&s, dy), V(&s, dx)));
        snprintf(what, sizeof what, "relu n=%zu", n);
        if (slab_download(&s, what)) {
            double *ry = dz(n), *rdx = dz(n);
            ref_relu_fwd(n, rx, ry);
            ref_relu_bwd(n, ry, rdy, rdx);
            snprintf(what, sizeof what, "relu fwd n=%zu", n);
            cmp(what, F(&s, y), ry, n, 0, 1);
            snprintf(what, sizeof what, "relu fwd in place n=%zu", n);
            cmp(what, F(&s, xa), ry, n, 0, 1);
            snprintf(what, sizeof what, "relu bwd n=%zu", n);
            cmp(what, F(&s, dx), rdx, n, 0, 1);
        }
        slab_free(&s);
        scratch_free();
    }
}

static void test_dropout_case(size_t n, float p)
{
    char name[96], what[160];
    snprintf(name, sizeof name, "dropout n=%zu p=%g", n, (double)p);
    const int slot = 5;
    sr_dropout_desc d = {n, p, 0xC0FFEEu, 3, slot};
    slab s;
    slab_init(&s);
    int x = slab_in(&s, n), dy = slab_in(&s, n), y1 = slab_out(&s, n),
        y1b = slab_out(&s, n), y2 = slab_out(&s, n), dx = slab_out(&s, n);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, x), n, 0.5, 1.5); /* nonzero, so y == 0 <=> dropped */
    fill_f(F(&s, dy), n, 0.5, 1.5);
    double *rx = dv(F(&s, x), n), *rdy = dv(F(&s, dy), n);
    slab_upload(&s);
    OK(sr_backend_set_scalar_u(g_be, slot, 41));
    OK(sr_dropout_fwd(g_be, &d, V(&s, x), V(&s, y1)));
    OK(sr_dropout_bwd(g_be, &d, V(&s, dy), V(&s, dx)));
    OK(sr_dropout_fwd(g_be, &d, V(&s, x), V(&s, y1b)));
    /* an eager op uses the slot's value at the time of the call (the
     * backend flushes pending work before a slot changes) */
    OK(sr_backend_set_scalar_u(g_be, slot, 42));
    OK(sr_dropout_fwd(g_be, &d, V(&s, x), V(&s, y2)));
    if (slab_download(&s, name)) {
        double *ry1 = dz(n), *ry2 = dz(n), *rdx = dz(n);
        ref_dropout_fwd(&d, 41, rx, ry1);
        ref_dropout_fwd(&d, 42, rx, ry2);
        ref_dropout_bwd(&d, 41, rdy, rdx);
        /* the mask: exact */
        size_t mask_bad = 0, dropped = 0, bwd_bad = 0, differ = 0;
        for (size_t i = 0; i < n; i++) {
            int keep = ref_dropout_keep(&d, 41, i);
            dropped += !keep;
            mask_bad += (F(&s, y1)[i] != 0.0f) != keep;
            bwd_bad += (F(&s, dx)[i] != 0.0f) != keep;
            differ += (F(&s, y1)[i] != 0.0f) != (F(&s, y2)[i] != 0.0f);
        }
        CHECK(mask_bad == 0, "%s: forward mask differs from "
              "sr_rng_uniform(key(seed,stream,41), i) >= p at %zu elements",
              name, mask_bad);
        CHECK(bwd_bad == 0, "%s: backward mask differs from the forward's at "
              "%zu elements", name, bwd_bad);
        snprintf(what, sizeof what, "%s fwd", name);
        cmp(what, F(&s, y1), ry1, n, TOL_EW, 1);
        snprintf(what, sizeof what, "%s bwd", name);
        cmp(what, F(&s, dx), rdx, n, TOL_EW, 1);
        snprintf(what, sizeof what, "%s fwd step 42", name);
        cmp(what, F(&s, y2), ry2, n, TOL_EW, 1);
        CHECK(memcmp(F(&s, y1), F(&s, y1b), n * 4) == 0,
              "%s: same (seed, stream, step) gave a different result", name);
        /* dropped fraction ~ p (binomial, 5 sigma + 1 element) */
        double sd = sqrt((double)p * (1 - p) / n);
        double frac = (double)dropped / n;
        CHECK(fabs(frac - p) <= 5 * sd + 1.0 / n, "%s: dropped %.4f, want %g",
              name, frac, (double)p);
        /* another step: masks differ in ~2p(1-p) of elements */
        if (p > 0 && n >= 1000) {
            double e = 2.0 * p * (1 - p), fd = (double)differ / n;
            CHECK(fabs(fd - e) <= 5 * sqrt(e * (1 - e) / n),
                  "%s: steps 41 and 42 masks differ in %.4f of elements, want "
                  "~%.4f", name, fd, e);
        }
    }
    slab_free(&s);
    scratch_free();
}

/* The mask is u >= p, not u > p: find a seed whose draw for some element
 * is exactly 0.5 and check that element is kept at p = 0.5. */
static void test_dropout_boundary(void)
{
    const size_t n = 64;
    uint32_t seed = 0, hit = 0;
    int found = 0;
    for (seed = 0; seed < (1u << 22) && !found; seed++)
        for (uint32_t i = 0; i < n && !found; i++)
            if (sr_rng_uniform(sr_rng_key(seed, 1, 0), i) == 0.5f) {
                found = 1;
                hit = i;
            }
    seed--;
    CHECK(found, "no seed below 2^22 with a draw of exactly 0.5");
    if (!found) return;
    sr_dropout_desc d = {n, 0.5f, seed, 1, 6};
    slab s;
    slab_init(&s);
    int x = slab_in(&s, n), y = slab_out(&s, n);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, x), n, 0.5, 1.5);
    slab_upload(&s);
    OK(sr_backend_set_scalar_u(g_be, 6, 0));
    OK(sr_dropout_fwd(g_be, &d, V(&s, x), V(&s, y)));
    if (slab_download(&s, "dropout u == p"))
        CHECK(F(&s, y)[hit] == 2.0f * F(&s, x)[hit],
              "dropout: element %u with draw exactly p = 0.5 (seed %u) gave %g, "
              "want kept (u >= p) = %g", hit, seed, (double)F(&s, y)[hit],
              2.0 * F(&s, x)[hit]);
    slab_free(&s);
}

static void test_dropout(void)
{
    test_dropout_boundary();
    test_dropout_case(1000, 0.0f);
    test_dropout_case(1000, 0.3f);
    test_dropout_case(4097, 0.5f);
    test_dropout_case(100003, 0.3f);
    test_dropout_case(7, 0.9f);
}

/* ------------------------------------------------------------------ */
/* Pooling                                                             */

enum { DATA_RANDOM, DATA_TIES, DATA_NEGATIVE };

static void test_maxpool_case(sr_pool_desc d, int data)
{
    static const char *const dn[] = {"random", "ties", "negative"};
    char name[128], what[192];
    snprintf(name, sizeof name, "maxpool n%d c%d %dx%d k%d s%d p%d %s", d.n,
             d.c, d.h, d.w, d.k, d.stride, d.pad, dn[data]);
    int oh = ref_pool_out_h(&d), ow = ref_pool_out_w(&d);
    CHECK(sr_pool_out_h(&d) == oh && sr_pool_out_w(&d) == ow,
          "%s: sr_pool_out_h/w %dx%d, want %dx%d", name, sr_pool_out_h(&d),
          sr_pool_out_w(&d), oh, ow);
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * oh * ow;
    slab s;
    slab_init(&s);
    int x = slab_in(&s, nx), dy = slab_in(&s, ny), y = slab_out(&s, ny),
        idx = slab_out(&s, ny), dx = slab_out(&s, nx);
    if (!slab_alloc(&s)) return;
    float *xf = F(&s, x);
    for (size_t i = 0; i < nx; i++) {
        if (data == DATA_RANDOM) xf[i] = (float)rnd_range(-1, 1);
        else if (data == DATA_TIES) xf[i] = (float)rnd_int(-2, 1);
        else xf[i] = (float)rnd_range(-3, -1);
    }
    fill_f(F(&s, dy), ny, -1, 1);
    double *rx = dv(xf, nx), *rdy = dv(F(&s, dy), ny);
    slab_upload(&s);
    OK(sr_maxpool_fwd(g_be, &d, V(&s, x), V(&s, y), V(&s, idx)));
    OK(sr_maxpool_bwd(g_be, &d, V(&s, dy), V(&s, idx), V(&s, dx)));
    if (slab_download(&s, name)) {
        double *ry = dz(ny), *rdx = dz(nx);
        uint32_t *ridx = scratch(ny * sizeof *ridx);
        ref_maxpool_fwd(&d, rx, ry, ridx);
        ref_maxpool_bwd(&d, rdy, ridx, rdx);
        snprintf(what, sizeof what, "%s y", name);
        cmp(what, F(&s, y), ry, ny, 0, 1);
        snprintf(what, sizeof what, "%s idx", name);
        cmp_u32(what, U(&s, idx), ridx, ny);
        snprintf(what, sizeof what, "%s bwd", name);
        cmp(what, F(&s, dx), rdx, nx, TOL_POOL, 1);
    }
    slab_free(&s);
    scratch_free();
}

static void test_avgpool_case(sr_avgpool_desc d)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "avgpool n%d c%d %dx%d -> %dx%d", d.n, d.c,
             d.h, d.w, d.oh, d.ow);
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * d.oh * d.ow;
    slab s;
    slab_init(&s);
    int x = slab_in(&s, nx), dy = slab_in(&s, ny), y = slab_out(&s, ny),
        dx = slab_out(&s, nx);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, x), nx, -1, 1);
    fill_f(F(&s, dy), ny, -1, 1);
    double *rx = dv(F(&s, x), nx), *rdy = dv(F(&s, dy), ny);
    slab_upload(&s);
    OK(sr_avgpool_fwd(g_be, &d, V(&s, x), V(&s, y)));
    OK(sr_avgpool_bwd(g_be, &d, V(&s, dy), V(&s, dx)));
    if (slab_download(&s, name)) {
        double *ry = dz(ny), *rdx = dz(nx);
        ref_avgpool_fwd(&d, rx, ry);
        ref_avgpool_bwd(&d, rdy, rdx);
        snprintf(what, sizeof what, "%s fwd", name);
        cmp(what, F(&s, y), ry, ny, TOL_POOL, 1);
        snprintf(what, sizeof what, "%s bwd", name);
        cmp(what, F(&s, dx), rdx, nx, TOL_POOL, 1);
    }
    slab_free(&s);
    scratch_free();
}

static void test_pool(void)
{
    static const sr_pool_desc mp[] = {
        {2, 3, 7, 7, 2, 2, 0},   {1, 13, 13, 13, 3, 2, 0}, /* AlexNet 3/2 */
        {5, 3, 7, 7, 3, 2, 1},   {1, 2, 32, 32, 2, 2, 0},
        {2, 4, 9, 11, 3, 1, 1},  {1, 3, 8, 8, 4, 4, 0},
        {2, 5, 55, 55, 3, 2, 0}, {1, 1, 1, 1, 1, 1, 0},
        {3, 2, 5, 5, 5, 1, 2},
    };
    for (size_t i = 0; i < sizeof mp / sizeof mp[0]; i++) {
        test_maxpool_case(mp[i], DATA_RANDOM);
        test_maxpool_case(mp[i], DATA_TIES);
        if (mp[i].pad) test_maxpool_case(mp[i], DATA_NEGATIVE);
    }
    static const sr_avgpool_desc ap[] = {
        {2, 3, 13, 13, 6, 6}, /* AlexNet's adaptive 6x6 */
        {5, 13, 7, 7, 1, 1},  /* global */
        {1, 64, 8, 8, 1, 1},  {2, 3, 5, 9, 3, 4}, {1, 2, 6, 6, 6, 6},
        {1, 2, 5, 5, 6, 6},   /* more bins than pixels (PyTorch allows it) */
        {3, 7, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof ap / sizeof ap[0]; i++) test_avgpool_case(ap[i]);
}

/* ------------------------------------------------------------------ */
/* Softmax cross-entropy, top-1                                        */

static void test_xent_case_eps(int n, int classes, double lo, double hi,
                               float eps)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "softmax_xent n%d classes%d logits[%g,%g] "
             "smoothing %g", n, classes, lo, hi, (double)eps);
    size_t nl = (size_t)n * classes;
    slab s;
    slab_init(&s);
    int z = slab_in(&s, nl), lab = slab_in(&s, (size_t)n), loss = slab_out(&s, 1),
        dz_ = slab_out(&s, nl), cor = slab_out(&s, 1);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, z), nl, lo, hi);
    for (int i = 0; i < n; i++) U(&s, lab)[i] = (uint32_t)rnd_int(0, classes - 1);
    /* make some rows correct so top1 counts something */
    for (int i = 0; i < n; i += 2) F(&s, z)[(size_t)i * classes + U(&s, lab)[i]] = (float)(hi + 1);
    double *rz = dv(F(&s, z), nl);
    uint32_t *rlab = scratch((size_t)n * 4);
    memcpy(rlab, U(&s, lab), (size_t)n * 4);
    slab_upload(&s);
    if (eps == 0.0f)
        OK(sr_softmax_xent(g_be, n, classes, V(&s, z), V(&s, lab), V(&s, loss), V(&s, dz_)));
    else
        OK(sr_softmax_xent_smooth(g_be, n, classes, eps, V(&s, z), V(&s, lab),
                                  V(&s, loss), V(&s, dz_)));
    OK(sr_top1_count(g_be, n, classes, V(&s, z), V(&s, lab), V(&s, cor)));
    if (slab_download(&s, name)) {
        double *rdz = dz(nl);
        double rl = eps == 0.0f
            ? ref_softmax_xent(n, classes, rz, rlab, rdz)
            : ref_softmax_xent_smooth(n, classes, eps, rz, rlab, rdz);
        uint32_t rc = ref_top1_count(n, classes, rz, rlab);
        snprintf(what, sizeof what, "%s loss", name);
        cmp(what, F(&s, loss), &rl, 1, TOL_XENT, 1);
        snprintf(what, sizeof what, "%s dlogits", name);
        cmp(what, F(&s, dz_), rdz, nl, TOL_XENT, 0);
        snprintf(what, sizeof what, "%s top1", name);
        cmp_u32(what, U(&s, cor), &rc, 1);
    }
    slab_free(&s);
    scratch_free();
}

static void test_xent_case(int n, int classes, double lo, double hi)
{
    test_xent_case_eps(n, classes, lo, hi, 0.0f);
}

static void test_top1_ties(void)
{
    /* arg-max first on ties: row 0 tie at 1 and 3, label 1 -> correct;
     * row 1 same tie, label 3 -> wrong; row 2 all equal, label 0 -> correct */
    slab s;
    slab_init(&s);
    int z = slab_in(&s, 12), lab = slab_in(&s, 3), cor = slab_out(&s, 1);
    if (!slab_alloc(&s)) return;
    float zz[12] = {0, 4, 1, 4, 0, 4, 1, 4, 2, 2, 2, 2};
    uint32_t ll[3] = {1, 3, 0};
    memcpy(F(&s, z), zz, sizeof zz);
    memcpy(U(&s, lab), ll, sizeof ll);
    slab_upload(&s);
    OK(sr_top1_count(g_be, 3, 4, V(&s, z), V(&s, lab), V(&s, cor)));
    if (slab_download(&s, "top1 ties"))
        CHECK(U(&s, cor)[0] == 2, "top1 with ties: %u correct, want 2 (first "
              "arg-max wins)", U(&s, cor)[0]);
    slab_free(&s);
}

static void test_xent(void)
{
    test_xent_case(1, 2, -3, 3);
    test_xent_case(5, 10, -3, 3);
    test_xent_case(3, 1000, -3, 3);
    test_xent_case(7, 13, 50, 80); /* large logits: must not overflow */
    test_xent_case(256, 10, -10, 10);
    /* label smoothing: several rows per workgroup strip, many classes */
    test_xent_case_eps(5, 10, -3, 3, 0.1f);
    test_xent_case_eps(3, 1000, -3, 3, 0.2f);
    test_xent_case_eps(7, 13, 50, 80, 0.05f);
    test_top1_ties();
}

/* ------------------------------------------------------------------ */
/* SGD                                                                 */

/* nesterov; gscale 0: no grad_scale_slot, else a scale per step from slot
 * 10 (gradient clipping) */
static void test_sgd_case_ex(size_t n, float mom, float wd, int nesterov,
                             float gscale)
{
    char name[128];
    snprintf(name, sizeof name, "sgd n=%zu mom=%g wd=%g nesterov=%d "
             "gscale=%g (3 steps)", n, (double)mom, (double)wd, nesterov,
             (double)gscale);
    sr_sgd_desc d = {n, mom, wd, 9, nesterov, gscale != 0.0f ? 10 : 0};
    slab s;
    slab_init(&s);
    int g = slab_in(&s, n), w = slab_out(&s, n), v = slab_out(&s, n);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, w), n, -1, 1);
    fill_f(F(&s, g), n, -1, 1);
    fill_f(F(&s, v), n, -0.1, 0.1);
    double *rw = dv(F(&s, w), n), *rg = dv(F(&s, g), n), *rv = dv(F(&s, v), n);
    slab_upload(&s);
    const float lrs[3] = {0.1f, 0.05f, 0.2f};
    const float gs[3] = {gscale, 1.0f, gscale * 0.5f};
    for (int t = 0; t < 3; t++) {
        OK(sr_backend_set_scalar_f(g_be, 9, lrs[t]));
        /* a scale left in slot 10 must not act when the op names no slot */
        OK(sr_backend_set_scalar_f(g_be, 10, gscale != 0.0f ? gs[t] : 0.25f));
        OK(sr_sgd(g_be, &d, V(&s, w), V(&s, g), V(&s, v)));
        if (gscale != 0.0f || nesterov)
            ref_sgd_scaled(&d, lrs[t], gscale != 0.0f ? gs[t] : 1.0, rw, rg,
                           rv);
        else
            ref_sgd(&d, lrs[t], rw, rg, rv);
    }
    if (slab_download(&s, name)) {
        char what[160];
        snprintf(what, sizeof what, "%s w", name);
        cmp(what, F(&s, w), rw, n, TOL_EW, 1);
        snprintf(what, sizeof what, "%s v", name);
        cmp(what, F(&s, v), rv, n, TOL_EW, 1);
    }
    slab_free(&s);
    scratch_free();
}

static void test_sgd_case(size_t n, float mom, float wd)
{
    test_sgd_case_ex(n, mom, wd, 0, 0.0f);
}

static void test_sgd(void)
{
    test_sgd_case(1000, 0.9f, 1e-4f);
    test_sgd_case(7, 0.0f, 0.0f);
    test_sgd_case(65539, 0.9f, 5e-4f);
    test_sgd_case_ex(1000, 0.9f, 1e-4f, 1, 0.0f);     /* Nesterov */
    test_sgd_case_ex(1000, 0.9f, 5e-4f, 0, 0.3f);     /* clipped gradient */
    test_sgd_case_ex(65539, 0.9f, 5e-4f, 1, 0.7f);    /* both */
}

/* ------------------------------------------------------------------ */
/* Quantizers                                                          */

static void test_dorefa_case(size_t n, int bits)
{
    char name[96], what[160];
    snprintf(name, sizeof name, "dorefa n=%zu b%d", n, bits);
    int m = (1 << bits) - 1;
    slab s;
    slab_init(&s);
    int w = slab_in(&s, n), dwq = slab_in(&s, n), wq = slab_out(&s, n),
        dw = slab_out(&s, n);
    if (!slab_alloc(&s)) return;
    /* tanh(w) ~ U(-0.9599, 0.9599) and one clear arg-max of |tanh w| */
    for (size_t i = 0; i < n; i++)
        F(&s, w)[i] = (float)atanh(rnd_range(-0.9599, 0.9599));
    F(&s, w)[n / 2] = (float)atanh(0.96);
    fill_f(F(&s, dwq), n, -1, 1);
    double *rw = dv(F(&s, w), n), *rdwq = dv(F(&s, dwq), n);
    slab_upload(&s);
    OK(sr_dorefa_w_fwd(g_be, n, bits, V(&s, w), V(&s, wq)));
    OK(sr_dorefa_w_bwd(g_be, n, bits, V(&s, w), V(&s, dwq), V(&s, dw)));
    if (slab_download(&s, name)) {
        double *rwq = dz(n), *pre = dz(n), *rdw = dz(n), *lev = dz((size_t)m + 1);
        ref_dorefa_w_fwd(n, bits, rw, rwq);
        ref_dorefa_w_preround(n, bits, rw, pre);
        ref_dorefa_w_bwd(n, bits, rw, rdwq, rdw);
        for (int i = 0; i <= m; i++) lev[i] = (double)(2 * i - m) / m;
        snprintf(what, sizeof what, "%s levels", name);
        /* every level is hit when there are >= ~12 weights per edge bin */
        check_levels(what, F(&s, wq), n, lev, m + 1, n >= (size_t)50 * (m + 1));
        snprintf(what, sizeof what, "%s fwd", name);
        cmp_quant(what, F(&s, wq), rwq, pre, n, 2.0 / m);
        snprintf(what, sizeof what, "%s bwd (STE, through max)", name);
        cmp(what, F(&s, dw), rdw, n, TOL_TRANS, 1); /* |dwq| <= 1 */
    }
    slab_free(&s);
    scratch_free();
}

static void test_wrpn_case(size_t n, int bits)
{
    char name[96], what[160];
    snprintf(name, sizeof name, "wrpn n=%zu b%d", n, bits);
    int m = (1 << (bits - 1)) - 1;
    slab s;
    slab_init(&s);
    int w = slab_in(&s, n), dwq = slab_in(&s, n), wq = slab_out(&s, n),
        dw = slab_out(&s, n);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, w), n, -1.3, 1.3);
    /* exact edges and half-way ties (away from zero) */
    const float special[] = {1.0f, -1.0f, 0.0f, -0.5f, 0.5f, 1.5f, -7.0f};
    for (size_t i = 0; i < sizeof special / sizeof special[0] && i < n; i++)
        F(&s, w)[i] = special[i];
    fill_f(F(&s, dwq), n, -1, 1);
    double *rw = dv(F(&s, w), n), *rdwq = dv(F(&s, dwq), n);
    slab_upload(&s);
    OK(sr_wrpn_w_fwd(g_be, n, bits, V(&s, w), V(&s, wq)));
    OK(sr_wrpn_w_bwd(g_be, n, bits, V(&s, w), V(&s, dwq), V(&s, dw)));
    if (slab_download(&s, name)) {
        double *rwq = dz(n), *pre = dz(n), *rdw = dz(n),
               *lev = dz(2 * (size_t)m + 1);
        ref_wrpn_w_fwd(n, bits, rw, rwq);
        for (size_t i = 0; i < n; i++) {
            pre[i] = m * fmax(-1.0, fmin(1.0, rw[i]));
            /* exact ties (m * w exactly k + 1/2) are not exempt */
            if (pre[i] - floor(pre[i]) == 0.5) pre[i] = 0;
        }
        ref_wrpn_w_bwd(n, bits, rw, rdwq, rdw);
        for (int i = -m; i <= m; i++) lev[i + m] = (double)i / m;
        snprintf(what, sizeof what, "%s levels", name);
        check_levels(what, F(&s, wq), n, lev, 2 * m + 1, n >= (size_t)50 * (2 * m + 1));
        snprintf(what, sizeof what, "%s fwd", name);
        cmp_quant(what, F(&s, wq), rwq, pre, n, 1.0 / m);
        snprintf(what, sizeof what, "%s bwd (STE mask |w| <= 1)", name);
        cmp(what, F(&s, dw), rdw, n, 0, 1);
    }
    slab_free(&s);
    scratch_free();
}

static void test_actq_case(size_t n, int bits)
{
    char name[96], what[160];
    snprintf(name, sizeof name, "actq n=%zu b%d", n, bits);
    int m = (1 << bits) - 1;
    slab s;
    slab_init(&s);
    int x = slab_in(&s, n), dy = slab_in(&s, n), y = slab_out(&s, n),
        dx = slab_out(&s, n);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, x), n, -0.3, 1.3);
    nudge_q(F(&s, x), n, bits);
    const float special[] = {0.0f, 1.0f, 0.5f, -1e-7f, 1.0000001f};
    for (size_t i = 0; i < sizeof special / sizeof special[0] && i < n; i++)
        F(&s, x)[i] = special[i];
    fill_f(F(&s, dy), n, -1, 1);
    double *rx = dv(F(&s, x), n), *rdy = dv(F(&s, dy), n);
    slab_upload(&s);
    OK(sr_actq_fwd(g_be, n, bits, V(&s, x), V(&s, y)));
    OK(sr_actq_bwd(g_be, n, bits, V(&s, x), V(&s, dy), V(&s, dx)));
    if (slab_download(&s, name)) {
        double *ry = dz(n), *rdx = dz(n), *lev = dz((size_t)m + 1);
        ref_actq_fwd(n, bits, rx, ry);
        ref_actq_bwd(n, bits, rx, rdy, rdx);
        for (int i = 0; i <= m; i++) lev[i] = (double)i / m;
        snprintf(what, sizeof what, "%s levels", name);
        check_levels(what, F(&s, y), n, lev, m + 1, n >= (size_t)100 * (m + 1));
        snprintf(what, sizeof what, "%s fwd", name);
        cmp_quant(what, F(&s, y), ry, NULL, n, 1.0 / m);
        snprintf(what, sizeof what, "%s bwd (STE mask 0 <= x <= 1)", name);
        cmp(what, F(&s, dx), rdx, n, 0, 1);
    }
    slab_free(&s);
    scratch_free();
}

static void test_quant(void)
{
    static const int dbits[] = {1, 2, 3, 4, 5, 8};
    static const size_t dn[] = {1, 7, 1000, 4099, 20000};
    for (size_t b = 0; b < sizeof dbits / sizeof dbits[0]; b++)
        for (size_t k = 0; k < sizeof dn / sizeof dn[0]; k++)
            if (dn[k] != 20000 || dbits[b] == 8) test_dorefa_case(dn[k], dbits[b]);
    static const int wbits[] = {2, 3, 4, 5, 8};
    for (size_t b = 0; b < sizeof wbits / sizeof wbits[0]; b++) {
        test_wrpn_case(7, wbits[b]);
        test_wrpn_case(4099, wbits[b]);
    }
    test_wrpn_case(30000, 8);
    static const int abits[] = {1, 2, 4, 8};
    for (size_t b = 0; b < sizeof abits / sizeof abits[0]; b++) {
        test_actq_case(5, abits[b]);
        test_actq_case(4099, abits[b]);
    }
    test_actq_case(40000, 8);
}

/* ------------------------------------------------------------------ */
/* Regularizers, metric                                                */

static void test_sinreq_case(size_t n, sr_quantizer q, int bits, float divisor,
                             float coef)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "sinreq %s b%d n=%zu div=%g coef=%g",
             q == SR_QUANT_DOREFA ? "dorefa" : "wrpn", bits, n, (double)divisor,
             (double)coef);
    sr_sinreq_desc d = {n, q, bits, divisor, 11, SR_SINREQ_DOMAIN_W};
    slab s;
    slab_init(&s);
    int w = slab_in(&s, n), dw = slab_out(&s, n), val = slab_out(&s, 1);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, w), n, -1.2, 1.2);
    fill_f(F(&s, dw), n, -0.01, 0.01); /* dw accumulates */
    double *rw = dv(F(&s, w), n), *rdw = dv(F(&s, dw), n);
    slab_upload(&s);
    OK(sr_backend_set_scalar_f(g_be, 11, coef));
    OK(sr_sinreq(g_be, &d, V(&s, w), V(&s, dw), V(&s, val)));
    if (slab_download(&s, name)) {
        double rv = ref_sinreq(&d, coef, rw, rdw);
        snprintf(what, sizeof what, "%s value", name);
        cmp(what, F(&s, val), &rv, 1, TOL_TRANS, 0);
        snprintf(what, sizeof what, "%s dw (+=)", name);
        cmp(what, F(&s, dw), rdw, n, TOL_TRANS, 0);
    }
    slab_free(&s);
    scratch_free();
}

/* SinReQ domain X (DoReFa's rounding variable). tanh(w) ~ U(-0.95, 0.95)
 * and, with argmax_at < n, one clear arg-max of |tanh w| (0.96) there, so
 * float32 and float64 agree on it; otherwise random (first arg-max). */
static void test_sinreq_x_case(size_t n, int bits, float divisor, float coef,
                               size_t argmax_at)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "sinreq x b%d n=%zu div=%g coef=%g argmax=%s",
             bits, n, (double)divisor, (double)coef,
             argmax_at < n ? "unique" : "random");
    sr_sinreq_desc d = {n, SR_QUANT_DOREFA, bits, divisor, 11,
                        SR_SINREQ_DOMAIN_X};
    slab s;
    slab_init(&s);
    int w = slab_in(&s, n), dw = slab_out(&s, n), val = slab_out(&s, 1);
    if (!slab_alloc(&s)) return;
    for (size_t i = 0; i < n; i++)
        F(&s, w)[i] = (float)atanh(rnd_range(-0.95, 0.95));
    if (argmax_at < n)
        F(&s, w)[argmax_at] = (float)((argmax_at % 2 ? -1 : 1) * atanh(0.96));
    fill_f(F(&s, dw), n, -0.01, 0.01); /* dw accumulates */
    double *rw = dv(F(&s, w), n), *rdw = dv(F(&s, dw), n);
    slab_upload(&s);
    OK(sr_backend_set_scalar_f(g_be, 11, coef));
    OK(sr_sinreq(g_be, &d, V(&s, w), V(&s, dw), V(&s, val)));
    if (slab_download(&s, name)) {
        double rv = ref_sinreq(&d, coef, rw, rdw);
        snprintf(what, sizeof what, "%s value", name);
        /* relative to the value's range [0, n / div]: n = 1 sits at ~0 */
        cmp(what, F(&s, val), &rv, 1, TOL_TRANS, (double)n / divisor);
        snprintf(what, sizeof what, "%s dw (+=)", name);
        cmp(what, F(&s, dw), rdw, n, TOL_TRANS, 0);
        if (argmax_at < n) {
            /* the term through M at the arg-max, on its own: every other
             * element's error could hide a missing one in the norm */
            double e = fabs((double)F(&s, dw)[argmax_at] - rdw[argmax_at]);
            snprintf(what, sizeof what, "%s dw at the arg-max", name);
            CHECK(e <= TOL_TRANS * (1e-3 + fabs(rdw[argmax_at])),
                  "%s: got %.9g, ref %.9g", what,
                  (double)F(&s, dw)[argmax_at], rdw[argmax_at]);
        }
    }
    slab_free(&s);
    scratch_free();
}

/* Domain X's minima are DoReFa's rounding points, on the backend: weights
 * whose x = k / L gives value ~0 and dw ~0 there, DoReFa's forward maps
 * them to level k, domain W's value at the same weights is not ~0, and an
 * all-zero layer gives value 1 (x = 1/2) and no gradient (no 0/0). */
static void test_sinreq_x_minima(int bits)
{
    char name[64];
    snprintf(name, sizeof name, "sinreq x b%d minima", bits);
    int L = (1 << bits) - 1;
    size_t n = 3 * ((size_t)L + 1);
    slab s;
    slab_init(&s);
    int w = slab_in(&s, n), z = slab_in(&s, n), dw = slab_out(&s, n),
        dz_ = slab_out(&s, n), wq = slab_out(&s, n), vx = slab_out(&s, 1),
        vw = slab_out(&s, 1), v0 = slab_out(&s, 1);
    if (!slab_alloc(&s)) return;
    for (size_t i = 0; i < n; i++) {
        size_t k = i % ((size_t)L + 1);
        F(&s, w)[i] = (float)atanh((2.0 * (double)k / L - 1.0) * 0.9);
        F(&s, z)[i] = 0.0f;
        F(&s, dw)[i] = 0.0f;
        F(&s, dz_)[i] = 0.25f;
    }
    slab_upload(&s);
    sr_sinreq_desc d = {n, SR_QUANT_DOREFA, bits, (float)n, 11,
                        SR_SINREQ_DOMAIN_X};
    sr_sinreq_desc dwd = d;
    dwd.domain = SR_SINREQ_DOMAIN_W;
    OK(sr_backend_set_scalar_f(g_be, 11, 1.0f));
    OK(sr_sinreq(g_be, &d, V(&s, w), V(&s, dw), V(&s, vx)));
    OK(sr_dorefa_w_fwd(g_be, n, bits, V(&s, w), V(&s, wq)));
    OK(sr_sinreq(g_be, &d, V(&s, z), V(&s, dz_), V(&s, v0)));
    float *dwx = fz(n);
    if (!slab_download(&s, name)) goto out;
    memcpy(dwx, F(&s, dw), n * sizeof *dwx);
    /* domain W once domain X's dw is read: it adds to dw too */
    OK(sr_sinreq(g_be, &dwd, V(&s, w), V(&s, dw), V(&s, vw)));
    if (!slab_download(&s, name)) goto out;
    /* float32 weights put x within eps = 2^-23 L of k / L: the value is
     * ~(pi eps)^2 and each direct gradient term at most
     * (pi L / n) sin(2 pi eps) / (2M); the arg-max (i = 0, t = -0.9) sums
     * all of them through M, so it is checked against the reference */
    double gmax = 0, lerr = 0, gscale = M_PI * L / (double)n;
    double eps = L * 0x1p-23, gbound = gscale * 2 * M_PI * eps / 1.8;
    for (size_t i = 0; i < n; i++) {
        size_t k = i % ((size_t)L + 1);
        if (i) gmax = fmax(gmax, fabs((double)dwx[i]));
        lerr = fmax(lerr, fabs((double)F(&s, wq)[i] - (2.0 * k - L) / L));
    }
    {
        double *rw = dv(F(&s, w), n), *rdw = dz(n);
        ref_sinreq(&d, 1.0, rw, rdw);
        char what[96];
        snprintf(what, sizeof what, "%s dw", name);
        cmp(what, dwx, rdw, n, TOL_TRANS, gscale);
    }
    int zero_ok = 1;
    for (size_t i = 0; i < n; i++) zero_ok &= F(&s, dz_)[i] == 0.25f;
    CHECK(F(&s, vx)[0] < 10 * eps * eps && gmax < gbound && lerr < 1e-6 &&
              F(&s, vw)[0] > 1e-3,
          "%s: value %.3g, max|dw| %.3g (bound %.3g), DoReFa level error "
          "%.3g, domain W value there %.3g", name, (double)F(&s, vx)[0], gmax,
          gbound, lerr, (double)F(&s, vw)[0]);
    CHECK(fabs(F(&s, v0)[0] - 1.0f) < 1e-6 && zero_ok,
          "%s: all-zero layer value %.9g (want 1), dw %s", name,
          (double)F(&s, v0)[0], zero_ok ? "unchanged" : "changed");
out:
    slab_free(&s);
    scratch_free();
}

/* Domain X captured once and replayed: lambda from the coef slot at every
 * run, the layer-wide statistics recomputed from the current weights. */
static void test_sinreq_x_replay(void)
{
    const size_t n = 5003;
    const char *name = "sinreq x replay";
    sr_sinreq_desc d = {n, SR_QUANT_DOREFA, 3, (float)n, 12,
                        SR_SINREQ_DOMAIN_X};
    slab s;
    slab_init(&s);
    int w = slab_in(&s, n), dw = slab_out(&s, n), val = slab_out(&s, 1);
    if (!slab_alloc(&s)) return;
    sr_program *prog = NULL;
    OK(sr_backend_begin_capture(g_be));
    OK(sr_sinreq(g_be, &d, V(&s, w), V(&s, dw), V(&s, val)));
    OK(sr_backend_end_capture(g_be, &prog));
    const float coef[3] = {0.5f, 0.0f, 3.0f};
    for (int run = 0; run < 3 && prog; run++) {
        char what[96];
        /* new weights each run: a different arg-max and M */
        for (size_t i = 0; i < n; i++)
            F(&s, w)[i] = (float)atanh(rnd_range(-0.9, 0.9));
        F(&s, w)[(size_t)run * 1000 + 7] = (float)atanh(0.93 + 0.01 * run);
        fill_f(F(&s, dw), n, -0.01, 0.01);
        double *rw = dv(F(&s, w), n), *rdw = dv(F(&s, dw), n);
        slab_upload(&s);
        OK(sr_backend_set_scalar_f(g_be, 12, coef[run]));
        OK(sr_program_run(g_be, prog));
        snprintf(what, sizeof what, "%s run %d coef %g", name, run,
                 (double)coef[run]);
        if (!slab_download(&s, what)) break;
        double rv = ref_sinreq(&d, coef[run], rw, rdw);
        cmp(what, F(&s, val), &rv, 1, TOL_TRANS, 0);
        cmp(what, F(&s, dw), rdw, n, TOL_TRANS, 0.01);
    }
    sr_program_free(g_be, prog);
    slab_free(&s);
    scratch_free();
}

static void test_waveq_case(size_t n, float beta, float divisor, float cw,
                            float cb)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "waveq n=%zu beta=%g div=%g cw=%g cb=%g", n,
             (double)beta, (double)divisor, (double)cw, (double)cb);
    sr_waveq_desc d = {n, divisor, 12, 13};
    slab s;
    slab_init(&s);
    int w = slab_in(&s, n), b = slab_in(&s, 1), dw = slab_out(&s, n),
        db = slab_out(&s, 1), val = slab_out(&s, 1);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, w), n, -0.5, 0.5);
    F(&s, b)[0] = beta;
    fill_f(F(&s, dw), n, -0.01, 0.01);
    F(&s, db)[0] = 0.25f;
    double *rw = dv(F(&s, w), n), *rdw = dv(F(&s, dw), n), rdb = 0.25;
    slab_upload(&s);
    OK(sr_backend_set_scalar_f(g_be, 12, cw));
    OK(sr_backend_set_scalar_f(g_be, 13, cb));
    OK(sr_waveq(g_be, &d, V(&s, w), V(&s, b), V(&s, dw), V(&s, db), V(&s, val)));
    if (slab_download(&s, name)) {
        double rv = ref_waveq(&d, cw, cb, rw, beta, rdw, &rdb);
        snprintf(what, sizeof what, "%s value", name);
        cmp(what, F(&s, val), &rv, 1, TOL_TRANS, 0);
        snprintf(what, sizeof what, "%s dw (+=)", name);
        cmp(what, F(&s, dw), rdw, n, TOL_TRANS, 0);
        snprintf(what, sizeof what, "%s dbeta (+=)", name);
        cmp(what, F(&s, db), &rdb, 1, TOL_TRANS, 1);
    }
    slab_free(&s);
    scratch_free();
}

static void test_mad_case(size_t n)
{
    char name[64];
    snprintf(name, sizeof name, "mean_abs_diff n=%zu", n);
    slab s;
    slab_init(&s);
    int a = slab_in(&s, n), b = slab_in(&s, n), o = slab_out(&s, 1);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, a), n, -1, 1);
    fill_f(F(&s, b), n, -1, 1);
    double *ra = dv(F(&s, a), n), *rb = dv(F(&s, b), n);
    slab_upload(&s);
    OK(sr_mean_abs_diff(g_be, n, V(&s, a), V(&s, b), V(&s, o)));
    if (slab_download(&s, name)) {
        double r = ref_mean_abs_diff(n, ra, rb);
        cmp(name, F(&s, o), &r, 1, 1e-5, 0);
    }
    slab_free(&s);
    scratch_free();
}

static void test_reg(void)
{
    for (int b = 1; b <= 5; b++) {
        test_sinreq_case(1000, SR_QUANT_DOREFA, b, 1000.0f, 1.0f);
        if (b >= 2) test_sinreq_case(1000, SR_QUANT_WRPN, b, 1000.0f, 1.0f);
    }
    test_sinreq_case(7, SR_QUANT_WRPN, 3, 7.0f, 10.0f);
    test_sinreq_case(65537, SR_QUANT_DOREFA, 4, 200000.0f, 50.0f);
    test_sinreq_case(4099, SR_QUANT_WRPN, 8, 4099.0f, 0.5f);
    /* domain X: several k, odd sizes, one or many partials (65537 > one
     * workgroup's 8192), unique or random arg-max */
    static const int xbits[] = {1, 2, 3, 4, 5, 8};
    for (size_t b = 0; b < sizeof xbits / sizeof xbits[0]; b++) {
        test_sinreq_x_case(1000, xbits[b], 1000.0f, 1.0f, 333);
        test_sinreq_x_case(4099, xbits[b], 4099.0f, 2.0f, (size_t)-1);
    }
    test_sinreq_x_case(1, 4, 1.0f, 1.0f, 0);
    test_sinreq_x_case(7, 3, 7.0f, 10.0f, 6);
    test_sinreq_x_case(65537, 4, 200000.0f, 50.0f, 60001);
    test_sinreq_x_case(100003, 5, 100003.0f, 1.0f, (size_t)-1);
    for (int b = 1; b <= 8; b++) test_sinreq_x_minima(b);
    test_sinreq_x_replay();
    test_waveq_case(1000, 8.0f, 1000.0f, 0.6f, 0.03f);
    test_waveq_case(7, 2.5f, 7.0f, 1.0f, 0.0f);
    test_waveq_case(65537, 3.7f, 100000.0f, 0.3f, 0.02f);
    test_mad_case(1);
    test_mad_case(1000);
    test_mad_case(100003);
}

/* ------------------------------------------------------------------ */
/* Capture / replay                                                    */

enum { CAP_X, CAP_W, CAP_B, CAP_LAB, CAP_Y, CAP_Y2, CAP_LOSS, CAP_DL, CAP_DL2,
       CAP_DW, CAP_DB, CAP_V, CAP_VB, CAP_N };

typedef struct cap_net {
    sr_linear_desc lin;
    sr_dropout_desc drop;
    sr_sgd_desc sgd_w, sgd_b;
    int r[CAP_N];
} cap_net;

/* A small training step of several ops; lr from slot 20, step from 21. */
static sr_status cap_ops(const cap_net *c, slab *s)
{
    const int *r = c->r;
    SR_TRY(sr_linear_fwd(g_be, &c->lin, V(s, r[CAP_X]), V(s, r[CAP_W]),
                         V(s, r[CAP_B]), V(s, r[CAP_Y])));
    SR_TRY(sr_dropout_fwd(g_be, &c->drop, V(s, r[CAP_Y]), V(s, r[CAP_Y2])));
    SR_TRY(sr_relu_fwd(g_be, c->drop.n, V(s, r[CAP_Y2]), V(s, r[CAP_Y2])));
    SR_TRY(sr_softmax_xent(g_be, c->lin.n, c->lin.out, V(s, r[CAP_Y2]),
                           V(s, r[CAP_LAB]), V(s, r[CAP_LOSS]), V(s, r[CAP_DL])));
    SR_TRY(sr_relu_bwd(g_be, c->drop.n, V(s, r[CAP_Y2]), V(s, r[CAP_DL]),
                       V(s, r[CAP_DL])));
    SR_TRY(sr_dropout_bwd(g_be, &c->drop, V(s, r[CAP_DL]), V(s, r[CAP_DL2])));
    SR_TRY(sr_linear_bwd_weight(g_be, &c->lin, V(s, r[CAP_X]), V(s, r[CAP_DL2]),
                                V(s, r[CAP_DW]), V(s, r[CAP_DB])));
    SR_TRY(sr_sgd(g_be, &c->sgd_w, V(s, r[CAP_W]), V(s, r[CAP_DW]), V(s, r[CAP_V])));
    SR_TRY(sr_sgd(g_be, &c->sgd_b, V(s, r[CAP_B]), V(s, r[CAP_DB]), V(s, r[CAP_VB])));
    return SR_OK;
}

static void test_capture(void)
{
    const int N = 6, IN = 37, OUT = 10;
    cap_net c;
    memset(&c, 0, sizeof c);
    c.lin = (sr_linear_desc){N, IN, OUT, 1, 0};
    c.drop = (sr_dropout_desc){(size_t)N * OUT, 0.25f, 99, 1, 21};
    c.sgd_w = (sr_sgd_desc){(size_t)OUT * IN, 0.9f, 1e-4f, 20, 0, 0};
    c.sgd_b = (sr_sgd_desc){(size_t)OUT, 0.9f, 0.0f, 20, 0, 0};
    size_t sizes[CAP_N] = {(size_t)N * IN, (size_t)OUT * IN, OUT, (size_t)N,
                           (size_t)N * OUT, (size_t)N * OUT, 1, (size_t)N * OUT,
                           (size_t)N * OUT, (size_t)OUT * IN, OUT,
                           (size_t)OUT * IN, OUT};
    slab a, b; /* a: eager, b: program */
    slab_init(&a);
    for (int i = 0; i < CAP_N; i++)
        c.r[i] = slab_region(&a, sizes[i], i >= CAP_W && i != CAP_LAB);
    if (!slab_alloc(&a)) return;
    fill_f(F(&a, c.r[CAP_X]), sizes[CAP_X], -1, 1);
    fill_f(F(&a, c.r[CAP_W]), sizes[CAP_W], -0.5, 0.5);
    fill_f(F(&a, c.r[CAP_B]), sizes[CAP_B], -0.5, 0.5);
    fill_f(F(&a, c.r[CAP_V]), sizes[CAP_V], 0, 0);
    fill_f(F(&a, c.r[CAP_VB]), sizes[CAP_VB], 0, 0);
    for (int i = 0; i < N; i++) U(&a, c.r[CAP_LAB])[i] = (uint32_t)rnd_int(0, OUT - 1);
    /* b: the same layout and contents in a second buffer */
    b = a;
    b.buf = NULL;
    b.host = malloc(a.words * 4);
    b.before = malloc(a.words * 4);
    if (!b.host || !b.before) abort();
    memcpy(b.host, a.host, a.words * 4);
    if (!OK(sr_buf_alloc(g_be, SR_POOL_ACTIVATIONS, b.words, &b.buf))) {
        slab_free(&a);
        slab_free(&b);
        return;
    }
    slab_upload(&a);
    slab_upload(&b);

    sr_program *prog = NULL;
    OK(sr_backend_begin_capture(g_be));
    sr_status st = cap_ops(&c, &b);
    OK(st);
    OK(sr_backend_end_capture(g_be, &prog));
    /* capturing must not have executed anything */
    uint32_t *snap = malloc(b.words * 4);
    if (!snap) abort();
    memcpy(snap, b.host, b.words * 4);
    OK(sr_buf_read(g_be, b.buf, 0, b.words, b.host));
    CHECK(memcmp(snap, b.host, b.words * 4) == 0,
          "capture: buffers changed before the program was run");

    const float lr[3] = {0.1f, 0.0f, 0.5f};
    const uint32_t step[3] = {1, 2, 2};
    float *w_prev = fz(sizes[CAP_W]);
    for (int run = 0; run < 3 && prog; run++) {
        char what[96];
        memcpy(w_prev, F(&b, c.r[CAP_W]), sizes[CAP_W] * 4);
        OK(sr_backend_set_scalar_f(g_be, 20, lr[run]));
        OK(sr_backend_set_scalar_u(g_be, 21, step[run]));
        OK(cap_ops(&c, &a));
        OK(sr_program_run(g_be, prog));
        snprintf(what, sizeof what, "capture run %d (eager)", run);
        slab_download(&a, what);
        snprintf(what, sizeof what, "capture run %d (program)", run);
        slab_download(&b, what);
        /* the same results as running the ops immediately */
        for (int i = 0; i < CAP_N; i++) {
            if (i == CAP_LAB) continue;
            double *ra = dv(F(&a, c.r[i]), sizes[i]);
            snprintf(what, sizeof what, "capture run %d region %d program vs "
                     "eager", run, i);
            cmp(what, F(&b, c.r[i]), ra, sizes[i], 1e-6, 1);
        }
        /* the lr slot takes effect: lr 0 leaves w alone, lr > 0 moves it */
        int same = memcmp(w_prev, F(&b, c.r[CAP_W]), sizes[CAP_W] * 4) == 0;
        CHECK(lr[run] == 0.0f ? same : !same,
              "capture run %d: lr slot = %g but w %s", run, (double)lr[run],
              same ? "did not change" : "changed");
        /* dropout sees the step slot: run 0 (step 1) vs run 1 (step 2) masks
         * are checked against eager runs above; also sanity: some dropped */
        size_t zeros = 0;
        for (size_t i = 0; i < sizes[CAP_DL2]; i++) zeros += F(&b, c.r[CAP_DL2])[i] == 0.0f;
        CHECK(zeros > 0, "capture run %d: dropout dropped nothing", run);
        /* a program run again, fresh upload, is reproducible */
        slab_upload(&a);
        slab_upload(&b);
    }
    free(snap);
    sr_program_free(g_be, prog);
    slab_free(&a);
    slab_free(&b);
    scratch_free();
}

/* ------------------------------------------------------------------ */
/* Tensors larger than one storage binding (Vulkan windows)            */

/* The Vulkan backend binds a buffer larger than maxStorageBufferRange
 * through windows and splits ops into pieces that fit (docs/design.md).
 * A second backend with SINREQ_VK_MAX_RANGE = 64 KiB (16384 words) runs
 * op cases whose slabs, and many of whose operands, are larger than that,
 * against the same float64 reference, with validation on. Every slab here
 * exceeds the window, so every operand (even a 1-word loss) goes through
 * one, and a buffer bound whole beyond the limit is an error of its own
 * (sr_vk_record), so a missing window cannot pass unnoticed. */
#define WIN_RANGE_BYTES 65536
#define WIN_WORDS (WIN_RANGE_BYTES / 4)

/* Program vs eager on split ops: a linear layer whose weight spans
 * several windows, its backward passes, DoReFa on that weight, SGD. */
static void test_windows_capture(void)
{
    const sr_linear_desc lin = {3, 301, 71, 1, 0}; /* w: 21371 words */
    const size_t nw = (size_t)lin.out * lin.in, nx = (size_t)lin.n * lin.in,
                 ny = (size_t)lin.n * lin.out;
    const sr_sgd_desc sgd = {nw, 0.9f, 1e-4f, 22, 0, 0};
    enum { RX, RW, RB, RDY, RY, RDX, RDW, RDB, RWQ, RV, NR };
    const size_t sizes[NR] = {nx, nw, (size_t)lin.out, ny, ny, nx, nw,
                              (size_t)lin.out, nw, nw};
    slab a, b;
    int r[NR];
    slab_init(&a);
    a.tight = 0;
    for (int i = 0; i < NR; i++) r[i] = slab_region(&a, sizes[i], i >= RY || i == RW);
    if (!slab_alloc(&a)) return;
    CHECK(a.words > WIN_WORDS && nw > WIN_WORDS, "windows capture: too small");
    fill_f(F(&a, r[RX]), nx, -1, 1);
    fill_f(F(&a, r[RW]), nw, -0.5, 0.5);
    fill_f(F(&a, r[RB]), (size_t)lin.out, -0.5, 0.5);
    fill_f(F(&a, r[RDY]), ny, -1, 1);
    fill_f(F(&a, r[RV]), nw, 0, 0);
    b = a;
    b.buf = NULL;
    b.host = malloc(a.words * 4);
    b.before = malloc(a.words * 4);
    if (!b.host || !b.before) abort();
    memcpy(b.host, a.host, a.words * 4);
    if (!OK(sr_buf_alloc(g_be, SR_POOL_ACTIVATIONS, b.words, &b.buf))) {
        slab_free(&a);
        slab_free(&b);
        return;
    }
#define WIN_OPS(s)                                                            \
    (sr_linear_fwd(g_be, &lin, V(s, r[RX]), V(s, r[RW]), V(s, r[RB]),            \
                   V(s, r[RY])) == SR_OK &&                                    \
     sr_linear_bwd_data(g_be, &lin, V(s, r[RDY]), V(s, r[RW]), V(s, r[RX]),      \
                        V(s, r[RDX])) == SR_OK &&                              \
     sr_linear_bwd_weight(g_be, &lin, V(s, r[RX]), V(s, r[RDY]), V(s, r[RDW]),   \
                          V(s, r[RDB])) == SR_OK &&                            \
     sr_dorefa_w_fwd(g_be, nw, 3, V(s, r[RW]), V(s, r[RWQ])) == SR_OK &&        \
     sr_sgd(g_be, &sgd, V(s, r[RW]), V(s, r[RDW]), V(s, r[RV])) == SR_OK)
    slab_upload(&a);
    slab_upload(&b);
    sr_program *prog = NULL;
    OK(sr_backend_begin_capture(g_be));
    int captured = WIN_OPS(&b);
    OK(sr_backend_end_capture(g_be, &prog));
    CHECK(captured, "windows capture: recording failed: %s", sr_last_error());
    for (int run = 0; run < 2 && prog; run++) {
        char what[96];
        OK(sr_backend_set_scalar_f(g_be, 22, run ? 0.05f : 0.1f));
        CHECK(WIN_OPS(&a), "windows capture: eager ops failed: %s",
              sr_last_error());
        OK(sr_program_run(g_be, prog));
        snprintf(what, sizeof what, "windows capture run %d (eager)", run);
        slab_download(&a, what);
        snprintf(what, sizeof what, "windows capture run %d (program)", run);
        slab_download(&b, what);
        for (int i = 0; i < NR; i++) {
            double *ra = dv(F(&a, r[i]), sizes[i]);
            snprintf(what, sizeof what, "windows capture run %d region %d "
                     "program vs eager", run, i);
            cmp(what, F(&b, r[i]), ra, sizes[i], 0, 1);
        }
        slab_upload(&a);
        slab_upload(&b);
    }
#undef WIN_OPS
    sr_program_free(g_be, prog);
    slab_free(&a);
    slab_free(&b);
    scratch_free();
}

/* A convolution operand larger than one binding cannot be split, nor can
 * a linear layer's row: the error names the op, the operand, its size and
 * the limit. */
static void test_windows_conv_error(void)
{
    const sr_conv2d_desc d = {8, 16, 16, 16, 4, 3, 3, 1, 1, 0, 0};
    size_t nx = (size_t)d.n * d.c * d.h * d.w; /* 32768 words */
    size_t nw = (size_t)d.k * d.c * d.kh * d.kw, ny = (size_t)d.n * d.k * 256;
    sr_buf *buf = NULL;
    if (!OK(sr_buf_alloc(g_be, SR_POOL_ACTIVATIONS, nx + nw + ny, &buf))) return;
    OK(sr_fill(g_be, nx + nw + ny, 0.5f, sr_at(buf, 0)));
    EXPECT(SR_E_UNSUPPORTED, sr_conv2d_fwd(g_be, &d, sr_at(buf, 0),
                                           sr_at(buf, nx), SR_NONE,
                                           sr_at(buf, nx + nw)));
    const char *msg = sr_last_error();
    CHECK(strstr(msg, "conv2d_fwd") && strstr(msg, "'x'") &&
              strstr(msg, "8 x 16 x 16 x 16") && strstr(msg, "32768 words") &&
              strstr(msg, "0.06 MiB") && strstr(msg, "SINREQ_VK_MAX_RANGE") &&
              strstr(msg, "smaller batch"),
          "conv operand too big: message \"%s\" lacks op, operand, size, "
          "limit or remedy", msg);
    printf("       message: %s\n", msg);
    /* a linear layer splits rows, not a row: 20000 input features */
    const sr_linear_desc l = {1, 20000, 1, 0, 0};
    EXPECT(SR_E_UNSUPPORTED, sr_linear_fwd(g_be, &l, sr_at(buf, 0), sr_at(buf, 0),
                                           SR_NONE, sr_at(buf, 40000)));
    msg = sr_last_error();
    CHECK(strstr(msg, "linear_fwd") && strstr(msg, "'w'") &&
              strstr(msg, "20000 words") && strstr(msg, "fewer features"),
          "linear row too big: message \"%s\"", msg);
    /* the backend still works afterwards */
    OK(sr_backend_sync(g_be));
    sr_buf_free(g_be, buf);
}

static void test_windows(void)
{
    if (strcmp(sr_backend_name(g_be), "vulkan") != 0) {
        printf("       (Vulkan only: nothing to do on %s)\n",
               sr_backend_name(g_be));
        check_record(1);
        return;
    }
    sr_backend_opts opts = {0};
    opts.validation = 1;
    sr_backend *small = NULL, *main_be = g_be;
    const char *old = getenv("SINREQ_VK_MAX_RANGE");
    char saved_buf[64], *saved = NULL;
    if (old) {
        snprintf(saved_buf, sizeof saved_buf, "%s", old);
        saved = saved_buf;
    }
    setenv("SINREQ_VK_MAX_RANGE", "nonsense", 1);
    EXPECT(SR_E_ARG, sr_backend_create("vulkan", &opts, &small));
    setenv("SINREQ_VK_MAX_RANGE", "64k", 1);
    sr_status st = sr_backend_create("vulkan", &opts, &small);
    if (saved) setenv("SINREQ_VK_MAX_RANGE", saved, 1);
    else unsetenv("SINREQ_VK_MAX_RANGE");
    if (!OK(st)) return;
    g_be = small;

    /* elementwise and SGD: runs of 16380 words, odd sizes */
    test_utility();                      /* fill, copy, add at n = 65537 */
    test_relu();                         /* n = 40001 */
    test_dropout_case(40001, 0.3f);      /* the mask index spans pieces */
    test_sgd_case(65539, 0.9f, 5e-4f);
    test_sgd_case(16381, 0.0f, 0.0f);    /* one word past a piece */
    /* quantizers: DoReFa's max|tanh w| and its arg-max layer-wide, the
     * arg-max in the first (n = 20000) or the second piece (n = 50001) */
    test_dorefa_case(20000, 8);
    test_dorefa_case(50001, 3);
    test_wrpn_case(30000, 8);
    test_actq_case(40000, 8);
    /* reductions: partials of all pieces folded once */
    test_sinreq_case(65537, SR_QUANT_DOREFA, 4, 200000.0f, 50.0f);
    test_waveq_case(65537, 3.7f, 100000.0f, 0.3f, 0.02f);
    test_mad_case(100003);
    /* SinReQ on DoReFa's x: M and the term through it layer-wide, the
     * arg-max in the first or the fourth piece */
    test_sinreq_x_case(40000, 3, 40000.0f, 1.0f, 100);
    test_sinreq_x_case(65537, 4, 200000.0f, 50.0f, 60001);
    /* linear: w over several windows (rows split), x and y over several
     * (batch split), fused activations (bwd_data's mask on accumulated
     * pieces) */
    static const sr_linear_desc lin[] = {
        {3, 300, 70, 1, 0}, {5, 257, 97, 1, 4}, {33, 520, 65, 1, 0},
    };
    for (size_t i = 0; i < sizeof lin / sizeof lin[0]; i++)
        test_linear_case(lin[i]);
    /* batch norm: pieces of whole images (3, 3, 2 of 8; 4, 1 of 5) */
    static const sr_bn_desc bn[] = {
        {8, 64, 64, 1e-5f, 0.1f, 0}, {5, 13, 300, 1e-5f, 0.1f, 1},
    };
    for (size_t i = 0; i < sizeof bn / sizeof bn[0]; i++) test_bn_case(bn[i]);
    /* pooling: pieces of whole planes */
    const sr_pool_desc mp = {4, 8, 33, 33, 3, 2, 1};
    test_maxpool_case(mp, DATA_RANDOM);
    test_maxpool_case(mp, DATA_TIES);
    const sr_avgpool_desc ap = {3, 9, 40, 40, 6, 6};
    test_avgpool_case(ap);
    /* losses: pieces of whole rows */
    test_xent_case(40, 1000, -3, 3);
    test_xent_case(300, 97, -10, 10);
    /* convolution: every operand within a window of a bigger slab (texel
     * views at window offsets); one too big to bind is an error */
    static const sr_conv2d_desc conv[] = {
        {4, 16, 15, 15, 33, 3, 3, 2, 1, 1, 0},
        {2, 5, 30, 30, 7, 5, 3, 1, 1, 0, 3},
    };
    for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++)
        test_conv_case(conv[i]);
    /* depthwise: its operands fitted to windows the same way */
    static const sr_conv2d_desc dwc[] = {
        {2, 7, 30, 30, 7, 3, 3, 1, 1, 1, 0},
        {2, 9, 25, 27, 9, 5, 5, 2, 2, 0, 3},
    };
    for (size_t i = 0; i < sizeof dwc / sizeof dwc[0]; i++)
        test_dwconv_case(dwc[i]);
    test_windows_conv_error();
    test_windows_capture();

    OK(sr_backend_sync(g_be));
    g_be = main_be;
    sr_backend_free(small);
}

/* ------------------------------------------------------------------ */
/* Bad input                                                           */

static void test_bad_input(void)
{
    slab s;
    slab_init(&s);
    int x = slab_in(&s, 64), w = slab_in(&s, 64), y = slab_in(&s, 64),
        z = slab_in(&s, 64);
    if (!slab_alloc(&s)) return;
    fill_f(F(&s, x), 64, -1, 1);
    slab_upload(&s);
    sr_view X = V(&s, x), W = V(&s, w), Y = V(&s, y), Z = V(&s, z);
    sr_view NUL = SR_NONE;
    sr_buf *small = NULL;
    OK(sr_buf_alloc(g_be, SR_POOL_WEIGHTS, 4, &small));
    sr_view S = sr_at(small, 0), SOFF = sr_at(small, 5);

    /* conv: a valid 1x2x3x3 -> 2 channels 3x3 kernel case, then break it */
    const sr_conv2d_desc c0 = {1, 2, 3, 3, 2, 3, 3, 1, 1, 1, 0};
    sr_conv2d_desc c;
    c = c0; c.k = 0;       EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.n = -1;      EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.kh = 12;     EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.stride = 0;  EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.stride = 5;  EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.pad = 3;     EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.pad = 0; c.kh = c.kw = 5;
    EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c, X, W, Z, Y)); /* kernel > input */
    c = c0; c.act_bits = 17; EXPECT(SR_E_BITS, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.act_bits = -1; EXPECT(SR_E_BITS, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.bias = 2;    EXPECT(SR_E_ARG, sr_conv2d_fwd(g_be, &c, X, W, Z, Y));
    EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c0, X, S, Z, Y));      /* w too small */
    EXPECT(SR_E_SHAPE, sr_conv2d_fwd(g_be, &c0, X, W, Z, SOFF));   /* off > size */
    EXPECT(SR_E_ARG, sr_conv2d_fwd(g_be, &c0, NUL, W, Z, Y));      /* NULL x */
    EXPECT(SR_E_ARG, sr_conv2d_fwd(g_be, &c0, X, W, NUL, Y));      /* bias missing */
    EXPECT(SR_E_ARG, sr_conv2d_fwd(g_be, NULL, X, W, Z, Y));
    EXPECT(SR_E_ARG, sr_conv2d_bwd_weight(g_be, &c0, X, Y, NUL, Z));
    /* depthwise: k must equal c; the weight is c x kh x kw (18 words) */
    c = c0; c.k = 3;       EXPECT(SR_E_SHAPE, sr_dwconv2d_fwd(g_be, &c, X, W, Z, Y));
    c = c0; c.stride = 0;  EXPECT(SR_E_SHAPE, sr_dwconv2d_bwd_data(g_be, &c, Y, W, X, Z));
    c = c0; c.act_bits = 17;
    EXPECT(SR_E_BITS, sr_dwconv2d_bwd_weight(g_be, &c, X, Y, W, Z));
    EXPECT(SR_E_SHAPE, sr_dwconv2d_fwd(g_be, &c0, X, S, Z, Y));    /* w too small */
    EXPECT(SR_E_ARG, sr_dwconv2d_fwd(g_be, &c0, X, W, NUL, Y));    /* bias missing */
    EXPECT(SR_E_ARG, sr_dwconv2d_bwd_weight(g_be, &c0, X, Y, NUL, Z));
    EXPECT(SR_E_ARG, sr_dwconv2d_fwd(g_be, NULL, X, W, Z, Y));
    c = c0; c.act_bits = 4;
    EXPECT(SR_E_ARG, sr_conv2d_bwd_data(g_be, &c, Y, W, NUL, Z));  /* x needed */

    /* linear */
    sr_linear_desc l0 = {2, 8, 4, 1, 0}, l;
    l = l0; l.in = 0;        EXPECT(SR_E_SHAPE, sr_linear_fwd(g_be, &l, X, W, Z, Y));
    l = l0; l.act_bits = 20; EXPECT(SR_E_BITS, sr_linear_fwd(g_be, &l, X, W, Z, Y));
    EXPECT(SR_E_ARG, sr_linear_fwd(g_be, &l0, X, NUL, Z, Y));
    EXPECT(SR_E_SHAPE, sr_linear_bwd_data(g_be, &l0, Y, S, X, Z));

    /* batch norm */
    sr_bn_desc b0 = {2, 4, 3, 1e-5f, 0.1f, 0}, b;
    b = b0; b.eps = 0;         EXPECT(SR_E_ARG, sr_bn_fwd_eval(g_be, &b, X, W, W, W, W, Y));
    b = b0; b.momentum = 1.5f; EXPECT(SR_E_ARG, sr_bn_fwd_train(g_be, &b, X, W, W, W, W, Z, Z, Y));
    b = b0; b.relu = 2;        EXPECT(SR_E_ARG, sr_bn_fwd_eval(g_be, &b, X, W, W, W, W, Y));
    b = b0; b.n = 1; b.hw = 1; EXPECT(SR_E_SHAPE, sr_bn_fwd_train(g_be, &b, X, W, W, W, W, Z, Z, Y));
    b = b0; b.c = 8;           EXPECT(SR_E_SHAPE, sr_bn_bwd(g_be, &b, X, Y, S, W, W, Z, W, W));
    b = b0; b.hw = 0;          EXPECT(SR_E_SHAPE, sr_bn_bwd(g_be, &b, X, Y, W, W, W, Z, W, W));

    /* dropout */
    sr_dropout_desc d0 = {64, 0.5f, 1, 2, 3}, d;
    d = d0; d.p = 1.0f;      EXPECT(SR_E_ARG, sr_dropout_fwd(g_be, &d, X, Y));
    d = d0; d.p = -0.1f;     EXPECT(SR_E_ARG, sr_dropout_fwd(g_be, &d, X, Y));
    d = d0; d.step_slot = SR_SCALAR_SLOTS; EXPECT(SR_E_ARG, sr_dropout_bwd(g_be, &d, X, Y));
    d = d0; d.n = 0;         EXPECT(SR_E_SHAPE, sr_dropout_fwd(g_be, &d, X, Y));
    d = d0; d.n = 5;         EXPECT(SR_E_SHAPE, sr_dropout_fwd(g_be, &d, S, Y));

    /* pooling */
    sr_pool_desc p0 = {1, 1, 7, 7, 3, 2, 1}, p;
    p = p0; p.pad = 2;       EXPECT(SR_E_SHAPE, sr_maxpool_fwd(g_be, &p, X, Y, Z));
    p = p0; p.k = 10;        EXPECT(SR_E_SHAPE, sr_maxpool_fwd(g_be, &p, X, Y, Z));
    p = p0; p.stride = 0;    EXPECT(SR_E_SHAPE, sr_maxpool_fwd(g_be, &p, X, Y, Z));
    EXPECT(SR_E_SHAPE, sr_maxpool_fwd(g_be, &p0, X, Y, S));        /* idx small */
    EXPECT(SR_E_ARG, sr_maxpool_bwd(g_be, &p0, Y, NUL, X));
    sr_avgpool_desc a0 = {1, 1, 7, 7, 3, 3}, a;
    a = a0; a.oh = 0;        EXPECT(SR_E_SHAPE, sr_avgpool_fwd(g_be, &a, X, Y));
    EXPECT(SR_E_SHAPE, sr_avgpool_fwd(g_be, &a0, S, Y));            /* x small */

    /* loss, metric */
    EXPECT(SR_E_SHAPE, sr_softmax_xent(g_be, 4, 1, X, W, Y, Z));
    EXPECT(SR_E_SHAPE, sr_softmax_xent(g_be, 0, 10, X, W, Y, Z));
    EXPECT(SR_E_ARG, sr_softmax_xent(g_be, 4, 10, X, NUL, Y, Z));
    EXPECT(SR_E_ARG, sr_softmax_xent_smooth(g_be, 4, 10, 1.0f, X, W, Y, Z));
    EXPECT(SR_E_ARG, sr_softmax_xent_smooth(g_be, 4, 10, -0.1f, X, W, Y, Z));
    EXPECT(SR_E_SHAPE, sr_top1_count(g_be, 5, 10, X, S, Y));       /* labels */

    /* sgd */
    sr_sgd_desc g0 = {64, 0.9f, 1e-4f, 0, 0, 0}, g;
    g = g0; g.momentum = 1.0f;      EXPECT(SR_E_ARG, sr_sgd(g_be, &g, W, X, Y));
    g = g0; g.weight_decay = -1.0f; EXPECT(SR_E_ARG, sr_sgd(g_be, &g, W, X, Y));
    g = g0; g.lr_slot = -1;         EXPECT(SR_E_ARG, sr_sgd(g_be, &g, W, X, Y));
    g = g0; g.nesterov = 2;         EXPECT(SR_E_ARG, sr_sgd(g_be, &g, W, X, Y));
    g = g0; g.grad_scale_slot = SR_SCALAR_SLOTS;
    EXPECT(SR_E_ARG, sr_sgd(g_be, &g, W, X, Y));
    EXPECT(SR_E_SHAPE, sr_sgd(g_be, &g0, W, S, Y));
    EXPECT(SR_E_ARG, sr_sgd(g_be, NULL, W, X, Y));

    /* quantizers */
    EXPECT(SR_E_BITS, sr_dorefa_w_fwd(g_be, 64, 0, X, Y));
    EXPECT(SR_E_BITS, sr_dorefa_w_fwd(g_be, 64, 17, X, Y));
    EXPECT(SR_E_BITS, sr_dorefa_w_bwd(g_be, 64, 99, X, Y, Z));
    EXPECT(SR_E_BITS, sr_wrpn_w_fwd(g_be, 64, 1, X, Y));
    EXPECT(SR_E_BITS, sr_wrpn_w_bwd(g_be, 64, 17, X, Y, Z));
    EXPECT(SR_E_BITS, sr_actq_fwd(g_be, 64, 17, X, Y));
    EXPECT(SR_E_BITS, sr_actq_bwd(g_be, 64, 0, X, Y, Z));
    EXPECT(SR_E_SHAPE, sr_actq_fwd(g_be, 0, 4, X, Y));
    EXPECT(SR_E_SHAPE, sr_wrpn_w_fwd(g_be, 5, 4, S, Y));
    EXPECT(SR_E_ARG, sr_dorefa_w_fwd(g_be, 64, 4, X, X));          /* alias */
    EXPECT(SR_E_ARG, sr_actq_fwd(g_be, 64, 4, X, NUL));

    /* regularizers */
    sr_sinreq_desc r0 = {64, SR_QUANT_WRPN, 3, 64.0f, 1, SR_SINREQ_DOMAIN_W},
                   r;
    r = r0; r.quantizer = SR_QUANT_NONE; EXPECT(SR_E_ARG, sr_sinreq(g_be, &r, X, Y, Z));
    r = r0; r.divisor = 0;               EXPECT(SR_E_ARG, sr_sinreq(g_be, &r, X, Y, Z));
    r = r0; r.bits = 1;                  EXPECT(SR_E_BITS, sr_sinreq(g_be, &r, X, Y, Z));
    r = r0; r.quantizer = SR_QUANT_DOREFA; r.bits = 17;
    EXPECT(SR_E_BITS, sr_sinreq(g_be, &r, X, Y, Z));
    r = r0; r.coef_slot = SR_SCALAR_SLOTS; EXPECT(SR_E_ARG, sr_sinreq(g_be, &r, X, Y, Z));
    EXPECT(SR_E_ARG, sr_sinreq(g_be, &r0, X, Y, NUL));             /* value */
    r = r0; r.domain = SR_SINREQ_DOMAIN_X;  /* WRPN has no domain X */
    EXPECT(SR_E_ARG, sr_sinreq(g_be, &r, X, Y, Z));
    r.quantizer = SR_QUANT_DOREFA;
    EXPECT(SR_E_ARG, sr_sinreq(g_be, &r, X, X, Z));                /* alias */
    r = r0; r.domain = (sr_sinreq_domain)2;
    EXPECT(SR_E_ARG, sr_sinreq(g_be, &r, X, Y, Z));
    sr_waveq_desc q0 = {64, 64.0f, 1, 2}, q;
    q = q0; q.divisor = -1;  EXPECT(SR_E_ARG, sr_waveq(g_be, &q, X, Z, Y, Z, Z));
    q = q0; q.coef_beta_slot = 64; EXPECT(SR_E_ARG, sr_waveq(g_be, &q, X, Z, Y, Z, Z));
    EXPECT(SR_E_ARG, sr_waveq(g_be, &q0, X, NUL, Y, Z, Z));        /* beta */
    EXPECT(SR_E_ARG, sr_mean_abs_diff(g_be, 64, X, W, NUL));
    EXPECT(SR_E_SHAPE, sr_mean_abs_diff(g_be, 0, X, W, Y));

    /* utility */
    EXPECT(SR_E_SHAPE, sr_fill(g_be, 0, 1.0f, Y));
    EXPECT(SR_E_SHAPE, sr_fill(g_be, 5, 1.0f, S));
    EXPECT(SR_E_SHAPE, sr_copy(g_be, 4, X, sr_at(s.buf, s.words - 3))); /* past end */
    EXPECT(SR_E_SHAPE, sr_add(g_be, 8, X, SOFF, Y));
    EXPECT(SR_E_SHAPE, sr_add_relu(g_be, 8, X, SOFF, Y));
    EXPECT(SR_E_ARG, sr_copy(g_be, 8, NUL, Y));

    /* buffers, scalars, backends */
    sr_buf *nb = (sr_buf *)1;
    EXPECT(SR_E_SHAPE, sr_buf_alloc(g_be, SR_POOL_WEIGHTS, 0, &nb));
    CHECK(nb == NULL, "failed sr_buf_alloc did not set *out = NULL");
    EXPECT(SR_E_ARG, sr_buf_alloc(g_be, (sr_pool)7, 4, &nb));
    EXPECT(SR_E_ARG, sr_buf_alloc(g_be, SR_POOL_WEIGHTS, 4, NULL));
    float tmp[8] = {0};
    EXPECT(SR_E_SHAPE, sr_buf_write(g_be, small, 2, 3, tmp));
    EXPECT(SR_E_SHAPE, sr_buf_read(g_be, small, 5, 0, tmp));
    EXPECT(SR_E_ARG, sr_buf_read(g_be, small, 0, 4, NULL));
    EXPECT(SR_E_ARG, sr_buf_write(g_be, NULL, 0, 4, tmp));
    EXPECT(SR_E_ARG, sr_backend_set_scalar_f(g_be, SR_SCALAR_SLOTS, 1.0f));
    EXPECT(SR_E_ARG, sr_backend_set_scalar_u(g_be, -1, 1u));
    sr_backend *other = (sr_backend *)1;
    EXPECT(SR_E_ARG, sr_backend_create("tpu", NULL, &other));
    CHECK(other == NULL, "failed sr_backend_create did not set *out = NULL");
    EXPECT(SR_E_ARG, sr_backend_create(NULL, NULL, &other));
    EXPECT(SR_E_ARG, sr_backend_create("cpu", NULL, NULL));
#ifndef SR_TEST_HAVE_VULKAN
    EXPECT(SR_E_UNSUPPORTED, sr_backend_create("vulkan", NULL, &other));
#endif

    /* capture misuse */
    sr_program *prog = (sr_program *)1;
    EXPECT(SR_E_ARG, sr_backend_end_capture(g_be, &prog));
    EXPECT(SR_E_ARG, sr_program_run(g_be, NULL));
    if (OK(sr_backend_begin_capture(g_be))) {
        EXPECT(SR_E_ARG, sr_backend_begin_capture(g_be));
        EXPECT(SR_E_ARG, sr_buf_write(g_be, small, 0, 4, tmp));
        EXPECT(SR_E_ARG, sr_buf_read(g_be, small, 0, 4, tmp));
        /* a bad op during capture is rejected and not recorded */
        EXPECT(SR_E_BITS, sr_actq_fwd(g_be, 64, 0, X, Y));
        prog = NULL;
        if (OK(sr_backend_end_capture(g_be, &prog))) {
            OK(sr_program_run(g_be, prog)); /* empty program */
            sr_program_free(g_be, prog);
        }
    }

    /* nothing ran: the slab is unchanged; the backend still works */
    OK(sr_backend_sync(g_be));
    slab_download(&s, "bad input: no op ran");
    OK(sr_fill(g_be, 4, 2.5f, S));
    float back[4] = {0};
    OK(sr_buf_read(g_be, small, 0, 4, back));
    CHECK(back[0] == 2.5f && back[3] == 2.5f,
          "backend broken after bad input: fill gave %g", (double)back[0]);
    sr_buf_free(g_be, small);
    slab_free(&s);
}

/* ------------------------------------------------------------------ */

static int missing_driver(void)
{
    /* Point the loader at an ICD that does not exist (before any Vulkan
     * call in this process). */
    setenv("VK_ICD_FILENAMES", "/nonexistent.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent.json", 1);
    unsetenv("VK_ADD_DRIVER_FILES");
    unsetenv("SINREQ_VK_DEVICE");
    group_begin("vulkan missing driver");
    sr_backend_opts opts = {0};
    sr_backend *be = (sr_backend *)1;
    sr_clear_error();
    sr_status st = sr_backend_create("vulkan", &opts, &be);
    const char *msg = sr_last_error();
    CHECK(st == SR_E_DEVICE, "create with no ICD: %s (want %s): %s",
          sr_status_name(st), sr_status_name(SR_E_DEVICE), msg);
    CHECK(be == NULL, "create with no ICD left *out non-NULL");
    CHECK(strstr(msg, "mesa-vulkan-drivers") != NULL,
          "message does not name the package to install: \"%s\"", msg);
    printf("       message: %s\n", msg);
    if (st == SR_OK && be) sr_backend_free(be);
    group_end();
    return finish();
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s cpu|vulkan|vulkan-missing-driver "
                "[group-substring]\n", argv[0]);
        return 2;
    }
    const char *backend = argv[1];
    g_filter = argc > 2 ? argv[2] : NULL;
    if (strcmp(backend, "vulkan-missing-driver") == 0) return missing_driver();

    test_seed_from_env(0x5eed2024u);
    sr_backend_opts opts = {0};
    int vk = strcmp(backend, "vulkan") == 0;
    if (vk) {
        opts.validation = 1; /* any validation message fails the next call */
        TOL_TRANS = 1e-3;
    }
    group_begin("backend create");
    if (!OK(sr_backend_create(backend, &opts, &g_be))) {
        group_end();
        return finish();
    }
    CHECK(strcmp(sr_backend_name(g_be), vk ? "vulkan" : "cpu") == 0,
          "backend name %s", sr_backend_name(g_be));
    printf("backend %s, device %s\n", sr_backend_name(g_be),
           sr_backend_device_name(g_be));
    group_end();

    static const struct {
        const char *name;
        void (*fn)(void);
    } groups[] = {
        {"utility", test_utility}, {"conv2d", test_conv},
        {"conv2d threads", test_conv_threads},
        {"dwconv2d", test_dwconv},
        {"linear", test_linear},   {"batchnorm", test_bn},
        {"relu", test_relu},       {"dropout", test_dropout},
        {"pooling", test_pool},    {"softmax_xent+top1", test_xent},
        {"sgd", test_sgd},         {"quantizers", test_quant},
        {"sinreq+waveq+mad", test_reg}, {"capture+replay", test_capture},
        {"bad input", test_bad_input},
        {"windows (SINREQ_VK_MAX_RANGE)", test_windows},
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        if (!want(groups[i].name)) continue;
        group_begin(groups[i].name);
        groups[i].fn();
        /* surfaces Vulkan validation messages from this group */
        OK(sr_backend_sync(g_be));
        group_end();
    }
    sr_backend_free(g_be);
    free(g_scratch);
    return finish();
}
