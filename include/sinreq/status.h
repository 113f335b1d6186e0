/* sinreq: status codes and error messages (src/core).
 *
 * Every fallible call returns an sr_status. On failure the callee records a
 * sentence a user can act on in a per-thread "last error" buffer (like
 * errno: no shared mutable state across threads; with SINREQ_DEBUG=1 it
 * starts with the source file and line). Callers pass the status up with
 * SR_TRY, or with SR_TRY_CTX / sr_error_wrap to put what they were doing in
 * front of the cause. sr_last_error() returns the message. */
#ifndef SINREQ_STATUS_H
#define SINREQ_STATUS_H

#include <stdarg.h>

typedef enum sr_status {
    SR_OK = 0,
    SR_E_ARG,        /* an argument is out of range or inconsistent */
    SR_E_SHAPE,      /* impossible or mismatched tensor shape */
    SR_E_BITS,       /* bitwidth outside the supported range */
    SR_E_NOMEM,      /* host or device allocation failed */
    SR_E_IO,         /* file missing, unreadable, corrupted */
    SR_E_FORMAT,     /* input file has the wrong layout or content */
    SR_E_CONFIG,     /* unknown or invalid configuration key/value */
    SR_E_DEVICE,     /* backend/driver failure (Vulkan, missing ICD, ...) */
    SR_E_UNSUPPORTED,/* valid request this build/backend cannot do */
    SR_E_NUMERIC,    /* NaN/Inf where a finite value is required */
    SR_E_INTERNAL,   /* a bug: an invariant did not hold */
    SR_E_WRITE       /* an output file could not be written (disk full,
                        I/O error, read-only file system): a runtime
                        failure, unlike SR_E_IO's bad input */
} sr_status;

/* Record an error message for the calling thread and return `code`. */
sr_status sr_error_at(sr_status code, const char *file, int line,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define sr_error(code, ...) sr_error_at((code), __FILE__, __LINE__, __VA_ARGS__)

/* Add context in front of the calling thread's last message, as an error
 * travels up: "loading run/ckpt.h5: " + "its shape is wrong". The one
 * idiom for "this failed because of that"; returns `code`. */
sr_status sr_error_wrap(sr_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fail with `code` and a message unless `cond` holds. */
#define SR_CHECK(cond, code, ...)                                    \
    do {                                                             \
        if (!(cond)) return sr_error((code), __VA_ARGS__);           \
    } while (0)

/* Propagate a failing status, its message prefixed with context. */
#define SR_TRY_CTX(expr, ...)                                        \
    do {                                                             \
        sr_status sr_try_status_ = (expr);                           \
        if (sr_try_status_ != SR_OK)                                 \
            return sr_error_wrap(sr_try_status_, __VA_ARGS__);       \
    } while (0)

/* Propagate a failing status unchanged (the callee recorded the message). */
#define SR_TRY(expr)                                                 \
    do {                                                             \
        sr_status sr_try_status_ = (expr);                           \
        if (sr_try_status_ != SR_OK) return sr_try_status_;          \
    } while (0)

const char *sr_last_error(void);   /* "" when none recorded */
/* The same message without the "file.c:line: " location that
 * SINREQ_DEBUG=1 puts in front of it. */
const char *sr_last_error_body(void);
void sr_clear_error(void);
const char *sr_status_name(sr_status code);

#endif
