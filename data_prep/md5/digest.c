/* sinreq-prep: file digests through OpenSSL's EVP interface. */
#include "digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

sr_status prep_digest_file(const char *path, const char *algo,
                           char hex[PREP_DIGEST_HEX_MAX])
{
    const EVP_MD *md = EVP_get_digestbyname(algo);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = NULL;
    unsigned char *buf = NULL;
    sr_status st = SR_OK;
    size_t n;
    FILE *f;

    hex[0] = '\0';
    if (!md)
        return sr_error(SR_E_INTERNAL, "digest %s is not available", algo);
    f = fopen(path, "rb");
    if (!f)
        return sr_error(SR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    ctx = EVP_MD_CTX_new();
    buf = malloc(1 << 20);
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        st = sr_error(SR_E_NOMEM, "cannot start the %s digest", algo);
        goto out_close;
    }
    while ((n = fread(buf, 1, 1 << 20, f)) > 0)
        if (EVP_DigestUpdate(ctx, buf, n) != 1) {
            st = sr_error(SR_E_INTERNAL, "%s digest update failed", algo);
            goto out_close;
        }
    if (ferror(f)) {
        st = sr_error(SR_E_IO, "%s: read failed: %s", path, strerror(errno));
        goto out_close;
    }
    if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || 2 * len + 1 > PREP_DIGEST_HEX_MAX) {
        st = sr_error(SR_E_INTERNAL, "%s digest final failed", algo);
        goto out_close;
    }
    for (unsigned int i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", out[i]);
out_close:
    free(buf);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return st;
}
