/* The `sinreq` subcommands (one file each). */
#ifndef SR_CLI_H
#define SR_CLI_H

#include "sinreq/train.h"

int sr_cmd_train(int argc, char **argv);
int sr_cmd_eval(int argc, char **argv);
int sr_cmd_info(int argc, char **argv);
int sr_cmd_export(int argc, char **argv);
int sr_cmd_devices(int argc, char **argv);

#endif
