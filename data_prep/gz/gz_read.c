/* sinreq-prep: transparent gzip reads with zlib's gz* interface. */
#include "gz_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

sr_status prep_gz_read(const char *path, uint8_t **data, size_t *size)
{
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = NULL, *grown;
    sr_status st = SR_OK;
    const char *zmsg;
    int zerr = Z_OK;
    gzFile gz;

    *data = NULL;
    *size = 0;
    errno = 0;
    gz = gzopen(path, "rb");
    if (!gz)
        return sr_error(errno ? SR_E_IO : SR_E_NOMEM, "%s: cannot open: %s",
                        path, errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, 1 << 18);
    buf = malloc(cap);
    if (!buf) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out_close;
    }
    for (;;) {
        int r;

        if (cap - len < (1 << 20)) {
            grown = realloc(buf, cap * 2);
            if (!grown) {
                st = sr_error(SR_E_NOMEM, "%s: out of memory at %zu bytes",
                              path, len);
                goto out_close;
            }
            buf = grown;
            cap *= 2;
        }
        r = gzread(gz, buf + len, 1 << 20);
        if (r < 0) {
            zmsg = gzerror(gz, &zerr);
            st = sr_error(SR_E_IO, "%s: %s (corrupted or truncated gzip?)",
                          path, zmsg);
            goto out_close;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    /* A gzip stream cut short reads as EOF with Z_BUF_ERROR set. */
    zmsg = gzerror(gz, &zerr);
    if (zerr != Z_OK) {
        st = sr_error(SR_E_IO, "%s: %s (truncated gzip file?)", path, zmsg);
        goto out_close;
    }
    *data = buf;
    *size = len;
    buf = NULL;
out_close:
    free(buf);
    gzclose(gz);
    return st;
}
