/* JSON values, time, and the run directory's existence rules. */
#include "run_io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void sr_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

void sr_json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

double sr_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sr_fmt_duration(char *buf, size_t n, double s)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;

    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

static int dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

sr_status sr_write_errno_status(int e)
{
    /* the disk or the file system, not the command, is at fault */
    return e == ENOSPC || e == EIO || e == EROFS || e == EDQUOT ? SR_E_WRITE
                                                                : SR_E_IO;
}

/* mkdir -p: grids write runs/<grid>/<cell>, and a missing runs/<grid> is
 * not worth an error. */
static sr_status make_dirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    SR_CHECK(n > 0 && n < sizeof path, SR_E_ARG, "run directory name of %zu "
             "characters", n);
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return sr_error(sr_write_errno_status(errno), "cannot create run "
                            "directory %s: %s (at %s)", dir, strerror(errno),
                            path);
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    SR_CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode), SR_E_IO,
             "cannot create run directory %s: a part of it is not a directory",
             dir);
    return SR_OK;
}

sr_status sr_run_dir_prepare(const char *dir, int force, int create)
{
    struct stat sb;

    if (stat(dir, &sb) == 0) {
        SR_CHECK(S_ISDIR(sb.st_mode), SR_E_ARG, "run directory %s exists and "
                 "is not a directory", dir);
        SR_CHECK(force || dir_empty(dir), SR_E_ARG, "run directory %s exists "
                 "and is not empty (use --force to reuse it; nothing was "
                 "changed)", dir);
        return SR_OK;
    }
    if (!create)
        return SR_OK;
    return make_dirs(dir);
}

sr_status sr_text_commit(FILE *f, const char *tmp, const char *path)
{
    int e = 0;

    errno = 0;
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
        e = errno ? errno : EIO;
    if (fclose(f) != 0 && !e)
        e = errno ? errno : EIO;
    if (e) {
        unlink(tmp);
        return sr_error(SR_E_WRITE, "cannot write %s: %s", path, strerror(e));
    }
    return sr_file_commit(tmp, path, 1);
}
