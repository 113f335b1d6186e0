/* The paper's six networks (docs/method.md, Networks), built layer by layer with
 * the PyTorch module names of the reference implementations. */
#include "sinreq/models.h"
#include "sinreq/netfile.h"
#include "sinreq/suggest.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct model_def {
    const char *name;
    int c, h, w, classes;
    int ends_fp;   /* authors' rule: first conv / last FC stay float32 */
    int (*build)(sr_nn *net, int x, int width, int classes);
} model_def;

/* conv + relu (+ dropout) helpers keep the builders close to the PyTorch
 * definitions they transcribe. */

/* cifar10net: Distiller's simplenet_cifar. */
static int build_cifar10net(sr_nn *net, int x, int wd, int classes)
{
    int c1 = 6 * wd, c2 = 16 * wd, f1 = 120 * wd, f2 = 84 * wd;
    x = sr_nn_conv2d(net, "conv1", x, c1, 5, 1, 0, 1);
    x = sr_nn_relu(net, "relu_conv1", x);
    x = sr_nn_maxpool(net, "pool1", x, 2, 2, 0);
    x = sr_nn_conv2d(net, "conv2", x, c2, 5, 1, 0, 1);
    x = sr_nn_relu(net, "relu_conv2", x);
    x = sr_nn_maxpool(net, "pool2", x, 2, 2, 0);
    x = sr_nn_flatten(net, "flatten", x);
    x = sr_nn_linear(net, "fc1", x, c2 * 5 * 5, f1, 1);
    x = sr_nn_relu(net, "relu_fc1", x);
    x = sr_nn_linear(net, "fc2", x, f1, f2, 1);
    x = sr_nn_relu(net, "relu_fc2", x);
    return sr_nn_linear(net, "fc3", x, f2, classes, 1);
}

/* svhnnet: pytorch-playground's SVHN model (features.N, classifier.0). */
static int build_svhnnet(sr_nn *net, int x, int wd, int classes)
{
    /* channels; 0 = maxpool; negative = conv without padding */
    static const int cfg[] = {32, 32, 0, 64, 64, 0, 128, 128, 0, -256, 0};
    char name[32];
    int idx = 0, c = 0;
    for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++) {
        if (cfg[i] == 0) {
            snprintf(name, sizeof name, "features.%d", idx++);
            x = sr_nn_maxpool(net, name, x, 2, 2, 0);
            continue;
        }
        c = (cfg[i] < 0 ? -cfg[i] : cfg[i]) * wd;
        snprintf(name, sizeof name, "features.%d", idx++);
        x = sr_nn_conv2d(net, name, x, c, 3, 1, cfg[i] < 0 ? 0 : 1, 1);
        snprintf(name, sizeof name, "features.%d", idx++);
        x = sr_nn_relu(net, name, x);
        snprintf(name, sizeof name, "features.%d", idx++);
        x = sr_nn_dropout(net, name, x, 0.3f);
    }
    x = sr_nn_flatten(net, "flatten", x);
    return sr_nn_linear(net, "classifier.0", x, c, classes, 1);
}

/* A basic block: conv3x3-bn-relu-conv3x3-bn, + shortcut, relu. A 1x1 conv +
 * BN projection ("downsample") where the shape changes. */
static int basic_block(sr_nn *net, const char *p, int x, int in_c, int c,
                       int stride, const char *relu1, const char *relu2)
{
    char n[64];
    int s = x;
#define NM(suffix) (snprintf(n, sizeof n, "%s.%s", p, suffix), n)
    x = sr_nn_conv2d(net, NM("conv1"), x, c, 3, stride, 1, 0);
    x = sr_nn_batchnorm(net, NM("bn1"), x);
    x = sr_nn_relu(net, NM(relu1), x);
    x = sr_nn_conv2d(net, NM("conv2"), x, c, 3, 1, 1, 0);
    x = sr_nn_batchnorm(net, NM("bn2"), x);
    if (stride != 1 || in_c != c) {
        s = sr_nn_conv2d(net, NM("downsample.0"), s, c, 1, stride, 0, 0);
        s = sr_nn_batchnorm(net, NM("downsample.1"), s);
    }
    x = sr_nn_add(net, NM("add"), x, s);
    return sr_nn_relu(net, NM(relu2), x);
#undef NM
}

/* resnet20: Distiller's resnet_cifar (3 stages x 3 blocks). */
static int build_resnet20(sr_nn *net, int x, int wd, int classes)
{
    int c = 16 * wd;
    x = sr_nn_conv2d(net, "conv1", x, c, 3, 1, 1, 0);
    x = sr_nn_batchnorm(net, "bn1", x);
    x = sr_nn_relu(net, "relu", x);
    int in_c = c;
    for (int stage = 0; stage < 3; stage++) {
        int oc = (16 << stage) * wd;
        for (int b = 0; b < 3; b++) {
            char p[32];
            snprintf(p, sizeof p, "layer%d.%d", stage + 1, b);
            x = basic_block(net, p, x, in_c, oc, b == 0 && stage ? 2 : 1,
                            "relu1", "relu2");
            in_c = oc;
        }
    }
    x = sr_nn_avgpool(net, "avgpool", x, 1, 1);
    x = sr_nn_flatten(net, "flatten", x);
    return sr_nn_linear(net, "fc", x, in_c, classes, 1);
}

/* vgg11: Distiller's vgg_cifar, config A with BN, classifier 512-10. */
static int build_vgg11(sr_nn *net, int x, int wd, int classes)
{
    static const int cfg[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0,
                              512, 512, 0};
    char name[32];
    int idx = 0, c = 0;
    for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++) {
        snprintf(name, sizeof name, "features.%d", idx++);
        if (cfg[i] == 0) {
            x = sr_nn_maxpool(net, name, x, 2, 2, 0);
            continue;
        }
        c = cfg[i] * wd;
        x = sr_nn_conv2d(net, name, x, c, 3, 1, 1, 1);
        snprintf(name, sizeof name, "features.%d", idx++);
        x = sr_nn_batchnorm(net, name, x);
        snprintf(name, sizeof name, "features.%d", idx++);
        x = sr_nn_relu(net, name, x);
    }
    x = sr_nn_flatten(net, "flatten", x);
    return sr_nn_linear(net, "classifier", x, c, classes, 1);
}

/* alexnet: torchvision.models.alexnet. */
static int build_alexnet(sr_nn *net, int x, int wd, int classes)
{
    int c1 = 64 * wd, c2 = 192 * wd, c3 = 384 * wd, c4 = 256 * wd,
        c5 = 256 * wd, f = 4096 * wd;
    x = sr_nn_conv2d(net, "features.0", x, c1, 11, 4, 2, 1);
    x = sr_nn_relu(net, "features.1", x);
    x = sr_nn_maxpool(net, "features.2", x, 3, 2, 0);
    x = sr_nn_conv2d(net, "features.3", x, c2, 5, 1, 2, 1);
    x = sr_nn_relu(net, "features.4", x);
    x = sr_nn_maxpool(net, "features.5", x, 3, 2, 0);
    x = sr_nn_conv2d(net, "features.6", x, c3, 3, 1, 1, 1);
    x = sr_nn_relu(net, "features.7", x);
    x = sr_nn_conv2d(net, "features.8", x, c4, 3, 1, 1, 1);
    x = sr_nn_relu(net, "features.9", x);
    x = sr_nn_conv2d(net, "features.10", x, c5, 3, 1, 1, 1);
    x = sr_nn_relu(net, "features.11", x);
    x = sr_nn_maxpool(net, "features.12", x, 3, 2, 0);
    x = sr_nn_avgpool(net, "avgpool", x, 6, 6);
    x = sr_nn_flatten(net, "flatten", x);
    x = sr_nn_dropout(net, "classifier.0", x, 0.5f);
    x = sr_nn_linear(net, "classifier.1", x, c5 * 6 * 6, f, 1);
    x = sr_nn_relu(net, "classifier.2", x);
    x = sr_nn_dropout(net, "classifier.3", x, 0.5f);
    x = sr_nn_linear(net, "classifier.4", x, f, f, 1);
    x = sr_nn_relu(net, "classifier.5", x);
    return sr_nn_linear(net, "classifier.6", x, f, classes, 1);
}

/* resnet18: torchvision.models.resnet18. */
static int build_resnet18(sr_nn *net, int x, int wd, int classes)
{
    int c = 64 * wd;
    x = sr_nn_conv2d(net, "conv1", x, c, 7, 2, 3, 0);
    x = sr_nn_batchnorm(net, "bn1", x);
    x = sr_nn_relu(net, "relu", x);
    x = sr_nn_maxpool(net, "maxpool", x, 3, 2, 1);
    int in_c = c;
    for (int stage = 0; stage < 4; stage++) {
        int oc = (64 << stage) * wd;
        for (int b = 0; b < 2; b++) {
            char p[32];
            snprintf(p, sizeof p, "layer%d.%d", stage + 1, b);
            /* torchvision's block has one ReLU module applied twice */
            x = basic_block(net, p, x, in_c, oc, b == 0 && stage ? 2 : 1,
                            "relu", "relu_out");
            in_c = oc;
        }
    }
    x = sr_nn_avgpool(net, "avgpool", x, 1, 1);
    x = sr_nn_flatten(net, "flatten", x);
    return sr_nn_linear(net, "fc", x, in_c, classes, 1);
}

static const model_def models[] = {
    {"cifar10net", 3, 32, 32, 10, 0, build_cifar10net},
    {"svhnnet", 3, 32, 32, 10, 0, build_svhnnet},
    {"resnet20", 3, 32, 32, 10, 1, build_resnet20},
    {"vgg11", 3, 32, 32, 10, 1, build_vgg11},
    {"alexnet", 3, 224, 224, 1000, 1, build_alexnet},
    {"resnet18", 3, 224, 224, 1000, 1, build_resnet18},
};
#define NMODELS ((int)(sizeof models / sizeof *models))

const char *sr_model_names(void)
{
    return "cifar10net, svhnnet, resnet20, vgg11, alexnet, resnet18";
}

int sr_model_count(void) { return NMODELS; }

const char *sr_model_suggest(const char *name)
{
    static _Thread_local char buf[64];
    const char *near =
        name ? sr_closest_in(name, models, NMODELS, sizeof models[0]) : NULL;

    if (!near)
        return "";
    snprintf(buf, sizeof buf, " (did you mean %s?)", near);
    return buf;
}

const char *sr_model_name(int i)
{
    return i >= 0 && i < NMODELS ? models[i].name : NULL;
}

static const model_def *find(const char *name)
{
    for (int i = 0; name && i < NMODELS; i++)
        if (strcasecmp(models[i].name, name) == 0) return &models[i];
    return NULL;
}

sr_status sr_model_defaults(const char *name, int *c, int *h, int *w,
                            int *classes)
{
    if (sr_netfile_is_path(name))
        return sr_netfile_defaults(name, c, h, w, classes);
    const model_def *m = find(name);
    SR_CHECK(m, SR_E_CONFIG, "unknown network '%s'%s (valid: %s, or a "
             "network file ending in .yaml)",
             name ? name : "(null)", sr_model_suggest(name), sr_model_names());
    if (c) *c = m->c;
    if (h) *h = m->h;
    if (w) *w = m->w;
    if (classes) *classes = m->classes;
    return SR_OK;
}

sr_status sr_model_build(const sr_model_opts *o, sr_nn **out)
{
    SR_CHECK(o && out, SR_E_ARG, "sr_model_build: NULL argument");
    *out = NULL;
    if (sr_netfile_is_path(o->name))
        return sr_netfile_build(o, out);
    const model_def *m = find(o->name);
    SR_CHECK(m, SR_E_CONFIG, "unknown network '%s'%s (valid: %s, or a "
             "network file ending in .yaml)",
             o->name ? o->name : "(null)", sr_model_suggest(o->name),
             sr_model_names());
    int width = o->width ? o->width : 1;
    int classes = o->num_classes ? o->num_classes : m->classes;
    int c = o->in_c ? o->in_c : m->c, h = o->in_h ? o->in_h : m->h,
        w = o->in_w ? o->in_w : m->w;
    SR_CHECK(width >= 1 && width <= 8, SR_E_CONFIG,
             "%s: width multiplier %d outside [1, 8]", m->name, width);
    SR_CHECK(classes >= 2, SR_E_CONFIG, "%s: need at least 2 classes (got "
             "%d)", m->name, classes);
    SR_CHECK(o->batch > 0, SR_E_CONFIG, "%s: batch size %d must be > 0",
             m->name, o->batch);
    SR_CHECK(c > 0 && h > 0 && w > 0, SR_E_SHAPE, "%s: input %dx%dx%d must "
             "be positive", m->name, c, h, w);
    char hint[48];
    snprintf(hint, sizeof hint, "%dx%dx%d", m->c, m->h, m->w);
    sr_nn *net;
    SR_TRY(sr_nn_create(m->name, o->batch, c, h, w, hint, &net));
    int logits = m->build(net, sr_nn_input(net), width, classes);
    sr_status st = sr_nn_set_output(net, logits, m->ends_fp);
    if (st != SR_OK) {
        sr_nn_free(net);
        return st;
    }
    *out = net;
    return SR_OK;
}
