/* sinreq: files written whole (src/core/file_commit.c).
 *
 * Every output that must never be seen cut (checkpoints, model, export,
 * histogram and dataset files, result.json, config.yaml) is written to
 * "<path>.tmp", synced, and then given its name in one step: a process
 * killed at any moment leaves either the old file or the new one at path
 * (and perhaps a stale .tmp). */
#ifndef SINREQ_FILE_COMMIT_H
#define SINREQ_FILE_COMMIT_H

#include <stddef.h>

#include "sinreq/status.h"

/* buf := "<path>.tmp"; SR_E_ARG when it does not fit in n bytes. */
sr_status sr_tmp_path(char *buf, size_t n, const char *path);
/* fsync a file (dir = 0) or a directory (dir = 1); SR_E_WRITE naming it. */
sr_status sr_file_sync(const char *path, int dir);
/* tmp (complete and synced) becomes path, then path's directory is synced.
 * replace = 0: never overwrites (link, then unlink tmp); an existing path
 * is SR_E_ARG. Other failures are SR_E_WRITE naming both files. tmp is
 * removed on failure. */
sr_status sr_file_commit(const char *tmp, const char *path, int replace);

#endif
