/* The same training steps on the Vulkan and the CPU backend: equal loss
 * and parameters within float32 tolerances, immediate and replayed.
 * Exits 77 (skipped) when no Vulkan device is available. Set
 * SR_NN_VK_VALIDATION=1 to run under the Khronos validation layer. */
#include "nn_util.h"

static sr_backend *cpu, *vk;

static double rel(double a, double b)
{
    return fabs(a - b) / fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* tol_loss / tol_param: relative. Quantized nets get looser bounds: a
 * weight within float rounding of a level boundary may round to the
 * neighbouring level on the other backend (tanh differs in the last bit). */
static void compare_case(const char *name, int batch, const sr_quant_opts *q,
                         double tol_loss, double tol_param, int replay)
{
    sr_nn *a, *b;
    TRY(nu_model(cpu, name, batch, q, 42, &a));
    TRY(nu_model(vk, name, batch, q, 42, &b));
    int c, h, w;
    TRY(sr_model_defaults(name, &c, &h, &w, NULL));
    TRY(nu_batch(a, c, h, w, 43));
    TRY(nu_batch(b, c, h, w, 43));
    /* gradients of the first batch, tensor by tensor */
    TRY(nu_scalars(a, 0.01f, 0, 1.0f));
    TRY(nu_scalars(b, 0.01f, 0, 1.0f));
    TRY(sr_nn_forward(a, 1));
    TRY(sr_nn_loss(a, 0));
    TRY(sr_nn_backward(a));
    TRY(sr_nn_forward(b, 1));
    TRY(sr_nn_loss(b, 0));
    TRY(sr_nn_backward(b));
    for (int t = 0; t < sr_nn_tensor_count(a); t++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(a, t);
        if (!ti->trainable) continue;
        float *ga = malloc(ti->numel * sizeof *ga);
        float *gb = malloc(ti->numel * sizeof *gb);
        TRY(sr_nn_read_grad(a, t, ga));
        TRY(sr_nn_read_grad(b, t, gb));
        double md = 0, mx = 0;
        for (size_t i = 0; i < ti->numel; i++) {
            md = fmax(md, fabs((double)ga[i] - gb[i]));
            mx = fmax(mx, fabs((double)ga[i]));
        }
        CHECK(md <= tol_param * 10 * (mx + 1e-6), "%s: gradient of %s "
              "differs by %g (max %g)", name, ti->name, md, mx);
        free(ga);
        free(gb);
    }
    sr_program *prog = NULL;
    if (replay) {
        TRY(sr_backend_begin_capture(vk));
        sr_status st = sr_nn_train_step(b);
        sr_status st2 = sr_backend_end_capture(vk, &prog);
        TRY(st);
        TRY(st2);
    }
    for (uint32_t s = 0; s < 2; s++) {
        TRY(nu_scalars(a, 0.01f, s, 1.0f));
        TRY(nu_scalars(b, 0.01f, s, 1.0f));
        TRY(sr_nn_train_step(a));
        if (replay)
            TRY(sr_program_run(vk, prog));
        else
            TRY(sr_nn_train_step(b));
        float la, lb;
        uint32_t ca, cb;
        TRY(sr_nn_read_stats(a, &la, &ca));
        TRY(sr_nn_read_stats(b, &lb, &cb));
        fprintf(stderr, "  %-10s %s step %u: loss cpu %.6f vulkan %.6f\n",
                name, replay ? "replayed " : "immediate", s, (double)la,
                (double)lb);
        CHECK(rel(la, lb) <= tol_loss, "%s step %u: loss %g vs %g", name, s,
              (double)la, (double)lb);
    }
    size_t na, nb;
    float *pa = nu_params(a, &na), *pb = nu_params(b, &nb);
    CHECK(pa && pb && na == nb, "params");
    double md = 0, mx = 0;
    for (size_t i = 0; pa && pb && i < na; i++) {
        md = fmax(md, fabs((double)pa[i] - pb[i]));
        mx = fmax(mx, fabs((double)pa[i]));
    }
    CHECK(md <= tol_param * mx, "%s: params differ by %g (max %g)", name, md,
          mx);
    TRY(sr_nn_eval_step(a, 0));
    TRY(sr_nn_eval_step(b, 0));
    float la, lb;
    TRY(sr_nn_read_stats(a, &la, NULL));
    TRY(sr_nn_read_stats(b, &lb, NULL));
    CHECK(rel(la, lb) <= tol_loss, "%s eval: loss %g vs %g", name,
          (double)la, (double)lb);
    free(pa);
    free(pb);
    sr_program_free(vk, prog);
    sr_nn_free(a);
    sr_nn_free(b);
}

static void test_float_nets(void)
{
    compare_case("cifar10net", 4, NULL, 1e-4, 1e-4, 0);
    compare_case("resnet20", 4, NULL, 1e-4, 1e-4, 0);
    compare_case("resnet20", 4, NULL, 1e-4, 1e-4, 1);
    compare_case("svhnnet", 4, NULL, 1e-4, 1e-4, 1);  /* dropout masks */
}

static void test_quantized_nets(void)
{
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_DOREFA;
    q.bits = 4;
    q.reg = SR_QUANT_REG_SINREQ;
    compare_case("cifar10net", 4, &q, 1e-2, 1e-3, 1);
    q.quantizer = SR_QUANT_WRPN;
    q.bits = 3;
    compare_case("svhnnet", 4, &q, 1e-2, 1e-3, 1);
    q.reg = SR_QUANT_REG_WAVEQ;
    q.quantizer = SR_QUANT_DOREFA;
    compare_case("resnet20", 4, &q, 1e-2, 1e-3, 1);
}

int main(void)
{
    sr_backend_opts o = {0};
    const char *v = getenv("SR_NN_VK_VALIDATION");
    o.validation = v && atoi(v);
    if (sr_backend_create("vulkan", &o, &vk) != SR_OK) {
        fprintf(stderr, "skipped: no Vulkan backend: %s\n", sr_last_error());
        return 77;
    }
    if (sr_backend_create("cpu", NULL, &cpu) != SR_OK) {
        fprintf(stderr, "cpu backend: %s\n", sr_last_error());
        sr_backend_free(vk);
        return 1;
    }
    fprintf(stderr, "vulkan device: %s\n", sr_backend_device_name(vk));
    RUN(test_float_nets);
    RUN(test_quantized_nets);
    sr_backend_free(cpu);
    sr_backend_free(vk);
    return nt_finish();
}
