/* sinreq-prep: reading members of a (compressed) tar archive (libarchive). */
#ifndef SINREQ_PREP_TAR_READ_H
#define SINREQ_PREP_TAR_READ_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

/* Reads the regular-file members whose base name is wanted[i] (any
 * directory inside the archive) into data[i] / size[i] (malloc'd; NULL and
 * 0 when the archive has no such member). Any compression libarchive knows
 * (gzip, bzip2, xz, ...). A damaged archive is an SR_E_FORMAT error. */
sr_status prep_tar_read_members(const char *archive, const char *const *wanted,
                                int n, uint8_t **data, size_t *size);

#endif
