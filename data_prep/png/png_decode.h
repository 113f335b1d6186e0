/* sinreq-prep: PNG decoding (libpng; the only user of it). */
#ifndef SINREQ_PREP_PNG_DECODE_H
#define SINREQ_PREP_PNG_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

/* Decodes a PNG held in memory to interleaved 8-bit sRGB (palette, gray,
 * 16-bit and interlaced files are converted; alpha is composited on black).
 * Thread-safe; messages do not name the file. */
sr_status prep_png_decode(const uint8_t *data, size_t size, uint8_t **rgb,
                          uint32_t *w, uint32_t *h);

#endif
