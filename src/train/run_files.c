/* The run directory's text files: train.log, metrics.jsonl, steps.tsv and
 * config.yaml; opened (or trimmed, on resume), flushed and checked. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_io.h"
#include "sinreq/hist_io.h"
#include "trainer.h"

const char *sr_train_path(struct trainer *tr, const char *name)
{
    snprintf(tr->path, sizeof tr->path, "%s/%s", tr->c->out, name);
    return tr->path;
}

/* Writes to the run's text files are checked: the first failure is kept
 * (file and errno) and stops the run at the next sr_train_files_ok, so that no
 * line is lost while the run goes on with exit 0. */
void sr_train_note_write_error(struct trainer *tr, const char *file)
{
    if (!tr->werr_file) {
        tr->werr_file = file;
        tr->werr = errno ? errno : EIO;
    }
}

sr_status sr_train_files_ok(struct trainer *tr)
{
    FILE *f[3] = {tr->log, tr->metrics, tr->steps};
    const char *name[3] = {"train.log", "metrics.jsonl", "steps.tsv"};

    for (int i = 0; i < 3; i++) {
        if (!f[i])
            continue;
        errno = 0;
        if (fflush(f[i]) != 0 || ferror(f[i]))
            sr_train_note_write_error(tr, name[i]);
    }
    if (tr->werr_file)
        return sr_error(SR_E_WRITE, "cannot write %s/%s: %s; the run stops "
                        "(once there is space again, --resume auto continues "
                        "from the last checkpoint)", tr->c->out,
                        tr->werr_file, strerror(tr->werr));
    return SR_OK;
}

/* A line for the human log, echoed to stderr unless quiet. */
void sr_train_say(struct trainer *tr, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!tr->root)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (tr->log && (fprintf(tr->log, "%s\n", line) < 0 || fflush(tr->log)))
        sr_train_note_write_error(tr, "train.log");
    if (!tr->c->quiet)
        fprintf(stderr, "%s%s\n", tr->tty ? "\r\033[K" : "", line);
}

static sr_status write_config(struct trainer *tr)
{
    char tmp[4200], dst[4200];
    FILE *f;
    sr_status st;

    snprintf(dst, sizeof dst, "%s/config.yaml", tr->c->out);
    SR_TRY(sr_tmp_path(tmp, sizeof tmp, dst));
    f = fopen(tmp, "w");
    if (!f)
        return sr_error(SR_E_WRITE, "cannot create %s: %s", tmp,
                        strerror(errno));
    st = sr_train_config_write_yaml(tr->c, f);
    if (st != SR_OK) {
        fclose(f);
        unlink(tmp);
        return st;
    }
    return sr_text_commit(f, tmp, dst);
}

static int keep_metrics(const char *line, long epochs_done)
{
    int e;

    return sscanf(line, "{\"epoch\": %d", &e) == 1 && e <= epochs_done;
}

static int keep_steps(const char *line, long t)
{
    long s;

    return sscanf(line, "%ld", &s) == 1 && s <= t;
}

/* A resumed run continues its files: what a killed run logged after the
 * checkpoint goes. */
static sr_status trim_run_files(struct trainer *tr)
{
    long done = tr->p.complete ? tr->p.epoch : tr->p.epoch - 1;

    SR_TRY(sr_trim_lines(sr_train_path(tr, "metrics.jsonl"), 0, keep_metrics,
                         done));
    SR_TRY(sr_trim_lines(sr_train_path(tr, "steps.tsv"), 1, keep_steps, tr->t));
    /* epochs after the checkpoint's are written again */
    return sr_hist_trim(sr_train_path(tr, "histograms.h5"), (int)done);
}

sr_status sr_train_open_run_files(struct trainer *tr)
{
    /* what a run leaves besides its text logs; *.tmp and *.trim: files
     * a killed run was writing */
    static const char *stale[] = {"model.h5", "best.h5", "result.json",
                                  "histograms.h5", "metrics.jsonl",
                                  "steps.tsv"};
    static const char *partial[] = {"model.h5.tmp", "best.h5.tmp",
                                    "result.json.tmp",
                                    "histograms.h5.tmp", "config.yaml.tmp",
                                    "metrics.jsonl.trim", "steps.tsv.trim"};
    const char *mode = tr->resumed ? "a" : "w";
    struct stat sb;
    int had_steps;

    SR_TRY(sr_run_dir_prepare(tr->c->out, tr->c->force || tr->c->resume[0],
                              1));
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++)
        unlink(sr_train_path(tr, partial[i]));
    if (tr->resumed) {
        SR_TRY(trim_run_files(tr));
    } else {
        /* --force (or --resume auto with nothing to resume): an earlier
         * run's files, its checkpoints first, must not pass for this
         * run's, nor be resumed by a later --resume auto */
        SR_TRY(sr_ckpt_remove_all(tr->c->out));
        for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
            unlink(sr_train_path(tr, stale[i]));
    }
    tr->log = fopen(sr_train_path(tr, "train.log"), mode);
    SR_CHECK(tr->log, SR_E_WRITE, "cannot write %s: %s", tr->path,
             strerror(errno));
    tr->metrics = fopen(sr_train_path(tr, "metrics.jsonl"), mode);
    SR_CHECK(tr->metrics, SR_E_WRITE, "cannot write %s: %s", tr->path,
             strerror(errno));
    had_steps = stat(sr_train_path(tr, "steps.tsv"), &sb) == 0 && sb.st_size > 0;
    tr->steps = fopen(tr->path, mode);
    SR_CHECK(tr->steps, SR_E_WRITE, "cannot write %s: %s", tr->path,
             strerror(errno));
    if ((!tr->resumed || !had_steps) &&
        fputs("step\tepoch\tloss\tcorrect\trows\n", tr->steps) < 0)
        sr_train_note_write_error(tr, "steps.tsv");
    SR_TRY(sr_train_files_ok(tr));
    return write_config(tr);
}
