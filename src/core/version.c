/* The program version (include/sinreq/version.h). The generated header is
 * included here only, so a new git HEAD recompiles this one file. */
#include "sinreq/version.h"

#include "sr_version_gen.h"

const char *sr_version(void)
{
    return SR_GIT_VERSION;
}

const char *sr_program_version(void)
{
    return "sinreq " SR_GIT_VERSION;
}
