#include "sinreq/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Thread-local so concurrent threads (data loader, ranks' helper threads)
 * never overwrite each other's message. */
static _Thread_local char last_error[1024];
static _Thread_local int body_at; /* where the message follows the location */

sr_status sr_error_at(sr_status code, const char *file, int line,
                      const char *fmt, ...)
{
    /* the source location helps whoever debugs the code, not the user
     * reading the message: only with SINREQ_DEBUG=1 */
    const char *dbg = getenv("SINREQ_DEBUG");
    const char *base = strrchr(file, '/');
    int n = 0;
    if (dbg && strcmp(dbg, "1") == 0)
        n = snprintf(last_error, sizeof last_error, "%s:%d: ",
                     base ? base + 1 : file, line);
    if (n < 0 || (size_t)n >= sizeof last_error) n = 0;
    body_at = n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

sr_status sr_error_wrap(sr_status code, const char *fmt, ...)
{
    char cause[sizeof last_error];
    size_t at = (size_t)body_at, cap = sizeof last_error;
    snprintf(cause, sizeof cause, "%s", last_error + at);
    /* the context goes after the debug location (SINREQ_DEBUG=1) of the
     * innermost error, in front of its message */
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(last_error + at, cap - at, fmt, ap);
    va_end(ap);
    size_t used = at + (m > 0 ? (size_t)m : 0);
    if (cause[0] && used + 3 < cap) {
        size_t room = cap - used - 3, cl = strlen(cause);
        if (cl > room) cl = room;
        memcpy(last_error + used, ": ", 2);
        memcpy(last_error + used + 2, cause, cl);
        last_error[used + 2 + cl] = '\0';
    }
    return code;
}

const char *sr_last_error(void) { return last_error; }
const char *sr_last_error_body(void) { return last_error + body_at; }
void sr_clear_error(void)
{
    last_error[0] = '\0';
    body_at = 0;
}

const char *sr_status_name(sr_status code)
{
    switch (code) {
    case SR_OK: return "ok";
    case SR_E_ARG: return "invalid argument";
    case SR_E_SHAPE: return "invalid shape";
    case SR_E_BITS: return "bitwidth out of range";
    case SR_E_NOMEM: return "out of memory";
    case SR_E_IO: return "I/O error";
    case SR_E_FORMAT: return "bad file format";
    case SR_E_CONFIG: return "configuration error";
    case SR_E_DEVICE: return "device error";
    case SR_E_UNSUPPORTED: return "unsupported";
    case SR_E_NUMERIC: return "non-finite value";
    case SR_E_INTERNAL: return "internal error";
    case SR_E_WRITE: return "write error";
    }
    return "unknown status";
}
