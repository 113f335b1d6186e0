/* sinreq: the version of this build (src/core/version.c). */
#ifndef SINREQ_VERSION_H
#define SINREQ_VERSION_H

/* `git describe --always --dirty` of the source tree when it was built
 * (e.g. "6075420" or "v0.2.0-3-g6075420-dirty"), or the project version
 * from CMake when it was built outside a git checkout. `sinreq --version`
 * prints it; every model, checkpoint, histogram and export file carries it
 * as the root attribute `sinreq_version`, result.json as "sinreq_version". */
const char *sr_version(void);

/* "sinreq " + sr_version(): the program_version of model and checkpoint
 * files. */
const char *sr_program_version(void);

#endif
