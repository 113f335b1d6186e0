/* bench_train: images/s of the whole training step (forward, loss,
 * backward, SGD momentum update) of one of the paper's networks on one
 * sinreq backend, on a fixed synthetic batch (no loader, no disk).
 *
 *   bench_train [--net NAME] [--batch B] [--threads N] [--backend cpu]
 *               [--warmup W] [--steps S] [--quant none|dorefa|wrpn]
 *               [--bits B] [--act-bits A] [--no-header] [--cpu-time]
 *
 * The net is built with sr_model_build, allocated with sr_nn_alloc, given a
 * random batch once (sr_nn_set_batch), then sr_nn_train_step runs W times
 * untimed and S times timed, each timed step followed by sr_backend_sync
 * (and a read of the loss) before the clock stops. Prints one TSV line:
 *   side net batch threads quant median_ms images_per_s min_ms loss
 * Bench/train_throughput.sh runs it next to the PyTorch equivalent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinreq/backend.h"
#include "sinreq/models.h"
#include "sinreq/nn.h"
#include "sinreq/quant.h"
#include "sinreq/rng.h"
#include "sinreq/status.h"

/* --cpu-time: the process's CPU time (divided by the thread count below),
 * for a machine shared with other jobs */
static int g_cpu_time;

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

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_train [--net NAME] [--batch B] [--threads N] "
               "[--backend cpu|vulkan] [--warmup W] [--steps S] "
               "[--quant none|dorefa|wrpn] [--bits B] [--act-bits A] "
               "[--no-header] [--cpu-time]\n");
}

#define TRY(expr)                                                          \
    do {                                                                   \
        sr_status st_ = (expr);                                            \
        if (st_ != SR_OK) {                                                \
            fprintf(stderr, "bench_train: %s: %s\n", #expr,               \
                    sr_last_error());                                      \
            return 2;                                                      \
        }                                                                  \
    } while (0)

int main(int argc, char **argv)
{
    const char *net_name = "resnet20", *backend = "cpu", *quant = "none";
    int batch = 128, threads = 0, warmup = 3, steps = 10, bits = 4;
    int act_bits = 0, header = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-header")) { header = 0; continue; }
        if (!strcmp(a, "--cpu-time")) { g_cpu_time = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!v) { usage(stderr); return 1; }
        if (!strcmp(a, "--net")) net_name = v;
        else if (!strcmp(a, "--backend")) backend = v;
        else if (!strcmp(a, "--quant")) quant = v;
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--bits")) bits = atoi(v);
        else if (!strcmp(a, "--act-bits")) act_bits = atoi(v);
        else { fprintf(stderr, "bench_train: unknown flag %s\n", a); usage(stderr); return 1; }
        i++;
    }
    if (batch < 1 || steps < 1 || warmup < 0) { usage(stderr); return 1; }

    sr_backend_opts bo = {0};
    bo.threads = threads;
    sr_backend *be = NULL;
    TRY(sr_backend_create(backend, &bo, &be));

    sr_model_opts mo = {0};
    mo.name = net_name;
    mo.batch = batch;
    sr_nn *net = NULL;
    TRY(sr_model_build(&mo, &net));

    sr_quant_opts qo;
    sr_quant_opts_default(&qo);
    TRY(sr_quant_quantizer_parse(quant, &qo.quantizer));
    qo.bits = bits;
    qo.act_bits = act_bits;
    if (qo.quantizer != SR_QUANT_NONE) TRY(sr_nn_set_quant(net, &qo));

    sr_nn_opts no;
    sr_nn_opts_default(&no);
    no.seed = 1;
    TRY(sr_nn_alloc(net, be, &no));

    int c, h, w, classes;
    TRY(sr_model_defaults(net_name, &c, &h, &w, &classes));
    size_t nx = (size_t)batch * (size_t)c * (size_t)h * (size_t)w;
    float *x = malloc(nx * sizeof *x);
    uint32_t *y = malloc((size_t)batch * sizeof *y);
    if (!x || !y) { fprintf(stderr, "bench_train: out of memory\n"); return 2; }
    uint32_t key = sr_rng_key(7, 0, 0);
    for (size_t i = 0; i < nx; i++)
        x[i] = 2.0f * sr_rng_uniform(key, (uint32_t)i) - 1.0f;
    for (int i = 0; i < batch; i++)
        y[i] = (uint32_t)(sr_rng_uniform(key, (uint32_t)(nx + (size_t)i)) *
                          (float)classes) % (uint32_t)classes;
    TRY(sr_nn_set_batch(net, x, y));

    sr_nn_scalars sc = {0};
    sc.lr = 0.01f;
    double *t = malloc((size_t)steps * sizeof *t);
    if (!t) return 2;
    float loss = 0.0f;
    for (int i = 0; i < warmup + steps; i++) {
        sc.step = (uint32_t)i;
        TRY(sr_nn_set_scalars(net, &sc));
        double t0 = now_s();
        TRY(sr_nn_train_step(net));
        TRY(sr_backend_sync(be));
        TRY(sr_nn_read_stats(net, &loss, NULL));
        double t1 = now_s();
        if (i >= warmup)
            t[i - warmup] = (t1 - t0) / (g_cpu_time && threads > 1 ? threads : 1);
    }
    qsort(t, (size_t)steps, sizeof *t, cmp_double);
    double med = steps % 2 ? t[steps / 2]
                           : 0.5 * (t[steps / 2 - 1] + t[steps / 2]);
    if (header)
        printf("side\tnet\tbatch\tthreads\tquant\tmedian_ms\timages_per_s"
               "\tmin_ms\tloss\n");
    printf("sinreq-%s\t%s\t%d\t%d\t%s\t%.2f\t%.1f\t%.2f\t%.8g\n", backend,
           net_name, batch, threads, quant, med * 1e3, (double)batch / med,
           t[0] * 1e3, (double)loss);
    free(t);
    free(x);
    free(y);
    sr_nn_free(net);
    sr_backend_free(be);
    return 0;
}
