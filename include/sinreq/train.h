/* sinreq: the trainer (src/train): configuration, the training loop, the
 * run directory. docs/usage.md documents every key.
 *
 * A configuration is a flat table of keys. Each key is both a YAML key
 * (config file, snake_case) and a command-line flag (--kebab-case); the
 * file is applied first, flags override it, and an unknown key or flag is an
 * error naming where it came from. The resolved configuration, written as
 * config.yaml in the run directory, loads back with --config. */
#ifndef SINREQ_TRAIN_H
#define SINREQ_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "sinreq/status.h"

/* Exit codes (docs/usage.md, Exit codes). */
#define SR_EXIT_OK 0
#define SR_EXIT_USAGE 1
#define SR_EXIT_RUNTIME 2
/* A signal (SIGTERM, SIGUSR1) stopped the run after it wrote a checkpoint:
 * requeue the job and rerun it with --resume auto. */
#define SR_EXIT_REQUEUE 3

typedef struct sr_train_config {
    /* network and data */
    char *net, *data, *augment;
    int width_mult, classes;
    /* quantization */
    char *quantizer, *layer_bits, *quantize_layers, *fp_layers, *quantize_ends;
    int bits, act_bits;
    /* SinReQ */
    double sinreq_lambda, lambda_start, lambda_end, lambda_width;
    char *lambda_schedule, *sinreq_norm, *sinreq_domain;
    /* WaveQ */
    int waveq;
    double waveq_scale, waveq_c, waveq_start, waveq_stop, waveq_width,
        waveq_beta_lr, waveq_beta_init;
    /* optimisation */
    int epochs, batch;
    double lr, lr_gamma, momentum, weight_decay;
    char *lr_schedule, *lr_milestones;
    int lr_step_epochs;     /* lr_schedule step: epochs between decays */
    int nesterov;
    /* warm-up epochs (fractions allowed; 0: none), training loss's label
     * smoothing eps, gradient clipping's global L2 norm (0: off) */
    double warmup_epochs, label_smoothing, clip_grad_norm;
    /* execution and output */
    char *backend, *device, *out, *init, *hist_epochs;
    int threads, val, force, quiet, capture, hist_bins;
    long seed, max_steps;
    /* data parallelism: gradient bucket size in MiB (docs/distributed.md) */
    double bucket_mb;
    /* checkpoints: RUN_DIR/ckpt/, every checkpoint_interval steps (0: at
     * epoch ends only; epoch ends always), the newest keep_last kept
     * (SR_KEEP_ALL: every one; 0: the newest while the run goes on, none
     * after it finished);
     * resume: "", "auto" or a checkpoint file */
    char *resume;
    long checkpoint_interval;
    int keep_last;
    /* guards: a step loss above diverge_factor x ln(classes), a weight
     * above max_abs_weight at a checkpoint, a rank silent for rank_timeout
     * seconds end the run with SR_EXIT_RUNTIME (0: off) */
    double diverge_factor, max_abs_weight, rank_timeout;
    /* short experiments: the first N records of a fixed, seed-independent
     * permutation of each split (0: all); evaluate every eval_every epochs
     * and after the last (0: after the last only); quick: a smoke-run
     * preset for the keys left at their defaults (sr_train_config_presets) */
    long train_limit, test_limit, val_limit;
    int eval_every, quick;
    /* progress lines off a terminal: "N" steps or "Ns" seconds */
    char *progress_every;
    /* where each key was last set ("default", "--bits", "FILE:LINE"),
     * indexed like the key table; owned */
    char **where;
} sr_train_config;

/* keep_last: every checkpoint ("all") */
#define SR_KEEP_ALL (-1)

void sr_train_config_default(sr_train_config *c);
void sr_train_config_free(sr_train_config *c);

/* Set key (snake_case or kebab-case) from text; where names the source for
 * messages. Unknown key or bad value: SR_E_CONFIG. */
sr_status sr_train_config_set(sr_train_config *c, const char *key,
                              const char *value, const char *where);
/* Apply a YAML file (a mapping of keys; lists become comma lists,
 * layer_bits may be a mapping NAME: K). */
sr_status sr_train_config_load_yaml(sr_train_config *c, const char *path);
/* Parse `sinreq train` arguments: --config FILE first, then every flag. */
sr_status sr_train_config_from_args(sr_train_config *c, int argc, char **argv);
/* quick: the smoke-run values for the keys still at their defaults, each
 * then set "by --quick" (sr_train_where); sr_train_config_from_args applies
 * it last. */
sr_status sr_train_config_presets(sr_train_config *c);
/* Check every value (names, ranges, lists) before anything is created. */
sr_status sr_train_config_check(const sr_train_config *c);
/* Every key, YAML, loadable with --config. */
sr_status sr_train_config_write_yaml(const sr_train_config *c, FILE *f);
/* The flag list for --help. */
void sr_train_config_help(FILE *f);

/* Run a training as configured; cmdline is recorded in result.json. */
sr_status sr_train_run(const sr_train_config *c, const char *cmdline);
/* As sr_train_run; *requeue (may be NULL) becomes 1 when SIGTERM or SIGUSR1
 * stopped the run after a checkpoint (exit with SR_EXIT_REQUEUE). The
 * handlers are installed for the run only (sigaction; they set a flag). */
sr_status sr_train_run_ex(const sr_train_config *c, const char *cmdline,
                          int *requeue);
/* As sr_train_run_ex, as one rank of a data-parallel job (sinreq/dist.h,
 * docs/distributed.md): d from sr_dist_init, NULL for a single process
 * without MPI. Every rank calls it with the same configuration; rank 0
 * alone writes the run directory. A failure seen by one rank only ends the
 * job (sr_dist_abort); otherwise every rank returns the same status. */
typedef struct sr_dist sr_dist;
sr_status sr_train_run_dist(const sr_train_config *c, const char *cmdline,
                            int *requeue, sr_dist *d);

/* `sinreq export`: model file -> really quantized weights (ckpt_io.h).
 * Overwrites out and writes full-precision models (all float32). */
sr_status sr_train_export(const char *model, const char *out);

typedef struct sr_export_opts {
    int force;       /* replace an existing out (else SR_E_ARG) */
    int allow_float; /* write a model without quantized layers (else SR_E_ARG) */
} sr_export_opts;

/* What an export wrote: layer counts, quantized layers per bit width, and
 * the file's size in bytes. */
typedef struct sr_export_summary {
    int quantized, floats;
    int layers_by_bits[33];
    long long bytes;
} sr_export_summary;

/* sr_train_export with its refusals chosen by o; sum (may be NULL) is
 * filled on success. */
sr_status sr_train_export_ex(const char *model, const char *out,
                             const sr_export_opts *o, sr_export_summary *sum);

/* Evaluate a model file, an export or a checkpoint on a dataset split;
 * prints nothing. */
typedef struct sr_eval_opts {
    const char *model, *data, *split, *backend, *device;
    int batch, threads;
    const char *dump_logits;  /* non-NULL: write every image's logits there
                                 (sr_logits_save) */
} sr_eval_opts;
sr_status sr_train_eval(const sr_eval_opts *o, double *loss, double *acc,
                        long *n);

/* What papers report of an evaluation: top-1 and top-5 accuracy, accuracy
 * per class and the confusion matrix (top-1 predictions). Top-5 counts an
 * image whose label's logit has fewer than 5 larger ones (all images when
 * there are at most 5 classes); the predicted class is the first largest
 * logit, as the top-1 count of the backends. */
typedef struct sr_eval_result {
    long n;
    double loss, acc, top5;     /* acc: top-1 from the backend's count */
    long correct5;
    int classes;
    char **class_names;         /* classes names (owned) or NULL */
    double *confusion;          /* [classes][classes] image counts, row: the
                                   true class, column: the prediction */
} sr_eval_result;
/* sr_train_eval with the whole result (free it with sr_eval_result_free).
 * The model may be a model file, an export or a checkpoint. */
sr_status sr_train_eval_ex(const sr_eval_opts *o, sr_eval_result *r);
void sr_eval_result_free(sr_eval_result *r);
/* Images of class k (a row of the confusion matrix) and its top-1. */
double sr_eval_result_class_count(const sr_eval_result *r, int k);
double sr_eval_result_class_acc(const sr_eval_result *r, int k);
/* A per-class table and (at most 20 classes) the confusion matrix, for
 * people. */
void sr_eval_result_print(const sr_eval_result *r, FILE *f);
/* The result as a JSON object's members (no braces): "images", "loss",
 * "top1", "top5", "classes", "per_class", "confusion". */
void sr_eval_result_json(const sr_eval_result *r, FILE *f);
/* A JSON file {"model", "data", "split", members above}, written whole. */
sr_status sr_eval_result_write(const sr_eval_opts *o,
                               const sr_eval_result *r, const char *path);

/* The quantization plan a configuration would apply, layer by layer
 * (bits, quantizer, SinReQ on/off, lambda), without training: `sinreq info
 * --config`. */
sr_status sr_train_plan_print(const sr_train_config *c, FILE *f);

/* Loads a model file as eval would (network, plan, every tensor) and
 * discards it: `sinreq info` describes only files eval can use. */
sr_status sr_train_check_model(const char *path);

/* A built network as JSON (format "sinreq-graph", src/train/graph_json.c):
 * its layers in order (op, inputs by layer name, null for the images,
 * output shape, operator parameters, quantization plan of conv/linear
 * layers) and its tensors in state_dict order with their shapes. */
typedef struct sr_nn sr_nn;
sr_status sr_train_graph_json(const sr_nn *net, int in_c, int in_h, int in_w,
                              FILE *f);
/* The network a model file or an export describes, as above. */
sr_status sr_train_model_graph(const char *path, FILE *f);

/* Exit code for a status: 1 for the user's input, 2 for runtime failures. */
int sr_train_exit_code(sr_status st);

#endif
