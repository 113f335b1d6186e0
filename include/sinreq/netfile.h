/* sinreq: networks described in YAML files (src/models/netfile.c).
 *
 * A network file lists the input shape, the class count and the layers; the
 * format is in docs/usage.md ("Network files"), and nets/ has the built-in
 * networks written that way. Anywhere a network name is taken (--net, net:
 * in a config), a path ending in .yaml or .yml names such a file:
 * sr_model_build and sr_model_defaults pass it here.
 *
 * Every error names the file and line, and the layer where there is one:
 * unknown op or key, bad value, missing or unknown input, duplicate name,
 * cycle, unused output, and shape mismatches (the graph is built and its
 * shapes checked while loading, before any training).
 */
#ifndef SINREQ_NETFILE_H
#define SINREQ_NETFILE_H

#include "sinreq/models.h"

/* 1 when name ends in .yaml or .yml (a network file), else 0. */
int sr_netfile_is_path(const char *name);

/* The file's default input and class count (reads and checks the whole
 * file, layers included, but builds nothing). Any pointer may be NULL. */
sr_status sr_netfile_defaults(const char *path, int *c, int *h, int *w,
                              int *classes);

/* Build the graph described by o->name (a file path); the other fields of
 * o act as in sr_model_build (0 = the file's own input / classes). */
sr_status sr_netfile_build(const sr_model_opts *o, sr_nn **out);

#endif
