/* Golden test: one training step of cifar10net and resnet20 (DoReFa 4-bit
 * weights, SinReQ at a fixed lambda, BN in training mode, SGD with momentum
 * and weight decay) against PyTorch, float64, written by make_golden.py.
 *
 * The step runs as the single-rank trainer runs it: sr_model_build,
 * sr_nn_set_quant, sr_nn_alloc, then sr_nn_train_step captured once into a
 * program and replayed. The file's weights, momentum buffers and batch
 * replace sinreq's initial ones; then logits, data loss, every layer's
 * SinReQ value and quantization error, every quantized weight, every
 * parameter gradient, the SGD update, the momentum buffers and the BN
 * running statistics are compared.
 *
 * usage: test_golden cpu|vulkan GOLDEN.h5
 * Exits 77 (skipped) when the Vulkan backend has no device. */
#include <hdf5.h>

#include "../nn/nn_util.h"

/* Tolerances. sinreq computes in float32 (2^-24 = 6e-8 per rounding); the
 * golden values are float64 from the same float32 inputs, so the bounds
 * only have to cover sinreq's own rounding. Measured on every CPU kernel
 * set, the im2col path and lavapipe: logits and losses ~1e-6 relative,
 * gradients <= 4e-6 normwise and at most 0.09 of the elementwise bound
 * below, R_l and mean |W - Wq| ~1e-7. The bounds are 10-20x above that and
 * far below what a different definition gives: each of a dozen changes to
 * make_golden.py (SinReQ's sign, shift or lambda x 1.01, BN eps x 1.1 or
 * its momentum, the DoReFa gradient through max|tanh W|, Nesterov, weight
 * decay x 1.1, ...) exceeds the bound by 30x (lambda x 1.01, decay x 1.1)
 * to 1e6x (docs/design.md, Testing).
 *
 * Elementwise, |got - ref| <= RTOL |ref| + ATOL max|ref| over the tensor:
 * an element much smaller than the tensor's largest is a sum that cancelled,
 * and its error is that of the large terms it summed. */
#define RTOL 1e-4
#define ATOL 1e-4
/* Scalars (losses, R_l, mean quantization error): relative. */
#define TOL_SCALAR 1e-5
/* DoReFa levels 2 r / 15 - 1 in float32 vs float64: a few ulp. */
#define TOL_WQ 1e-6

static sr_backend *be;
static const char *golden_path;

/* ---- reading the golden file ---- */

static int h5_exists(hid_t g, const char *path)
{
    /* H5Lexists checks one link at a time: walk the path's parents */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = '\0';
        if (H5Lexists(g, buf, H5P_DEFAULT) <= 0) return 0;
        if (!c) return 1;
        *p = c;
    }
}

/* Reads dataset `path` of group g as doubles (malloc'd). n: elements
 * expected (0: any, then *n_out gets the count); dims (may be NULL) gets
 * the shape, *ndim its rank. NULL after a message naming file and path. */
static double *h5_read(hid_t g, const char *model, const char *path,
                       size_t n, size_t *n_out, int *ndim, hsize_t dims[4])
{
    if (!h5_exists(g, path)) {
        fprintf(stderr, "%s: /%s/%s is missing\n", golden_path, model, path);
        return NULL;
    }
    hid_t d = H5Dopen2(g, path, H5P_DEFAULT);
    hid_t s = d < 0 ? -1 : H5Dget_space(d);
    hsize_t dd[8] = {0};
    int r = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
    if (r < 0 || r > 4 || H5Sget_simple_extent_dims(s, dd, NULL) < 0) {
        fprintf(stderr, "%s: /%s/%s is not a dataset of rank <= 4\n",
                golden_path, model, path);
        if (s >= 0) H5Sclose(s);
        if (d >= 0) H5Dclose(d);
        return NULL;
    }
    size_t cnt = 1;
    for (int i = 0; i < r; i++) cnt *= (size_t)dd[i];
    double *v = NULL;
    if (n && cnt != n)
        fprintf(stderr, "%s: /%s/%s has %zu values, expected %zu\n",
                golden_path, model, path, cnt, n);
    else if (!(v = malloc((cnt ? cnt : 1) * sizeof *v)))
        fprintf(stderr, "out of memory\n");
    else if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     v) < 0) {
        fprintf(stderr, "%s: cannot read /%s/%s as numbers\n", golden_path,
                model, path);
        free(v);
        v = NULL;
    }
    if (ndim) *ndim = r;
    if (dims)
        for (int i = 0; i < 4; i++) dims[i] = i < r ? dd[i] : 0;
    if (n_out) *n_out = cnt;
    H5Sclose(s);
    H5Dclose(d);
    return v;
}

static int h5_attr(hid_t g, const char *model, const char *name, double *v)
{
    if (H5Aexists(g, name) <= 0) {
        fprintf(stderr, "%s: /%s@%s is missing\n", golden_path, model, name);
        return -1;
    }
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    int ok = a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0;
    if (a >= 0) H5Aclose(a);
    if (!ok)
        fprintf(stderr, "%s: /%s@%s is not a number\n", golden_path, model,
                name);
    return ok ? 0 : -1;
}

/* Number of links in group `path` (-1: missing). */
static long h5_count(hid_t g, const char *path)
{
    H5G_info_t info;
    if (!h5_exists(g, path) ||
        H5Gget_info_by_name(g, path, &info, H5P_DEFAULT) < 0)
        return -1;
    return (long)info.nlinks;
}

/* ---- comparing ---- */

/* Elementwise within RTOL |ref| + ATOL max|ref| (see the top), plus
 * slack[i] where slack is not NULL; prints the worst element as a fraction
 * of its bound, and the normwise error. */
static void compare_slack(const char *model, const char *what,
                          const float *got, const double *ref,
                          const double *slack, size_t n)
{
    double scale = 0, worst = 0, num = 0, den = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        double r = e / (RTOL * fabs(ref[i]) + ATOL * scale +
                        (slack ? slack[i] : 0.0) + 1e-30);
        if (!(r <= worst)) {  /* NaN counts as the worst */
            worst = r;
            wi = i;
        }
        num += e * e;
        den += ref[i] * ref[i];
    }
    CHECK(worst <= 1.0, "%s %s[%zu]: %.9g, PyTorch %.9g (max |ref| %.3g): "
          "%.2fx the tolerance", model, what, wi, n ? got[wi] : 0.0,
          n ? ref[wi] : 0.0, scale, worst);
    fprintf(stderr, "  %-36s %8zu values  worst %.3f of tol  normwise "
            "%.2e\n", what, n, worst, den > 0 ? sqrt(num / den) : sqrt(num));
}

static void compare(const char *model, const char *what, const float *got,
                    const double *ref, size_t n)
{
    compare_slack(model, what, got, ref, NULL, n);
}

static void compare_scalar(const char *model, const char *what, double got,
                           double ref, double tol)
{
    double e = fabs(got - ref) / fmax(fabs(ref), 1e-30);
    CHECK(e <= tol, "%s %s: %.9g, PyTorch %.9g (relative %.2e > %.0e)", model,
          what, got, ref, e, tol);
    fprintf(stderr, "  %-36s %.9g vs %.9g  relative %.2e\n", what, got, ref,
            e);
}

/* ---- one network ---- */

typedef struct golden_net {
    const char *model;
    hid_t g;
    sr_nn *net;
    double lr, lambda;
    float *x;      /* the batch, from the file */
    uint32_t *y;
} golden_net;

/* Word location of trainable tensor t's momentum (the momentum slab has
 * the parameter slab's layout). */
static sr_buf *momentum_buf(sr_nn *net, const sr_nn_tensor_info *ti)
{
    sr_buf *m = NULL;
    if (sr_nn_slab(net, ti->slab, NULL, NULL, &m, NULL) != SR_OK) return NULL;
    return m;
}

/* Builds the net as the trainer does and loads the file's parameters,
 * running statistics and momentum buffers. */
static void setup(golden_net *G)
{
    const char *model = G->model;
    double bits, mom, wd, eps, bnm;
    int ok = h5_attr(G->g, model, "bits", &bits) == 0 &&
             h5_attr(G->g, model, "lambda", &G->lambda) == 0 &&
             h5_attr(G->g, model, "lr", &G->lr) == 0 &&
             h5_attr(G->g, model, "momentum", &mom) == 0 &&
             h5_attr(G->g, model, "weight_decay", &wd) == 0 &&
             h5_attr(G->g, model, "bn_eps", &eps) == 0 &&
             h5_attr(G->g, model, "bn_momentum", &bnm) == 0;
    CHECK(ok, "%s: settings missing", model);
    if (!ok) return;
    double rm, pm;
    if (h5_attr(G->g, model, "relu_margin", &rm) == 0 &&
        h5_attr(G->g, model, "maxpool_margin", &pm) == 0)
        fprintf(stderr, "%s: closest ReLU input %.2e rms, max-pool "
                "runner-up %.2e rms (in PyTorch's pass)\n", model, rm, pm);
    /* the batch [n][c][h][w] sets the net's batch and input size */
    size_t nx = 0;
    int nd = 0;
    hsize_t xd[4];
    double *x = h5_read(G->g, model, "input", 0, &nx, &nd, xd);
    CHECK(x && nd == 4 && nx > 0, "%s: input is not [n][c][h][w]", model);
    if (!x || nd != 4 || nx == 0) {
        free(x);
        return;
    }
    double *y = h5_read(G->g, model, "labels", (size_t)xd[0], NULL, NULL,
                        NULL);
    CHECK(y, "%s: labels", model);
    if (!y) {
        free(x);
        return;
    }

    sr_model_opts mo = {.name = model, .batch = (int)xd[0],
                        .in_c = (int)xd[1], .in_h = (int)xd[2],
                        .in_w = (int)xd[3]};
    sr_status built = sr_model_build(&mo, &G->net);
    if (built == SR_OK) {
        float *xf = malloc(nx * sizeof *xf);
        uint32_t *yl = malloc((size_t)xd[0] * sizeof *yl);
        if (xf && yl) {
            for (size_t i = 0; i < nx; i++) xf[i] = (float)x[i];
            for (size_t i = 0; i < (size_t)xd[0]; i++)
                yl[i] = (uint32_t)y[i];
            G->x = xf;
            G->y = yl;
        } else {
            free(xf), free(yl);
            built = sr_error(SR_E_NOMEM, "out of memory");
        }
    }
    free(x), free(y);
    TRY(built);
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_DOREFA;
    q.bits = (int)bits;
    q.reg = SR_QUANT_REG_SINREQ;
    q.norm = SR_QUANT_NORM_LAYER_MEAN;
    TRY(sr_nn_set_quant(G->net, &q));
    sr_nn_opts o;
    sr_nn_opts_default(&o);
    o.momentum = (float)mom;
    o.weight_decay = (float)wd;
    o.decay_bn_bias = 1;  /* torch.optim.SGD decays every tensor */
    o.bn_eps = (float)eps;
    o.bn_momentum = (float)bnm;
    TRY(sr_nn_alloc(G->net, be, &o));
    sr_nn *net = G->net;

    /* the same quantized layers: the file has wq/<layer> for those */
    for (int i = 0; i < sr_nn_layer_count(net); i++) {
        sr_nn_layer_info li;
        TRY(sr_nn_layer(net, i, &li));
        if (li.kind != SR_NN_CONV2D && li.kind != SR_NN_LINEAR) continue;
        char p[160];
        snprintf(p, sizeof p, "wq/%s", li.name);
        CHECK((li.qidx >= 0) == h5_exists(G->g, p),
              "%s: sinreq %s layer %s, PyTorch does not", model,
              li.qidx >= 0 ? "quantizes" : "keeps float32", li.name);
    }
    /* the same tensors, with the same shapes */
    long nfile = h5_count(G->g, "params");
    CHECK(nfile == sr_nn_tensor_count(net), "%s: %ld tensors in the file, "
          "%d in sinreq", model, nfile, sr_nn_tensor_count(net));
    for (int t = 0; t < sr_nn_tensor_count(net); t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
        char p[160];
        int rank = 0;
        hsize_t dims[4];
        snprintf(p, sizeof p, "params/%s", ti->name);
        double *v = h5_read(G->g, model, p, 0, NULL, &rank, dims);
        CHECK(v, "%s: no %s", model, p);
        if (!v) continue;
        int same = rank == ti->ndim;
        for (int k = 0; same && k < rank; k++)
            same = dims[k] == (hsize_t)ti->dims[k];
        CHECK(same, "%s: %s has another shape in the file", model, ti->name);
        float *f = malloc(ti->numel * sizeof *f);
        if (same && f) {
            for (size_t i = 0; i < ti->numel; i++) f[i] = (float)v[i];
            TRY(sr_nn_write_tensor(net, t, f));
        }
        free(v);
        if (same && f && ti->trainable) {
            snprintf(p, sizeof p, "momentum/%s", ti->name);
            v = h5_read(G->g, model, p, ti->numel, NULL, NULL, NULL);
            sr_buf *m = momentum_buf(net, ti);
            CHECK(v && m, "%s: no momentum for %s", model, ti->name);
            if (v && m) {
                for (size_t i = 0; i < ti->numel; i++) f[i] = (float)v[i];
                TRY(sr_buf_write(be, m, ti->off, ti->numel, f));
            }
            free(v);
        }
        free(f);
    }

    TRY(sr_nn_set_batch(net, G->x, G->y));
}

/* The trainer's single-rank step: sr_nn_train_step captured once, run. */
static void step(golden_net *G)
{
    sr_nn_scalars s = {.lr = (float)G->lr, .step = 0,
                       .lambda = (float)G->lambda};
    TRY(sr_nn_set_scalars(G->net, &s));
    sr_program *prog = NULL;
    TRY(sr_backend_begin_capture(be));
    sr_status st = sr_nn_train_step(G->net);
    sr_status st2 = sr_backend_end_capture(be, &prog);
    TRY(st);
    TRY(st2);
    sr_status run = sr_program_run(be, prog);
    sr_program_free(be, prog);
    TRY(run);
    TRY(sr_backend_sync(be));
}

static void check_results(golden_net *G)
{
    const char *model = G->model;
    sr_nn *net = G->net;
    int n = sr_nn_batch(net), k = sr_nn_classes(net);

    float *z = malloc((size_t)n * k * sizeof *z);
    double *ref = h5_read(G->g, model, "logits", (size_t)n * k, NULL, NULL,
                          NULL);
    CHECK(z && ref, "%s: logits", model);
    if (z && ref) {
        TRY(sr_nn_read_logits(net, z));
        compare(model, "logits", z, ref, (size_t)n * k);
    }
    free(z), free(ref);

    float loss;
    TRY(sr_nn_read_stats(net, &loss, NULL));
    ref = h5_read(G->g, model, "loss_data", 1, NULL, NULL, NULL);
    if (ref) compare_scalar(model, "data loss", loss, ref[0], TOL_SCALAR);
    CHECK(ref, "%s: loss_data", model);
    free(ref);

    /* SinReQ per quantized layer, its lambda-weighted sum, mean |W - Wq|
     * and Wq itself */
    int nq = sr_nn_quant_count(net);
    float *reg = malloc((size_t)(nq ? nq : 1) * sizeof *reg);
    float *qerr = malloc((size_t)(nq ? nq : 1) * sizeof *qerr);
    CHECK(reg && qerr, "out of memory");
    if (!reg || !qerr) return;
    TRY(sr_nn_read_quant_metrics(net, reg, qerr));
    double reg_sum = 0;
    for (int i = 0; i < sr_nn_layer_count(net); i++) {
        sr_nn_layer_info li;
        TRY(sr_nn_layer(net, i, &li));
        if (li.qidx < 0) continue;
        char p[160], what[200];
        reg_sum += reg[li.qidx];
        snprintf(p, sizeof p, "reg/%s", li.name);
        ref = h5_read(G->g, model, p, 1, NULL, NULL, NULL);
        snprintf(what, sizeof what, "R %s", li.name);
        if (ref) compare_scalar(model, what, reg[li.qidx], ref[0], TOL_SCALAR);
        CHECK(ref, "%s: %s", model, p);
        free(ref);
        snprintf(p, sizeof p, "qerr/%s", li.name);
        ref = h5_read(G->g, model, p, 1, NULL, NULL, NULL);
        snprintf(what, sizeof what, "mean|W-Wq| %s", li.name);
        if (ref)
            compare_scalar(model, what, qerr[li.qidx], ref[0], TOL_SCALAR);
        CHECK(ref, "%s: %s", model, p);
        free(ref);
        snprintf(p, sizeof p, "wq/%s", li.name);
        ref = h5_read(G->g, model, p, li.weight_numel, NULL, NULL, NULL);
        float *wq = malloc(li.weight_numel * sizeof *wq);
        CHECK(ref && wq, "%s: %s", model, p);
        if (ref && wq) {
            TRY(sr_nn_read_wq(net, li.qidx, wq));
            size_t bad = 0, first = 0;
            for (size_t j = 0; j < li.weight_numel; j++)
                if (!(fabs(wq[j] - ref[j]) <= TOL_WQ) && !bad++) first = j;
            CHECK(!bad, "%s %s: %zu quantized weights on another level, "
                  "first [%zu] %.9g vs PyTorch %.9g", model, p, bad, first,
                  wq[first], ref[first]);
        }
        free(ref), free(wq);
    }
    ref = h5_read(G->g, model, "loss_reg", 1, NULL, NULL, NULL);
    if (ref)
        compare_scalar(model, "lambda sum R_l", G->lambda * reg_sum, ref[0],
                       TOL_SCALAR);
    CHECK(ref, "%s: loss_reg", model);
    free(ref), free(reg), free(qerr);

    /* gradients, the SGD update, momentum, running statistics */
    for (int t = 0; t < sr_nn_tensor_count(net); t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
        size_t m = ti->numel;
        char p[160], what[200];
        float *got = malloc(m * sizeof *got);
        CHECK(got, "out of memory");
        if (!got) return;
        snprintf(p, sizeof p, "params/%s", ti->name);
        double *before = h5_read(G->g, model, p, m, NULL, NULL, NULL);
        snprintf(p, sizeof p, "params_after/%s", ti->name);
        double *after = h5_read(G->g, model, p, m, NULL, NULL, NULL);
        CHECK(before && after, "%s: %s", model, p);
        if (ti->trainable) {
            snprintf(p, sizeof p, "grads/%s", ti->name);
            ref = h5_read(G->g, model, p, m, NULL, NULL, NULL);
            CHECK(ref, "%s: %s", model, p);
            if (ref) {
                TRY(sr_nn_read_grad(net, t, got));
                snprintf(what, sizeof what, "grad %s", ti->name);
                compare(model, what, got, ref, m);
            }
            free(ref);
            snprintf(p, sizeof p, "momentum_after/%s", ti->name);
            ref = h5_read(G->g, model, p, m, NULL, NULL, NULL);
            sr_buf *mb = momentum_buf(net, ti);
            CHECK(ref && mb, "%s: %s", model, p);
            if (ref && mb) {
                TRY(sr_buf_read(be, mb, ti->off, m, got));
                snprintf(what, sizeof what, "momentum %s", ti->name);
                compare(model, what, got, ref, m);
            }
            free(ref);
            /* the update w_before - w_after: compared as such, since w
             * itself moves by ~1e-4 of its value. sinreq stores w_after
             * in float32, so each element may also be off by that
             * rounding, half an ulp, <= 2^-24 |w| (slack). */
            if (before && after) {
                TRY(sr_nn_read_tensor(net, t, got));
                double *d = malloc(m * sizeof *d);
                double *ulp = malloc(m * sizeof *ulp);
                CHECK(d && ulp, "out of memory");
                if (d && ulp) {
                    for (size_t i = 0; i < m; i++) {
                        d[i] = before[i] - after[i];
                        ulp[i] = ldexp(fabs(after[i]), -24);
                        got[i] = (float)(before[i] - (double)got[i]);
                    }
                    snprintf(what, sizeof what, "update %s", ti->name);
                    compare_slack(model, what, got, d, ulp, m);
                }
                free(d), free(ulp);
            }
        } else if (after) {
            TRY(sr_nn_read_tensor(net, t, got));
            snprintf(what, sizeof what, "state %s", ti->name);
            compare(model, what, got, after, m);
        }
        free(before), free(after), free(got);
    }
}

static void golden(hid_t file, const char *model)
{
    golden_net G = {.model = model};
    fprintf(stderr, "%s on %s\n", model, sr_backend_device_name(be));
    if (H5Lexists(file, model, H5P_DEFAULT) <= 0) {
        CHECK(0, "%s: no group /%s", golden_path, model);
        return;
    }
    G.g = H5Gopen2(file, model, H5P_DEFAULT);
    int before = nt_failures;
    setup(&G);
    /* a broken setup or step leaves nothing worth comparing */
    if (G.net && nt_failures == before) step(&G);
    if (G.net && nt_failures == before) check_results(&G);
    sr_nn_free(G.net);
    free(G.x), free(G.y);
    H5Gclose(G.g);
}

static hid_t golden_file;
static void test_cifar10net(void) { golden(golden_file, "cifar10net"); }
static void test_resnet20(void) { golden(golden_file, "resnet20"); }

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "cpu") && strcmp(argv[1], "vulkan"))) {
        fprintf(stderr, "usage: test_golden cpu|vulkan GOLDEN.h5 (written by "
                "tests/golden/make_golden.py)\n");
        return 2;
    }
    golden_path = argv[2];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    golden_file = H5Fopen(golden_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (golden_file < 0) {
        fprintf(stderr, "%s: cannot open as HDF5 (make_golden.py writes "
                "it)\n", golden_path);
        return 1;
    }
    if (sr_backend_create(argv[1], NULL, &be) != SR_OK) {
        fprintf(stderr, "%s backend: %s\n", argv[1], sr_last_error());
        H5Fclose(golden_file);
        if (strcmp(argv[1], "vulkan") == 0) {
            fprintf(stderr, "skipped: no Vulkan device\n");
            return 77;
        }
        return 1;
    }
    RUN(test_cifar10net);
    RUN(test_resnet20);
    sr_backend_free(be);
    H5Fclose(golden_file);
    return nt_finish();
}
