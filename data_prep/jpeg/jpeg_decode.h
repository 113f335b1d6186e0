/* sinreq-prep: JPEG decoding (libjpeg-turbo; the only user of it). */
#ifndef SINREQ_PREP_JPEG_DECODE_H
#define SINREQ_PREP_JPEG_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

/* Decodes a JPEG held in memory to interleaved 8-bit RGB (grayscale and
 * CMYK/YCCK are converted). When min_side > 0, libjpeg's DCT scaling (1/2,
 * 1/4, 1/8) is used as long as the shorter side stays >= 2 * min_side, so
 * large photos decode fast; min_side = 0 always decodes at full size.
 * A truncated file is an error. Thread-safe; messages do not name the file
 * (the caller adds it). */
sr_status prep_jpeg_decode(const uint8_t *data, size_t size, uint32_t min_side,
                           uint8_t **rgb, uint32_t *w, uint32_t *h);

#endif
