/* sinreq export --model MODEL.h5 --out EXPORT.h5 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int sr_cmd_export(int argc, char **argv)
{
    const char *model = NULL, *out = NULL;
    sr_status st;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: sinreq export --model MODEL.h5 --out EXPORT.h5\n"
                   "  quantized layers as packed k-bit integer codes plus "
                   "scale/offset,\n  everything else float32 (docs/usage.md); "
                   "sinreq eval reads it\n");
            return SR_EXIT_OK;
        }
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else {
            fprintf(stderr, "sinreq export: unknown argument '%s'\n", argv[i]);
            return SR_EXIT_USAGE;
        }
    }
    if (!model || !out) {
        fprintf(stderr, "sinreq export: --model and --out are required\n");
        return SR_EXIT_USAGE;
    }
    st = sr_train_export(model, out);
    if (st != SR_OK) {
        fprintf(stderr, "sinreq export: %s\n", sr_last_error());
        return sr_train_exit_code(st);
    }
    return SR_EXIT_OK;
}
