/* sinreq-prep: whole-file reads that gunzip transparently (zlib). */
#ifndef SINREQ_PREP_GZ_READ_H
#define SINREQ_PREP_GZ_READ_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

/* Reads `path` into memory, decompressing it when it is gzip (plain files
 * are read as they are). A truncated or corrupted gzip stream is an error. */
sr_status prep_gz_read(const char *path, uint8_t **data, size_t *size);

#endif
