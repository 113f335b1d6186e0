/* check_vk_vs_cpu: run conv2d forward, backward-data and backward-weight on
 * the Vulkan backend and on the CPU backend (the oracle) with the same
 * random inputs, on a few shapes (odd sizes, stride 2, 1x1, 5x5, bias, fused
 * activation quantization, a deep reduction), then the same for the
 * depthwise convolution (MobileNet-like shapes), and compare.
 *
 * Error of one output tensor: max_i |vk_i - cpu_i| / max_i |cpu_i|, i.e. the
 * largest deviation relative to the tensor's scale (an elementwise ratio is
 * meaningless where a sum cancels to ~0). Outputs are poisoned with NaN
 * before each op, so an element the backend never writes fails the check.
 * A non-finite value or an error above --tol (default 1e-4) is a mismatch.
 *
 * Prints one line per (shape, output); exit 0 when all match, 3 on a
 * mismatch, 2 when a backend fails, 1 on a usage error. Meant for a machine
 * where the Vulkan driver is not lavapipe (bench/gpu.sh), and works on
 * lavapipe too. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/backend.h"
#include "sinreq/status.h"

typedef struct check_shape {
    const char *name;
    int n, c, h, w, k, kh, kw, stride, pad, bias, act_bits;
} check_shape;

static const check_shape SHAPES[] = {
    {"first_3x3_bias",   2,   3, 13, 13,   5, 3, 3, 1, 1, 1, 0},
    {"odd_3x3_s2",       3,  16, 17, 17,   8, 3, 3, 2, 1, 0, 0},
    {"sc_1x1_s2",        2,  16, 16, 16,  32, 1, 1, 2, 0, 0, 0},
    {"down_3x3_s2_q4",   2,  16, 16, 16,  32, 3, 3, 2, 1, 0, 4},
    {"down_3x3_s2_32",   2,  16, 32, 32,  32, 3, 3, 2, 1, 0, 0},
    {"odd_15_3x3_s2",    2,   8, 15, 15,  16, 3, 3, 2, 1, 0, 0},
    {"actq4_3x3_bias",   2,  32,  8,  8,  64, 3, 3, 1, 1, 1, 4},
    {"resnet_64_8x8",    4,  64,  8,  8,  64, 3, 3, 1, 1, 0, 0},
    {"rect_5x5",         2,   7,  9, 11,   6, 5, 5, 1, 2, 0, 0},
    {"vgg_deep_256",     2, 256,  4,  4, 128, 3, 3, 1, 1, 0, 0},
    /* the row blocks of conv_fwd_bwd_data (8 to 32 pixels) and
     * conv_bwd_weight read x as vec4s (XV4) at all four phases; few
     * channels, batch 1 and 5,
     * fused quantization (the STE mask read as vec4s), widths that fall
     * back to single-word reads */
    {"c3_32_b1",         1,   3, 32, 32,  16, 3, 3, 1, 1, 0, 0},
    {"c1_64_bias_b5",    5,   1, 64, 64,   4, 3, 3, 1, 1, 1, 0},
    {"c2_16_s2_b5",      5,   2, 16, 16,   3, 3, 3, 2, 1, 0, 0},
    {"c4_32_s2_q4",      2,   4, 32, 32,   8, 3, 3, 2, 1, 0, 4},
    {"c3_48_5x5_p2",     2,   3, 48, 48,   6, 5, 5, 1, 2, 1, 0},
    {"c3_24_q4",         3,   3, 24, 24,   5, 3, 3, 1, 1, 0, 4},
    {"c2_36_5x5_p0",     2,   2, 36, 36,   4, 5, 5, 1, 0, 0, 0},
    {"c2_16_7x7_p3",     2,   2, 16, 16,   3, 7, 7, 1, 3, 0, 0},
    {"c4_20_b5",         5,   4, 20, 20,   7, 3, 3, 1, 1, 0, 0},
    {"c3_31_odd",        1,   3, 31, 32,   2, 3, 3, 1, 1, 1, 0},
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Depthwise (sr_dwconv2d_*): k == c, weights c x 1 x kh x kw. */
static const check_shape DW_SHAPES[] = {
    {"dw_32_3x3",        2,  32, 32, 32,  32, 3, 3, 1, 1, 0, 0},
    {"dw_64_3x3_s2",     2,  64, 32, 32,  64, 3, 3, 2, 1, 0, 0},
    {"dw_512_4x4_q4",    4, 512,  4,  4, 512, 3, 3, 1, 1, 0, 4},
    {"dw_13_5x5_bias",   5,  13, 17, 15,  13, 5, 5, 2, 2, 1, 0},
    {"dw_1024_2x2",      2,1024,  2,  2,1024, 3, 3, 1, 1, 1, 0},
};
#define N_DW_SHAPES (sizeof DW_SHAPES / sizeof DW_SHAPES[0])

/* One side (backend) of the comparison: its buffers for one shape. */
typedef struct side {
    sr_backend *be;
    sr_buf *x, *w, *b, *dy, *y, *dx, *dw, *db;
} side;

static void fill_random(float *p, size_t n, uint64_t *s, float lo, float hi)
{
    size_t i;
    for (i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = lo + (hi - lo) * (float)(*s >> 40) * (1.0f / 16777216.0f);
    }
}

static void side_free(side *sd)
{
    sr_buf **bufs[] = {&sd->x, &sd->w, &sd->b, &sd->dy,
                       &sd->y, &sd->dx, &sd->dw, &sd->db};
    size_t i;
    for (i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (*bufs[i]) {
            sr_buf_free(sd->be, *bufs[i]);
            *bufs[i] = NULL;
        }
}

typedef struct host_data {
    size_t nx, nw, ny, nb;
    float *x, *w, *b, *dy;   /* inputs */
    float *out[2][4];        /* [side][y, dx, dw, db] results */
    float *nan;              /* poison, max(nx, nw, ny) words */
} host_data;

static sr_status side_setup(side *sd, const host_data *hd)
{
    SR_TRY(sr_buf_alloc(sd->be, SR_POOL_ACTIVATIONS, hd->nx, &sd->x));
    SR_TRY(sr_buf_alloc(sd->be, SR_POOL_WEIGHTS, hd->nw, &sd->w));
    SR_TRY(sr_buf_alloc(sd->be, SR_POOL_WEIGHTS, hd->nb, &sd->b));
    SR_TRY(sr_buf_alloc(sd->be, SR_POOL_ACTIVATIONS, hd->ny, &sd->dy));
    SR_TRY(sr_buf_alloc(sd->be, SR_POOL_ACTIVATIONS, hd->ny, &sd->y));
    SR_TRY(sr_buf_alloc(sd->be, SR_POOL_ACTIVATIONS, hd->nx, &sd->dx));
    SR_TRY(sr_buf_alloc(sd->be, SR_POOL_WEIGHTS, hd->nw, &sd->dw));
    SR_TRY(sr_buf_alloc(sd->be, SR_POOL_WEIGHTS, hd->nb, &sd->db));
    SR_TRY(sr_buf_write(sd->be, sd->x, 0, hd->nx, hd->x));
    SR_TRY(sr_buf_write(sd->be, sd->w, 0, hd->nw, hd->w));
    SR_TRY(sr_buf_write(sd->be, sd->b, 0, hd->nb, hd->b));
    SR_TRY(sr_buf_write(sd->be, sd->dy, 0, hd->ny, hd->dy));
    /* poison every output */
    SR_TRY(sr_buf_write(sd->be, sd->y, 0, hd->ny, hd->nan));
    SR_TRY(sr_buf_write(sd->be, sd->dx, 0, hd->nx, hd->nan));
    SR_TRY(sr_buf_write(sd->be, sd->dw, 0, hd->nw, hd->nan));
    SR_TRY(sr_buf_write(sd->be, sd->db, 0, hd->nb, hd->nan));
    return SR_OK;
}

static sr_status side_run(side *sd, const sr_conv2d_desc *d, host_data *hd,
                          int which, int depthwise)
{
    float **o = hd->out[which];
    if (depthwise) {
        SR_TRY(sr_dwconv2d_fwd(sd->be, d, sr_at(sd->x, 0), sr_at(sd->w, 0),
                               d->bias ? sr_at(sd->b, 0) : SR_NONE,
                               sr_at(sd->y, 0)));
        SR_TRY(sr_dwconv2d_bwd_data(sd->be, d, sr_at(sd->dy, 0),
                                    sr_at(sd->w, 0), sr_at(sd->x, 0),
                                    sr_at(sd->dx, 0)));
        SR_TRY(sr_dwconv2d_bwd_weight(sd->be, d, sr_at(sd->x, 0),
                                      sr_at(sd->dy, 0), sr_at(sd->dw, 0),
                                      d->bias ? sr_at(sd->db, 0) : SR_NONE));
        goto read;
    }
    SR_TRY(sr_conv2d_fwd(sd->be, d, sr_at(sd->x, 0), sr_at(sd->w, 0),
                         d->bias ? sr_at(sd->b, 0) : SR_NONE,
                         sr_at(sd->y, 0)));
    SR_TRY(sr_conv2d_bwd_data(sd->be, d, sr_at(sd->dy, 0), sr_at(sd->w, 0),
                              sr_at(sd->x, 0), sr_at(sd->dx, 0)));
    SR_TRY(sr_conv2d_bwd_weight(sd->be, d, sr_at(sd->x, 0), sr_at(sd->dy, 0),
                                sr_at(sd->dw, 0),
                                d->bias ? sr_at(sd->db, 0) : SR_NONE));
read:
    SR_TRY(sr_backend_sync(sd->be));
    SR_TRY(sr_buf_read(sd->be, sd->y, 0, hd->ny, o[0]));
    SR_TRY(sr_buf_read(sd->be, sd->dx, 0, hd->nx, o[1]));
    SR_TRY(sr_buf_read(sd->be, sd->dw, 0, hd->nw, o[2]));
    if (d->bias) SR_TRY(sr_buf_read(sd->be, sd->db, 0, hd->nb, o[3]));
    return SR_OK;
}

/* max |a - ref| / max |ref|; +inf when a value is not finite. */
static double rel_err(const float *a, const float *ref, size_t n)
{
    double dmax = 0.0, rmax = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d;
        if (!isfinite(a[i]) || !isfinite(ref[i])) return INFINITY;
        d = fabs((double)a[i] - (double)ref[i]);
        if (d > dmax) dmax = d;
        if (fabs((double)ref[i]) > rmax) rmax = fabs((double)ref[i]);
    }
    return rmax > 0.0 ? dmax / rmax : dmax;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: check_vk_vs_cpu [options]\n"
"  --tol X         max allowed relative error (default 1e-4)\n"
"  --device STR    Vulkan device index or name substring\n"
"  --validation    enable the Khronos validation layer (fails on a message)\n"
"  --threads N     CPU backend threads (default 0 = OpenMP default)\n"
"  --seed N        input seed (default 42)\n"
"  --verbose       print the chosen devices\n"
"Exit: 0 all match, 3 mismatch, 2 backend failure, 1 usage error.\n");
}

int main(int argc, char **argv)
{
    double tol = 1e-4, worst = 0.0;
    sr_backend_opts vo, co;
    side vk = {0}, cpu = {0};
    uint64_t seed = 42;
    int i, mismatches = 0, rc = 0;
    size_t s;

    memset(&vo, 0, sizeof vo);
    memset(&co, 0, sizeof co);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--validation")) {
            vo.validation = 1;
        } else if (!strcmp(a, "--verbose")) {
            vo.verbose = co.verbose = 1;
        } else if (v && !strcmp(a, "--tol")) {
            errno = 0;
            tol = strtod(v, &end);
            if (errno || *end || !(tol > 0.0)) goto bad_value;
            i++;
        } else if (v && !strcmp(a, "--device")) {
            vo.device = v;
            i++;
        } else if (v && !strcmp(a, "--threads")) {
            long t;
            errno = 0;
            t = strtol(v, &end, 10);
            if (errno || *end || t < 0 || t > 4096) goto bad_value;
            co.threads = (int)t;
            i++;
        } else if (v && !strcmp(a, "--seed")) {
            errno = 0;
            seed = strtoull(v, &end, 10);
            if (errno || *end) goto bad_value;
            i++;
        } else {
            fprintf(stderr, "check_vk_vs_cpu: unknown option or missing "
                    "value '%s' (see --help)\n", a);
            return 1;
        }
        continue;
bad_value:
        fprintf(stderr, "check_vk_vs_cpu: bad value '%s' for %s\n", v, a);
        return 1;
    }

    if (sr_backend_create("cpu", &co, &cpu.be) != SR_OK) {
        fprintf(stderr, "check_vk_vs_cpu: cpu backend: %s\n",
                sr_last_error());
        return 2;
    }
    if (sr_backend_create("vulkan", &vo, &vk.be) != SR_OK) {
        fprintf(stderr, "check_vk_vs_cpu: vulkan backend: %s\n",
                sr_last_error());
        sr_backend_free(cpu.be);
        return 2;
    }
    printf("check_vk_vs_cpu: vulkan on '%s' vs cpu on '%s', tol %.1e\n",
           sr_backend_device_name(vk.be), sr_backend_device_name(cpu.be),
           tol);
    printf("%-16s %-10s %12s  %s\n", "shape", "output", "rel_err",
           "verdict");

    for (s = 0; s < N_SHAPES + N_DW_SHAPES && rc == 0; s++) {
        int dw = s >= N_SHAPES;
        const check_shape *cs = dw ? &DW_SHAPES[s - N_SHAPES] : &SHAPES[s];
        static const char *const names[4] = {"y", "dx", "dw", "db"};
        sr_conv2d_desc d;
        host_data hd;
        size_t nmax, j;
        int o, oom;

        memset(&d, 0, sizeof d);
        d.n = cs->n; d.c = cs->c; d.h = cs->h; d.w = cs->w; d.k = cs->k;
        d.kh = cs->kh; d.kw = cs->kw; d.stride = cs->stride; d.pad = cs->pad;
        d.bias = cs->bias; d.act_bits = cs->act_bits;
        memset(&hd, 0, sizeof hd);
        hd.nx = (size_t)d.n * d.c * d.h * d.w;
        hd.nw = (size_t)(dw ? 1 : d.k) * d.c * d.kh * d.kw;
        hd.ny = (size_t)d.n * d.k * sr_conv2d_out_h(&d) * sr_conv2d_out_w(&d);
        hd.nb = (size_t)d.k;
        nmax = hd.nx > hd.nw ? hd.nx : hd.nw;
        if (hd.ny > nmax) nmax = hd.ny;
        hd.x = malloc(hd.nx * sizeof(float));
        hd.w = malloc(hd.nw * sizeof(float));
        hd.b = malloc(hd.nb * sizeof(float));
        hd.dy = malloc(hd.ny * sizeof(float));
        hd.nan = malloc(nmax * sizeof(float));
        for (o = 0; o < 8; o++)
            hd.out[o / 4][o % 4] = calloc(nmax, sizeof(float));
        oom = !hd.x || !hd.w || !hd.b || !hd.dy || !hd.nan;
        for (o = 0; o < 8; o++)
            if (!hd.out[o / 4][o % 4]) oom = 1;
        if (oom) {
            fprintf(stderr, "check_vk_vs_cpu: out of host memory\n");
            rc = 2;
            goto free_host;
        }
        for (j = 0; j < nmax; j++) hd.nan[j] = NAN;
        if (d.act_bits)
            fill_random(hd.x, hd.nx, &seed, -0.25f, 1.25f);
        else
            fill_random(hd.x, hd.nx, &seed, -1.0f, 1.0f);
        fill_random(hd.w, hd.nw, &seed, -1.0f, 1.0f);
        fill_random(hd.b, hd.nb, &seed, -1.0f, 1.0f);
        fill_random(hd.dy, hd.ny, &seed, -1.0f, 1.0f);

        if (side_setup(&cpu, &hd) != SR_OK ||
            side_run(&cpu, &d, &hd, 1, dw) != SR_OK) {
            fprintf(stderr, "check_vk_vs_cpu: %s on cpu: %s\n", cs->name,
                    sr_last_error());
            rc = 2;
            goto free_bufs;
        }
        if (side_setup(&vk, &hd) != SR_OK ||
            side_run(&vk, &d, &hd, 0, dw) != SR_OK) {
            fprintf(stderr, "check_vk_vs_cpu: %s on vulkan: %s\n", cs->name,
                    sr_last_error());
            rc = 2;
            goto free_bufs;
        }
        for (o = 0; o < (d.bias ? 4 : 3); o++) {
            size_t n = o == 0 ? hd.ny : o == 1 ? hd.nx : o == 2 ? hd.nw
                                                                : hd.nb;
            double e = rel_err(hd.out[0][o], hd.out[1][o], n);
            int ok = e <= tol;
            if (!ok) mismatches++;
            if (e > worst) worst = e;
            printf("%-16s %-10s %12.3e  %s\n", cs->name, names[o], e,
                   ok ? "ok" : "MISMATCH");
        }
free_bufs:
        side_free(&cpu);
        side_free(&vk);
free_host:
        free(hd.x); free(hd.w); free(hd.b); free(hd.dy); free(hd.nan);
        for (o = 0; o < 8; o++) free(hd.out[o / 4][o % 4]);
    }

    sr_backend_free(vk.be);
    sr_backend_free(cpu.be);
    if (rc) return rc;
    printf("check_vk_vs_cpu: max relative error %.3e (tol %.1e): %s\n",
           worst, tol, mismatches ? "FAIL" : "PASS");
    return mismatches ? 3 : 0;
}
