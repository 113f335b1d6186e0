/* The CHECK macro of the tests/train C tests: counts failures in `fails`
 * (the test's exit status) and prints the file, line and message. */
#ifndef SR_TRAIN_CHECK_H
#define SR_TRAIN_CHECK_H

#include <stdio.h>

static int fails;
#define CHECK(c, ...)                                                  \
    do {                                                               \
        if (!(c)) {                                                    \
            fails++;                                                   \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                \
            printf(__VA_ARGS__);                                       \
            printf("\n");                                              \
        }                                                              \
    } while (0)

#endif
