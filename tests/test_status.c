/* Error messages (src/core/status.c): a message with context added as it
 * travels up, the debug location only under SINREQ_DEBUG=1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/status.h"

static int failures;

static void expect(const char *got, const char *want, const char *what)
{
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "FAIL %s: got \"%s\", want \"%s\"\n", what, got, want);
        failures++;
    }
}

static sr_status read_tensor(void)
{
    return sr_error(SR_E_SHAPE, "tensor w has 3 dims, want 4");
}

static sr_status load_model(const char *path)
{
    SR_TRY_CTX(read_tensor(), "%s: layer conv1", path);
    return SR_OK;
}

int main(void)
{
    unsetenv("SINREQ_DEBUG");
    sr_status st = sr_error_wrap(load_model("m.h5"), "cannot start the run");
    if (st != SR_E_SHAPE) {
        fprintf(stderr, "FAIL: status %d, want SR_E_SHAPE\n", (int)st);
        failures++;
    }
    expect(sr_last_error(),
           "cannot start the run: m.h5: layer conv1: tensor w has 3 dims, "
           "want 4", "wrapped twice");
    expect(sr_last_error_body(), sr_last_error(), "body without debug");

    /* with the debug location: it stays in front, the context after it */
    setenv("SINREQ_DEBUG", "1", 1);
    load_model("m.h5");
    const char *m = sr_last_error(), *b = sr_last_error_body();
    if (strncmp(m, "test_status.c:", 14) != 0) {
        fprintf(stderr, "FAIL debug: \"%s\" lacks the location\n", m);
        failures++;
    }
    expect(b, "m.h5: layer conv1: tensor w has 3 dims, want 4",
           "debug body");

    /* nothing recorded: the context alone */
    unsetenv("SINREQ_DEBUG");
    sr_clear_error();
    sr_error_wrap(SR_E_IO, "reading x.h5");
    expect(sr_last_error(), "reading x.h5", "context without cause");

    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
