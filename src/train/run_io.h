/* Small output helpers of src/train: JSON values, progress, run files. */
#ifndef SR_TRAIN_RUN_IO_H
#define SR_TRAIN_RUN_IO_H

#include <stdio.h>

#include "sinreq/file_commit.h"
#include "sinreq/status.h"

void sr_json_str(FILE *f, const char *s);
void sr_json_num(FILE *f, double v);     /* null when not finite */
double sr_now(void);                     /* monotonic seconds */
void sr_fmt_duration(char *buf, size_t n, double s);
/* SR_E_WRITE (exit 2) for a full disk, an I/O error or a read-only file
 * system; SR_E_IO (exit 1) for other errno values (a bad path). */
sr_status sr_write_errno_status(int e);
/* Run directory: SR_E_ARG when it exists, is not empty and !force. */
sr_status sr_run_dir_prepare(const char *dir, int force, int create);
/* Flush, fsync and close f (opened on tmp), then sr_file_commit it to
 * path; SR_E_WRITE naming path and the reason, and no tmp left, on
 * failure. */
sr_status sr_text_commit(FILE *f, const char *tmp, const char *path);

#endif
