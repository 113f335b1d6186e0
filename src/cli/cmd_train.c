/* sinreq train: flags + YAML -> sr_train_run_dist, one rank of an MPI job
 * under mpirun/srun, a single process otherwise (docs/distributed.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/dist.h"
#include "cli.h"

int sr_cmd_train(int argc, char **argv)
{
    sr_train_config c;
    sr_status st;
    sr_dist *d = NULL;
    sr_dist_opts dopt;
    char *cmdline;
    size_t len = 16;
    int rc, requeue = 0;

    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sr_train_config_help(stdout);
            return SR_EXIT_OK;
        }
    /* MPI only when a launcher started us (SINREQ_DIST overrides) */
    sr_dist_opts_default(&dopt);
    st = sr_dist_init(NULL, NULL, &dopt, &d);
    if (st != SR_OK) {
        fprintf(stderr, "sinreq train: %s\n", sr_last_error());
        return sr_train_exit_code(st);
    }
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    cmdline = malloc(len);
    if (!cmdline) {
        sr_dist_finalize(d);
        return SR_EXIT_RUNTIME;
    }
    strcpy(cmdline, "sinreq train");
    for (int i = 0; i < argc; i++) {
        strcat(cmdline, " ");
        strcat(cmdline, argv[i]);
    }
    sr_train_config_default(&c);
    st = sr_train_config_from_args(&c, argc, argv);
    if (st == SR_OK)
        st = sr_train_run_dist(&c, cmdline, &requeue, d);
    rc = sr_train_exit_code(st);
    if (st == SR_OK && requeue)
        rc = SR_EXIT_REQUEUE;
    /* every rank failed together: rank 0 tells (another rank's own error
     * was printed by that rank) */
    if (st != SR_OK && sr_dist_rank(d) == 0)
        fprintf(stderr, "\nsinreq train: %s\n", sr_last_error());
    sr_train_config_free(&c);
    free(cmdline);
    sr_dist_finalize(d);
    return rc;
}
