/* sinreq train: flags + YAML -> sr_train_run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int sr_cmd_train(int argc, char **argv)
{
    sr_train_config c;
    sr_status st;
    char *cmdline;
    size_t len = 16;
    int rc, requeue = 0;

    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sr_train_config_help(stdout);
            return SR_EXIT_OK;
        }
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    cmdline = malloc(len);
    if (!cmdline)
        return SR_EXIT_RUNTIME;
    strcpy(cmdline, "sinreq train");
    for (int i = 0; i < argc; i++) {
        strcat(cmdline, " ");
        strcat(cmdline, argv[i]);
    }
    sr_train_config_default(&c);
    st = sr_train_config_from_args(&c, argc, argv);
    if (st == SR_OK)
        st = sr_train_run_ex(&c, cmdline, &requeue);
    rc = sr_train_exit_code(st);
    if (st == SR_OK && requeue)
        rc = SR_EXIT_REQUEUE;
    if (st != SR_OK)
        fprintf(stderr, "\nsinreq train: %s\n", sr_last_error());
    sr_train_config_free(&c);
    free(cmdline);
    return rc;
}
