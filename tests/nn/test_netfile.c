/* Network files (src/models/netfile.c): the files in nets/ build exactly
 * the built-in networks (layers, shapes, tensors, quantization plan, and
 * bit-identical forward/backward/update on the CPU backend), the format's
 * blocks and references work, and every kind of bad file is refused with
 * the file, line and layer named. The files beyond the built-ins
 * (resnet56, mobilenet_v1 with depthwise convs) build with their known
 * parameter counts and train a few quantized SinReQ steps; depthwise
 * layers and per-layer quantization rules behave as documented.
 *
 * usage: test_netfile NETS_DIR   (the repository's nets/ folder) */
#include "nn_util.h"

#include "sinreq/netfile.h"

static const char *g_nets;
static sr_backend *be;

static void net_path(char *dst, size_t n, const char *name)
{
    snprintf(dst, n, "%s/%s.yaml", g_nets, name);
}

static sr_status build(const char *name, int batch, int width, int c, int h,
                       int w, int classes, sr_nn **out)
{
    sr_model_opts mo = {.name = name, .batch = batch, .width = width,
                        .in_c = c, .in_h = h, .in_w = w,
                        .num_classes = classes};
    return sr_model_build(&mo, out);
}

/* Same layers (name, kind, shape, plan) and tensors (name, role, dims). */
static void same_structure(sr_nn *a, sr_nn *b, const char *what)
{
    CHECK(sr_nn_param_count(a) == sr_nn_param_count(b), "%s: %zu vs %zu "
          "parameters", what, sr_nn_param_count(a), sr_nn_param_count(b));
    CHECK(sr_nn_classes(a) == sr_nn_classes(b), "%s: classes", what);
    CHECK(strcmp(sr_nn_name(a), sr_nn_name(b)) == 0, "%s: name %s vs %s",
          what, sr_nn_name(a), sr_nn_name(b));
    CHECK(sr_nn_layer_count(a) == sr_nn_layer_count(b), "%s: %d vs %d "
          "layers", what, sr_nn_layer_count(a), sr_nn_layer_count(b));
    for (int i = 0; i < sr_nn_layer_count(a) && i < sr_nn_layer_count(b);
         i++) {
        sr_nn_layer_info x, y;
        if (sr_nn_layer(a, i, &x) != SR_OK || sr_nn_layer(b, i, &y) != SR_OK)
            continue;
        CHECK(strcmp(x.name, y.name) == 0 && x.kind == y.kind &&
              x.out_c == y.out_c && x.out_h == y.out_h &&
              x.out_w == y.out_w && x.qidx == y.qidx &&
              x.weight_numel == y.weight_numel &&
              memcmp(&x.quant, &y.quant, sizeof x.quant) == 0,
              "%s: layer %d: %s %dx%dx%d q%d vs %s %dx%dx%d q%d", what, i,
              x.name, x.out_c, x.out_h, x.out_w, x.qidx, y.name, y.out_c,
              y.out_h, y.out_w, y.qidx);
    }
    CHECK(sr_nn_tensor_count(a) == sr_nn_tensor_count(b), "%s: tensor "
          "count", what);
    for (int i = 0; i < sr_nn_tensor_count(a) && i < sr_nn_tensor_count(b);
         i++) {
        const sr_nn_tensor_info *x = sr_nn_tensor(a, i), *y = sr_nn_tensor(b, i);
        CHECK(strcmp(x->name, y->name) == 0 && x->role == y->role &&
              x->ndim == y->ndim && x->numel == y->numel &&
              memcmp(x->dims, y->dims, sizeof x->dims) == 0,
              "%s: tensor %d: %s vs %s", what, i, x->name, y->name);
    }
}

/* Every built-in network against its file, at two widths, with the
 * network's own quantization rule for the ends. */
static void test_structure_all(void)
{
    for (int k = 0; k < sr_model_count(); k++) {
        const char *name = sr_model_name(k);
        char path[1024], what[96];
        net_path(path, sizeof path, name);
        int c, h, w, cl, fc, fh, fw, fcl;
        TRY(sr_model_defaults(name, &c, &h, &w, &cl));
        TRY(sr_model_defaults(path, &fc, &fh, &fw, &fcl));
        CHECK(c == fc && h == fh && w == fw && cl == fcl, "%s: defaults "
              "%dx%dx%d/%d vs %dx%dx%d/%d", name, c, h, w, cl, fc, fh, fw,
              fcl);
        for (int width = 1; width <= 2; width++) {
            sr_nn *a = NULL, *b = NULL;
            snprintf(what, sizeof what, "%s width %d", name, width);
            TRY(build(name, 1, width, 0, 0, 0, 0, &a));
            sr_status st = build(path, 1, width, 0, 0, 0, 0, &b);
            CHECK(st == SR_OK, "%s: %s", what, sr_last_error());
            if (st == SR_OK) {
                sr_quant_opts q;
                sr_quant_opts_default(&q);
                q.quantizer = SR_QUANT_DOREFA;
                q.bits = 4;
                TRY(sr_nn_set_quant(a, &q));
                TRY(sr_nn_set_quant(b, &q));
                same_structure(a, b, what);
            }
            sr_nn_free(a);
            sr_nn_free(b);
        }
    }
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* One quantized training step from the same seed and batch: logits, every
 * gradient and every updated parameter must be bit-identical. */
static void step_compare(const char *name, int c, int h, int w, int classes)
{
    char path[1024];
    net_path(path, sizeof path, name);
    sr_nn *net[2] = {NULL, NULL};
    const char *names[2] = {name, path};
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_DOREFA;
    q.bits = 4;
    q.reg = SR_QUANT_REG_SINREQ;
    sr_nn_opts o;
    sr_nn_opts_default(&o);
    o.seed = 1234;
    for (int k = 0; k < 2; k++) {
        TRY(build(names[k], 2, 1, c, h, w, classes, &net[k]));
        TRY(sr_nn_set_quant(net[k], &q));
        TRY(sr_nn_alloc(net[k], be, &o));
        TRY(nu_batch(net[k], c, h, w, 99));
        TRY(nu_scalars(net[k], 0.05f, 3, 0.5f));
        TRY(sr_nn_forward(net[k], 1));
        TRY(sr_nn_loss(net[k], 0));
        TRY(sr_nn_backward(net[k]));
    }
    size_t nl = (size_t)2 * (size_t)sr_nn_classes(net[0]);
    float *la = malloc(nl * sizeof *la), *lb = malloc(nl * sizeof *lb);
    TRY(sr_nn_read_logits(net[0], la));
    TRY(sr_nn_read_logits(net[1], lb));
    CHECK(same_floats(la, lb, nl), "%s: logits differ", name);
    free(la);
    free(lb);
    int nt = sr_nn_tensor_count(net[0]), differ = 0;
    for (int i = 0; i < nt; i++) {
        const sr_nn_tensor_info *t = sr_nn_tensor(net[0], i);
        if (!t->trainable) continue;
        float *ga = malloc(t->numel * sizeof *ga);
        float *gb = malloc(t->numel * sizeof *gb);
        if (sr_nn_read_grad(net[0], i, ga) != SR_OK ||
            sr_nn_read_grad(net[1], i, gb) != SR_OK ||
            !same_floats(ga, gb, t->numel)) {
            CHECK(0, "%s: gradient of %s differs", name, t->name);
            differ++;
        }
        free(ga);
        free(gb);
    }
    TRY(sr_nn_update(net[0]));
    TRY(sr_nn_update(net[1]));
    size_t na, nb;
    float *pa = nu_params(net[0], &na), *pb = nu_params(net[1], &nb);
    CHECK(pa && pb && na == nb && same_floats(pa, pb, na), "%s: parameters "
          "after the update differ", name);
    free(pa);
    free(pb);
    for (int k = 0; k < 2; k++) sr_nn_free(net[k]);
}

static void test_step_cifar10net(void) { step_compare("cifar10net", 3, 32, 32, 10); }
static void test_step_resnet20(void) { step_compare("resnet20", 3, 32, 32, 10); }
static void test_step_svhnnet(void) { step_compare("svhnnet", 3, 32, 32, 10); }
static void test_step_vgg11(void) { step_compare("vgg11", 3, 32, 32, 10); }
/* ResNet-18 on 64x64 images keeps the step short; AlexNet's 151 MB fc6 is
 * left to the structure test. */
static void test_step_resnet18(void) { step_compare("resnet18", 3, 64, 64, 10); }

/* ---- the format: blocks, references, defaults ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        CHECK(0, "cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

static const char *custom =
    "# two residual blocks from one template, an explicit projection\n"
    "input: [3, 16, 16]\n"
    "classes: 5\n"
    "layers:\n"
    "  - {name: stem, op: conv, out: 8, kernel: 3, pad: 1, bias: false}\n"
    "  - {name: stem_bn, op: batchnorm}\n"
    "  - {name: stem_relu, op: relu}\n"
    "  - block: res{i}\n"
    "    repeat: 2\n"
    "    from: 1\n"
    "    layers:\n"
    "      - {name: a, op: conv, out: 8, kernel: 3, pad: 1}\n"
    "      - {name: r, op: relu}\n"
    "      - {name: b, op: conv, out: 8, kernel: 3, pad: 1}\n"
    "      - {name: sum, op: add, inputs: [b, in]}\n"
    "  - {name: down, op: conv, out: 16, kernel: 1, stride: 2}\n"
    "  - {name: skip, op: maxpool, kernel: 2, input: res2.sum}\n"
    "  - {name: skipconv, op: conv, out: 16, kernel: 1}\n"
    "  - {name: join, op: add, inputs: [down, skipconv]}\n"
    "  - {name: pool, op: avgpool, size: [2, 2]}\n"
    "  - {name: drop, op: dropout, p: 0.25}\n"
    "  - {name: flat, op: flatten}\n"
    "  - {name: head, op: linear, out: classes, bias: false}\n";

static void test_format(void)
{
    sr_nn *net = NULL;
    write_file("nf_custom.yaml", custom);
    int c, h, w, cl;
    TRY(sr_model_defaults("nf_custom.yaml", &c, &h, &w, &cl));
    CHECK(c == 3 && h == 16 && w == 16 && cl == 5, "defaults %dx%dx%d/%d",
          c, h, w, cl);
    TRY(build("nf_custom.yaml", 2, 1, 0, 0, 0, 0, &net));
    CHECK(strcmp(sr_nn_name(net), "nf_custom") == 0, "name %s",
          sr_nn_name(net));
    CHECK(sr_nn_layer_count(net) == 3 + 2 * 4 + 8, "%d layers",
          sr_nn_layer_count(net));
    CHECK(sr_nn_classes(net) == 5, "classes %d", sr_nn_classes(net));
    const char *expect[] = {"res1.a", "res1.sum", "res2.a", "res2.sum",
                            "join"};
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        CHECK(sr_nn_find_layer(net, expect[i]) >= 0, "no layer %s",
              expect[i]);
    CHECK(sr_nn_find_layer(net, "res0.a") < 0, "from: 1 ignored");
    CHECK(sr_nn_find_tensor(net, "head.bias") < 0, "bias: false ignored");
    CHECK(sr_nn_find_tensor(net, "res1.a.bias") >= 0, "conv bias default");
    /* params: stem 216, bn 16, 2 x (2 x (576 + 8)), down 144, skipconv 144,
     * head 16*2*2*5 = 320 */
    CHECK(sr_nn_param_count(net) == 216 + 16 + 2 * 2 * 584 + 144 + 144 + 320,
          "%zu parameters", sr_nn_param_count(net));
    sr_nn_layer_info li;
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "pool"), &li));
    CHECK(li.out_c == 16 && li.out_h == 2 && li.out_w == 2, "pool %dx%dx%d",
          li.out_c, li.out_h, li.out_w);
    sr_nn_free(net);
    net = NULL;
    /* the data's class count and width apply */
    TRY(build("nf_custom.yaml", 2, 2, 3, 24, 24, 7, &net));
    CHECK(sr_nn_classes(net) == 7, "classes %d", sr_nn_classes(net));
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "stem"), &li));
    CHECK(li.out_c == 16 && li.out_h == 24, "stem %dx%d", li.out_c, li.out_h);
    sr_nn_free(net);
}

/* file text must fail with code and a message holding every needle */
static void expect_bad(const char *tag, const char *text, sr_status code,
                       const char *n1, const char *n2)
{
    char path[128];
    sr_nn *net = NULL;
    snprintf(path, sizeof path, "nf_bad_%s.yaml", tag);
    write_file(path, text);
    sr_clear_error();
    sr_status st = build(path, 2, 1, 0, 0, 0, 0, &net);
    CHECK(st == code, "%s: got %s (%s), expected %s", tag,
          sr_status_name(st), sr_last_error(), sr_status_name(code));
    CHECK(net == NULL, "%s: a network came back", tag);
    CHECK(strstr(sr_last_error(), path) != NULL, "%s: '%s' does not name "
          "the file", tag, sr_last_error());
    CHECK(strstr(sr_last_error(), n1) != NULL, "%s: '%s' lacks '%s'", tag,
          sr_last_error(), n1);
    CHECK(!n2 || strstr(sr_last_error(), n2) != NULL, "%s: '%s' lacks '%s'",
          tag, sr_last_error(), n2);
    sr_nn_free(net);
}

#define HEAD "input: [3, 8, 8]\nclasses: 4\nlayers:\n"
#define TAIL "  - {name: flat, op: flatten}\n" \
             "  - {name: fc, op: linear, out: classes}\n"

static void test_errors(void)
{
    expect_bad("op", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: act, op: gelu}\n" TAIL,
               SR_E_CONFIG, ":5: layer act: unknown op 'gelu'", NULL);
    expect_bad("input", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: c2, op: conv, out: 4, kernel: 1, input: c0}\n"
               TAIL, SR_E_CONFIG, ":5: layer c2: unknown input 'c0'", NULL);
    expect_bad("block_input", HEAD
               "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - block: b{i}\n    repeat: 2\n    layers:\n"
               "      - {name: x, op: relu}\n"
               "      - {name: s, op: add, inputs: [x, y]}\n" TAIL,
               SR_E_CONFIG, ":9: layer b0.s: unknown input 'y'", NULL);
    expect_bad("add_one", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: s, op: add, inputs: [c1]}\n" TAIL,
               SR_E_CONFIG, ":5: layer s: add needs inputs: [A, B]", NULL);
    expect_bad("dup", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: c1, op: relu}\n" TAIL,
               SR_E_CONFIG, ":5: layer c1: duplicate name", "line 4");
    expect_bad("dup_repeat", HEAD
               "  - block: b\n    repeat: 1\n    layers:\n"
               "      - {name: x, op: conv, out: 4, kernel: 3}\n"
               "  - block: b\n    layers:\n"
               "      - {name: x, op: relu}\n" TAIL,
               SR_E_CONFIG, ":10: layer b.x: duplicate name", "line 7");
    expect_bad("template", HEAD "  - block: b\n    repeat: 2\n    layers:\n"
               "      - {name: x, op: relu}\n" TAIL,
               SR_E_CONFIG, ":4: block 'b' repeats 2 times", "{i}");
    expect_bad("cycle", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: a, op: add, inputs: [c1, b]}\n"
               "  - {name: b, op: relu, input: a}\n"
               "  - {name: flat, op: flatten, input: b}\n"
               "  - {name: fc, op: linear, out: classes}\n",
               SR_E_CONFIG, "cycle", "a -> b -> a");
    expect_bad("self", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3, "
               "input: c1}\n" TAIL, SR_E_CONFIG,
               ":4: layer c1: the inputs form a cycle: c1 -> c1", NULL);
    expect_bad("shape_add", HEAD
               "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: c2, op: conv, out: 6, kernel: 3, pad: 1}\n"
               "  - {name: s, op: add, inputs: [c1, c2]}\n" TAIL,
               SR_E_SHAPE, ":6: layer s:", "4x6x6");
    expect_bad("shape_flat", HEAD
               "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: fc, op: linear, out: classes}\n",
               SR_E_SHAPE, ":5: layer fc:", "flatten");
    expect_bad("shape_big", HEAD
               "  - {name: c1, op: conv, out: 4, kernel: 11}\n" TAIL,
               SR_E_SHAPE, ":4: layer c1:", "smaller than");
    expect_bad("logits", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: flat, op: flatten}\n"
               "  - {name: fc, op: linear, out: 10}\n",
               SR_E_SHAPE, ":6: layer fc: gives 10 outputs but there are 4",
               NULL);
    expect_bad("not_linear", HEAD
               "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: flat, op: flatten}\n",
               SR_E_SHAPE, ":5: layer flat:", "must be a linear");
    expect_bad("unused", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: side, op: relu}\n"
               "  - {name: flat, op: flatten, input: c1}\n"
               "  - {name: fc, op: linear, out: classes}\n",
               SR_E_CONFIG, ":5: layer side: its output is never used", NULL);
    expect_bad("kernel", HEAD "  - {name: c1, op: conv, out: 4, kernel: 0}\n"
               TAIL, SR_E_CONFIG, ":4: layer c1: kernel must be an integer",
               "got '0'");
    expect_bad("out", HEAD "  - {name: c1, op: conv, out: four, kernel: 3}\n"
               TAIL, SR_E_CONFIG, ":4: layer c1: out must be an integer",
               "four");
    expect_bad("p", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: d, op: dropout, p: 1.5}\n" TAIL,
               SR_E_CONFIG, ":5: layer d: p must be a number in [0, 1)", NULL);
    expect_bad("bias", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3, "
               "bias: maybe}\n" TAIL, SR_E_CONFIG,
               ":4: layer c1: bias must be true or false", NULL);
    expect_bad("pad", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3, "
               "pad: 3}\n" TAIL, SR_E_CONFIG,
               ":4: layer c1: pad 3 must be smaller", NULL);
    expect_bad("key", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3, "
               "strides: 2}\n" TAIL, SR_E_CONFIG,
               ":4: layer c1: unknown key 'strides' for conv", NULL);
    expect_bad("dw_out", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: d1, op: dwconv, out: 8, kernel: 3}\n" TAIL,
               SR_E_CONFIG, ":5: layer d1: unknown key 'out' for dwconv",
               NULL);
    expect_bad("dw_kernel", HEAD "  - {name: d1, op: dwconv, pad: 1}\n" TAIL,
               SR_E_CONFIG, ":4: layer d1: dwconv needs 'kernel'", NULL);
    expect_bad("dw_size", HEAD "  - {name: d1, op: dwconv, kernel: 11}\n"
               TAIL, SR_E_SHAPE, ":4: layer d1:", "smaller than");
    expect_bad("rule_bits", HEAD "  - {name: c1, op: conv, out: 4, kernel: "
               "3, bits: 17}\n" TAIL, SR_E_CONFIG,
               ":4: layer c1: bits must be an integer in 1..16", NULL);
    expect_bad("rule_fp", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3, "
               "quantize: false, bits: 4}\n" TAIL, SR_E_CONFIG,
               ":4: layer c1: quantize: false", NULL);
    expect_bad("rule_relu", HEAD "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
               "  - {name: r, op: relu, bits: 4}\n" TAIL, SR_E_CONFIG,
               ":5: layer r: unknown key 'bits' for relu", NULL);
    expect_bad("noname", HEAD "  - {op: relu}\n" TAIL, SR_E_CONFIG,
               ":4: a layer without a name", NULL);
    expect_bad("noop", HEAD "  - {name: c1, out: 4, kernel: 3}\n" TAIL,
               SR_E_CONFIG, ":4: layer c1: no op", NULL);
    expect_bad("reserved", HEAD "  - {name: in, op: relu}\n" TAIL,
               SR_E_CONFIG, ":4:", "'in' is reserved");
    expect_bad("classes", "input: [3, 8, 8]\nclasses: 1\nlayers:\n"
               "  - {name: c1, op: conv, out: 4, kernel: 3}\n" TAIL,
               SR_E_CONFIG, ":2: classes must be an integer in 2..", NULL);
    expect_bad("shape_in", "input: [3, 8]\nclasses: 4\nlayers:\n" TAIL,
               SR_E_CONFIG, ":1: input: [C, H, W] is required", NULL);
    expect_bad("top_key", HEAD TAIL "extra: 1\n", SR_E_CONFIG,
               ":6: unknown key 'extra' for a network file", NULL);
    expect_bad("yaml", HEAD "  - {name: c1, op: conv\n", SR_E_CONFIG,
               "YAML error", NULL);
    sr_nn *net = NULL;
    EXPECT_ERROR(build("nf_no_such_file.yaml", 2, 1, 0, 0, 0, 0, &net),
                 SR_E_IO, "nf_no_such_file.yaml");
    EXPECT_ERROR(sr_model_defaults("nf_no_such_file.yml", NULL, NULL, NULL,
                                   NULL), SR_E_IO, "nf_no_such_file.yml");
    CHECK(sr_netfile_is_path("a/b.YAML") && sr_netfile_is_path("x.yml") &&
          !sr_netfile_is_path("resnet20") && !sr_netfile_is_path(".yaml"),
          "sr_netfile_is_path");
}


/* Damaged copies of nets/resnet20.yaml (byte flips, truncation, deleted
 * and duplicated lines): each builds, or fails with a message naming the
 * file; none crashes (the ASan build runs this too). */
static void test_mutations(void)
{
    char path[1024];
    net_path(path, sizeof path, "resnet20");
    FILE *f = fopen(path, "rb");
    if (!f) {
        CHECK(0, "cannot read %s", path);
        return;
    }
    static char orig[16384], buf[2 * sizeof orig];
    size_t n = fread(orig, 1, sizeof orig - 1, f);
    fclose(f);
    static const char junk[] = "{}[]:,-&*!|>'\"#%@` \n\t0123456789{i}in";
    uint32_t key = sr_rng_key(4242, 0, 0);
    int built = 0, refused = 0;
    for (uint32_t k = 0; k < 300; k++) {
        size_t len = n;
        memcpy(buf, orig, n);
        uint32_t r = sr_rng_u32(key, 4 * k), kind = r % 4;
        size_t at = sr_rng_u32(key, 4 * k + 1) % n;
        if (kind == 0) {            /* a few bytes replaced */
            for (uint32_t j = 0; j < 1 + r % 4; j++)
                buf[(at + 7 * j) % n] =
                    junk[sr_rng_u32(key, 4 * k + 2 + j) % (sizeof junk - 1)];
        } else if (kind == 1) {     /* truncated */
            len = at;
        } else {                    /* a line deleted, or repeated */
            size_t b = at, e = at;
            while (b > 0 && orig[b - 1] != '\n') b--;
            while (e < n && orig[e] != '\n') e++;
            if (e < n) e++;
            if (kind == 2) {
                memmove(buf + b, orig + e, n - e);
                len = n - (e - b);
            } else {
                memmove(buf + e + (e - b), orig + e, n - e);
                memcpy(buf + e, orig + b, e - b);
                len = n + (e - b);
            }
        }
        FILE *o = fopen("nf_mutant.yaml", "wb");
        if (!o) {
            CHECK(0, "cannot write nf_mutant.yaml");
            return;
        }
        fwrite(buf, 1, len, o);
        fclose(o);
        sr_nn *net = NULL;
        sr_clear_error();
        sr_status st = build("nf_mutant.yaml", 2, 1, 0, 0, 0, 0, &net);
        if (st == SR_OK) {
            built++;
            CHECK(net != NULL, "mutant %u: OK without a network", k);
        } else {
            refused++;
            CHECK(net == NULL && strstr(sr_last_error(), "nf_mutant.yaml"),
                  "mutant %u: message '%s' does not name the file", k,
                  sr_last_error());
        }
        sr_nn_free(net);
    }
    /* most damage is noticed; some (a comment, a blank line) is harmless */
    CHECK(refused > 150 && built > 0, "%d refused, %d built", refused, built);
}

/* ---- networks beyond the paper: ResNet-56, MobileNet v1 ---- */

/* nets/NAME.yaml builds with the known parameter count; with DoReFa 4-bit
 * weights and SinReQ every conv (the depthwise ones included) and linear
 * but the two ends is quantized; a few training steps on one fixed batch
 * lower the loss, and every layer's SinReQ value is a mean of sin^2. */
static void user_net(const char *name, size_t params, int quantized,
                     const char *dw_tensor, int dw_c)
{
    char path[1024];
    net_path(path, sizeof path, name);
    sr_nn *net = NULL;
    TRY(build(path, 4, 1, 0, 0, 0, 0, &net));
    if (!net) return;
    CHECK(sr_nn_param_count(net) == params, "%s: %zu parameters, want %zu",
          name, sr_nn_param_count(net), params);
    if (dw_tensor) {
        int t = sr_nn_find_tensor(net, dw_tensor);
        const sr_nn_tensor_info *ti = t >= 0 ? sr_nn_tensor(net, t) : NULL;
        CHECK(ti && ti->ndim == 4 && ti->dims[0] == dw_c &&
              ti->dims[1] == 1 && ti->dims[2] == 3 && ti->dims[3] == 3,
              "%s: %s is not a depthwise weight (%d, 1, 3, 3)", name,
              dw_tensor, dw_c);
    }
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_DOREFA;
    q.bits = 4;
    q.reg = SR_QUANT_REG_SINREQ;
    TRY(sr_nn_set_quant(net, &q));
    CHECK(sr_nn_quant_count(net) == quantized, "%s: %d quantized layers, "
          "want %d", name, sr_nn_quant_count(net), quantized);
    sr_nn_opts o;
    sr_nn_opts_default(&o);
    o.seed = 7;
    TRY(sr_nn_alloc(net, be, &o));
    TRY(nu_batch(net, 3, 32, 32, 11));
    float first = 0, loss = 0;
    int nq = sr_nn_quant_count(net);
    float *reg = calloc((size_t)nq + 1, sizeof *reg);
    float *qerr = calloc((size_t)nq + 1, sizeof *qerr);
    for (uint32_t step = 0; step < 5; step++) {
        TRY(nu_scalars(net, 0.02f, step, 1.0f));
        TRY(sr_nn_train_step(net));
        TRY(sr_nn_read_stats(net, &loss, NULL));
        CHECK(isfinite(loss), "%s step %u: loss %g", name, step, loss);
        if (step == 0) first = loss;
    }
    CHECK(loss < first, "%s: loss %g after 5 steps on one batch, %g at the "
          "first", name, (double)loss, (double)first);
    TRY(sr_nn_read_quant_metrics(net, reg, qerr));
    for (int i = 0; reg && i < nq; i++)
        CHECK(reg[i] > 0 && reg[i] <= 1, "%s: quantized layer %d: SinReQ "
              "value %g outside (0, 1]", name, i, (double)reg[i]);
    fprintf(stderr, "  %s: %zu parameters, %d quantized layers, loss %.4f "
            "-> %.4f\n", name, sr_nn_param_count(net), nq, (double)first,
            (double)loss);
    free(reg);
    free(qerr);
    sr_nn_free(net);
}

/* 3 stages x 9 basic blocks; two projection shortcuts (1x1 conv + BN):
 * 853,018 + 2 x (1x1 conv + BN) = 855,770. 57 convs + fc, the ends
 * full precision. */
static void test_resnet56(void)
{
    user_net("resnet56", 855770, 56, NULL, 0);
}

/* 3,217,226 as the usual PyTorch CIFAR MobileNet; 27 convs (13 of them
 * depthwise) + fc, the ends full precision. */
static void test_mobilenet_v1(void)
{
    user_net("mobilenet_v1", 3217226, 26, "layers.5.conv1.weight", 256);
}

/* A depthwise layer in a network file: it takes its input's channels,
 * has a (c, 1, k, k) weight, and stride / pad / bias as conv. */
static void test_dwconv_layer(void)
{
    write_file("nf_dw.yaml",
               "input: [3, 12, 12]\n"
               "classes: 3\n"
               "layers:\n"
               "  - {name: c1, op: conv, out: 6, kernel: 3, pad: 1}\n"
               "  - {name: dw, op: dwconv, kernel: 5, stride: 2, pad: 2}\n"
               "  - {name: dw2, op: dwconv, kernel: 3, bias: false}\n"
               "  - {name: flat, op: flatten}\n"
               "  - {name: fc, op: linear, out: classes}\n");
    sr_nn *net = NULL;
    TRY(build("nf_dw.yaml", 2, 1, 0, 0, 0, 0, &net));
    if (!net) return;
    sr_nn_layer_info li;
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "dw"), &li));
    CHECK(li.kind == SR_NN_CONV2D && li.out_c == 6 && li.out_h == 6 &&
          li.out_w == 6 && li.weight_numel == 6 * 25, "dw: %dx%dx%d, %zu "
          "weights", li.out_c, li.out_h, li.out_w, li.weight_numel);
    TRY(sr_nn_layer(net, sr_nn_find_layer(net, "dw2"), &li));
    CHECK(li.out_c == 6 && li.out_h == 4, "dw2: %dx%dx%d", li.out_c,
          li.out_h, li.out_w);
    CHECK(sr_nn_find_tensor(net, "dw.bias") >= 0 &&
          sr_nn_find_tensor(net, "dw2.bias") < 0, "dwconv bias");
    /* c1 162 + 6, dw 150 + 6, dw2 54, fc 96 * 3 + 3 */
    CHECK(sr_nn_param_count(net) == 168 + 156 + 54 + 291, "%zu parameters",
          sr_nn_param_count(net));
    sr_nn_free(net);
}

/* quantize:, bits:, act_bits: on a layer refine the run's plan; the run's
 * own per-layer overrides still win; without a quantizer nothing is
 * quantized. */
static void test_layer_rules(void)
{
    write_file("nf_rules.yaml",
               "input: [3, 8, 8]\n"
               "classes: 4\n"
               "ends_full_precision: true\n"
               "layers:\n"
               "  - {name: c1, op: conv, out: 4, kernel: 3, quantize: true, "
               "bits: 6}\n"
               "  - {name: c2, op: conv, out: 4, kernel: 3, bits: 8}\n"
               "  - {name: d3, op: dwconv, kernel: 3, act_bits: 2}\n"
               "  - {name: c4, op: conv, out: 4, kernel: 1, quantize: false}\n"
               "  - {name: flat, op: flatten}\n"
               "  - {name: fc, op: linear, out: classes, quantize: true, "
               "act_bits: 3}\n");
    sr_quant_opts q;
    sr_quant_opts_default(&q);
    q.quantizer = SR_QUANT_WRPN;
    q.bits = 4;
    q.reg = SR_QUANT_REG_SINREQ;
    static const struct {
        const char *layer;
        int quantized, bits, act_bits;
    } want[] = {{"c1", 1, 6, 0}, {"c2", 1, 8, 0}, {"d3", 1, 4, 2},
                {"c4", 0, 0, 0}, {"fc", 1, 4, 3}};
    for (int pass = 0; pass < 3; pass++) {
        sr_nn *net = NULL;
        TRY(build("nf_rules.yaml", 2, 1, 0, 0, 0, 0, &net));
        if (!net) return;
        /* pass 1: the run's override for c2 wins; pass 2: no quantizer */
        sr_quant_override ov = {"c2", -1, 5, -1};
        sr_quant_opts qp = q;
        if (pass == 1) {
            qp.overrides = &ov;
            qp.n_overrides = 1;
        }
        if (pass == 2) {
            qp.quantizer = SR_QUANT_NONE;
            qp.reg = SR_QUANT_REG_NONE;
        }
        TRY(sr_nn_set_quant(net, &qp));
        for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
            sr_nn_layer_info li;
            TRY(sr_nn_layer(net, sr_nn_find_layer(net, want[i].layer), &li));
            int wq = pass == 2 ? 0 : want[i].quantized;
            int wb = pass == 2 ? 0 : pass == 1 && i == 1 ? 5 : want[i].bits;
            int wa = pass == 2 ? 0 : want[i].act_bits;
            CHECK(li.quant.quantized == wq && li.quant.bits == wb &&
                  li.quant.act_bits == wa, "pass %d: %s quantized %d bits %d "
                  "act %d, want %d %d %d", pass, want[i].layer,
                  li.quant.quantized, li.quant.bits, li.quant.act_bits, wq,
                  wb, wa);
        }
        sr_nn_free(net);
    }
    /* a rule the quantizer cannot take: 1-bit WRPN, named by layer */
    write_file("nf_rules1.yaml",
               "input: [3, 8, 8]\nclasses: 4\nlayers:\n"
               "  - {name: c1, op: conv, out: 4, kernel: 3, bits: 1}\n"
               "  - {name: flat, op: flatten}\n"
               "  - {name: fc, op: linear, out: classes}\n");
    sr_nn *net = NULL;
    TRY(build("nf_rules1.yaml", 2, 1, 0, 0, 0, 0, &net));
    if (net) {
        sr_status st = sr_nn_set_quant(net, &q);
        CHECK(st == SR_E_BITS && strstr(sr_last_error(), "c1"), "1-bit WRPN "
              "rule: %s (%s)", sr_status_name(st), sr_last_error());
        sr_nn_free(net);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_netfile NETS_DIR\n");
        return 2;
    }
    g_nets = argv[1];
    if (sr_backend_create("cpu", NULL, &be) != SR_OK) {
        fprintf(stderr, "cpu backend: %s\n", sr_last_error());
        return 1;
    }
    RUN(test_structure_all);
    RUN(test_format);
    RUN(test_errors);
    RUN(test_mutations);
    RUN(test_step_cifar10net);
    RUN(test_step_svhnnet);
    RUN(test_step_resnet20);
    RUN(test_step_vgg11);
    RUN(test_step_resnet18);
    RUN(test_dwconv_layer);
    RUN(test_layer_rules);
    RUN(test_mobilenet_v1);
    RUN(test_resnet56);
    sr_backend_free(be);
    return nt_finish();
}
