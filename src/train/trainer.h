/* The trainer's state and the functions its files share (train_run.c,
 * train_loop.c, train_step.c, run_files.c, metrics.c, histograms.c,
 * model_file.c, ckpt_state.c, resume.c, divergence.c, stop_signal.c). */
#ifndef SR_TRAINER_H
#define SR_TRAINER_H

#include <signal.h>
#include <stdio.h>

#include "sinreq/backend.h"
#include "sinreq/ckpt_io.h"
#include "sinreq/dist.h"
#include "sinreq/loader.h"
#include "sinreq/nn.h"
#include "sinreq/version.h"
#include "train_internal.h"

/* A quantized layer as the run reports it. */
struct qlayer {
    const char *name;
    int layer;          /* index in the graph */
    int bits;
    float reg, qerr, beta;
};

/* What a checkpoint carries besides the network: the position and the
 * running sums that make the metrics of a resumed run exact. */
struct progress {
    int epoch;          /* 1-based epoch in progress (or just finished) */
    long step;          /* steps done in it */
    int complete;       /* it was evaluated and logged */
    double sum;         /* sum of loss * rows this epoch */
    long right, seen;
    double fin_acc, fin_loss, val_acc, fin_top5;
    /* the best epoch, chosen on the validation split when there is one,
     * else on the test split: its accuracy there, its test accuracy and
     * top-5; best.h5 holds its weights */
    double best, best_test, best_top5;
    int best_epoch;
    double lr, lam;
    double first_loss;  /* the run's first step's loss (divergence guard);
                           0: not yet */
    double gnorm_sum;   /* --clip-grad-norm: this epoch's gradient norms */
    long clipped;       /* and the steps it scaled down */
};

/* A backward segment: backward down to `layer`, after which gradient
 * buckets [0, ready) are final. */
struct seg {
    int layer;
    int ready;
};

struct trainer {
    const sr_train_config *c;
    struct progress p;
    int resumed, requeue;
    sr_ckpt_file *ck;   /* the checkpoint to resume from */
    char *cfg_text;     /* resolved config as YAML */
    double test_sleep;  /* SINREQ_TEST_STEP_SLEEP: seconds after each step
                           (tests kill a run at a step of their choice) */
    /* --resume auto: the checkpoints, oldest first; cand is the one tried
     * now; those that failed to load are passed over, each reported */
    sr_ckpt_entry *cands;
    int ncand, cand;
    int n_skipped;
    char *skipped;      /* "PATH: reason" lines, for train.log */
    sr_train_sched s;
    sr_train_plan plan;
    sr_augment aug;
    sr_model_file *init;
    sr_loader *train, *test, *val;
    sr_backend *be;
    char rank_device[32];  /* the device index this rank picked; "" none */
    sr_nn *net;
    sr_program *prog;
    sr_eval_result fin_eval;    /* the last test evaluation, in full */
    int nq;
    struct qlayer *q;
    float *x;
    uint32_t *y;
    FILE *log, *metrics;
    FILE *steps;  /* steps.tsv: the loss of every step */
    char path[4096 + 32];
    int tty;
    /* progress lines: every progress_steps steps or progress_s seconds
     * (progress_every); the last one's time */
    long progress_steps;
    double progress_s, progress_last;
    long steps_per_epoch, T, t;
    double t0;
    int hist[SR_TRAIN_MAX_HIST], n_hist, hist_last;
    /* data parallelism (docs/distributed.md); one rank: d is a local
     * rank 0 of 1 and every path below is the single-process one */
    sr_dist *d;
    int rank, nranks;
    int root;               /* rank 0: the only one that writes files */
    sr_program *prog_upd;   /* nranks > 1: the update (prog unused) */
    sr_dist_grad *grad;     /* nranks > 1: gradient averaging */
    /* nranks > 1: backward in segments that end where gradient buckets
     * complete (train_step.c); seg_prog[k] is segment k captured, the first
     * with forward and loss. One segment: the serial schedule. */
    struct seg *seg;
    int nseg;
    sr_program **seg_prog;
    /* this epoch's step timings (metrics.jsonl) */
    struct ep_times {
        long steps;
        double step_s, wait_s, copy_s, progress_s, early;
        double cpu_s;   /* the loop's CPU time, summed over ranks */
    } et;
    int stop;               /* a stop signal, agreed by every rank */
    int stop_sig;           /* its number; -1: seen by another rank */
    int bn_synced;          /* BN running statistics averaged since the
                               last step */
    int agreed;             /* the error being returned is every rank's */
    long ck_nranks;         /* ranks of the run that wrote tr->ck */
    char ck_last[4300];     /* nranks > 1, not rank 0: the checkpoint rank 0
                               is writing; good once the next step's
                               collectives show rank 0 got past it */
    /* the first failed write to train.log, metrics.jsonl or steps.tsv:
     * the file and errno, reported by sr_train_files_ok */
    const char *werr_file;
    int werr;
};

/* ---- the loop (train_loop.c) ---- */
/* From the position in tr->p to the last epoch (or a stop), then the
 * model file and result.json. */
sr_status sr_train_loop(struct trainer *tr, const char *cmdline);

/* ---- one step and its data parallelism (train_step.c) ---- */
/* The batch in tr->x/tr->y with nv valid rows through forward, backward and
 * the update, on every rank. v gets the global sums of loss x rows, correct
 * rows, rows, and whether a rank saw a stop signal. */
sr_status sr_train_step(struct trainer *tr, int nv, double v[4]);
/* Capture the step as program(s), when the backend can replay them. */
sr_status sr_train_capture(struct trainer *tr);
void sr_train_free_progs(struct trainer *tr);
/* WaveQ: each layer takes ceil(beta) bits; a change recaptures the step. */
sr_status sr_train_waveq_bits(struct trainer *tr);
/* nranks > 1: BN running statistics averaged over the ranks (no-op when
 * already done since the last step). */
sr_status sr_train_sync_bn(struct trainer *tr);
/* nranks > 1: rank 0's state to every rank after set-up. */
sr_status sr_train_bcast_state(struct trainer *tr);
/* nranks > 1: gradient buckets and the backward segments that fill them. */
sr_status sr_train_grad_plan(struct trainer *tr);

/* ---- the run directory's text files (run_files.c) ---- */
/* tr->path := OUT/name (valid until the next call). */
const char *sr_train_path(struct trainer *tr, const char *name);
/* Keep the first failed write (file and errno); sr_train_files_ok reports
 * it. */
void sr_train_note_write_error(struct trainer *tr, const char *file);
/* Flush train.log, metrics.jsonl and steps.tsv; SR_E_WRITE naming the
 * file and the reason when a write to one of them failed. */
sr_status sr_train_files_ok(struct trainer *tr);
/* A line for the human log (rank 0), echoed to stderr unless quiet. */
void sr_train_say(struct trainer *tr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Clear what a new run must not inherit (or trim what a resumed one
 * continues), open the text files, write config.yaml. */
sr_status sr_train_open_run_files(struct trainer *tr);

/* ---- metrics.jsonl, result.json and the progress line (metrics.c) ---- */
void sr_train_show_progress(struct trainer *tr, int epoch, double loss,
                            double acc, double ips);
/* T, or --max-steps when it ends the run sooner. */
long sr_train_total_steps(const struct trainer *tr);
/* An epoch's line of metrics.jsonl. */
typedef struct sr_train_epoch_metrics {
    int epoch;
    long steps;             /* global steps done */
    double lr, lam;
    double train_loss, train_acc, test_loss, test_acc, val_loss, val_acc;
    double ips;             /* images per second */
} sr_train_epoch_metrics;
sr_status sr_train_metrics_line(struct trainer *tr,
                                const sr_train_epoch_metrics *m);
sr_status sr_train_write_result(struct trainer *tr, int epochs_done,
                                const char *cmdline);

/* ---- histograms.h5 (histograms.c) ---- */
int sr_train_hist_wanted(struct trainer *tr, int epoch, int last);
sr_status sr_train_write_hist(struct trainer *tr, int epoch);

/* ---- model.h5 (model_file.c) ---- */
/* Grows a scratch array of floats to at least n. */
sr_status sr_train_grow_floats(float **buf, size_t *cap, size_t n);
/* The run's model file metadata (m->layers malloc'd). */
sr_status sr_train_model_meta(struct trainer *tr, sr_model_meta *m);

/* ---- checkpoints (ckpt_state.c, resume.c) ---- */
/* Check the weights, then (rank 0) write RUN_DIR/ckpt/ckpt-eE-sS.h5. */
sr_status sr_train_write_ckpt(struct trainer *tr);
/* Restore the network and the progress from tr->ck (after the network is
 * built). */
sr_status sr_train_load_ckpt(struct trainer *tr);
/* --resume: pick the checkpoint (before anything is built). */
sr_status sr_train_find_resume(struct trainer *tr);
/* Restore from tr->ck; --resume auto falls back to older ones. */
sr_status sr_train_resume_load(struct trainer *tr);

/* ---- divergence guards (divergence.c) ---- */
sr_status sr_train_check_weights(struct trainer *tr);
sr_status sr_train_check_loss(struct trainer *tr, double loss, int epoch);

/* ---- stop signals (stop_signal.c) ---- */
/* SIGTERM / SIGUSR1: the only state the handler touches. */
extern volatile sig_atomic_t sr_train_stop_signal;
void sr_train_on_stop_signal(int sig);
/* A stop was asked for (agreed by every rank when there are several). */
int sr_train_stopping(struct trainer *tr);
/* nranks > 1: agree on a stop signal at an epoch end. */
sr_status sr_train_stop_agree(struct trainer *tr);
/* The signal's name for the log. */
const char *sr_train_stop_name(struct trainer *tr);

#endif
