/* Files written whole: "<path>.tmp", synced, renamed (sinreq/file_commit.h). */
#include "sinreq/file_commit.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

sr_status sr_tmp_path(char *buf, size_t n, const char *path)
{
    int len = snprintf(buf, n, "%s.tmp", path);

    SR_CHECK(len >= 0 && (size_t)len < n, SR_E_ARG,
             "path too long (%zu bytes at most): %s", n - 5, path);
    return SR_OK;
}

sr_status sr_file_sync(const char *path, int dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);

    if (fd < 0)
        return sr_error(SR_E_WRITE, "%s: cannot open to sync: %s", path,
                        strerror(errno));
    /* some file systems cannot sync a directory: nothing to do there */
    if (fsync(fd) != 0 && !(dir && (errno == EINVAL || errno == EBADF))) {
        int e = errno;
        close(fd);
        return sr_error(SR_E_WRITE, "cannot sync %s: %s", path, strerror(e));
    }
    close(fd);
    return SR_OK;
}

sr_status sr_file_commit(const char *tmp, const char *path, int replace)
{
    char dir[4096];
    sr_status st;

    if (replace ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
        int e = errno;
        st = !replace && e == EEXIST
                 ? sr_error(SR_E_ARG, "cannot create %s: %s", path,
                            strerror(e))
                 : sr_error(SR_E_WRITE, "cannot %s %s to %s: %s",
                            replace ? "rename" : "link", tmp, path,
                            strerror(e));
        unlink(tmp);
        return st;
    }
    /* link: the file now has both names; the temporary one goes */
    if (!replace)
        unlink(tmp);
    SR_CHECK(strlen(path) < sizeof dir, SR_E_ARG, "path too long: %s", path);
    memcpy(dir, path, strlen(path) + 1);
    return sr_file_sync(dirname(dir), 1);
}
