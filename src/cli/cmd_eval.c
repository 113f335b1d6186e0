/* sinreq eval --model M.h5 --data D.h5 [--split test] [--backend ...]
 * [--json FILE] [--dump-logits FILE]: a model, export or checkpoint file on
 * a dataset split. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sinreq/backend.h"
#include "sinreq/parse.h"
#include "sinreq/suggest.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: sinreq eval --model MODEL.h5 --data FILE.h5 "
               "[--split test] [--backend cpu|vulkan] [--device D] "
               "[--batch N] [--threads N] [--json OUT.json] "
               "[--dump-logits FILE.h5]\n"
               "  MODEL.h5: a model file, an export or a checkpoint\n");
}

int sr_cmd_eval(int argc, char **argv)
{
    sr_eval_opts o = {.split = "test", .backend = "cpu", .batch = 256};
    sr_eval_result r;
    const char *json = NULL;
    sr_status st = SR_OK;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return SR_EXIT_OK;
        }
        static const char *const known[] = {"--model", "--data", "--split",
                                            "--backend", "--device",
                                            "--batch", "--threads", "--json",
                                            "--dump-logits", "--help", NULL};
        int k = 0;
        while (known[k] && strcmp(known[k], a) != 0) k++;
        /* an unknown flag is named as such, also when it comes last */
        if (strncmp(a, "--", 2) == 0 && !known[k]) {
            const char *near = sr_closest(a, known);
            fprintf(stderr, "sinreq eval: unknown option %s%s%s%s\n", a,
                    near ? " (did you mean " : "", near ? near : "",
                    near ? "?)" : "");
            usage(stderr);
            return SR_EXIT_USAGE;
        }
        if (i + 1 >= argc || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "sinreq eval: %s '%s'\n", strncmp(a, "--", 2) ?
                    "unexpected argument" : "missing value for", a);
            usage(stderr);
            return SR_EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--model") == 0) o.model = v;
        else if (strcmp(a, "--data") == 0) o.data = v;
        else if (strcmp(a, "--split") == 0) o.split = v;
        else if (strcmp(a, "--backend") == 0) o.backend = v;
        else if (strcmp(a, "--device") == 0) o.device = v;
        else if (strcmp(a, "--json") == 0) json = v;
        else if (strcmp(a, "--dump-logits") == 0) o.dump_logits = v;
        else if (strcmp(a, "--batch") == 0)
            st = sr_parse_int(a, v, 1, 65536, &o.batch);
        else if (strcmp(a, "--threads") == 0)
            st = sr_parse_int(a, v, 0, SR_MAX_THREADS, &o.threads);
        else {
            fprintf(stderr, "sinreq eval: unknown option %s\n", a);
            usage(stderr);
            return SR_EXIT_USAGE;
        }
        if (st != SR_OK) {
            fprintf(stderr, "sinreq eval: %s\n", sr_last_error());
            return SR_EXIT_USAGE;
        }
    }
    if (!o.model || !o.data) {
        fprintf(stderr, "sinreq eval: --model and --data are required\n");
        usage(stderr);
        return SR_EXIT_USAGE;
    }
    st = sr_train_eval_ex(&o, &r);
    if (st == SR_OK && json)
        st = sr_eval_result_write(&o, &r, json);
    if (st != SR_OK) {
        fprintf(stderr, "sinreq eval: %s\n", sr_last_error());
        sr_eval_result_free(&r);
        return sr_train_exit_code(st);
    }
    printf("%s on %s /%s: %ld images, loss %.6f, top-1 %.4f, top-5 %.4f\n",
           o.model, o.data, o.split, r.n, r.loss, r.acc, r.top5);
    printf("\n");
    sr_eval_result_print(&r, stdout);
    sr_eval_result_free(&r);
    return SR_EXIT_OK;
}
