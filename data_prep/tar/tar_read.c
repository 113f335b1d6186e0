/* sinreq-prep: tar members into memory with libarchive. */
#include "tar_read.h"

#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

sr_status prep_tar_read_members(const char *archive, const char *const *wanted,
                                int n, uint8_t **data, size_t *size)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    sr_status st = SR_OK;
    int r;

    for (int i = 0; i < n; i++) {
        data[i] = NULL;
        size[i] = 0;
    }
    if (!a)
        return sr_error(SR_E_NOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open_filename(a, archive, 1 << 16) != ARCHIVE_OK) {
        st = sr_error(SR_E_IO, "%s: cannot open as an archive: %s", archive,
                      archive_error_string(a));
        goto out_free;
    }
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        la_int64_t len = archive_entry_size(e);
        int k = -1;

        if (archive_entry_filetype(e) != AE_IFREG || !name)
            continue;
        for (int i = 0; i < n; i++)
            if (!data[i] && strcmp(base_name(name), wanted[i]) == 0)
                k = i;
        if (k < 0)
            continue;
        if (len < 0 || (uint64_t)len > ((uint64_t)1 << 34)) {
            st = sr_error(SR_E_FORMAT, "%s: member %s has an unusable size "
                          "(%lld)", archive, name, (long long)len);
            goto out_free;
        }
        data[k] = malloc(len ? (size_t)len : 1);
        if (!data[k]) {
            st = sr_error(SR_E_NOMEM, "%s: out of memory for %s", archive,
                          name);
            goto out_free;
        }
        size[k] = (size_t)len;
        for (size_t got = 0; got < size[k];) {
            la_ssize_t m = archive_read_data(a, data[k] + got, size[k] - got);

            if (m <= 0) {
                st = sr_error(SR_E_FORMAT, "%s: member %s: %s", archive, name,
                              m < 0 ? archive_error_string(a)
                                    : "ends early (truncated archive?)");
                goto out_free;
            }
            got += (size_t)m;
        }
    }
    if (r != ARCHIVE_EOF) {
        st = sr_error(SR_E_FORMAT, "%s: damaged or truncated archive: %s",
                      archive, archive_error_string(a));
        goto out_free;
    }
out_free:
    if (st != SR_OK)
        for (int i = 0; i < n; i++) {
            free(data[i]);
            data[i] = NULL;
            size[i] = 0;
        }
    archive_read_free(a);
    return st;
}
