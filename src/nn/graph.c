/* Building the static graph: layers, shape inference, the tensor table,
 * introspection and the quantization plan. No device work here. */
#include "nn_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/backend.h"

/* ------------------------------------------------------------------ */
/* Errors: the first one sticks                                        */

sr_status nn_fail(sr_nn *net, sr_status st)
{
    if (net->status == SR_OK) net->status = st;
    return st;
}

/* Record a shape error naming the network, the layer and the input. */
__attribute__((format(printf, 4, 5)))
static int shape_error(sr_nn *net, const char *layer, const char *what,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nn_fail(net, sr_error(SR_E_SHAPE,
                          "%s: layer %s (%s): %s (network input %dx%dx%d%s%s)",
                          net->name, layer, what, msg, net->in_c, net->in_h,
                          net->in_w, net->hint[0] ? "; expects " : "",
                          net->hint));
    return -1;
}

/* ------------------------------------------------------------------ */
/* Create / free                                                       */

static int add_tensor(sr_nn *net, int c, int h, int w, int producer)
{
    if (net->ntensors == net->cap_tensors) {
        int cap = net->cap_tensors ? 2 * net->cap_tensors : 64;
        nn_tensor *t = realloc(net->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            nn_fail(net, sr_error(SR_E_NOMEM, "out of memory building %s",
                                  net->name));
            return -1;
        }
        net->tensors = t;
        net->cap_tensors = cap;
    }
    nn_tensor *t = &net->tensors[net->ntensors];
    memset(t, 0, sizeof *t);
    t->c = c;
    t->h = h;
    t->w = w;
    t->numel = (size_t)net->batch * (size_t)c * (size_t)h * (size_t)w;
    t->producer = producer;
    t->act = t->grad = -1;
    return net->ntensors++;
}

sr_status sr_nn_create(const char *name, int batch, int c, int h, int w,
                       const char *input_hint, sr_nn **out)
{
    SR_CHECK(out, SR_E_ARG, "sr_nn_create: out is NULL");
    *out = NULL;
    SR_CHECK(batch > 0 && c > 0 && h > 0 && w > 0, SR_E_SHAPE,
             "%s: batch %d and input %dx%dx%d must all be > 0",
             name ? name : "network", batch, c, h, w);
    SR_CHECK((double)batch * c * h * w < 2147483648.0, SR_E_SHAPE,
             "%s: input batch of %d x %dx%dx%d exceeds 2^31 elements",
             name ? name : "network", batch, c, h, w);
    sr_nn *net = calloc(1, sizeof *net);
    SR_CHECK(net, SR_E_NOMEM, "out of memory for a network");
    snprintf(net->name, sizeof net->name, "%s", name ? name : "network");
    if (input_hint) snprintf(net->hint, sizeof net->hint, "%s", input_hint);
    net->batch = batch;
    net->in_c = c;
    net->in_h = h;
    net->in_w = w;
    net->logits = -1;
    net->bwd_next = -1;  /* no backward pass begun */
    if (add_tensor(net, c, h, w, -1) != 0) {
        sr_status st = net->status;
        sr_nn_free(net);
        return st;
    }
    *out = net;
    return SR_OK;
}

void nn_release_device(sr_nn *net);  /* alloc.c */

void sr_nn_free(sr_nn *net)
{
    if (!net) return;
    nn_release_device(net);
    free(net->layers);
    free(net->tensors);
    free(net->tinfo);
    free(net->q);
    free(net->source);
    free(net);
}

int sr_nn_input(const sr_nn *net)
{
    (void)net;
    return 0;  /* the images are always tensor 0 */
}
sr_status sr_nn_status(const sr_nn *net) { return net->status; }

/* ------------------------------------------------------------------ */
/* Layers                                                              */

/* Common prologue: checks and a fresh layer record, or NULL. */
static nn_layer *new_layer(sr_nn *net, sr_nn_kind kind, const char *name,
                           int nin, const int *in)
{
    if (net->status != SR_OK) return NULL;
    if (net->built) {
        nn_fail(net, sr_error(SR_E_ARG, "%s: layer '%s' added after "
                              "sr_nn_set_output", net->name, name));
        return NULL;
    }
    if (!name || !name[0] || strlen(name) >= NN_NAME_MAX) {
        nn_fail(net, sr_error(SR_E_ARG, "%s: layer name missing or longer "
                              "than %d characters", net->name,
                              NN_NAME_MAX - 1));
        return NULL;
    }
    for (int i = 0; i < nin; i++) {
        if (in[i] < 0 || in[i] >= net->ntensors) {
            nn_fail(net, sr_error(SR_E_ARG, "%s: layer %s: input tensor id "
                                  "%d does not exist", net->name, name,
                                  in[i]));
            return NULL;
        }
    }
    for (int i = 0; i < net->nlayers; i++) {
        if (strcmp(net->layers[i].name, name) == 0) {
            nn_fail(net, sr_error(SR_E_ARG, "%s: two layers named '%s'",
                                  net->name, name));
            return NULL;
        }
    }
    if (net->nlayers == net->cap_layers) {
        int cap = net->cap_layers ? 2 * net->cap_layers : 32;
        nn_layer *l = realloc(net->layers, (size_t)cap * sizeof *l);
        if (!l) {
            nn_fail(net, sr_error(SR_E_NOMEM, "out of memory building %s",
                                  net->name));
            return NULL;
        }
        net->layers = l;
        net->cap_layers = cap;
    }
    nn_layer *l = &net->layers[net->nlayers];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->nin = nin;
    for (int i = 0; i < nin; i++) l->in[i] = in[i];
    l->out = -1;
    l->qidx = -1;
    l->state[0] = l->state[1] = -1;
    return l;
}

/* Finish a layer: output tensor and consumer counts. */
static int commit(sr_nn *net, nn_layer *l, int c, int h, int w)
{
    if ((double)net->batch * c * h * w >= 2147483648.0)
        return shape_error(net, l->name, sr_nn_kind_name(l->kind),
                           "output %dx%dx%d x batch %d exceeds 2^31 elements",
                           c, h, w, net->batch);
    int idx = (int)(l - net->layers);
    int t = add_tensor(net, c, h, w, idx);
    if (t < 0) return -1;
    l = &net->layers[idx];  /* add_tensor does not move layers, but be safe */
    l->out = t;
    for (int i = 0; i < l->nin; i++) net->tensors[l->in[i]].nconsumers++;
    net->nlayers++;
    return t;
}

static int add_tinfo(sr_nn *net, nn_layer *l, const char *suffix,
                     sr_nn_role role, int ndim, const int *dims)
{
    if (net->ntinfo == net->cap_tinfo) {
        int cap = net->cap_tinfo ? 2 * net->cap_tinfo : 64;
        nn_tinfo *t = realloc(net->tinfo, (size_t)cap * sizeof *t);
        if (!t) {
            nn_fail(net, sr_error(SR_E_NOMEM, "out of memory building %s",
                                  net->name));
            return -1;
        }
        net->tinfo = t;
        net->cap_tinfo = cap;
    }
    nn_tinfo *t = &net->tinfo[net->ntinfo];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s.%s", l->name, suffix);
    t->pub.layer = (int)(l - net->layers);
    t->pub.role = role;
    t->pub.trainable = role < SR_NN_RUNNING_MEAN;
    t->pub.ndim = ndim;
    t->pub.numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->pub.dims[i] = dims[i];
        t->pub.numel *= (size_t)dims[i];
    }
    t->pub.slab = -1;
    int id = net->ntinfo++;
    if (t->pub.trainable)
        l->param[l->nparam++] = id;
    else
        l->state[role - SR_NN_RUNNING_MEAN] = id;
    return id;
}

static const nn_tensor *tensor_of(const sr_nn *net, int id)
{
    return &net->tensors[id];
}

/* A convolution; depthwise: one kernel per channel (out_c == input c). */
static int add_conv(sr_nn *net, const char *name, int in, int out_c,
                    int kernel, int stride, int pad, int bias, int depthwise)
{
    nn_layer *l = new_layer(net, SR_NN_CONV2D, name, 1, &in);
    if (!l) return -1;
    const nn_tensor *x = tensor_of(net, in);
    const char *what = depthwise ? "dwconv2d" : "conv2d";
    if (out_c <= 0 || kernel < 1 || kernel > 11 || stride < 1 || stride > 4 ||
        pad < 0 || pad >= kernel)
        return shape_error(net, name, what, "unsupported configuration: %d "
                           "channels, kernel %d, stride %d, pad %d (kernel "
                           "1..11, stride 1..4, pad < kernel)", out_c, kernel,
                           stride, pad);
    if (x->h + 2 * pad < kernel || x->w + 2 * pad < kernel)
        return shape_error(net, name, what, "input %dx%dx%d is smaller than "
                           "the %dx%d kernel", x->c, x->h, x->w, kernel,
                           kernel);
    l->out_c = out_c;
    l->kernel = kernel;
    l->stride = stride;
    l->pad = pad;
    l->bias = !!bias;
    l->depthwise = depthwise;
    int wd[4] = {out_c, depthwise ? 1 : x->c, kernel, kernel};
    if (add_tinfo(net, l, "weight", SR_NN_WEIGHT, 4, wd) < 0) return -1;
    if (bias && add_tinfo(net, l, "bias", SR_NN_BIAS, 1, &out_c) < 0)
        return -1;
    int oh = (x->h + 2 * pad - kernel) / stride + 1;
    int ow = (x->w + 2 * pad - kernel) / stride + 1;
    return commit(net, l, out_c, oh, ow);
}

int sr_nn_conv2d(sr_nn *net, const char *name, int in, int out_c, int kernel,
                 int stride, int pad, int bias)
{
    return add_conv(net, name, in, out_c, kernel, stride, pad, bias, 0);
}

int sr_nn_dwconv2d(sr_nn *net, const char *name, int in, int kernel,
                   int stride, int pad, int bias)
{
    if (net->status != SR_OK) return -1;
    int c = in >= 0 && in < net->ntensors ? tensor_of(net, in)->c : 0;
    return add_conv(net, name, in, c, kernel, stride, pad, bias, 1);
}

int sr_nn_linear(sr_nn *net, const char *name, int in, int in_features,
                 int out_features, int bias)
{
    nn_layer *l = new_layer(net, SR_NN_LINEAR, name, 1, &in);
    if (!l) return -1;
    const nn_tensor *x = tensor_of(net, in);
    size_t have = (size_t)x->c * (size_t)x->h * (size_t)x->w;
    if (in_features <= 0 || out_features <= 0)
        return shape_error(net, name, "linear", "features %d -> %d must be "
                           "> 0", in_features, out_features);
    if (x->h != 1 || x->w != 1)
        return shape_error(net, name, "linear", "input %dx%dx%d is not "
                           "flat (add a flatten layer)", x->c, x->h, x->w);
    if (have != (size_t)in_features)
        return shape_error(net, name, "linear", "expects %d input features "
                           "but gets %zu", in_features, have);
    l->in_features = in_features;
    l->out_c = out_features;
    l->bias = !!bias;
    int wd[2] = {out_features, in_features};
    if (add_tinfo(net, l, "weight", SR_NN_WEIGHT, 2, wd) < 0) return -1;
    if (bias && add_tinfo(net, l, "bias", SR_NN_BIAS, 1, &out_features) < 0)
        return -1;
    return commit(net, l, out_features, 1, 1);
}

int sr_nn_batchnorm(sr_nn *net, const char *name, int in)
{
    nn_layer *l = new_layer(net, SR_NN_BATCHNORM, name, 1, &in);
    if (!l) return -1;
    const nn_tensor *x = tensor_of(net, in);
    int c = x->c, h = x->h, w = x->w;
    if ((size_t)net->batch * (size_t)h * (size_t)w < 2)
        return shape_error(net, name, "batchnorm", "batch statistics need "
                           "more than one value per channel (batch %d, "
                           "%dx%d)", net->batch, h, w);
    if (add_tinfo(net, l, "weight", SR_NN_BN_WEIGHT, 1, &c) < 0 ||
        add_tinfo(net, l, "bias", SR_NN_BN_BIAS, 1, &c) < 0 ||
        add_tinfo(net, l, "running_mean", SR_NN_RUNNING_MEAN, 1, &c) < 0 ||
        add_tinfo(net, l, "running_var", SR_NN_RUNNING_VAR, 1, &c) < 0)
        return -1;
    return commit(net, l, c, h, w);
}

int sr_nn_relu(sr_nn *net, const char *name, int in)
{
    nn_layer *l = new_layer(net, SR_NN_RELU, name, 1, &in);
    if (!l) return -1;
    const nn_tensor *x = tensor_of(net, in);
    return commit(net, l, x->c, x->h, x->w);
}

int sr_nn_dropout(sr_nn *net, const char *name, int in, float p)
{
    nn_layer *l = new_layer(net, SR_NN_DROPOUT, name, 1, &in);
    if (!l) return -1;
    if (!(p >= 0.0f && p < 1.0f)) {
        nn_fail(net, sr_error(SR_E_ARG, "%s: layer %s: dropout probability "
                              "%g outside [0, 1)", net->name, name,
                              (double)p));
        return -1;
    }
    l->p = p;
    const nn_tensor *x = tensor_of(net, in);
    return commit(net, l, x->c, x->h, x->w);
}

int sr_nn_maxpool(sr_nn *net, const char *name, int in, int kernel,
                  int stride, int pad)
{
    nn_layer *l = new_layer(net, SR_NN_MAXPOOL, name, 1, &in);
    if (!l) return -1;
    const nn_tensor *x = tensor_of(net, in);
    if (kernel < 1 || stride < 1 || pad < 0 || 2 * pad > kernel)
        return shape_error(net, name, "maxpool", "unsupported window %d, "
                           "stride %d, pad %d", kernel, stride, pad);
    if (x->h + 2 * pad < kernel || x->w + 2 * pad < kernel)
        return shape_error(net, name, "maxpool", "input %dx%dx%d is smaller "
                           "than the %dx%d window", x->c, x->h, x->w, kernel,
                           kernel);
    l->kernel = kernel;
    l->stride = stride;
    l->pad = pad;
    int oh = (x->h + 2 * pad - kernel) / stride + 1;
    int ow = (x->w + 2 * pad - kernel) / stride + 1;
    return commit(net, l, x->c, oh, ow);
}

int sr_nn_avgpool(sr_nn *net, const char *name, int in, int out_h, int out_w)
{
    nn_layer *l = new_layer(net, SR_NN_AVGPOOL, name, 1, &in);
    if (!l) return -1;
    const nn_tensor *x = tensor_of(net, in);
    if (out_h < 1 || out_w < 1)
        return shape_error(net, name, "avgpool", "output %dx%d must be > 0",
                           out_h, out_w);
    l->oh = out_h;
    l->ow = out_w;
    return commit(net, l, x->c, out_h, out_w);
}

int sr_nn_add(sr_nn *net, const char *name, int a, int b)
{
    int in[2] = {a, b};
    nn_layer *l = new_layer(net, SR_NN_ADD, name, 2, in);
    if (!l) return -1;
    const nn_tensor *x = tensor_of(net, a), *y = tensor_of(net, b);
    if (x->c != y->c || x->h != y->h || x->w != y->w)
        return shape_error(net, name, "add", "operands differ: %dx%dx%d and "
                           "%dx%dx%d", x->c, x->h, x->w, y->c, y->h, y->w);
    if (a == b) {
        nn_fail(net, sr_error(SR_E_ARG, "%s: layer %s: adding a tensor to "
                              "itself is not supported", net->name, name));
        return -1;
    }
    return commit(net, l, x->c, x->h, x->w);
}

int sr_nn_flatten(sr_nn *net, const char *name, int in)
{
    nn_layer *l = new_layer(net, SR_NN_FLATTEN, name, 1, &in);
    if (!l) return -1;
    const nn_tensor *x = tensor_of(net, in);
    return commit(net, l, x->c * x->h * x->w, 1, 1);
}

sr_status sr_nn_set_output(sr_nn *net, int logits, int ends_fp)
{
    if (net->status != SR_OK) return net->status;
    SR_CHECK(!net->built, SR_E_ARG, "%s: output already set", net->name);
    if (logits < 0 || logits >= net->ntensors)
        return nn_fail(net, sr_error(SR_E_ARG, "%s: output tensor id %d does "
                                     "not exist", net->name, logits));
    const nn_tensor *t = tensor_of(net, logits);
    if (t->h != 1 || t->w != 1 || t->c < 2)
        return nn_fail(net, sr_error(SR_E_SHAPE, "%s: output must be "
                                     "[batch][classes >= 2], got %dx%dx%d",
                                     net->name, t->c, t->h, t->w));
    if (t->producer < 0)
        return nn_fail(net, sr_error(SR_E_SHAPE, "%s: the output is the "
                                     "input", net->name));
    net->logits = logits;
    net->classes = t->c;
    net->ends_fp = !!ends_fp;
    net->built = 1;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Introspection                                                       */

int sr_nn_tensor_count(const sr_nn *net) { return net->ntinfo; }

const sr_nn_tensor_info *sr_nn_tensor(const sr_nn *net, int i)
{
    if (i < 0 || i >= net->ntinfo) return NULL;
    nn_tinfo *t = &net->tinfo[i];
    t->pub.name = t->name;  /* tinfo may have moved while building */
    return &t->pub;
}

int sr_nn_find_tensor(const sr_nn *net, const char *name)
{
    for (int i = 0; i < net->ntinfo; i++)
        if (strcmp(net->tinfo[i].name, name) == 0) return i;
    return -1;
}

size_t sr_nn_param_count(const sr_nn *net)
{
    size_t n = 0;
    for (int i = 0; i < net->ntinfo; i++)
        if (net->tinfo[i].pub.trainable) n += net->tinfo[i].pub.numel;
    return n;
}

int sr_nn_layer_count(const sr_nn *net) { return net->nlayers; }
int sr_nn_batch(const sr_nn *net) { return net->batch; }
int sr_nn_classes(const sr_nn *net) { return net->classes; }
const char *sr_nn_name(const sr_nn *net) { return net->name; }

sr_status sr_nn_set_source(sr_nn *net, const char *text)
{
    char *copy = text ? strdup(text) : NULL;
    SR_CHECK(!text || copy, SR_E_NOMEM, "out of memory");
    free(net->source);
    net->source = copy;
    return SR_OK;
}

const char *sr_nn_source(const sr_nn *net) { return net->source; }

sr_status sr_nn_layer(const sr_nn *net, int i, sr_nn_layer_info *out)
{
    SR_CHECK(i >= 0 && i < net->nlayers, SR_E_ARG,
             "%s: layer index %d outside [0, %d)", net->name, i,
             net->nlayers);
    const nn_layer *l = &net->layers[i];
    const nn_tensor *t = &net->tensors[l->out];
    memset(out, 0, sizeof *out);
    out->name = l->name;
    out->kind = l->kind;
    out->out_c = t->c;
    out->out_h = t->h;
    out->out_w = t->w;
    out->qidx = l->qidx;
    out->quant = l->q;
    if (l->kind == SR_NN_CONV2D || l->kind == SR_NN_LINEAR)
        out->weight_numel = net->tinfo[l->param[0]].pub.numel;
    return SR_OK;
}

int sr_nn_find_layer(const sr_nn *net, const char *name)
{
    for (int i = 0; i < net->nlayers; i++)
        if (strcmp(net->layers[i].name, name) == 0) return i;
    return -1;
}

const char *sr_nn_kind_name(sr_nn_kind k)
{
    static const char *const names[] = {
        [SR_NN_CONV2D] = "conv2d", [SR_NN_LINEAR] = "linear",
        [SR_NN_BATCHNORM] = "batchnorm", [SR_NN_RELU] = "relu",
        [SR_NN_DROPOUT] = "dropout", [SR_NN_MAXPOOL] = "maxpool",
        [SR_NN_AVGPOOL] = "avgpool", [SR_NN_ADD] = "add",
        [SR_NN_FLATTEN] = "flatten",
    };
    return (unsigned)k <= SR_NN_FLATTEN ? names[k] : "unknown";
}

/* Forward FLOPs of one image through layer l (2 per multiply-add, conv
 * and linear only: the rest is a small share and memory bound). */
static double layer_flops(const sr_nn *net, const nn_layer *l)
{
    const nn_tensor *in = &net->tensors[l->in[0]], *out = &net->tensors[l->out];
    if (l->kind == SR_NN_LINEAR)
        return 2.0 * l->in_features * l->out_c;
    if (l->kind != SR_NN_CONV2D)
        return 0.0;
    double per_out = (double)l->kernel * l->kernel * (l->depthwise ? 1 : in->c);
    return 2.0 * per_out * out->c * out->h * out->w;
}

void sr_nn_print(const sr_nn *net, FILE *f)
{
    double total_flops = 0.0;
    fprintf(f, "%s: input %dx%dx%d, batch %d\n", net->name, net->in_c,
            net->in_h, net->in_w, net->batch);
    fprintf(f, "  %-24s %-10s %-16s %12s %10s  %s\n", "layer", "kind",
            "output", "params", "MFLOP/img", "quant");
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        const nn_tensor *t = &net->tensors[l->out];
        size_t np = 0;
        for (int k = 0; k < l->nparam; k++) np += net->tinfo[l->param[k]].pub.numel;
        char shape[32], q[48] = "", fl[24] = "-";
        snprintf(shape, sizeof shape, "%dx%dx%d", t->c, t->h, t->w);
        if (l->q.quantized)
            snprintf(q, sizeof q, "%s w%d%s", sr_quant_quantizer_name(
                     l->q.quantizer), l->q.bits, l->q.act_bits ? " a" : "");
        if (l->q.act_bits)
            snprintf(q + strlen(q), sizeof q - strlen(q), "%d",
                     l->q.act_bits);
        double flops = layer_flops(net, l);
        total_flops += flops;
        if (flops > 0.0) snprintf(fl, sizeof fl, "%.3f", flops / 1e6);
        fprintf(f, "  %-24s %-10s %-16s %12zu %10s  %s\n", l->name,
                l->depthwise ? "dwconv2d" : sr_nn_kind_name(l->kind), shape,
                np, fl, q);
    }
    fprintf(f, "  forward FLOPs per image: %.2f M (conv and linear, 2 per "
            "multiply-add)\n", total_flops / 1e6);
    fprintf(f, "  total parameters: %zu\n", sr_nn_param_count(net));
}

/* ------------------------------------------------------------------ */
/* Quantization plan                                                   */

sr_status sr_nn_set_quant(sr_nn *net, const sr_quant_opts *qo)
{
    SR_CHECK(net->built, SR_E_ARG, "%s: set the output before the "
             "quantization plan", net->name);
    SR_CHECK(!net->be, SR_E_ARG, "%s: the quantization plan must be set "
             "before sr_nn_alloc", net->name);
    SR_CHECK(qo, SR_E_ARG, "sr_nn_set_quant: options are NULL");
    int n = 0;
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].kind == SR_NN_CONV2D ||
            net->layers[i].kind == SR_NN_LINEAR)
            n++;
    sr_quant_target *tg = calloc((size_t)n + 1, sizeof *tg);
    sr_quant_layer *ql = calloc((size_t)n + 1, sizeof *ql);
    int *map = calloc((size_t)n + 1, sizeof *map);
    sr_status st = SR_E_NOMEM;
    if (!tg || !ql || !map) {
        sr_error(SR_E_NOMEM, "out of memory for the quantization plan");
        goto out_free;
    }
    int k = 0;
    for (int i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layers[i];
        if (l->kind != SR_NN_CONV2D && l->kind != SR_NN_LINEAR) continue;
        tg[k].name = l->name;
        tg[k].numel = net->tinfo[l->param[0]].pub.numel;
        tg[k].is_first = l->kind == SR_NN_CONV2D && l->in[0] == 0;
        tg[k].is_last = l->kind == SR_NN_LINEAR && l->out == net->logits;
        map[k++] = i;
    }
    /* The network's own per-layer rules first, then the caller's
     * overrides (later ones win); without a quantizer there is nothing for
     * the rules to refine. */
    int nrules = 0;
    for (int i = 0; qo->quantizer != SR_QUANT_NONE && i < net->nlayers; i++)
        nrules += net->layers[i].has_rule;
    if (nrules) {
        size_t nov = (size_t)nrules + (size_t)qo->n_overrides;
        sr_quant_override *ov = calloc(nov, sizeof *ov);
        if (!ov) {
            st = sr_error(SR_E_NOMEM, "out of memory for the quantization "
                          "plan");
            goto out_free;
        }
        int r = 0;
        for (int i = 0; i < net->nlayers; i++) {
            if (!net->layers[i].has_rule) continue;
            ov[r] = net->layers[i].rule;
            ov[r++].layer = net->layers[i].name; /* layers may have moved */
        }
        for (int i = 0; i < qo->n_overrides; i++) ov[r++] = qo->overrides[i];
        sr_quant_opts merged = *qo;
        merged.overrides = ov;
        merged.n_overrides = r;
        st = sr_quant_resolve(&merged, net->ends_fp, tg, n, ql);
        free(ov);
    } else {
        st = sr_quant_resolve(qo, net->ends_fp, tg, n, ql);
    }
    if (st != SR_OK) goto out_free;

    free(net->q);
    net->q = calloc((size_t)n + 1, sizeof *net->q);
    if (!net->q) {
        st = sr_error(SR_E_NOMEM, "out of memory for the quantization plan");
        goto out_free;
    }
    net->nq = 0;
    net->q_numel = 0;
    for (k = 0; k < n; k++) {
        nn_layer *l = &net->layers[map[k]];
        l->q = ql[k];
        l->qidx = -1;
        if (!ql[k].quantized) {
            /* act_bits on an unquantized layer stays off by plan */
            continue;
        }
        /* W is Q(W) already: no weight quantizer, activation bits kept */
        if (qo->weights_quantized)
            continue;
        l->qidx = net->nq;
        net->q[net->nq].layer = map[k];
        net->nq++;
        net->q_numel += tg[k].numel;
    }
    net->qopts = *qo;
    net->qopts.overrides = NULL;
    net->qopts.n_overrides = 0;
    if (net->qopts.beta_init <= 0.0f) net->qopts.beta_init = 8.0f;
    net->quant_set = 1;
    st = SR_OK;
out_free:
    free(tg);
    free(ql);
    free(map);
    return st;
}

sr_status sr_nn_set_layer_rule(sr_nn *net, const char *layer, int quantize,
                               int bits, int act_bits)
{
    SR_CHECK(!net->quant_set && !net->be, SR_E_ARG, "%s: layer rules must "
             "be set before the quantization plan", net->name);
    int i = layer ? sr_nn_find_layer(net, layer) : -1;
    SR_CHECK(i >= 0, SR_E_ARG, "%s: no layer named '%s'", net->name,
             layer ? layer : "(null)");
    nn_layer *l = &net->layers[i];
    SR_CHECK(l->kind == SR_NN_CONV2D || l->kind == SR_NN_LINEAR, SR_E_ARG,
             "%s: layer %s is a %s; only conv and linear layers are "
             "quantized", net->name, l->name, sr_nn_kind_name(l->kind));
    SR_CHECK(quantize >= -1 && quantize <= 1 && act_bits >= -1 &&
             act_bits <= SR_MAX_BITS && bits >= 0 && bits <= SR_MAX_BITS,
             SR_E_BITS, "%s: layer %s: quantize %d (-1..1), bits %d (0: "
             "keep, else 1..%d), act_bits %d (-1: keep, 0..%d)", net->name,
             l->name, quantize, bits, SR_MAX_BITS, act_bits, SR_MAX_BITS);
    l->has_rule = 1;
    l->rule.quantize = quantize;
    l->rule.bits = bits;
    l->rule.act_bits = act_bits;
    return SR_OK;
}

int sr_nn_quant_count(const sr_nn *net) { return net->nq; }
size_t sr_nn_quant_numel(const sr_nn *net) { return net->q_numel; }

sr_status sr_nn_set_layer_bits(sr_nn *net, int qidx, int bits)
{
    SR_CHECK(qidx >= 0 && qidx < net->nq, SR_E_ARG,
             "%s: quantized layer index %d outside [0, %d)", net->name, qidx,
             net->nq);
    nn_layer *l = &net->layers[net->q[qidx].layer];
    int lo = l->q.quantizer == SR_QUANT_WRPN ? 2 : SR_MIN_BITS;
    SR_CHECK(bits >= lo && bits <= SR_MAX_BITS, SR_E_BITS,
             "%s: layer %s: %s weight bits = %d outside [%d, %d]", net->name,
             l->name, sr_quant_quantizer_name(l->q.quantizer), bits, lo,
             SR_MAX_BITS);
    l->q.bits = bits;
    return SR_OK;
}

sr_status sr_nn_layer_graph_info(const sr_nn *net, int i,
                                 sr_nn_layer_graph *out)
{
    SR_CHECK(i >= 0 && i < net->nlayers, SR_E_ARG,
             "%s: layer index %d outside [0, %d)", net->name, i,
             net->nlayers);
    const nn_layer *l = &net->layers[i];
    memset(out, 0, sizeof *out);
    out->nin = l->nin;
    for (int k = 0; k < l->nin; k++)
        out->in[k] = net->tensors[l->in[k]].producer;
    out->kernel = l->kernel;
    out->stride = l->stride;
    out->pad = l->pad;
    out->bias = l->bias;
    out->p = l->p;
    return SR_OK;
}

int sr_nn_output_layer(const sr_nn *net)
{
    return net->built ? net->tensors[net->logits].producer : -1;
}
