/* Whole networks on the CPU backend: finite-difference gradient checks,
 * a training step on every network, loss decreasing, capture/replay equal
 * to immediate execution, quantized forward on the levels, SinReQ's and
 * WaveQ's gradients, and errors. `--big` runs alexnet and resnet18. */
#include "nn_util.h"

#include "sinreq/qmath.h"

static sr_backend *be;

/* ------------------------------------------------------------------ */
/* A small ResNet-like graph: BN, projection and identity shortcuts,
 * dropout, maxpool, adaptive avgpool, flatten, linear. */
static sr_status tiny_resnet_slabs(int batch, size_t max_slab_words,
                                   sr_nn **out)
{
    sr_nn *net;
    SR_TRY(sr_nn_create("tiny", batch, 3, 8, 8, "3x8x8", &net));
    int x = sr_nn_input(net);
    x = sr_nn_conv2d(net, "conv1", x, 4, 3, 1, 1, 0);
    x = sr_nn_batchnorm(net, "bn1", x);
    x = sr_nn_relu(net, "relu", x);
    int s = sr_nn_conv2d(net, "l1.down.0", x, 8, 1, 2, 0, 0);
    s = sr_nn_batchnorm(net, "l1.down.1", s);
    x = sr_nn_conv2d(net, "l1.conv1", x, 8, 3, 2, 1, 0);
    x = sr_nn_batchnorm(net, "l1.bn1", x);
    x = sr_nn_relu(net, "l1.relu1", x);
    x = sr_nn_conv2d(net, "l1.conv2", x, 8, 3, 1, 1, 0);
    x = sr_nn_batchnorm(net, "l1.bn2", x);
    x = sr_nn_add(net, "l1.add", x, s);
    x = sr_nn_relu(net, "l1.relu2", x);
    s = x;
    x = sr_nn_conv2d(net, "l2.conv1", x, 8, 3, 1, 1, 1);
    x = sr_nn_relu(net, "l2.relu1", x);
    x = sr_nn_dropout(net, "l2.drop", x, 0.25f);
    x = sr_nn_conv2d(net, "l2.conv2", x, 8, 3, 1, 1, 0);
    x = sr_nn_batchnorm(net, "l2.bn2", x);
    x = sr_nn_add(net, "l2.add", s, x);
    x = sr_nn_relu(net, "l2.relu2", x);
    x = sr_nn_maxpool(net, "pool", x, 2, 2, 0);
    x = sr_nn_avgpool(net, "avgpool", x, 1, 1);
    x = sr_nn_flatten(net, "flatten", x);
    x = sr_nn_linear(net, "fc", x, 8, 5, 1);
    sr_status st = sr_nn_set_output(net, x, 1);
    if (st == SR_OK) {
        sr_nn_opts o;
        sr_nn_opts_default(&o);
        o.seed = 5;
        o.max_slab_words = max_slab_words;
        st = sr_nn_alloc(net, be, &o);
    }
    if (st != SR_OK) {
        sr_nn_free(net);
        return st;
    }
    *out = net;
    return SR_OK;
}

static sr_status tiny_resnet(int batch, sr_nn **out)
{
    return tiny_resnet_slabs(batch, 0, out);
}

/* The check differentiates S(w) = sum_ij G_ij z_ij(w), z the logits and
 * G = dloss/dz at the base point, held fixed. Its gradient is exactly what
 * backward computes (J^T G), but unlike the float32 loss (quantized at
 * ulp(2.3) = 2.4e-7, i.e. 1e-3 noise at a 1e-4 step) each logit is read
 * with ~1e-8 absolute precision, so small steps stay above the noise. */
static double *nt_g;

static double surrogate(sr_nn *net)
{
    int n = sr_nn_batch(net), k = sr_nn_classes(net);
    float *z = malloc((size_t)n * k * sizeof *z);
    double s = 0;
    if (!z || sr_nn_forward(net, 1) != SR_OK || sr_nn_read_logits(net, z) != SR_OK) {
        free(z);
        return NAN;
    }
    for (int i = 0; i < n * k; i++) s += nt_g[i] * z[i];
    free(z);
    return s;
}

/* G = (softmax(z) - onehot(y)) / n, in double, from the current logits. */
static sr_status set_g(sr_nn *net, const uint32_t *labels)
{
    int n = sr_nn_batch(net), k = sr_nn_classes(net);
    float *z = malloc((size_t)n * k * sizeof *z);
    free(nt_g);
    nt_g = malloc((size_t)n * k * sizeof *nt_g);
    SR_CHECK(z && nt_g, SR_E_NOMEM, "out of memory");
    SR_TRY(sr_nn_read_logits(net, z));
    for (int i = 0; i < n; i++) {
        double m = -INFINITY, sum = 0;
        for (int j = 0; j < k; j++) m = fmax(m, z[i * k + j]);
        for (int j = 0; j < k; j++) sum += exp(z[i * k + j] - m);
        for (int j = 0; j < k; j++)
            nt_g[i * k + j] = (exp(z[i * k + j] - m) / sum -
                               (j == (int)labels[i])) / n;
    }
    free(z);
    return SR_OK;
}

/* Finite differences in float32, on the surrogate S above, central. For
 * every trainable tensor:
 *  (a) along its own gradient direction u = g/|g|: the derivative of S
 *      along u must equal |g| within 2e-4 + 2%;
 *  (b) on the 3 elements with the largest |g_i| and 2 random ones: within
 *      5e-4 + 5% (an absolute floor for the BN-amplified rounding noise).
 * A wrong buffer, a missed accumulation or a sign error gives O(1) errors.
 * Two steps are tried, 1e-4 then 1e-3, and a point passes at the first that
 * agrees: at 1e-4 float32 rounding of the logits moves S by up to ~1e-7
 * (1e-3 on the slope, measured on a gradient of 1.2e-4 when the layers'
 * rounding changed), at 1e-3 ReLU/max-pool switching inside the step gives
 * 5-20% errors on single elements. Neither changes a correct gradient into
 * an O(1) error. A step whose left and right slopes differ by twice the
 * tolerance has a kink inside it and is not judged; a point with kinks at
 * both steps is counted, and more than one in ten fails the check. */
enum { FD_AGREES, FD_OFF, FD_KINK };

static int fd_judge(sr_nn *net, int t, const float *w, const float *dir,
                    float *wp, size_t n, double l0, double want, double tol,
                    double *fd)
{
    static const double steps[] = {1e-4, 1e-3};
    int smooth = 0;
    for (int k = 0; k < 2; k++) {
        double e = steps[k], l[2];
        for (int side = 0; side < 2; side++) {
            double sgn = side ? -1.0 : 1.0;
            for (size_t i = 0; i < n; i++)
                wp[i] = dir[i] != 0.0f ? w[i] + (float)(sgn * e * dir[i])
                                       : w[i];
            if (sr_nn_write_tensor(net, t, wp) != SR_OK) return FD_OFF;
            l[side] = surrogate(net);
        }
        if (sr_nn_write_tensor(net, t, w) != SR_OK) return FD_OFF;
        if (fabs((l[0] - l0) - (l0 - l[1])) / e > 2 * tol) continue;
        smooth = 1;
        *fd = (l[0] - l[1]) / (2 * e);
        if (fabs(*fd - want) <= tol) return FD_AGREES;
    }
    return smooth ? FD_OFF : FD_KINK;
}

static void gradcheck(sr_nn *net, const char *what)
{
    TRY(nu_scalars(net, 0.0f, 3, 0.0f));
    TRY(sr_nn_forward(net, 1));
    TRY(sr_nn_loss(net, 0));
    TRY(sr_nn_backward(net));
    uint32_t labels[64];
    TRY(sr_buf_read(be, sr_nn_label_buf(net), 0, (size_t)sr_nn_batch(net),
                    labels));
    TRY(set_g(net, labels));
    const double l0 = surrogate(net);
    int bad = 0, checked = 0, kinks = 0;
    for (int t = 0; t < sr_nn_tensor_count(net); t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
        if (!ti->trainable) continue;
        size_t n = ti->numel;
        float *w = malloc(n * sizeof *w), *g = malloc(n * sizeof *g),
              *wp = malloc(n * sizeof *wp), *dir = calloc(n, sizeof *dir);
        if (!w || !g || !wp || !dir) {
            CHECK(0, "out of memory");
            free(w), free(g), free(wp), free(dir);
            return;
        }
        TRY(sr_nn_read_tensor(net, t, w));
        TRY(sr_nn_read_grad(net, t, g));
        double gn = 0, fd = 0;
        for (size_t i = 0; i < n; i++) gn += (double)g[i] * g[i];
        gn = sqrt(gn);
        if (gn > 1e-6) {
            for (size_t i = 0; i < n; i++) dir[i] = (float)(g[i] / gn);
            int r = fd_judge(net, t, w, dir, wp, n, l0, gn,
                             2e-4 + 0.02 * gn, &fd);
            checked++;
            kinks += r == FD_KINK;
            if (r == FD_OFF) {
                bad++;
                fprintf(stderr, "  %s %s: directional fd %.6g vs |g| %.6g\n",
                        what, ti->name, fd, gn);
            }
            memset(dir, 0, n * sizeof *dir);
        }
        /* elementwise */
        size_t pick[5];
        int np = 0;
        for (int k = 0; k < 3 && (size_t)k < n; k++) {
            size_t best = 0;
            double bv = -1;
            for (size_t i = 0; i < n; i++) {
                int dup = 0;
                for (int j = 0; j < np; j++) dup |= pick[j] == i;
                if (!dup && fabs(g[i]) > bv) {
                    bv = fabs(g[i]);
                    best = i;
                }
            }
            pick[np++] = best;
        }
        uint32_t key = sr_rng_key(9, (uint32_t)t, 0);
        for (int k = 0; k < 2; k++)
            pick[np++] = sr_rng_u32(key, (uint32_t)k) % n;
        for (int k = 0; k < np; k++) {
            size_t i = pick[k];
            dir[i] = 1.0f;
            int r = fd_judge(net, t, w, dir, wp, n, l0, g[i],
                             5e-4 + 0.05 * fabs(g[i]), &fd);
            dir[i] = 0.0f;
            checked++;
            kinks += r == FD_KINK;
            if (r == FD_OFF) {
                bad++;
                fprintf(stderr, "  %s %s[%zu]: fd %.6g vs grad %.6g\n", what,
                        ti->name, i, fd, (double)g[i]);
            }
        }
        free(w);
        free(g);
        free(wp);
        free(dir);
    }
    fprintf(stderr, "  %s: %d of %d finite-difference checks off, %d on a "
            "kink at both steps\n", what, bad, checked, kinks);
    CHECK(bad == 0, "%s: %d gradient checks failed", what, bad);
    CHECK(kinks * 10 <= checked, "%s: %d of %d points on a kink", what, kinks,
          checked);
}

static void test_gradcheck_cifar10net(void)
{
    sr_nn *net;
    TRY(nu_model(be, "cifar10net", 4, NULL, 3, &net));
    TRY(nu_batch(net, 3, 32, 32, 1));
    gradcheck(net, "cifar10net");
    sr_nn_free(net);
}

static void test_gradcheck_tiny_resnet(void)
{
    sr_nn *net;
    TRY(tiny_resnet(4, &net));
    TRY(nu_batch(net, 3, 8, 8, 2));
    gradcheck(net, "tiny-resnet");
    sr_nn_free(net);
}

/* ------------------------------------------------------------------ */

/* 30 SGD steps (lr 0.1, momentum 0.9) on one fixed batch of 16 random
 * images with random labels: the net must start memorising it. */
static void test_loss_decreases(void)
{
    sr_nn *net;
    TRY(nu_model(be, "cifar10net", 16, NULL, 4, &net));
    TRY(nu_batch(net, 3, 32, 32, 4));
    float first = 0, last = 0;
    for (int s = 0; s < 30; s++) {
        TRY(nu_scalars(net, 0.1f, (uint32_t)s, 0));
        TRY(sr_nn_train_step(net));
        float l;
        TRY(sr_nn_read_stats(net, &l, NULL));
        if (s == 0) first = l;
        last = l;
    }
    uint32_t correct;
    TRY(sr_nn_eval_step(net, 0));
    TRY(sr_nn_read_stats(net, NULL, &correct));
    fprintf(stderr, "  cifar10net fixed batch: loss %.4f -> %.4f, %u/16\n",
            (double)first, (double)last, correct);
    /* measured on CPU: 2.31 -> 1.23 and 10/16 right; chance is 1.6/16 */
    CHECK(last < 0.75f * first, "loss %g -> %g fell by less than 25%%",
          (double)first, (double)last);
    CHECK(correct >= 6, "only %u of 16 training images right", correct);
    sr_nn_free(net);
}

/* Two steps immediately vs. captured once and replayed twice: identical
 * parameters, loss and quantization metrics (the CPU backend is
 * deterministic, so bit-equality is expected). */
static void capture_case(const char *name, const sr_quant_opts *q, int tiny)
{
    sr_nn *a, *b;
    if (tiny) {
        TRY(tiny_resnet(4, &a));
        TRY(tiny_resnet(4, &b));
        TRY(nu_batch(a, 3, 8, 8, 6));
        TRY(nu_batch(b, 3, 8, 8, 6));
    } else {
        TRY(nu_model(be, name, 4, q, 8, &a));
        TRY(nu_model(be, name, 4, q, 8, &b));
        TRY(nu_batch(a, 3, 32, 32, 6));
        TRY(nu_batch(b, 3, 32, 32, 6));
    }
    TRY(sr_backend_begin_capture(be));
    sr_status st = sr_nn_train_step(b);
    sr_program *prog = NULL;
    sr_status st2 = sr_backend_end_capture(be, &prog);
    TRY(st);
    TRY(st2);
    float la = 0, lb = 0;
    for (uint32_t s = 0; s < 2; s++) {
        TRY(nu_scalars(a, 0.05f, s, 0.5f));
        TRY(sr_nn_train_step(a));
        TRY(nu_scalars(b, 0.05f, s, 0.5f));
        TRY(sr_program_run(be, prog));
        TRY(sr_nn_read_stats(a, &la, NULL));
        TRY(sr_nn_read_stats(b, &lb, NULL));
        CHECK(la == lb, "%s step %u: loss %.9g immediate vs %.9g replayed",
              name, s, (double)la, (double)lb);
    }
    size_t na, nb;
    float *pa = nu_params(a, &na), *pb = nu_params(b, &nb);
    CHECK(pa && pb && na == nb, "params");
    double md = 0;
    for (size_t i = 0; pa && pb && i < na; i++)
        md = fmax(md, fabs((double)pa[i] - pb[i]));
    CHECK(md == 0.0, "%s: params differ by %g after replay", name, md);
    int nq = sr_nn_quant_count(a);
    if (nq) {
        float ra[64], rb[64], ea[64], eb[64];
        TRY(sr_nn_read_quant_metrics(a, ra, ea));
        TRY(sr_nn_read_quant_metrics(b, rb, eb));
        for (int i = 0; i < nq; i++)
            CHECK(ra[i] == rb[i] && ea[i] == eb[i], "%s layer %d metrics",
                  name, i);
    }
    free(pa);
    free(pb);
    sr_program_free(be, prog);
    sr_nn_free(a);
    sr_nn_free(b);
}

static void test_capture_replay(void)
{
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_DOREFA;
    q.bits = 4;
    q.reg = SR_QUANT_REG_SINREQ;
    capture_case("cifar10net", &q, 0);
    capture_case("tiny-resnet", NULL, 1);
    q.quantizer = SR_QUANT_WRPN;
    q.reg = SR_QUANT_REG_WAVEQ;
    capture_case("svhnnet", &q, 0);
}

/* ------------------------------------------------------------------ */

static int on_levels(float v, sr_quantizer q, int bits)
{
    if (q == SR_QUANT_DOREFA) {
        double m = (double)((1u << bits) - 1), i = (v + 1.0) / 2.0 * m;
        return fabs(i - nearbyint(i)) < 1e-4 && i > -1e-4 && i < m + 1e-4;
    }
    double m = (double)((1u << (bits - 1)) - 1), i = v * m;
    return fabs(i - nearbyint(i)) < 1e-4 && fabs(v) <= 1.0 + 1e-6;
}

/* Wq sits on the quantizer's levels, and the quantized net computes
 * exactly what a float net with Wq as its weights computes. */
static void levels_case(sr_quantizer qz, int bits)
{
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = qz;
    q.bits = bits;
    sr_nn *qn, *fn;
    TRY(nu_model(be, "cifar10net", 4, &q, 11, &qn));
    TRY(nu_model(be, "cifar10net", 4, NULL, 11, &fn));
    TRY(nu_batch(qn, 3, 32, 32, 12));
    TRY(nu_batch(fn, 3, 32, 32, 12));
    /* weights ~ U(-1.2, 1.2): every level is used, some clamp (WRPN) */
    for (int t = 0; t < sr_nn_tensor_count(qn); t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(qn, t);
        if (ti->role != SR_NN_WEIGHT) continue;
        float *w = malloc(ti->numel * sizeof *w);
        uint32_t key = sr_rng_key(31, (uint32_t)t, 0);
        for (size_t i = 0; i < ti->numel; i++)
            w[i] = 2.4f * sr_rng_uniform(key, (uint32_t)i) - 1.2f;
        TRY(sr_nn_write_tensor(qn, t, w));
        free(w);
    }
    TRY(nu_scalars(qn, 0, 0, 0));
    TRY(nu_scalars(fn, 0, 0, 0));
    TRY(sr_nn_eval_step(qn, 0));
    int nq = sr_nn_quant_count(qn), levels_seen = 0;
    CHECK(nq == 5, "cifar10net quantizes all 5 layers (%d)", nq);
    for (int k = 0; k < nq; k++) {
        sr_nn_layer_info li;
        int l = -1;
        for (int i = 0; i < sr_nn_layer_count(qn); i++) {
            TRY(sr_nn_layer(qn, i, &li));
            if (li.qidx == k) {
                l = i;
                break;
            }
        }
        CHECK(l >= 0, "layer of qidx %d", k);
        size_t n = li.weight_numel;
        float *wq = malloc(n * sizeof *wq);
        TRY(sr_nn_read_wq(qn, k, wq));
        int off = 0, distinct = 0;
        float seen[300];
        for (size_t i = 0; i < n; i++) {
            if (!on_levels(wq[i], qz, bits)) off++;
            int dup = 0;
            for (int j = 0; j < distinct; j++) dup |= seen[j] == wq[i];
            if (!dup && distinct < 300) seen[distinct++] = wq[i];
        }
        CHECK(off == 0, "%s: %d of %zu weights off the %s-%d levels", li.name,
              off, n, sr_quant_quantizer_name(qz), bits);
        int nlev = qz == SR_QUANT_DOREFA ? 1 << bits : (1 << bits) - 1;
        CHECK(distinct <= nlev, "%s: %d distinct values > %d levels", li.name,
              distinct, nlev);
        if (k == 2) levels_seen = distinct;
        /* the float net gets Wq as its weights */
        char nm[96];
        snprintf(nm, sizeof nm, "%s.weight", li.name);
        TRY(sr_nn_write_tensor(fn, sr_nn_find_tensor(fn, nm), wq));
        free(wq);
    }
    CHECK(levels_seen == (qz == SR_QUANT_DOREFA ? 1 << bits : (1 << bits) - 1),
          "fc1 uses %d levels", levels_seen);
    TRY(sr_nn_eval_step(fn, 0));
    float *la = malloc(40 * sizeof *la), *lb = malloc(40 * sizeof *lb);
    TRY(sr_nn_read_logits(qn, la));
    TRY(sr_nn_read_logits(fn, lb));
    double md = 0, mx = 0;
    for (int i = 0; i < 40; i++) {
        md = fmax(md, fabs((double)la[i] - lb[i]));
        mx = fmax(mx, fabs((double)la[i]));
    }
    CHECK(md <= 1e-5 * (1 + mx), "quantized vs float-with-Wq logits differ "
          "by %g (max %g)", md, mx);
    free(la);
    free(lb);
    sr_nn_free(qn);
    sr_nn_free(fn);
}

static void test_quantized_levels(void)
{
    levels_case(SR_QUANT_DOREFA, 3);
    levels_case(SR_QUANT_WRPN, 3);
    levels_case(SR_QUANT_WRPN, 2);
}

/* ------------------------------------------------------------------ */

/* dW(lambda) - dW(0) == lambda * sr_sinreq's own gradient, and both
 * match docs/method.md's formula; R_l matches mean sin^2. Domain X (DoReFa's
 * rounding variable; tests/test_ops checks the op against its formula):
 * the step runs the op in that domain, R_l is the op's value. */
static void sinreq_case(sr_quantizer qz, int bits, sr_quant_norm norm,
                        sr_sinreq_domain dom)
{
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = qz;
    q.bits = bits;
    q.reg = SR_QUANT_REG_SINREQ;
    q.norm = norm;
    q.sinreq_domain = dom;
    sr_nn *net;
    TRY(nu_model(be, "resnet20", 2, &q, 13, &net));
    TRY(nu_batch(net, 3, 32, 32, 14));
    const float lambda = 0.7f;
    int t = sr_nn_find_tensor(net, "layer2.1.conv1.weight");
    size_t n = sr_nn_tensor(net, t)->numel;
    float *w = malloc(n * sizeof *w), *g0 = malloc(n * sizeof *g0),
          *g1 = malloc(n * sizeof *g1), *r = malloc(n * sizeof *r);
    TRY(sr_nn_read_tensor(net, t, w));
    for (int pass = 0; pass < 2; pass++) {
        TRY(nu_scalars(net, 0, 0, pass ? lambda : 0.0f));
        TRY(sr_nn_forward(net, 1));
        TRY(sr_nn_loss(net, 0));
        TRY(sr_nn_backward(net));
        TRY(sr_nn_read_grad(net, t, pass ? g1 : g0));
    }
    /* the op alone, coefficient 1, on a zero gradient */
    sr_buf *bw, *bdw, *bv;
    TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, n, &bw));
    TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, n, &bdw));
    TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, 1, &bv));
    TRY(sr_buf_write(be, bw, 0, n, w));
    TRY(sr_fill(be, n, 0.0f, sr_at(bdw, 0)));
    TRY(sr_backend_set_scalar_f(be, 40, 1.0f));
    float divisor = norm == SR_QUANT_NORM_GLOBAL ? (float)sr_nn_quant_numel(net)
                                                 : (float)n;
    sr_sinreq_desc d = {.n = n, .quantizer = qz, .bits = bits,
                        .divisor = divisor, .coef_slot = 40, .domain = dom};
    TRY(sr_sinreq(be, &d, sr_at(bw, 0), sr_at(bdw, 0), sr_at(bv, 0)));
    TRY(sr_buf_read(be, bdw, 0, n, r));
    float op_value;
    TRY(sr_buf_read(be, bv, 0, 1, &op_value));
    float D, s;
    sr_sinreq_period(qz == SR_QUANT_DOREFA, bits, &D, &s);
    double md = 0, mr = 0, mf = 0, rsum = 0;
    for (size_t i = 0; i < n; i++) {
        double want = lambda * (double)r[i];
        md = fmax(md, fabs(((double)g1[i] - g0[i]) - want));
        mr = fmax(mr, fabs(want));
        double ph = M_PI * ((double)w[i] + s) / D;
        double formula = M_PI / (D * divisor) * sin(2 * ph);
        mf = fmax(mf, fabs(formula - r[i]));
        rsum += sin(ph) * sin(ph);
    }
    CHECK(mr > 0, "regularizer gradient is zero");
    CHECK(md <= 1e-6 + 1e-4 * mr, "%s-%d domain %s: dW difference vs lambda "
          "* op: %g (scale %g)", sr_quant_quantizer_name(qz), bits,
          sr_quant_domain_name(dom), md, mr);
    if (dom == SR_SINREQ_DOMAIN_W)
        CHECK(mf <= 1e-4 * (M_PI / (D * divisor)), "op vs formula: %g", mf);
    else
        rsum = (double)op_value * divisor;
    /* R of this layer from the step's metrics: the layer's mean, also
     * under global normalisation (the op's value there is rsum / N) */
    sr_nn_layer_info li;
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "layer2.1.conv1"), &li));
    float reg[64];
    TRY(sr_nn_read_quant_metrics(net, reg, NULL));
    CHECK(fabs(reg[li.qidx] - rsum / n) <= 1e-4 * (1 + rsum / n),
          "R_l %g vs the layer mean %g", (double)reg[li.qidx], rsum / n);
    CHECK(rsum / n > 0.05, "R_l %g: weights already on the levels?", rsum / n);
    sr_buf_free(be, bw);
    sr_buf_free(be, bdw);
    sr_buf_free(be, bv);
    free(w), free(g0), free(g1), free(r);
    sr_nn_free(net);
}

static void test_sinreq_gradient(void)
{
    sinreq_case(SR_QUANT_WRPN, 4, SR_QUANT_NORM_LAYER_MEAN, SR_SINREQ_DOMAIN_W);
    sinreq_case(SR_QUANT_DOREFA, 3, SR_QUANT_NORM_LAYER_MEAN,
                SR_SINREQ_DOMAIN_W);
    sinreq_case(SR_QUANT_DOREFA, 5, SR_QUANT_NORM_GLOBAL, SR_SINREQ_DOMAIN_W);
    sinreq_case(SR_QUANT_DOREFA, 4, SR_QUANT_NORM_LAYER_MEAN,
                SR_SINREQ_DOMAIN_X);
    sinreq_case(SR_QUANT_DOREFA, 3, SR_QUANT_NORM_GLOBAL, SR_SINREQ_DOMAIN_X);
}

/* WaveQ: after one step with beta_lr, each beta moved by -beta_lr dbeta
 * with dbeta from docs/method.md's formula (WaveQ) on the pre-step weights. */
static void test_waveq_step(void)
{
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_DOREFA;
    q.bits = 4;
    q.reg = SR_QUANT_REG_WAVEQ;
    sr_nn *net;
    TRY(nu_model(be, "cifar10net", 4, &q, 15, &net));
    TRY(nu_batch(net, 3, 32, 32, 16));
    int nq = sr_nn_quant_count(net);
    double want[8];
    const double lw = 1.0, lb = 0.03, lr = 0.01, beta0 = 8.0;
    for (int k = 0; k < nq; k++) {
        sr_nn_layer_info li;
        for (int i = 0; i < sr_nn_layer_count(net); i++) {
            TRY(sr_nn_layer(net, i, &li));
            if (li.qidx == k) break;
        }
        char nm[96];
        snprintf(nm, sizeof nm, "%s.weight", li.name);
        size_t n = li.weight_numel;
        float *w = malloc(n * sizeof *w);
        TRY(sr_nn_read_tensor(net, sr_nn_find_tensor(net, nm), w));
        double m = pow(2, beta0) - 1, acc = 0;
        for (size_t i = 0; i < n; i++) {
            double sn = sin(M_PI * w[i] * m);
            acc += M_PI * w[i] * sin(2 * M_PI * w[i] * m) - sn * sn / pow(2, beta0);
        }
        want[k] = beta0 - lr * (lw * log(2.0) * acc / (double)n + lb);
        free(w);
    }
    sr_nn_scalars s = {.lr = 0.01f, .step = 0, .waveq_w = (float)lw,
                       .waveq_beta = (float)lb, .beta_lr = (float)lr};
    TRY(sr_nn_set_scalars(net, &s));
    TRY(sr_nn_train_step(net));
    float beta[8], reg[8];
    TRY(sr_nn_read_betas(net, beta));
    TRY(sr_nn_read_quant_metrics(net, reg, NULL));
    for (int k = 0; k < nq; k++) {
        CHECK(fabs(beta[k] - want[k]) <= 1e-4 * fabs(beta0 - want[k]) + 1e-6,
              "beta[%d] = %.7f, want %.7f", k, (double)beta[k], want[k]);
        CHECK(isfinite(reg[k]) && reg[k] >= 0, "R[%d] = %g", k, (double)reg[k]);
    }
    sr_nn_free(net);
}

/* ------------------------------------------------------------------ */

/* One step on a paper network: loss finite, parameters changed, eval
 * runs, BN running stats moved. */
static void step_case(const char *name, int batch, const sr_quant_opts *q)
{
    sr_nn *net;
    TRY(nu_model(be, name, batch, q, 21, &net));
    int c, h, w;
    TRY(sr_model_defaults(name, &c, &h, &w, NULL));
    TRY(nu_batch(net, c, h, w, 22));
    size_t n0, n1;
    float *p0 = nu_params(net, &n0);
    CHECK(p0, "read params");
    TRY(nu_scalars(net, 0.01f, 0, 1.0f));
    TRY(sr_nn_train_step(net));
    float loss;
    uint32_t correct;
    TRY(sr_nn_read_stats(net, &loss, &correct));
    float *p1 = nu_params(net, &n1);
    CHECK(p1, "read params");
    size_t changed = 0;
    int finite = 1;
    for (size_t i = 0; p0 && p1 && i < n0; i++) {
        changed += p0[i] != p1[i];
        finite &= isfinite(p1[i]);
    }
    CHECK(isfinite(loss), "%s: loss %g", name, (double)loss);
    CHECK(finite, "%s: non-finite parameters after a step", name);
    /* every tensor moved (weight decay alone moves each weight) */
    size_t off = 0;
    for (int t = 0; t < sr_nn_tensor_count(net) && p0 && p1; t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
        if (!ti->trainable) continue;
        int moved = 0;
        for (size_t i = 0; i < ti->numel; i++)
            moved |= p0[off + i] != p1[off + i];
        CHECK(moved, "%s: %s did not change", name, ti->name);
        off += ti->numel;
    }
    if (q && sr_nn_quant_count(net)) {
        float reg[64], err[64];
        TRY(sr_nn_read_quant_metrics(net, reg, err));
        for (int k = 0; k < sr_nn_quant_count(net); k++)
            CHECK(isfinite(reg[k]) && reg[k] >= 0 && reg[k] <= 1.0f &&
                  isfinite(err[k]) && err[k] > 0, "%s: metrics of layer %d: "
                  "R %g err %g", name, k, (double)reg[k], (double)err[k]);
    }
    TRY(sr_nn_eval_step(net, batch > 1 ? batch - 1 : 1));
    float eloss;
    TRY(sr_nn_read_stats(net, &eloss, &correct));
    CHECK(isfinite(eloss) && correct <= (uint32_t)batch, "%s eval: %g %u",
          name, (double)eloss, correct);
    fprintf(stderr, "  %-10s batch %d: loss %.4f, %zu of %zu params changed, "
            "eval loss %.4f\n", name, batch, (double)loss, changed, n0,
            (double)eloss);
    free(p0);
    free(p1);
    sr_nn_free(net);
}

static void test_steps_small(void)
{
    sr_quant_opts d, w;
    sr_quant_opts_default(&d);
    d.quantizer = SR_QUANT_DOREFA;
    d.bits = 4;
    d.reg = SR_QUANT_REG_SINREQ;
    w = d;
    w.quantizer = SR_QUANT_WRPN;
    w.bits = 3;
    step_case("cifar10net", 4, &d);
    step_case("cifar10net", 4, NULL);
    /* WRPN at PyTorch's default init rounds most hidden weights to 0
     * (|w| < 1/sqrt(fan_in) < 1/(2 (2^(k-1) - 1))), so no gradient passes
     * such a layer; a tensor still moves by weight decay unless it is 0,
     * as BN's beta is. Hence WRPN here only on svhnnet (no BN). */
    step_case("svhnnet", 4, &w);
    step_case("resnet20", 4, &d);
    step_case("resnet20", 4, NULL);
    step_case("vgg11", 2, &d);
}

static void test_steps_big(void)
{
    sr_quant_opts d;
    sr_quant_opts_default(&d);
    d.quantizer = SR_QUANT_DOREFA;
    d.bits = 4;
    d.reg = SR_QUANT_REG_SINREQ;
    step_case("alexnet", 2, &d);
    step_case("resnet18", 2, &d);
}

/* SGD wiring: with decay_bn_bias = 0, weights get w - lr (g + wd w) and
 * biases / BN parameters w - lr g (first step: momentum buffer is 0). */
static void test_sgd_decay(void)
{
    sr_model_opts mo = {.name = "resnet20", .batch = 2};
    sr_nn *net;
    TRY(sr_model_build(&mo, &net));
    sr_nn_opts o;
    sr_nn_opts_default(&o);
    o.decay_bn_bias = 0;
    o.weight_decay = 0.25f;
    sr_status st = sr_nn_alloc(net, be, &o);
    if (st != SR_OK) sr_nn_free(net);
    TRY(st);
    TRY(nu_batch(net, 3, 32, 32, 3));
    const float lr = 0.5f;
    TRY(nu_scalars(net, lr, 0, 0));
    TRY(sr_nn_forward(net, 1));
    TRY(sr_nn_loss(net, 0));
    TRY(sr_nn_backward(net));
    int nt = sr_nn_tensor_count(net);
    float **w0 = calloc((size_t)nt, sizeof *w0), **g = calloc((size_t)nt, sizeof *g);
    for (int t = 0; t < nt; t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
        if (!ti->trainable) continue;
        w0[t] = malloc(ti->numel * sizeof **w0);
        g[t] = malloc(ti->numel * sizeof **g);
        TRY(sr_nn_read_tensor(net, t, w0[t]));
        TRY(sr_nn_read_grad(net, t, g[t]));
    }
    TRY(sr_nn_update(net));
    for (int t = 0; t < nt; t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
        if (!ti->trainable) continue;
        float *w1 = malloc(ti->numel * sizeof *w1);
        TRY(sr_nn_read_tensor(net, t, w1));
        float wd = ti->role == SR_NN_WEIGHT ? o.weight_decay : 0.0f;
        double md = 0;
        for (size_t i = 0; i < ti->numel; i++) {
            double want = w0[t][i] - lr * ((double)g[t][i] + wd * w0[t][i]);
            md = fmax(md, fabs(want - w1[i]) / (1 + fabs(want)));
        }
        CHECK(md < 1e-5, "%s: SGD result off by %g", ti->name, md);
        free(w1);
        free(w0[t]);
        free(g[t]);
    }
    free(w0);
    free(g);
    sr_nn_free(net);
}

/* Nesterov momentum, label smoothing and gradient clipping against their
 * formulas on one step of resnet20 (first step: momentum buffer 0):
 *   loss = mean_rows (lse - (1 - eps) z_y - eps mean_j z_j) (train mode),
 *          plain cross-entropy in eval mode;
 *   sr_nn_grad_sumsq = sum of every gradient squared;
 *   d = s g + wd w, v = d, w1 = w0 - lr (d + m v), s = X / (norm + 1e-6). */
static double xent_of(const float *z, const uint32_t *y, int n, int k,
                      double eps)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *r = z + (size_t)i * k;
        double mx = r[0], se = 0, mean = 0;
        for (int j = 1; j < k; j++) mx = fmax(mx, r[j]);
        for (int j = 0; j < k; j++) {
            se += exp(r[j] - mx);
            mean += (double)r[j] / k;
        }
        double lse = mx + log(se);
        loss += lse - (1 - eps) * r[y[i]] - eps * mean;
    }
    return loss / n;
}

static void test_train_options(void)
{
    const int batch = 4, k = 10;
    const float lr = 0.05f, eps = 0.1f;
    sr_model_opts mo = {.name = "resnet20", .batch = batch};
    sr_nn *net;
    TRY(sr_model_build(&mo, &net));
    sr_nn_opts o;
    sr_nn_opts_default(&o);
    o.nesterov = 1;
    o.label_smoothing = eps;
    o.grad_scale = 1;
    sr_status st = sr_nn_alloc(net, be, &o);
    if (st != SR_OK) sr_nn_free(net);
    TRY(st);
    if (st != SR_OK) return;
    TRY(nu_batch(net, 3, 32, 32, 5));
    TRY(nu_scalars(net, lr, 0, 0));
    TRY(sr_nn_forward(net, 1));
    TRY(sr_nn_loss(net, 0));
    float z[4 * 10], loss;
    uint32_t y[4];
    TRY(sr_nn_read_logits(net, z));
    TRY(sr_buf_read(be, sr_nn_label_buf(net), 0, batch, y));
    TRY(sr_nn_read_stats(net, &loss, NULL));
    double want = xent_of(z, y, batch, k, eps);
    CHECK(fabs(loss - want) <= 1e-5 * fabs(want), "smoothed loss %.7g, "
          "formula %.7g", (double)loss, want);
    CHECK(fabs(want - xent_of(z, y, batch, k, 0)) > 1e-3,
          "the smoothing makes no difference here: a weak test");
    TRY(sr_nn_backward(net));
    int nt = sr_nn_tensor_count(net);
    float **w0 = calloc((size_t)nt, sizeof *w0), **g = calloc((size_t)nt, sizeof *g);
    double sumsq = 0, got = -1;
    for (int t = 0; t < nt; t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
        if (!ti->trainable) continue;
        w0[t] = malloc(ti->numel * sizeof **w0);
        g[t] = malloc(ti->numel * sizeof **g);
        TRY(sr_nn_read_tensor(net, t, w0[t]));
        TRY(sr_nn_read_grad(net, t, g[t]));
        for (size_t i = 0; i < ti->numel; i++)
            sumsq += (double)g[t][i] * g[t][i];
    }
    TRY(sr_nn_grad_sumsq(net, &got));
    CHECK(fabs(got - sumsq) <= 1e-12 * sumsq && sumsq > 0,
          "grad sumsq %.17g, by tensor %.17g", got, sumsq);
    double norm = sqrt(sumsq), x = 0.3 * norm;
    float scale = (float)(x / (norm + 1e-6));
    TRY(sr_nn_set_grad_scale(net, scale));
    TRY(sr_nn_update(net));
    for (int t = 0; t < nt; t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
        if (!ti->trainable) continue;
        float *w1 = malloc(ti->numel * sizeof *w1);
        TRY(sr_nn_read_tensor(net, t, w1));
        double md = 0;
        for (size_t i = 0; i < ti->numel; i++) {
            double d = (double)scale * g[t][i] + (double)o.weight_decay * w0[t][i];
            double w = w0[t][i] - lr * (d + (double)o.momentum * d);
            md = fmax(md, fabs(w - w1[i]) / (1 + fabs(w)));
        }
        CHECK(md < 1e-6, "%s: clipped Nesterov SGD off by %g", ti->name, md);
        free(w1);
        free(w0[t]);
        free(g[t]);
    }
    /* evaluation reports plain cross-entropy */
    TRY(sr_nn_eval_step(net, 0));
    TRY(sr_nn_read_logits(net, z));
    TRY(sr_nn_read_stats(net, &loss, NULL));
    want = xent_of(z, y, batch, k, 0);
    CHECK(fabs(loss - want) <= 1e-5 * fabs(want), "eval loss %.7g, plain "
          "xent %.7g", (double)loss, want);
    free(w0);
    free(g);
    sr_nn_free(net);
}

/* ------------------------------------------------------------------ */
/* Backward in segments (sr_nn_backward_begin / _until) and the final
 * gradient prefix (sr_nn_grad_final_words), as the trainer uses them to
 * average gradient buckets while backward goes on. */

/* Every gradient slab laid end to end (malloc'd). */
static float *all_grads(sr_nn *net, size_t *n)
{
    size_t total = 0, off = 0;
    for (int s = 0; s < sr_nn_slab_count(net); s++) {
        size_t w;
        if (sr_nn_slab(net, s, NULL, NULL, NULL, &w) != SR_OK) return NULL;
        total += w;
    }
    float *g = malloc((total ? total : 1) * sizeof *g);
    for (int s = 0; g && s < sr_nn_slab_count(net); s++) {
        sr_buf *gb;
        size_t w;
        if (sr_nn_slab(net, s, NULL, &gb, NULL, &w) != SR_OK ||
            sr_buf_read(be, gb, 0, w, g + off) != SR_OK) {
            free(g);
            return NULL;
        }
        off += w;
    }
    *n = total;
    return g;
}

/* a: sr_nn_backward; b: begin, then until(l) for every layer with the
 * gradient slabs poisoned first. After until(l) the first
 * sr_nn_grad_final_words(l) words must equal a's, and the next word must
 * still be poison (the prefix is not short: it starts a later layer's
 * tensor). At the end b == a bit for bit. */
static void segments_case(const char *what, sr_nn *a, sr_nn *b)
{
    const float poison = 1e30f;
    TRY(nu_scalars(a, 0.05f, 1, 0.5f));
    TRY(nu_scalars(b, 0.05f, 1, 0.5f));
    TRY(sr_nn_forward(a, 1));
    TRY(sr_nn_loss(a, 0));
    TRY(sr_nn_backward(a));
    size_t n = 0, nb = 0;
    float *ga = all_grads(a, &n);
    CHECK(ga, "%s: read gradients", what);
    for (int s = 0; s < sr_nn_slab_count(b); s++) {
        sr_buf *gb;
        size_t w;
        TRY(sr_nn_slab(b, s, NULL, &gb, NULL, &w));
        TRY(sr_fill(be, w, poison, sr_at(gb, 0)));
    }
    TRY(sr_nn_forward(b, 1));
    TRY(sr_nn_loss(b, 0));
    TRY(sr_nn_backward_begin(b));
    int nl = sr_nn_layer_count(b), steps_up = 0;
    size_t prev = 0;
    CHECK(sr_nn_grad_final_words(b, nl) == 0, "%s: final words past the end",
          what);
    for (int l = nl - 1; ga && l >= 0; l--) {
        TRY(sr_nn_backward_until(b, l));
        size_t done = sr_nn_grad_final_words(b, l);
        float *gb = all_grads(b, &nb);
        CHECK(gb && nb == n && done >= prev && done <= n,
              "%s layer %d: %zu final words of %zu (before: %zu)", what, l,
              done, n, prev);
        for (size_t i = 0; gb && i < done && i < n; i++)
            if (memcmp(&gb[i], &ga[i], sizeof *ga)) {
                CHECK(0, "%s layer %d: word %zu of the final prefix %zu is "
                      "%g, sr_nn_backward gives %g", what, l, i, done,
                      (double)gb[i], (double)ga[i]);
                break;
            }
        if (gb && done < n)
            CHECK(gb[done] == poison, "%s layer %d: word %zu past the prefix "
                  "is written already", what, l, done);
        steps_up += done > prev;
        prev = done;
        free(gb);
    }
    CHECK(prev == n, "%s: %zu of %zu words final after layer 0", what, prev,
          n);
    CHECK(steps_up > 2, "%s: the prefix grew only %d times", what, steps_up);
    /* again in two segments (begin resets the pass; backward consumes
     * the loss gradient, so forward and loss first) */
    EXPECT_ERROR(sr_nn_backward_until(b, 0), SR_E_ARG, "not begun");
    TRY(sr_nn_forward(b, 1));
    TRY(sr_nn_loss(b, 0));
    TRY(sr_nn_backward_begin(b));
    TRY(sr_nn_backward_until(b, nl / 2));
    EXPECT_ERROR(sr_nn_backward_until(b, nl - 1), SR_E_ARG,
                 "decreasing order");
    EXPECT_ERROR(sr_nn_backward_until(b, nl), SR_E_ARG, "layer");
    TRY(sr_nn_backward_until(b, 0));
    float *gb = all_grads(b, &nb);
    CHECK(gb && ga && nb == n && !memcmp(ga, gb, n * sizeof *ga),
          "%s: segmented backward != sr_nn_backward", what);
    free(ga);
    free(gb);
}

static void test_backward_segments(void)
{
    sr_nn *a, *b;
    /* 40-word slabs: BN and conv tensors spread over many slabs, and a
     * tensor above 40 words gets a slab of its own */
    TRY(tiny_resnet_slabs(4, 40, &a));
    TRY(tiny_resnet_slabs(4, 40, &b));
    CHECK(sr_nn_slab_count(b) > 3, "%d slabs", sr_nn_slab_count(b));
    TRY(nu_batch(a, 3, 8, 8, 6));
    TRY(nu_batch(b, 3, 8, 8, 6));
    segments_case("tiny-resnet", a, b);
    sr_nn_free(a);
    sr_nn_free(b);
    /* the quantizer's STE and WaveQ's term also write the weight
     * gradient: still within the layer's own backward */
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_WRPN;
    q.bits = 4;
    q.reg = SR_QUANT_REG_WAVEQ;
    TRY(nu_model(be, "svhnnet", 4, &q, 8, &a));
    TRY(nu_model(be, "svhnnet", 4, &q, 8, &b));
    TRY(nu_batch(a, 3, 32, 32, 6));
    TRY(nu_batch(b, 3, 32, 32, 6));
    segments_case("svhnnet wrpn waveq", a, b);
    sr_nn_free(a);
    sr_nn_free(b);
}

/* ------------------------------------------------------------------ */

/* The ReLU fused into batch norm and the residual add (the default) gives
 * the same bits as separate ReLU passes (SINREQ_FUSE=0): two steps of
 * resnet20, then parameters, gradients, loss and eval loss compared. */
static void fused_relu_run(int fuse, float **params, size_t *np,
                           float **grads, size_t *ng, float losses[2])
{
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_DOREFA;
    q.bits = 4;
    q.reg = SR_QUANT_REG_SINREQ;
    setenv("SINREQ_FUSE", fuse ? "1" : "0", 1);
    sr_nn *net;
    sr_status st = nu_model(be, "resnet20", 4, &q, 31, &net);
    unsetenv("SINREQ_FUSE");
    TRY(st);
    TRY(nu_batch(net, 3, 32, 32, 32));
    uint32_t correct;
    for (uint32_t step = 0; step < 2; step++) {
        TRY(nu_scalars(net, 0.05f, step, 1.0f));
        TRY(sr_nn_train_step(net));
    }
    TRY(sr_nn_read_stats(net, &losses[0], &correct));
    *grads = all_grads(net, ng);
    TRY(sr_nn_eval_step(net, 4));
    TRY(sr_nn_read_stats(net, &losses[1], &correct));
    *params = nu_params(net, np);
    sr_nn_free(net);
}

static void test_fused_relu(void)
{
    float *pa = NULL, *pb = NULL, *ga = NULL, *gb = NULL, la[2], lb[2];
    size_t npa = 0, npb = 0, nga = 0, ngb = 0;
    fused_relu_run(0, &pa, &npa, &ga, &nga, la);
    fused_relu_run(1, &pb, &npb, &gb, &ngb, lb);
    CHECK(pa && pb && ga && gb && npa == npb && nga == ngb,
          "fused relu: read back parameters and gradients");
    if (pa && pb && ga && gb && npa == npb && nga == ngb) {
        CHECK(memcmp(pa, pb, npa * sizeof *pa) == 0,
              "fused relu: parameters differ from separate relu passes");
        CHECK(memcmp(ga, gb, nga * sizeof *ga) == 0,
              "fused relu: gradients differ from separate relu passes");
    }
    CHECK(memcmp(la, lb, sizeof la) == 0,
          "fused relu: losses %.9g/%.9g vs %.9g/%.9g", (double)lb[0],
          (double)lb[1], (double)la[0], (double)la[1]);
    free(pa);
    free(pb);
    free(ga);
    free(gb);
}

static void test_errors(void)
{
    sr_nn *net;
    TRY(nu_model(be, "cifar10net", 2, NULL, 1, &net));
    uint32_t labels[2] = {3, 10};
    EXPECT_ERROR(sr_nn_set_batch(net, NULL, labels), SR_E_ARG, "label 10");
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_ARG, "before sr_nn_alloc");
    EXPECT_ERROR(sr_nn_loss(net, 3), SR_E_ARG, "valid rows");
    EXPECT_ERROR(sr_nn_set_layer_bits(net, 0, 4), SR_E_ARG, "quantized layer");
    sr_nn_free(net);
    q.quantizer = SR_QUANT_WRPN;
    TRY(nu_model(be, "cifar10net", 2, &q, 1, &net));
    EXPECT_ERROR(sr_nn_set_layer_bits(net, 1, 1), SR_E_BITS, "conv2");
    TRY(sr_nn_set_layer_bits(net, 1, 6));
    sr_nn_free(net);
    /* a net built but never finished cannot be allocated */
    TRY(sr_nn_create("x", 2, 3, 8, 8, NULL, &net));
    EXPECT_ERROR(sr_nn_alloc(net, be, NULL), SR_E_ARG, "sr_nn_set_output");
    sr_nn_free(net);
}

int main(int argc, char **argv)
{
    int big = argc > 1 && strcmp(argv[1], "--big") == 0;
    sr_status st = sr_backend_create("cpu", NULL, &be);
    if (st != SR_OK) {
        fprintf(stderr, "cpu backend: %s\n", sr_last_error());
        return 1;
    }
    if (big) {
        RUN(test_steps_big);
    } else {
        RUN(test_gradcheck_cifar10net);
        RUN(test_gradcheck_tiny_resnet);
        RUN(test_loss_decreases);
        RUN(test_capture_replay);
        RUN(test_backward_segments);
        RUN(test_fused_relu);
        RUN(test_quantized_levels);
        RUN(test_sinreq_gradient);
        RUN(test_waveq_step);
        RUN(test_sgd_decay);
        RUN(test_train_options);
        RUN(test_steps_small);
        RUN(test_errors);
    }
    sr_backend_free(be);
    return nt_finish();
}
