/* Checkpoint bookkeeping of the trainer: names in RUN_DIR/ckpt, choosing
 * the newest valid one, pruning, config compatibility, trimming the run
 * files a resumed run continues. The state itself: ckpt_state.c. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinreq/ckpt_io.h"
#include "run_io.h"
#include "train_internal.h"

/* Keys that may differ between a run and its resumption (docs/usage.md):
 * where output goes and how it is shown, the step limit, threads and device
 * (bit-identity needs the same backend and thread count, but a resume on
 * other ones is allowed), checkpoint bookkeeping, the gradient bucket size
 * (a schedule: with 2 ranks the sums are the same; with more, MPI's algorithm
 * for another message size may round differently). Everything else, epochs
 * included (they set the schedules' T), must match. */
static const char *may_differ[] = {
    "out", "resume", "force", "quiet", "max_steps", "threads", "device",
    "checkpoint_interval", "keep_last", "hist_epochs", "hist_bins",
    "bucket_mb", "diverge_factor", "max_abs_weight", "rank_timeout",
    "progress_every",
};

int sr_ckpt_key_may_differ(const char *key)
{
    for (size_t i = 0; i < sizeof may_differ / sizeof may_differ[0]; i++)
        if (strcmp(key, may_differ[i]) == 0)
            return 1;
    return 0;
}

char *sr_train_config_text(const sr_train_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    if (sr_train_config_write_yaml(c, f) != SR_OK) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    return buf;
}

/* The value of key in a config text ("key: value" lines), or NULL. */
static const char *find_line(const char *text, const char *key, size_t *len)
{
    size_t kl = strlen(key);

    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll > kl + 1 && strncmp(p, key, kl) == 0 && p[kl] == ':') {
            const char *v = p + kl + 1;
            while (*v == ' ')
                v++;
            *len = ll - (size_t)(v - p);
            return v;
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

sr_status sr_train_config_compare(const char *old_text, const char *now_text,
                                  const char *what)
{
    char diff[2048];
    size_t o = 0;
    int n = 0;
    /* the defaults' text: a key newer than old_text still matches there */
    sr_train_config def;
    sr_train_config_default(&def);
    char *def_text = sr_train_config_text(&def);
    sr_train_config_free(&def);

    diff[0] = '\0';
    for (const char *p = now_text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        const char *colon = memchr(p, ':', ll);
        if (p[0] != '#' && colon) {
            char key[64];
            size_t vl = 0, ol = 0;
            snprintf(key, sizeof key, "%.*s", (int)(colon - p), p);
            const char *v = find_line(now_text, key, &vl);
            const char *ov = find_line(old_text, key, &ol);
            if (!ov && def_text) {
                size_t dl = 0;
                const char *dv = find_line(def_text, key, &dl);
                if (dv && dl == vl && memcmp(dv, v, vl) == 0) {
                    ov = v;
                    ol = vl;
                }
            }
            if (!sr_ckpt_key_may_differ(key) &&
                (!ov || ol != vl || memcmp(ov, v, vl) != 0)) {
                /* a key the old text lacks counts as different, unless
                 * the new value is the default (a newer program) */
                if (o < sizeof diff)
                    o += (size_t)snprintf(diff + o, sizeof diff - o,
                                          "%s%s: %.*s (then) vs %.*s (now)",
                                          n ? "; " : "", key,
                                          ov ? (int)ol : 9,
                                          ov ? ov : "(missing)", (int)vl, v);
                n++;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    free(def_text);
    if (n)
        return sr_error(SR_E_CONFIG, "%s was written by a run with another "
                        "configuration (%d key%s differ: %s); resume with the "
                        "same settings, or start a new run (another --out, or "
                        "--force without --resume to start this one over)",
                        what, n, n > 1 ? "s" : "", diff);
    return SR_OK;
}

static int parse_name(const char *name, int *epoch, long *step)
{
    int used = 0;

    if (sscanf(name, "ckpt-e%d-s%ld.h5%n", epoch, step, &used) != 2)
        return -1;
    return name[used] == '\0' ? 0 : -1;
}

static int cmp_entry(const void *a, const void *b)
{
    const sr_ckpt_entry *x = a, *y = b;

    return x->step < y->step ? -1 : x->step > y->step ? 1
         : x->epoch < y->epoch ? -1 : x->epoch > y->epoch;
}

sr_status sr_ckpt_list(const char *run_dir, sr_ckpt_entry **out, int *n)
{
    char dir[4200];
    DIR *d;
    struct dirent *e;
    sr_ckpt_entry *v = NULL;
    int cnt = 0;

    *out = NULL;
    *n = 0;
    snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
    d = opendir(dir);
    if (!d)
        return errno == ENOENT ? SR_OK
             : sr_error(SR_E_IO, "cannot list %s: %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        int ep;
        long st;
        if (parse_name(e->d_name, &ep, &st))
            continue;
        sr_ckpt_entry *p = realloc(v, (size_t)(cnt + 1) * sizeof *v);
        if (!p) {
            closedir(d);
            free(v);
            return sr_error(SR_E_NOMEM, "out of memory");
        }
        v = p;
        snprintf(v[cnt].path, sizeof v[cnt].path, "%s/%s", dir, e->d_name);
        v[cnt].epoch = ep;
        v[cnt].step = st;
        cnt++;
    }
    closedir(d);
    if (cnt > 1)
        qsort(v, (size_t)cnt, sizeof *v, cmp_entry);
    *out = v;
    *n = cnt;
    return SR_OK;
}

void sr_ckpt_prune(const char *run_dir, int keep)
{
    sr_ckpt_entry *v;
    int n;

    if (sr_ckpt_list(run_dir, &v, &n) != SR_OK)
        return;
    for (int i = 0; keep >= 0 && i < n - keep; i++)
        unlink(v[i].path);
    free(v);
}

void sr_ckpt_remove_tmp(const char *run_dir)
{
    char dir[4200], p[4500];
    DIR *d;
    struct dirent *e;

    snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
    d = opendir(dir);
    if (!d)
        return;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "ckpt-", 5) == 0 && l > 4 &&
            strcmp(e->d_name + l - 4, ".tmp") == 0) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

/* Unlink the checkpoints (and their temporaries) in dir, then dir. */
static void remove_ckpt_dir(const char *dir)
{
    char p[4500];
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "ckpt-", 5) == 0) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

sr_status sr_ckpt_remove_all(const char *run_dir)
{
    char dir[4200], old[4200];

    snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
    snprintf(old, sizeof old, "%s/ckpt.removing", run_dir);
    /* one rename takes every checkpoint out of --resume auto's sight at
     * once: a kill while they are unlinked leaves none of them to resume */
    remove_ckpt_dir(old);
    if (rename(dir, old) != 0 && errno != ENOENT)
        return sr_error(SR_E_WRITE, "cannot move the earlier run's "
                        "checkpoints %s out of the way: %s", dir,
                        strerror(errno));
    remove_ckpt_dir(old);
    return SR_OK;
}

/* Keep the lines of path for which keep(line) holds (header: first line
 * kept when keep_first); rewritten in place via a temporary file. */
sr_status sr_trim_lines(const char *path, int keep_first,
                        int (*keep)(const char *line, long arg), long arg)
{
    char tmp[4200], *line = NULL;
    size_t cap = 0;
    FILE *in = fopen(path, "r"), *out;
    int first = 1, bad = 0;

    if (!in)
        return SR_OK;
    snprintf(tmp, sizeof tmp, "%s.trim", path);
    out = fopen(tmp, "w");
    if (!out) {
        sr_status st = sr_error(SR_E_WRITE, "cannot create %s: %s", tmp,
                                strerror(errno));
        fclose(in);
        return st;
    }
    while (getline(&line, &cap, in) > 0) {
        /* a line cut by a kill has no newline: drop it */
        if (!strchr(line, '\n'))
            break;
        if (((first && keep_first) || keep(line, arg)) && fputs(line, out) < 0)
            bad = 1;
        first = 0;
    }
    free(line);
    fclose(in);
    if (bad) {
        sr_status st = sr_error(SR_E_WRITE, "cannot write %s: %s", tmp,
                                strerror(errno));
        fclose(out);
        unlink(tmp);
        return st;
    }
    return sr_text_commit(out, tmp, path);
}
