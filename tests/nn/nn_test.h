/* Minimal test harness for tests/nn: CHECK keeps going and counts
 * failures; TRY stops the current test on a failing sr_status. */
#ifndef SR_NN_TEST_H
#define SR_NN_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/status.h"

static int nt_failures;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            nt_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__,        \
                    __LINE__, #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

#define TRY(expr)                                                         \
    do {                                                                  \
        sr_status nt_st_ = (expr);                                        \
        if (nt_st_ != SR_OK) {                                            \
            nt_failures++;                                                \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__,  \
                    #expr, sr_status_name(nt_st_), sr_last_error());      \
            return;                                                       \
        }                                                                 \
    } while (0)

/* expr must fail with code and a message containing needle. */
#define EXPECT_ERROR(expr, code, needle)                                  \
    do {                                                                  \
        sr_clear_error();                                                 \
        sr_status nt_st_ = (expr);                                        \
        CHECK(nt_st_ == (code), "%s gave %s (%s), expected %s", #expr,    \
              sr_status_name(nt_st_), sr_last_error(),                    \
              sr_status_name(code));                                      \
        CHECK(strstr(sr_last_error(), (needle)) != NULL,                  \
              "message '%s' lacks '%s'", sr_last_error(), (needle));      \
    } while (0)

#define RUN(fn)                                                           \
    do {                                                                  \
        int nt_before_ = nt_failures;                                     \
        fn();                                                             \
        fprintf(stderr, "%-44s %s\n", #fn,                                \
                nt_failures == nt_before_ ? "ok" : "FAILED");             \
    } while (0)

static inline int nt_finish(void)
{
    if (nt_failures) fprintf(stderr, "%d check(s) failed\n", nt_failures);
    return nt_failures ? 1 : 0;
}

#endif
