/* The `sinreq` command. Subcommands arrive with their modules; this file
 * parses the first word and dispatches to cmd_*.c. Exit codes (docs/usage.md):
 * 0 done, 1 usage/config/input error, 2 runtime failure, 3 checkpointed
 * on a signal: requeue and rerun with --resume auto. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinreq/backend.h"
#include "sinreq/version.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinreq <command> [options]\n"
            "\n"
            "commands:\n"
            "  train --data FILE.h5 --out DIR [...]  train a network (train --help)\n"
            "  eval --model M.h5 --data FILE.h5     loss and top-1 of a model file\n"
            "  export --model M.h5 --out E.h5       quantized layers as packed k-bit codes\n"
            "         [--format onnx]               (or an ONNX model)\n"
            "  info FILE.h5 | info --net NAME|FILE.yaml\n"
            "                                       describe a model, dataset or network\n"
            "  devices [--backend cpu|vulkan|all]   list compute devices and the one\n"
            "                                       each backend would pick\n"
            "  report GRID_DIR [--md OUT.md]        the paper's table from a grid's runs\n"
            "  version, --version                   print the version (git describe\n"
            "                                       of the sources it was built from)\n"
            "  help                                 this text\n");
}

int sr_cmd_devices(int argc, char **argv)
{
    const char *which = "all";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            which = argv[++i];
        } else {
            fprintf(stderr, "sinreq devices: unknown argument '%s'\n", argv[i]);
            return SR_EXIT_USAGE;
        }
    }
    int all = strcmp(which, "all") == 0;
    if (!all && strcmp(which, "cpu") != 0 && strcmp(which, "vulkan") != 0) {
        fprintf(stderr, "sinreq devices: unknown backend '%s' (cpu, vulkan, all)\n",
                which);
        return SR_EXIT_USAGE;
    }
    int rc = SR_EXIT_OK;
    const char *names[] = {"cpu", "vulkan"};
    for (int b = 0; b < 2; b++) {
        if (!all && strcmp(which, names[b]) != 0) continue;
        printf("[%s]\n", names[b]);
        if (sr_backend_list_devices(names[b], stdout) != SR_OK) {
            fprintf(stderr, "sinreq devices: %s\n", sr_last_error());
            rc = SR_EXIT_RUNTIME;
            continue;
        }
        sr_backend *be = NULL;
        if (sr_backend_create(names[b], NULL, &be) != SR_OK) {
            fprintf(stderr, "sinreq devices: %s\n", sr_last_error());
            rc = SR_EXIT_RUNTIME;
            continue;
        }
        printf("selected: %s\n", sr_backend_device_name(be));
        sr_backend_free(be);
    }
    return rc;
}

/* `sinreq report`: the paper's table from a grid's run directories. The
 * table is jobs/report.py (it only reads JSON, and the grid scripts call it
 * directly); the build puts it beside this binary as sinreq-report. Run
 * that one, else the one on PATH. */
static int cmd_report(int argc, char **argv)
{
    char dir[4096], path[4200];
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) return SR_EXIT_RUNTIME;
    for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n > 0) {
        dir[n] = '\0';
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, sizeof path, "%s/sinreq-report", dir);
            args[0] = path;
            if (access(path, X_OK) == 0) execv(path, args);
        }
    }
    args[0] = "sinreq-report";
    execvp("sinreq-report", args);
    fprintf(stderr, "sinreq report: cannot run sinreq-report (looked beside "
            "the sinreq binary and on PATH); python3 and jobs/report.py are "
            "needed\n");
    free(args);
    return SR_EXIT_RUNTIME;
}

/* libgomp's idle threads spin by default (300,000 rounds). With more threads
 * than free cores (other jobs on the node, several MPI ranks per node) the
 * spinning takes the cores the work needs: cifar10net training ran 6x slower
 * on a loaded 2-core machine. Fully passive threads sleep between the
 * hundreds of parallel regions of a step, though, and cost resnet20 at 2
 * threads 10-15% on an idle machine (bench_train: 379-405 images/s passive,
 * 434-470 spinning, 457-470 with a short spin). So: passive, with a short
 * spin of GOMP_SPINCOUNT rounds (an explicit value overrides passive's 0 in
 * libgomp) that bridges the gap between one op's region and the next.
 * libgomp reads both once, when it is loaded, so set them and re-execute
 * ourselves; an explicit OMP_WAIT_POLICY (or GOMP_SPINCOUNT) is kept. */
static void prefer_passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    if (!getenv("GOMP_SPINCOUNT")) setenv("GOMP_SPINCOUNT", "30000", 1);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the default policy */
}

int main(int argc, char **argv)
{
    prefer_passive_openmp(argv);
    if (argc < 2) {
        usage(stderr);
        return SR_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "devices") == 0) return sr_cmd_devices(argc - 2, argv + 2);
    if (strcmp(cmd, "train") == 0) return sr_cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "eval") == 0) return sr_cmd_eval(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0) return sr_cmd_export(argc - 2, argv + 2);
    if (strcmp(cmd, "info") == 0) return sr_cmd_info(argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0) return cmd_report(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("sinreq %s\n", sr_version());
        return SR_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return SR_EXIT_OK;
    }
    fprintf(stderr, "sinreq: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return SR_EXIT_USAGE;
}
