/* --resume: which checkpoint to continue from; with --resume auto, the
 * newest that loads, each one passed over reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

/* Open and fully read-check one candidate. */
static sr_status try_ckpt(struct trainer *tr, const char *path)
{
    sr_ckpt_file *f = NULL;
    char *old = NULL;
    sr_status st = sr_ckpt_open(path, &f);

    if (st == SR_OK)
        st = sr_ckpt_verify(f);
    if (st == SR_OK)
        st = sr_ckpt_get_str(f, "", "config", &old);
    if (st == SR_OK) {
        /* an incompatible config is the user's error, not a bad file */
        st = sr_train_config_compare(old, tr->cfg_text, path);
        free(old);
        if (st != SR_OK) {
            sr_ckpt_close(f);
            return st == SR_E_CONFIG ? SR_E_ARG : st;
        }
        tr->ck = f;
        return SR_OK;
    }
    sr_ckpt_close(f);
    return st;
}

/* --resume auto: a checkpoint that failed to load, reported now on stderr
 * and again in train.log once it is open. */
static void skip_ckpt(struct trainer *tr, const char *path, const char *why)
{
    size_t old = tr->skipped ? strlen(tr->skipped) : 0;
    size_t add = strlen(path) + strlen(why) + 4;
    char *p = realloc(tr->skipped, old + add);

    fprintf(stderr, "sinreq train: skipping checkpoint %s: %s\n", path, why);
    tr->n_skipped++;
    if (p) {
        snprintf(p + old, add, "%s: %s\n", path, why);
        tr->skipped = p;
    }
}

/* --resume auto: from tr->cand down, the newest candidate whose file opens,
 * verifies and has this run's config becomes tr->ck. */
static sr_status next_ckpt(struct trainer *tr)
{
    for (; tr->cand >= 0; tr->cand--) {
        const char *path = tr->cands[tr->cand].path;
        sr_status st = try_ckpt(tr, path);
        if (st == SR_OK)
            return SR_OK;
        if (st == SR_E_ARG)
            return SR_E_CONFIG;
        skip_ckpt(tr, path, sr_last_error());
    }
    return SR_OK;
}

static sr_status none_loads(struct trainer *tr)
{
    return sr_error(SR_E_FORMAT, "--resume auto: none of the %d checkpoint(s) "
                    "in %s/ckpt loads (each reason above); nothing is "
                    "overwritten: move them away or use --force to start "
                    "over", tr->ncand, tr->c->out);
}

sr_status sr_train_find_resume(struct trainer *tr)
{
    const sr_train_config *c = tr->c;
    sr_status st;

    if (strcmp(c->resume, "auto") != 0) {
        st = try_ckpt(tr, c->resume);
        return st == SR_E_ARG ? SR_E_CONFIG : st;
    }
    SR_TRY(sr_ckpt_list(c->out, &tr->cands, &tr->ncand));
    tr->cand = tr->ncand - 1;
    SR_TRY(next_ckpt(tr));
    if (!tr->ck && tr->ncand > 0)
        return none_loads(tr);
    if (!tr->ck) {
        /* nothing to resume: a fresh start, if the directory's config (if
         * any) is this one */
        char cfg[4200], *old = NULL;
        FILE *f;
        snprintf(cfg, sizeof cfg, "%s/config.yaml", c->out);
        f = fopen(cfg, "r");
        if (f) {
            size_t len = 0;
            FILE *m = open_memstream(&old, &len);
            int ch;
            while (m && (ch = fgetc(f)) != EOF)
                fputc(ch, m);
            fclose(f);
            if (m)
                fclose(m);
            st = old ? sr_train_config_compare(old, tr->cfg_text, cfg)
                     : SR_OK;
            free(old);
            SR_TRY(st);
        }
    }
    return SR_OK;
}

/* Restore from tr->ck; with --resume auto, a checkpoint that fails at any
 * point of loading is reported and the next older one is tried (every
 * tensor, the plan and the progress are set again by the next load). */
sr_status sr_train_resume_load(struct trainer *tr)
{
    for (;;) {
        sr_status st = sr_train_load_ckpt(tr);
        if (st == SR_OK || strcmp(tr->c->resume, "auto") != 0 ||
            st == SR_E_NOMEM || st == SR_E_DEVICE || st == SR_E_INTERNAL)
            return st;
        skip_ckpt(tr, sr_ckpt_path(tr->ck), sr_last_error());
        sr_ckpt_close(tr->ck);
        tr->ck = NULL;
        tr->cand--;
        SR_TRY(next_ckpt(tr));
        if (!tr->ck)
            return none_loads(tr);
    }
}
