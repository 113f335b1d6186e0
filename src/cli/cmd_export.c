/* sinreq export --model MODEL.h5 --out EXPORT.h5 [--force] [--allow-float] */
#include <stdio.h>
#include <string.h>

#include "sinreq/suggest.h"
#include "cli.h"

int sr_cmd_export(int argc, char **argv)
{
    const char *model = NULL, *out = NULL;
    sr_export_opts o = {0};
    sr_export_summary sum;
    sr_status st;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: sinreq export --model MODEL.h5 --out EXPORT.h5 "
                   "[--force] [--allow-float]\n"
                   "  quantized layers as packed k-bit integer codes plus "
                   "scale/offset,\n  everything else float32 (docs/usage.md); "
                   "sinreq eval reads it\n"
                   "  --force        replace an existing EXPORT.h5\n"
                   "  --allow-float  export a full-precision model (all "
                   "float32)\n");
            return SR_EXIT_OK;
        }
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--force") == 0) {
            o.force = 1;
        } else if (strcmp(argv[i], "--allow-float") == 0) {
            o.allow_float = 1;
        } else if (strcmp(argv[i], "--model") == 0 ||
                   strcmp(argv[i], "--out") == 0) {
            fprintf(stderr, "sinreq export: %s needs a value\n", argv[i]);
            return SR_EXIT_USAGE;
        } else {
            static const char *const known[] = {"--model", "--out", "--force",
                                                "--allow-float", "--help",
                                                NULL};
            const char *near = sr_closest(argv[i], known);
            fprintf(stderr, "sinreq export: unknown option '%s'%s%s%s\n",
                    argv[i], near ? " (did you mean " : "", near ? near : "",
                    near ? "?)" : "");
            return SR_EXIT_USAGE;
        }
    }
    if (!model || !out) {
        fprintf(stderr, "sinreq export: --model and --out are required\n");
        return SR_EXIT_USAGE;
    }
    st = sr_train_export_ex(model, out, &o, &sum);
    if (st != SR_OK) {
        fprintf(stderr, "sinreq export: %s\n", sr_last_error());
        return sr_train_exit_code(st);
    }
    printf("wrote %s: %d quantized layer(s)", out, sum.quantized);
    const char *sep = " (";
    for (int b = 0; b < 33; b++)
        if (sum.layers_by_bits[b]) {
            printf("%s%d at %d bits", sep, sum.layers_by_bits[b], b);
            sep = ", ";
        }
    printf("%s, %d float32 tensor(s), %lld bytes\n", sum.quantized ? ")" : "",
           sum.floats, sum.bytes);
    return SR_EXIT_OK;
}
