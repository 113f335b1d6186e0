/* Graph building without compute: parameter counts against the table in
 * docs/method.md (Networks), the width multiplier, names, inferred shapes,
 * the quantization plan's default rule and validation, and the errors bad
 * input gives. */
#include "nn_test.h"

#include "sinreq/models.h"
#include "sinreq/nn.h"
#include "sinreq/quant.h"

static sr_status build(const char *name, int batch, int width, int h,
                       sr_nn **net)
{
    sr_model_opts o = {.name = name, .batch = batch, .width = width,
                       .in_h = h, .in_w = h};
    return sr_model_build(&o, net);
}

static void test_param_counts(void)
{
    static const struct { const char *name; size_t params; int classes; } t[] = {
        {"cifar10net", 62006, 10}, {"svhnnet", 584746, 10},
        {"resnet20", 272474, 10},  {"vgg11", 9231114, 10},
        {"alexnet", 61100840, 1000}, {"resnet18", 11689512, 1000},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        sr_nn *net;
        TRY(build(t[i].name, 2, 1, 0, &net));
        CHECK(sr_nn_param_count(net) == t[i].params, "%s: %zu params, "
              "docs/method.md says %zu", t[i].name, sr_nn_param_count(net),
              t[i].params);
        CHECK(sr_nn_classes(net) == t[i].classes, "%s: %d classes",
              t[i].name, sr_nn_classes(net));
        /* the tensor table adds up to the same count */
        size_t sum = 0;
        for (int k = 0; k < sr_nn_tensor_count(net); k++) {
            const sr_nn_tensor_info *ti = sr_nn_tensor(net, k);
            size_t n = 1;
            for (int d = 0; d < ti->ndim; d++) n *= (size_t)ti->dims[d];
            CHECK(n == ti->numel, "%s: dims of %s", t[i].name, ti->name);
            if (ti->trainable) sum += ti->numel;
        }
        CHECK(sum == t[i].params, "%s: table sums to %zu", t[i].name, sum);
        sr_nn_free(net);
    }
}

/* Counts for widened nets, worked out by hand from the layer lists. */
static void test_width(void)
{
    sr_nn *net;
    /* cifar10net x2: conv 3->12, 12->32, fc 800->240->168->10 */
    size_t c2 = (3 * 12 * 25 + 12) + (12 * 32 * 25 + 32) + (800 * 240 + 240) +
                (240 * 168 + 168) + (168 * 10 + 10);
    TRY(build("cifar10net", 1, 2, 0, &net));
    CHECK(sr_nn_param_count(net) == c2, "cifar10net x2: %zu, want %zu",
          sr_nn_param_count(net), c2);
    int t = sr_nn_find_tensor(net, "conv1.weight");
    CHECK(t >= 0 && sr_nn_tensor(net, t)->dims[1] == 3,
          "input channels must stay 3");
    sr_nn_free(net);
    /* resnet20 x3: every conv 9x the weights; BN 3x; fc 192*10+10 */
    size_t conv = 0, bn = 0;
    sr_nn *base;
    TRY(build("resnet20", 1, 1, 0, &base));
    for (int k = 0; k < sr_nn_tensor_count(base); k++) {
        const sr_nn_tensor_info *ti = sr_nn_tensor(base, k);
        if (!ti->trainable) continue;
        if (ti->role == SR_NN_WEIGHT && ti->ndim == 4)
            conv += ti->numel;
        else if (ti->role == SR_NN_BN_WEIGHT || ti->role == SR_NN_BN_BIAS)
            bn += ti->numel;
    }
    sr_nn_free(base);
    size_t first = 3 * 16 * 9;  /* conv1 widens on one side only */
    size_t want = first * 3 + (conv - first) * 9 + bn * 3 + 192 * 10 + 10;
    TRY(build("resnet20", 1, 3, 0, &net));
    FILE *f = tmpfile();
    if (f) {  /* the summary table ends with the total */
        char line[256], last[256] = "";
        sr_nn_print(net, f);
        rewind(f);
        while (fgets(line, sizeof line, f)) strcpy(last, line);
        char expect[64];
        snprintf(expect, sizeof expect, "total parameters: %zu", want);
        CHECK(strstr(last, expect), "summary ends with '%s'", last);
        fclose(f);
    }
    CHECK(sr_nn_param_count(net) == want, "resnet20 x3: %zu, want %zu",
          sr_nn_param_count(net), want);
    CHECK(sr_nn_classes(net) == 10, "classes must stay 10");
    sr_nn_free(net);
    /* num_classes */
    sr_model_opts o = {.name = "resnet18", .batch = 1, .num_classes = 100};
    TRY(sr_model_build(&o, &net));
    CHECK(sr_nn_param_count(net) == 11689512 - 900 * 513, "resnet18/100: %zu",
          sr_nn_param_count(net));
    sr_nn_free(net);
}

static void test_names_and_shapes(void)
{
    static const struct { const char *net, *tensor; int d0, d1; } names[] = {
        {"resnet20", "layer3.1.conv2.weight", 64, 64},
        {"resnet20", "layer2.0.downsample.0.weight", 32, 16},
        {"resnet20", "layer2.0.downsample.1.running_var", 32, 0},
        {"resnet20", "fc.weight", 10, 64},
        {"vgg11", "features.0.weight", 64, 3},
        {"vgg11", "features.1.running_mean", 64, 0},
        {"vgg11", "classifier.weight", 10, 512},
        {"alexnet", "features.10.weight", 256, 256},
        {"alexnet", "classifier.1.weight", 4096, 9216},
        {"alexnet", "classifier.6.bias", 1000, 0},
        {"resnet18", "bn1.running_mean", 64, 0},
        {"resnet18", "layer4.1.conv2.weight", 512, 512},
        {"svhnnet", "features.21.weight", 256, 128},
        {"svhnnet", "classifier.0.weight", 10, 256},
        {"cifar10net", "fc1.weight", 120, 400},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        sr_nn *net;
        TRY(build(names[i].net, 2, 1, 0, &net));
        int t = sr_nn_find_tensor(net, names[i].tensor);
        CHECK(t >= 0, "%s has no tensor %s", names[i].net, names[i].tensor);
        if (t >= 0) {
            const sr_nn_tensor_info *ti = sr_nn_tensor(net, t);
            CHECK(ti->dims[0] == names[i].d0 &&
                  (names[i].d1 == 0 || ti->dims[1] == names[i].d1),
                  "%s %s: dims %dx%d", names[i].net, names[i].tensor,
                  ti->dims[0], ti->dims[1]);
        }
        sr_nn_free(net);
    }
    /* output shapes of some layers, batch 3 */
    static const struct { const char *net, *layer; int c, h, w; } shapes[] = {
        {"cifar10net", "pool2", 16, 5, 5},   {"cifar10net", "fc3", 10, 1, 1},
        {"svhnnet", "features.24", 256, 1, 1}, {"svhnnet", "classifier.0", 10, 1, 1},
        {"resnet20", "layer3.2.relu2", 64, 8, 8}, {"resnet20", "fc", 10, 1, 1},
        {"vgg11", "features.28", 512, 1, 1}, {"vgg11", "classifier", 10, 1, 1},
        {"alexnet", "features.0", 64, 55, 55}, {"alexnet", "features.12", 256, 6, 6},
        {"alexnet", "classifier.6", 1000, 1, 1},
        {"resnet18", "maxpool", 64, 56, 56}, {"resnet18", "layer4.1.relu_out", 512, 7, 7},
        {"resnet18", "fc", 1000, 1, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        sr_nn *net;
        TRY(build(shapes[i].net, 3, 1, 0, &net));
        int l = sr_nn_find_layer(net, shapes[i].layer);
        CHECK(l >= 0, "%s has no layer %s", shapes[i].net, shapes[i].layer);
        sr_nn_layer_info li;
        if (l >= 0 && sr_nn_layer(net, l, &li) == SR_OK)
            CHECK(li.out_c == shapes[i].c && li.out_h == shapes[i].h &&
                  li.out_w == shapes[i].w, "%s %s: %dx%dx%d", shapes[i].net,
                  shapes[i].layer, li.out_c, li.out_h, li.out_w);
        sr_nn_free(net);
    }
    /* resnet18 and alexnet take other sizes through their adaptive pool */
    sr_nn *net;
    TRY(build("resnet18", 1, 1, 64, &net));
    sr_nn_free(net);
    TRY(build("alexnet", 1, 1, 100, &net));
    sr_nn_free(net);
}

static void test_bad_input(void)
{
    sr_nn *net = (sr_nn *)1;
    EXPECT_ERROR(build("lenet", 2, 1, 0, &net), SR_E_CONFIG,
                 "cifar10net, svhnnet, resnet20, vgg11, alexnet, resnet18");
    CHECK(net == NULL, "out must be NULL after an error");
    EXPECT_ERROR(build("alexnet", 2, 1, 28, &net), SR_E_SHAPE, "alexnet");
    EXPECT_ERROR(build("alexnet", 2, 1, 28, &net), SR_E_SHAPE, "3x224x224");
    fprintf(stderr, "  (alexnet 28x28: %s)\n", sr_last_error());
    EXPECT_ERROR(build("cifar10net", 2, 1, 28, &net), SR_E_SHAPE, "fc1");
    EXPECT_ERROR(build("vgg11", 2, 1, 16, &net), SR_E_SHAPE, "features.");
    EXPECT_ERROR(build("cifar10net", 2, 0 + 9, 0, &net), SR_E_CONFIG, "width");
    EXPECT_ERROR(build("cifar10net", 0, 1, 0, &net), SR_E_CONFIG, "batch");
    /* resnet20 at batch 1 is fine (BN over 32x32); a 1x1 BN at batch 1 is
     * not: resnet18 on 32x32 ends with 512x1x1 */
    EXPECT_ERROR(build("resnet18", 1, 1, 32, &net), SR_E_SHAPE, "batch");
}

static void test_quant_plan(void)
{
    sr_nn *net;
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_DOREFA;
    q.bits = 3;
    /* authors' rule: resnet20 keeps conv1 and fc in float32 */
    TRY(build("resnet20", 2, 1, 0, &net));
    TRY(sr_nn_set_quant(net, &q));
    /* 18 block convs + 2 downsample convs; conv1 and fc stay float */
    CHECK(sr_nn_quant_count(net) == 20, "resnet20: %d quantized",
          sr_nn_quant_count(net));
    sr_nn_layer_info li;
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "conv1"), &li));
    CHECK(!li.quant.quantized, "conv1 must stay float32");
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "fc"), &li));
    CHECK(!li.quant.quantized, "fc must stay float32");
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "layer2.0.downsample.0"), &li));
    CHECK(li.quant.quantized && li.quant.bits == 3, "downsample quantized");
    sr_nn_free(net);
    /* small nets: every layer */
    TRY(build("cifar10net", 2, 1, 0, &net));
    TRY(sr_nn_set_quant(net, &q));
    CHECK(sr_nn_quant_count(net) == 5, "cifar10net: %d", sr_nn_quant_count(net));
    CHECK(sr_nn_quant_numel(net) == 62006 - 6 - 16 - 120 - 84 - 10,
          "numel %zu", sr_nn_quant_numel(net));
    sr_nn_free(net);
    /* overrides by name, activation bits not on the first layer */
    sr_quant_override ov[] = {
        {.layer = "conv1", .quantize = 1, .bits = 8, .act_bits = -1},
        {.layer = "layer3.2.conv2", .quantize = -1, .bits = 2, .act_bits = -1},
        {.layer = "fc", .quantize = -1, .bits = 0, .act_bits = 4},
    };
    q.overrides = ov;
    q.n_overrides = 3;
    q.act_bits = 4;
    TRY(build("resnet20", 2, 1, 0, &net));
    TRY(sr_nn_set_quant(net, &q));
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "conv1"), &li));
    CHECK(li.quant.quantized && li.quant.bits == 8 && li.quant.act_bits == 0,
          "conv1 override: q%d b%d a%d", li.quant.quantized, li.quant.bits,
          li.quant.act_bits);
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "layer3.2.conv2"), &li));
    CHECK(li.quant.bits == 2 && li.quant.act_bits == 4, "b%d a%d",
          li.quant.bits, li.quant.act_bits);
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "fc"), &li));
    CHECK(!li.quant.quantized && li.quant.act_bits == 0,
          "a float layer gets no activation bits");
    sr_nn_free(net);
    q.n_overrides = 0;
    q.act_bits = 0;

    TRY(build("cifar10net", 2, 1, 0, &net));
    q.bits = 0;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_BITS, "bits = 0");
    q.bits = 17;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_BITS, "bits = 17");
    q.bits = 1;
    q.quantizer = SR_QUANT_WRPN;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_BITS, "WRPN needs");
    q.bits = 4;
    sr_quant_override bad[] = {{.layer = "conv9", .quantize = 1, .act_bits = -1}};
    q.overrides = bad;
    q.n_overrides = 1;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_CONFIG, "conv1, conv2, fc1");
    sr_quant_override badb[] = {{.layer = "fc2", .quantize = -1, .bits = 20,
                                 .act_bits = -1}};
    q.overrides = badb;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_BITS, "fc2");
    q.n_overrides = 0;
    q.quantizer = SR_QUANT_NONE;
    q.reg = SR_QUANT_REG_SINREQ;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_CONFIG, "needs a quantizer");
    /* SinReQ's domain X is DoReFa's rounding variable only */
    q.quantizer = SR_QUANT_WRPN;
    q.sinreq_domain = SR_SINREQ_DOMAIN_X;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_CONFIG, "WRPN rounds W");
    q.quantizer = SR_QUANT_DOREFA;
    q.reg = SR_QUANT_REG_WAVEQ;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_CONFIG, "WaveQ's term");
    q.reg = SR_QUANT_REG_SINREQ;
    q.sinreq_domain = (sr_sinreq_domain)7;
    EXPECT_ERROR(sr_nn_set_quant(net, &q), SR_E_ARG, "not w or x");
    sr_sinreq_domain dm;
    EXPECT_ERROR(sr_quant_domain_parse("z", &dm), SR_E_CONFIG, "use w");
    CHECK(sr_quant_domain_parse("X", &dm) == SR_OK && dm == SR_SINREQ_DOMAIN_X &&
              strcmp(sr_quant_domain_name(dm), "x") == 0,
          "domain parse/name round trip");
    /* a layer gets the domain it is resolved with, float layers W */
    q.sinreq_domain = SR_SINREQ_DOMAIN_X;
    TRY(sr_nn_set_quant(net, &q));
    {
        int quantized = 0, right = 1;
        for (int i = 0; i < sr_nn_layer_count(net); i++) {
            if (sr_nn_layer(net, i, &li) != SR_OK) continue;
            if (li.qidx >= 0) quantized++;
            right &= li.quant.domain == (li.qidx >= 0 ? SR_SINREQ_DOMAIN_X
                                                      : SR_SINREQ_DOMAIN_W);
        }
        CHECK(quantized > 0 && right, "resolved domains (%d quantized)",
              quantized);
    }
    sr_nn_free(net);
}

static void test_schedules(void)
{
    sr_quant_sched s = {.kind = SR_SCHED_TANH, .lambda_max = 10.0f,
                        .start = 0.2f, .width = 50.0f};
    CHECK(fabsf(sr_quant_lambda(&s, 200, 1000) - 5.0f) < 1e-5f, "tanh centre");
    CHECK(sr_quant_lambda(&s, 0, 1000) < 0.02f, "tanh early %g",
          (double)sr_quant_lambda(&s, 0, 1000));
    CHECK(sr_quant_lambda(&s, 1000, 1000) > 9.99f, "tanh late");
    s.kind = SR_SCHED_CONST;
    CHECK(sr_quant_lambda(&s, 0, 1000) == 10.0f, "const");
    s.kind = SR_SCHED_LINEAR;
    s.start = 0.1f;
    s.end = 0.5f;
    CHECK(sr_quant_lambda(&s, 100, 1000) == 0.0f, "linear before");
    CHECK(fabsf(sr_quant_lambda(&s, 300, 1000) - 5.0f) < 1e-5f, "linear mid");
    CHECK(sr_quant_lambda(&s, 900, 1000) == 10.0f, "linear after");
    sr_quant_waveq_sched w;
    sr_quant_waveq_sched_default(&w);
    float lw, lb;
    sr_quant_waveq_coefs(&w, 0, 1000, &lw, &lb);
    CHECK(lw < 0.01f && fabsf(lb) < 0.001f, "waveq phase 1: %g %g",
          (double)lw, (double)lb);
    sr_quant_waveq_coefs(&w, 500, 1000, &lw, &lb);
    CHECK(lw > 0.99f && fabsf(lb - w.c) < 1e-3f, "waveq phase 2: %g %g",
          (double)lw, (double)lb);
    sr_quant_waveq_coefs(&w, 1000, 1000, &lw, &lb);
    CHECK(lw > 0.99f && fabsf(lb) < 1e-3f, "waveq phase 3: %g %g",
          (double)lw, (double)lb);
    CHECK(sr_quant_waveq_beta_lr(&w, 900, 1000) == 0.0f, "beta frozen");
    CHECK(sr_quant_waveq_bits(3.2f, SR_QUANT_DOREFA) == 4, "ceil");
    CHECK(sr_quant_waveq_bits(4.0f, SR_QUANT_DOREFA) == 4, "ceil exact");
    CHECK(sr_quant_waveq_bits(0.3f, SR_QUANT_WRPN) == 2, "wrpn floor 2");
    CHECK(sr_quant_waveq_bits(40.0f, SR_QUANT_WRPN) == 16, "cap 16");
    sr_quant_sched_kind k;
    EXPECT_ERROR(sr_quant_sched_parse("cosine", &k), SR_E_CONFIG, "tanh");
}

int main(void)
{
    RUN(test_param_counts);
    RUN(test_width);
    RUN(test_names_and_shapes);
    RUN(test_bad_input);
    RUN(test_quant_plan);
    RUN(test_schedules);
    return nt_finish();
}
