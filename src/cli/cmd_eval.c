/* sinreq eval --model M.h5 --data D.h5 [--split test] [--backend ...]. */
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
               "[--batch N] [--threads N] [--dump-logits FILE.h5]\n");
}

int sr_cmd_eval(int argc, char **argv)
{
    sr_eval_opts o = {.split = "test", .backend = "cpu", .batch = 256};
    double loss, acc;
    long n;
    sr_status st = SR_OK;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return SR_EXIT_OK;
        }
        static const char *const known[] = {"--model", "--data", "--split",
                                            "--backend", "--device",
                                            "--batch", "--threads", "--help",
                                            "--dump-logits", NULL};
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
    st = sr_train_eval(&o, &loss, &acc, &n);
    if (st != SR_OK) {
        fprintf(stderr, "sinreq eval: %s\n", sr_last_error());
        return sr_train_exit_code(st);
    }
    printf("%s on %s /%s: %ld images, loss %.6f, top-1 %.4f\n", o.model,
           o.data, o.split, n, loss, acc);
    return SR_EXIT_OK;
}
