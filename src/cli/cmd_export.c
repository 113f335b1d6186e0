/* sinreq export --model MODEL.h5 --out OUT [--format h5|onnx] [--force]
 * [--allow-float] */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sinreq/suggest.h"
#include "cli.h"

/* ONNX: the export (its codes decoded to the quantized levels) and the
 * network as JSON go to a private directory, and sinreq-onnx (Python with
 * the onnx package, beside this binary or on PATH) writes the graph. */
static int run_onnx_writer(const char *export_h5, const char *graph,
                           const char *out)
{
    char dir[4096], path[4200];
    char *args[] = {"sinreq-onnx", "--export", (char *)export_h5, "--graph",
                    (char *)graph, "--out", (char *)out, NULL};
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    int status;

    path[0] = '\0';
    if (n > 0) {
        dir[n] = '\0';
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, sizeof path, "%s/sinreq-onnx", dir);
            if (access(path, X_OK) != 0)
                path[0] = '\0';
        }
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "sinreq export: cannot start sinreq-onnx: %s\n",
                strerror(errno));
        return SR_EXIT_RUNTIME;
    }
    if (pid == 0) {
        if (path[0])
            execv(path, args);
        execvp("sinreq-onnx", args);
        fprintf(stderr, "sinreq export: cannot run sinreq-onnx (looked "
                "beside the sinreq binary and on PATH); --format onnx needs "
                "it, python3 and python3-onnx\n");
        _exit(SR_EXIT_RUNTIME);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return SR_EXIT_RUNTIME;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    fprintf(stderr, "sinreq export: sinreq-onnx was killed by signal %d\n",
            WTERMSIG(status));
    return SR_EXIT_RUNTIME;
}

static int export_onnx(const char *model, const char *out,
                       const sr_export_opts *o, sr_export_summary *sum)
{
    const char *tmpdir = getenv("TMPDIR");
    char dir[PATH_MAX], h5[PATH_MAX + 16], graph[PATH_MAX + 16];
    struct stat a, b;
    sr_export_opts eo = *o;
    sr_status st;
    int rc;
    FILE *f;

    if (stat(model, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
        fprintf(stderr, "sinreq export: --out %s is the model file %s "
                "itself; the export needs another path\n", out, model);
        return SR_EXIT_USAGE;
    }
    if (!o->force && stat(out, &b) == 0) {
        fprintf(stderr, "sinreq export: %s exists; --force replaces it\n",
                out);
        return SR_EXIT_USAGE;
    }
    snprintf(dir, sizeof dir, "%s/sinreq-onnx-XXXXXX",
             tmpdir && tmpdir[0] ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "sinreq export: cannot create a directory %s: %s\n",
                dir, strerror(errno));
        return SR_EXIT_RUNTIME;
    }
    snprintf(h5, sizeof h5, "%s/export.h5", dir);
    snprintf(graph, sizeof graph, "%s/graph.json", dir);
    eo.force = 1;
    st = sr_train_export_ex(model, h5, &eo, sum);
    if (st == SR_OK) {
        f = fopen(graph, "w");
        st = f ? sr_train_model_graph(h5, f)
               : sr_error(SR_E_WRITE, "cannot write %s: %s", graph,
                          strerror(errno));
        if (f && fclose(f) != 0 && st == SR_OK)
            st = sr_error(SR_E_WRITE, "cannot write %s", graph);
    }
    if (st != SR_OK) {
        fprintf(stderr, "sinreq export: %s\n", sr_last_error());
        rc = sr_train_exit_code(st);
    } else {
        rc = run_onnx_writer(h5, graph, out);
    }
    unlink(h5);
    unlink(graph);
    rmdir(dir);
    if (rc == SR_EXIT_OK && stat(out, &b) == 0)
        sum->bytes = (long long)b.st_size;
    return rc;
}

int sr_cmd_export(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *format = "h5";
    sr_export_opts o = {0};
    sr_export_summary sum;
    sr_status st;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: sinreq export --model MODEL.h5 --out OUT "
                   "[--format h5|onnx] [--force] [--allow-float]\n"
                   "  h5: quantized layers as packed k-bit integer codes "
                   "plus scale/offset,\n  everything else float32 "
                   "(docs/usage.md); sinreq eval reads it\n"
                   "  onnx: an ONNX model (opset 13) whose weights are the "
                   "quantized levels,\n  activation quantization as ONNX ops "
                   "(needs python3-onnx)\n"
                   "  --force        replace an existing OUT\n"
                   "  --allow-float  export a full-precision model (all "
                   "float32)\n");
            return SR_EXIT_OK;
        }
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else if (strcmp(argv[i], "--force") == 0) {
            o.force = 1;
        } else if (strcmp(argv[i], "--allow-float") == 0) {
            o.allow_float = 1;
        } else if (strcmp(argv[i], "--model") == 0 ||
                   strcmp(argv[i], "--out") == 0 ||
                   strcmp(argv[i], "--format") == 0) {
            fprintf(stderr, "sinreq export: %s needs a value\n", argv[i]);
            return SR_EXIT_USAGE;
        } else {
            static const char *const known[] = {"--model", "--out", "--force",
                                                "--allow-float", "--format",
                                                "--help", NULL};
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
    if (strcmp(format, "h5") != 0 && strcmp(format, "onnx") != 0) {
        fprintf(stderr, "sinreq export: unknown --format '%s' (h5, onnx)\n",
                format);
        return SR_EXIT_USAGE;
    }
    if (strcmp(format, "onnx") == 0) {
        int rc = export_onnx(model, out, &o, &sum);
        if (rc != SR_EXIT_OK)
            return rc;
    } else {
        st = sr_train_export_ex(model, out, &o, &sum);
        if (st != SR_OK) {
            fprintf(stderr, "sinreq export: %s\n", sr_last_error());
            return sr_train_exit_code(st);
        }
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
