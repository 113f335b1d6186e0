/* Strict number parsing shared by every command (include/sinreq/parse.h). */
#include "sinreq/parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* strtol/strtod skip leading blanks and accept "0x"; we do not. */
static int plain_start(const char *s)
{
    return s && *s && !isspace((unsigned char)*s) &&
           !strpbrk(s, "xX");
}

sr_status sr_parse_long(const char *what, const char *s, long lo, long hi,
                        long *out)
{
    char *end;
    long v;

    if (!plain_start(s))
        goto not_int;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end)
        goto not_int;
    if (errno == ERANGE || v < lo || v > hi)
        return sr_error(SR_E_ARG, "%s: %s is outside %ld..%ld", what, s, lo,
                        hi);
    *out = v;
    return SR_OK;
not_int:
    return sr_error(SR_E_ARG, "%s: '%s' is not an integer (expected %ld..%ld)",
                    what, s ? s : "", lo, hi);
}

sr_status sr_parse_int(const char *what, const char *s, int lo, int hi,
                       int *out)
{
    long v = 0;

    SR_TRY(sr_parse_long(what, s, lo, hi, &v));
    *out = (int)v;
    return SR_OK;
}

sr_status sr_parse_u64(const char *what, const char *s, uint64_t hi,
                       uint64_t *out)
{
    char *end;
    unsigned long long v;

    /* strtoull negates "-1" into a huge value: refuse any sign */
    if (!plain_start(s) || !isdigit((unsigned char)*s))
        goto not_int;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end)
        goto not_int;
    if (errno == ERANGE || v > hi)
        return sr_error(SR_E_ARG, "%s: %s is outside 0..%llu", what, s,
                        (unsigned long long)hi);
    *out = v;
    return SR_OK;
not_int:
    return sr_error(SR_E_ARG, "%s: '%s' is not a non-negative integer "
                    "(expected 0..%llu)", what, s ? s : "",
                    (unsigned long long)hi);
}

sr_status sr_parse_double(const char *what, const char *s, double lo,
                          double hi, double *out)
{
    char *end;
    double v;

    if (!plain_start(s))
        goto not_num;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        goto not_num;
    /* ERANGE: too large, or so small it would silently become 0 */
    if (errno == ERANGE || v < lo || v > hi)
        return sr_error(SR_E_ARG, "%s: %s is outside [%g, %g]", what, s, lo,
                        hi);
    *out = v;
    return SR_OK;
not_num:
    return sr_error(SR_E_ARG, "%s: '%s' is not a finite number", what,
                    s ? s : "");
}
