/* A built network as JSON (sr_train_graph_json): what the ONNX writer
 * (sinreq-onnx) and the PyTorch converter (sinreq-torch2model) need to know
 * of it without re-reading network files themselves. */
#include <stdio.h>

#include "sinreq/ckpt_io.h"
#include "sinreq/nn.h"
#include "sinreq/quant.h"
#include "train_internal.h"

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static const char *op_name(sr_nn_kind k)
{
    /* the ops of network files (docs/usage.md, "Network files") */
    return k == SR_NN_CONV2D ? "conv" : sr_nn_kind_name(k);
}

static const char *role_name(sr_nn_role r)
{
    static const char *const names[] = {
        [SR_NN_WEIGHT] = "weight", [SR_NN_BIAS] = "bias",
        [SR_NN_BN_WEIGHT] = "bn_weight", [SR_NN_BN_BIAS] = "bn_bias",
        [SR_NN_RUNNING_MEAN] = "running_mean",
        [SR_NN_RUNNING_VAR] = "running_var"};
    return (unsigned)r <= SR_NN_RUNNING_VAR ? names[r] : "unknown";
}

sr_status sr_train_graph_json(const sr_nn *net, int in_c, int in_h, int in_w,
                              FILE *f)
{
    int L = sr_nn_layer_count(net), out = sr_nn_output_layer(net);
    sr_nn_layer_info li;

    SR_CHECK(out >= 0, SR_E_ARG, "%s: the network is not complete",
             sr_nn_name(net));
    fprintf(f, "{\"format\": \"sinreq-graph\", \"format_version\": 1,\n"
               " \"net\": ");
    json_str(f, sr_nn_name(net));
    fprintf(f, ", \"input\": [%d, %d, %d], \"classes\": %d,\n"
               " \"output\": ", in_c, in_h, in_w, sr_nn_classes(net));
    SR_TRY(sr_nn_layer(net, out, &li));
    json_str(f, li.name);
    fprintf(f, ",\n \"layers\": [\n");
    for (int i = 0; i < L; i++) {
        sr_nn_layer_graph g;
        SR_TRY(sr_nn_layer(net, i, &li));
        SR_TRY(sr_nn_layer_graph_info(net, i, &g));
        fprintf(f, "  {\"name\": ");
        json_str(f, li.name);
        fprintf(f, ", \"op\": \"%s\", \"inputs\": [", op_name(li.kind));
        for (int k = 0; k < g.nin; k++) {
            sr_nn_layer_info src;
            if (k)
                fprintf(f, ", ");
            if (g.in[k] < 0) {
                fprintf(f, "null");   /* the images */
                continue;
            }
            SR_TRY(sr_nn_layer(net, g.in[k], &src));
            json_str(f, src.name);
        }
        fprintf(f, "], \"out\": [%d, %d, %d]", li.out_c, li.out_h, li.out_w);
        if (li.kind == SR_NN_CONV2D || li.kind == SR_NN_MAXPOOL)
            fprintf(f, ", \"kernel\": %d, \"stride\": %d, \"pad\": %d",
                    g.kernel, g.stride, g.pad);
        if (li.kind == SR_NN_CONV2D || li.kind == SR_NN_LINEAR)
            fprintf(f, ", \"bias\": %s, \"quantized\": %d, \"quantizer\": "
                    "\"%s\", \"bits\": %d, \"act_bits\": %d",
                    g.bias ? "true" : "false", li.quant.quantized,
                    sr_quant_quantizer_name(li.quant.quantizer),
                    li.quant.bits, li.quant.act_bits);
        if (li.kind == SR_NN_DROPOUT)
            fprintf(f, ", \"p\": %.9g", (double)g.p);
        fprintf(f, "}%s\n", i + 1 < L ? "," : "");
    }
    fprintf(f, " ],\n \"tensors\": [\n");
    for (int i = 0; i < sr_nn_tensor_count(net); i++) {
        const sr_nn_tensor_info *t = sr_nn_tensor(net, i);
        SR_TRY(sr_nn_layer(net, t->layer, &li));
        fprintf(f, "  {\"name\": ");
        json_str(f, t->name);
        fprintf(f, ", \"layer\": ");
        json_str(f, li.name);
        fprintf(f, ", \"role\": \"%s\", \"shape\": [", role_name(t->role));
        for (int d = 0; d < t->ndim; d++)
            fprintf(f, "%s%d", d ? ", " : "", t->dims[d]);
        fprintf(f, "]}%s\n", i + 1 < sr_nn_tensor_count(net) ? "," : "");
    }
    fprintf(f, " ]}\n");
    return ferror(f) ? sr_error(SR_E_WRITE, "cannot write the network "
                                "description") : SR_OK;
}

/* The network a model file or an export describes, with its stored plan:
 * the same checks as eval's up to the tensors (which are not read). */
sr_status sr_train_model_graph(const char *path, FILE *f)
{
    sr_train_src s = {.path = path};
    sr_model_file *mf = NULL;
    sr_export_decoded d = {0};   /* set by sr_export_load */
    int is_export = sr_export_probe(path);
    sr_nn *net = NULL;
    sr_status st;

    if (is_export) {
        SR_TRY(sr_export_load(path, &d));
        s.meta = &d.meta;
        s.dec = &d;
        st = SR_OK;
    } else {
        st = sr_model_open(path, &mf);
        if (st == SR_OK) {
            s.meta = sr_model_file_meta(mf);
            s.file = mf;
        }
    }
    if (st == SR_OK)
        st = sr_train_net_build(&s, 1, &net);
    if (st == SR_OK)
        st = sr_train_graph_json(net, s.meta->in_c, s.meta->in_h,
                                 s.meta->in_w, f);
    sr_nn_free(net);
    if (is_export)
        sr_export_decoded_free(&d);
    else
        sr_model_close(mf);
    return st;
}
