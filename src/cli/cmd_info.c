/* sinreq info FILE.h5 (model, export, checkpoint or dataset) | info --net
 * NAME|FILE.yaml [--width W] | info --config FILE.yaml [train flags]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sinreq/suggest.h"
#include "sinreq/ckpt_io.h"
#include "sinreq/dataset.h"
#include "sinreq/model_io.h"
#include "sinreq/models.h"
#include "sinreq/nn.h"
#include "sinreq/parse.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: sinreq info FILE.h5          a model, export, "
               "checkpoint or dataset file\n"
               "       sinreq info --net NAME|FILE.yaml [--width-mult W] [--quantizer Q "
               "--bits K] [--json]   a network's layers\n"
               "       sinreq info --config FILE.yaml [train flags]   the "
               "quantization plan a training would apply\n"
               "  --json: the network as JSON (layers, inputs, tensors and "
               "shapes; docs/usage.md)\n");
}

static int info_net(const char *name, int width, const char *quant, int bits,
                    int json)
{
    int c = 0, h = 0, w = 0, k = 0;
    sr_model_opts mo = {.name = name, .batch = 1, .width = width};
    sr_nn *net = NULL;
    sr_status st = sr_model_build(&mo, &net);

    if (st == SR_OK && quant) {
        sr_quant_opts q;
        sr_quant_opts_default(&q);
        q.bits = bits;
        st = sr_quant_quantizer_parse(quant, &q.quantizer);
        if (st == SR_OK)
            st = sr_nn_set_quant(net, &q);
    }
    if (st == SR_OK && json && (st = sr_model_defaults(name, &c, &h, &w,
                                                       &k)) == SR_OK)
        st = sr_train_graph_json(net, c, h, w, stdout);
    if (st != SR_OK) {
        fprintf(stderr, "sinreq info: %s\n", sr_last_error());
        sr_nn_free(net);
        return sr_train_exit_code(st);
    }
    if (json) {
        sr_nn_free(net);
        return SR_EXIT_OK;
    }
    sr_nn_print(net, stdout);
    printf("parameters: %zu (trainable)\n", sr_nn_param_count(net));
    sr_nn_free(net);
    return SR_EXIT_OK;
}

/* The network description model, export and checkpoint files share. */
static void info_meta(const sr_model_meta *m)
{
    printf("network: %s%s, width x%d, %d classes, input %dx%dx%d\n", m->net,
           m->net_text ? " (network file stored in the model)" : "",
           m->width, m->classes, m->in_c, m->in_h, m->in_w);
    printf("quantizer: %s, activation bits %d, regularizer %s\n", m->quantizer,
           m->act_bits, m->regularizer);
    printf("normalisation: mean %.4f %.4f %.4f, std %.4f %.4f %.4f\n",
           m->norm_mean[0], m->norm_mean[1], m->norm_mean[2], m->norm_std[0],
           m->norm_std[1], m->norm_std[2]);
    printf("\nquantization plan:\n  %-28s %-9s %4s %8s %7s\n", "layer",
           "quantized", "bits", "act_bits", "beta");
    for (int i = 0; i < m->n_layers; i++)
        printf("  %-28s %-9s %4d %8d %7.3f\n", m->layers[i].name,
               m->layers[i].quantized ? "yes" : "no", m->layers[i].bits,
               m->layers[i].act_bits, m->layers[i].beta);
}

static int info_model(sr_model_file *f)
{
    const sr_model_meta *m = sr_model_file_meta(f);
    size_t total = 0;

    printf("%s: sinreq model (format %s version %d, written by %s)\n",
           sr_model_file_path(f), SR_MODEL_FORMAT, SR_MODEL_FORMAT_VERSION,
           m->program_version);
    info_meta(m);
    printf("\ntensors:\n");
    for (int i = 0; i < sr_model_file_tensor_count(f); i++) {
        const char *name;
        int nd, d[4];
        size_t n = 1;
        char shape[64] = "";
        if (sr_model_file_tensor(f, i, &name, &nd, d) != SR_OK) {
            fprintf(stderr, "sinreq info: %s\n", sr_last_error());
            return SR_EXIT_USAGE;
        }
        for (int k = 0, o = 0; k < nd; k++) {
            o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%d",
                          k ? "x" : "", d[k]);
            n *= (size_t)d[k];
        }
        if (!strstr(name, "running_"))
            total += n;
        printf("  %-36s %-16s %zu\n", name, shape, n);
    }
    printf("\nparameters: %zu (trainable, running statistics excluded)\n",
           total);
    return SR_EXIT_OK;
}

static int info_export(const char *path)
{
    sr_export_decoded d = {0};
    sr_status st = sr_export_load(path, &d);
    size_t codes = 0;

    if (st != SR_OK) {
        fprintf(stderr, "sinreq info: %s\n", sr_last_error());
        return sr_train_exit_code(st);
    }
    printf("%s: sinreq export, really quantized weights (format %s version "
           "%d, written by %s)\n", path, SR_EXPORT_FORMAT,
           SR_EXPORT_FORMAT_VERSION, d.meta.program_version);
    info_meta(&d.meta);
    printf("\ntensors:\n");
    for (int i = 0; i < d.n; i++) {
        size_t n = 1;
        char shape[64] = "", kind[32];
        for (int k = 0, o = 0; k < d.t[i].ndim; k++) {
            o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%d",
                          k ? "x" : "", d.t[i].dims[k]);
            n *= (size_t)d.t[i].dims[k];
        }
        if (d.bits[i]) {
            snprintf(kind, sizeof kind, "%d-bit codes", d.bits[i]);
            codes += n;
        } else {
            snprintf(kind, sizeof kind, "float32");
        }
        printf("  %-36s %-16s %-12s %zu\n", d.t[i].name, shape, kind, n);
    }
    printf("\nquantized weights: %zu (stored as codes)\n", codes);
    sr_export_decoded_free(&d);
    return SR_EXIT_OK;
}

static int info_ckpt(sr_ckpt_file *f)
{
    sr_model_meta m;
    int64_t epoch = 0, step = 0, gstep = 0, complete = 0, epochs = 0,
            total = 0, nranks = 1;
    char *version = NULL;
    sr_status st = sr_ckpt_get_meta(f, &m);

    if (st == SR_OK)
        st = sr_ckpt_get_i64(f, "progress", "epoch", &epoch);
    if (st == SR_OK)
        st = sr_ckpt_get_i64(f, "progress", "epochs", &epochs);
    if (st == SR_OK)
        st = sr_ckpt_get_i64(f, "progress", "step_in_epoch", &step);
    if (st == SR_OK)
        st = sr_ckpt_get_i64(f, "progress", "global_step", &gstep);
    if (st == SR_OK)
        st = sr_ckpt_get_i64(f, "progress", "total_steps", &total);
    if (st == SR_OK)
        st = sr_ckpt_get_i64(f, "progress", "epoch_complete", &complete);
    if (st == SR_OK)
        st = sr_ckpt_get_str(f, "", "program_version", &version);
    if (st != SR_OK) {
        fprintf(stderr, "sinreq info: %s\n", sr_last_error());
        sr_model_meta_free(&m);
        return sr_train_exit_code(st);
    }
    /* older checkpoints lack it: one rank */
    if (sr_ckpt_get_i64(f, "", "nranks", &nranks) != SR_OK)
        sr_clear_error();
    printf("%s: sinreq checkpoint (format %s version %d, written by %s)\n",
           sr_ckpt_path(f), SR_CKPT_FORMAT, SR_CKPT_FORMAT_VERSION, version);
    printf("position: epoch %lld of %lld, step %lld in it%s, global step "
           "%lld of %lld, %lld rank%s\n", (long long)epoch,
           (long long)epochs, (long long)step,
           complete ? " (the epoch complete)" : "", (long long)gstep,
           (long long)total, (long long)nranks, nranks == 1 ? "" : "s");
    info_meta(&m);
    sr_model_meta_free(&m);
    free(version);
    return SR_EXIT_OK;
}

/* --config FILE [flags]: the configuration as `sinreq train` reads it;
 * data and out are not needed to preview the plan. */
static int info_config(int argc, char **argv)
{
    sr_train_config c;
    sr_status st;

    sr_train_config_default(&c);
    st = sr_train_config_from_args(&c, argc, argv);
    if (st == SR_OK && !(c.data && c.data[0]))
        st = sr_train_config_set(&c, "data", "-", "info --config");
    if (st == SR_OK && !(c.out && c.out[0]))
        st = sr_train_config_set(&c, "out", "-", "info --config");
    if (st == SR_OK)
        st = sr_train_plan_print(&c, stdout);
    if (st != SR_OK)
        fprintf(stderr, "sinreq info: %s\n", sr_last_error());
    sr_train_config_free(&c);
    return st == SR_OK ? SR_EXIT_OK : sr_train_exit_code(st);
}

static int info_dataset(sr_ds *ds)
{
    printf("%s: sinreq dataset, %u classes\n", sr_ds_path(ds),
           sr_ds_num_classes(ds));
    for (int i = 0; i < sr_ds_num_splits(ds); i++) {
        struct sr_ds_split_info si;
        sr_ds_split_info(ds, i, &si);
        printf("  /%-6s %8llu images %ux%ux%u\n", si.name,
               (unsigned long long)si.count, si.channels, si.height, si.width);
    }
    printf("classes:");
    for (uint32_t k = 0; k < sr_ds_num_classes(ds) && k < 20; k++)
        printf(" %s", sr_ds_class_name(ds, k));
    printf("%s\nattributes:\n", sr_ds_num_classes(ds) > 20 ? " ..." : "");
    for (int i = 0; i < sr_ds_num_attrs(ds); i++) {
        const char *n, *v;
        sr_ds_attr(ds, i, &n, &v);
        printf("  %s = %s\n", n, v);
    }
    return SR_EXIT_OK;
}

int sr_cmd_info(int argc, char **argv)
{
    const char *net = NULL, *file = NULL, *quant = NULL;
    int width = 1, bits = 4, json = 0;
    sr_status st = SR_OK;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return SR_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        /* the rest is a training configuration */
        if (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0) {
            if (net || file) {
                fprintf(stderr, "sinreq info: --config goes without --net "
                        "or a file\n");
                return SR_EXIT_USAGE;
            }
            return info_config(argc, argv);
        }
        if (strncmp(a, "--", 2) != 0) {
            if (file) {
                fprintf(stderr, "sinreq info: one file at a time\n");
                return SR_EXIT_USAGE;
            }
            file = a;
            continue;
        }
        static const char *const known[] = {"--net", "--width",
                                            "--width-mult", "--quantizer",
                                            "--bits", "--config", "--help",
                                            "--json",
                                            NULL};
        int k = 0;
        while (known[k] && strcmp(known[k], a) != 0) k++;
        /* an unknown flag is named as such, also when it comes last */
        if (!known[k]) {
            const char *near = sr_closest(a, known);
            fprintf(stderr, "sinreq info: unknown option %s%s%s%s\n", a,
                    near ? " (did you mean " : "", near ? near : "",
                    near ? "?)" : "");
            usage(stderr);
            return SR_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "sinreq info: %s needs a value\n", a);
            return SR_EXIT_USAGE;
        }
        if (strcmp(a, "--net") == 0) net = argv[++i];
        /* --width-mult as in `sinreq train`: one spelling for both */
        else if (strcmp(a, "--width") == 0 || strcmp(a, "--width-mult") == 0)
            st = sr_parse_int(a, argv[++i], 1, 8, &width);
        else if (strcmp(a, "--quantizer") == 0) quant = argv[++i];
        else if (strcmp(a, "--bits") == 0)
            st = sr_parse_int(a, argv[++i], SR_MIN_BITS, SR_MAX_BITS, &bits);
        else {
            fprintf(stderr, "sinreq info: unknown option %s\n", a);
            usage(stderr);
            return SR_EXIT_USAGE;
        }
        if (st != SR_OK) {
            fprintf(stderr, "sinreq info: %s\n", sr_last_error());
            return SR_EXIT_USAGE;
        }
    }
    if (!!net == !!file) {
        usage(stderr);
        return SR_EXIT_USAGE;
    }
    if (net)
        return info_net(net, width, quant, bits, json);
    if (json) {
        fprintf(stderr, "sinreq info: --json describes a network (--net)\n");
        return SR_EXIT_USAGE;
    }

    /* a model eval would refuse is not described as if it were fine */
    if (sr_export_probe(file)) {
        st = sr_train_check_model(file);
        if (st != SR_OK) {
            fprintf(stderr, "sinreq info: %s\n", sr_last_error());
            return sr_train_exit_code(st);
        }
        return info_export(file);
    }
    sr_ckpt_file *ck = NULL;
    st = sr_ckpt_open(file, &ck);
    if (st == SR_OK) {
        int rc;
        st = sr_train_check_model(file);
        if (st != SR_OK) {
            fprintf(stderr, "sinreq info: %s\n", sr_last_error());
            rc = sr_train_exit_code(st);
        } else {
            rc = info_ckpt(ck);
        }
        sr_ckpt_close(ck);
        return rc;
    }
    if (st != SR_E_FORMAT) {
        fprintf(stderr, "sinreq info: %s\n", sr_last_error());
        return sr_train_exit_code(st);
    }
    sr_clear_error();
    sr_model_file *f = NULL;
    st = sr_model_open(file, &f);
    /* a model eval would refuse is not described as if it were fine */
    if (st == SR_OK && (st = sr_train_check_model(file)) != SR_OK) {
        sr_model_close(f);
        fprintf(stderr, "sinreq info: %s\n", sr_last_error());
        return sr_train_exit_code(st);
    }
    if (st == SR_OK) {
        int rc = info_model(f);
        sr_model_close(f);
        return rc;
    }
    if (st != SR_E_FORMAT) {
        fprintf(stderr, "sinreq info: %s\n", sr_last_error());
        return sr_train_exit_code(st);
    }
    char model_err[1024];
    snprintf(model_err, sizeof model_err, "%s", sr_last_error());
    sr_ds *ds = NULL;
    st = sr_ds_open(&ds, file);
    if (st == SR_OK) {
        int rc = info_dataset(ds);
        sr_ds_close(ds);
        return rc;
    }
    fprintf(stderr, "sinreq info: %s is neither a sinreq model nor a "
            "dataset:\n  as a model: %s\n  as a dataset: %s\n", file,
            model_err, sr_last_error());
    return SR_EXIT_USAGE;
}
