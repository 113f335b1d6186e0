/* sinreq: strict parsing of numbers given as text (src/core).
 *
 * Flags, YAML values and environment variables all go through these: the
 * whole string must be one decimal number (no blanks, no trailing text, no
 * hexadecimal, "1e3" is not an integer) and lie in [lo, hi]. A value out of
 * range is refused, never wrapped or clamped. On failure the message names
 * `what` (a flag, "file:line: key" or a variable) and the text, and the
 * status is SR_E_ARG. */
#ifndef SINREQ_PARSE_H
#define SINREQ_PARSE_H

#include <stdint.h>

#include "sinreq/status.h"

sr_status sr_parse_long(const char *what, const char *s, long lo, long hi,
                        long *out);
sr_status sr_parse_int(const char *what, const char *s, int lo, int hi,
                       int *out);
sr_status sr_parse_u64(const char *what, const char *s, uint64_t hi,
                       uint64_t *out);
/* Finite numbers only (no nan, inf or hexadecimal floats). */
sr_status sr_parse_double(const char *what, const char *s, double lo,
                          double hi, double *out);

#endif
