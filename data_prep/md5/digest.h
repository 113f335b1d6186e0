/* sinreq-prep: file digests (OpenSSL libcrypto EVP; the only user of it). */
#ifndef SINREQ_PREP_DIGEST_H
#define SINREQ_PREP_DIGEST_H

#include "sinreq/status.h"

/* Longest hex digest + NUL (sha512). */
#define PREP_DIGEST_HEX_MAX 129

/* Hex digest of a whole file; algo is "md5" or "sha256". */
sr_status prep_digest_file(const char *path, const char *algo,
                           char hex[PREP_DIGEST_HEX_MAX]);

#endif
