/* src/train internals shared by config.c, sched.c, the trainer (trainer.h), eval.c. */
#ifndef SR_TRAIN_INTERNAL_H
#define SR_TRAIN_INTERNAL_H

#include "sinreq/loader.h"
#include "sinreq/quant.h"
#include "sinreq/train.h"

#define SR_TRAIN_MAX_HIST 64
#define SR_TRAIN_MAX_MILESTONES 32

/* Where a key was last set, for messages ("--bits", "cfg.yaml:3"). */
const char *sr_train_where(const sr_train_config *c, const char *key);

/* progress_every: a step count (*steps > 0) or seconds (*seconds > 0). */
sr_status sr_train_progress_every(const sr_train_config *c, long *steps,
                                  double *seconds);

/* layer_bits / quantize_layers / fp_layers as quant.h overrides. */
typedef struct sr_train_plan {
    sr_quant_override *ov;
    int n;
    char *buf;      /* the names point into it */
} sr_train_plan;
sr_status sr_train_plan_parse(const sr_train_config *c, sr_train_plan *p);
void sr_train_plan_free(sr_train_plan *p);

enum { SR_LR_MULTISTEP = 0, SR_LR_COSINE, SR_LR_CONSTANT, SR_LR_STEP };

/* Every enumerated setting, parsed. */
typedef struct sr_train_sched {
    sr_quantizer quantizer;
    sr_quant_reg reg;
    sr_quant_norm norm;
    sr_sinreq_domain domain;
    int quantize_ends;          /* -1 network rule, 0, 1 */
    sr_quant_sched lambda;
    sr_quant_waveq_sched waveq;
    int lr_kind;
    int milestones[SR_TRAIN_MAX_MILESTONES];
    int n_milestones;
} sr_train_sched;
sr_status sr_train_sched_parse(const sr_train_config *c, sr_train_sched *s);

/* The quant.h options of a configuration (train and info --config). */
void sr_train_quant_opts(const sr_train_config *c, const sr_train_sched *s,
                         const sr_train_plan *plan, sr_quant_opts *qo);

/* Learning rate at step t (epoch = t / steps_per_epoch) out of T: the
 * schedule's, times min(1, (t + 1) / W) during a warm-up of W =
 * round(warmup_epochs x steps_per_epoch) steps (at least 1). */
double sr_train_lr(const sr_train_config *c, const sr_train_sched *s, long t,
                   long steps_per_epoch, long T);

/* hist_epochs: explicit epochs (sorted, 0 = before training) and whether
 * "last" was named. */
sr_status sr_train_hist_epochs(const sr_train_config *c, int *epochs, int *n,
                               int *last);

/* The training augmentation for the network (augment: auto). */
sr_status sr_train_augment(const sr_train_config *c, sr_augment *a);
/* ImageNet-style networks crop to 224 and evaluate on a centre crop. */
int sr_train_is_imagenet(const char *net);

/* Model files <-> network (model_file.c, eval.c). */
#include "sinreq/ckpt_io.h"
#include "sinreq/model_io.h"
#include "sinreq/nn.h"
/* Where a network's tensors come from: a model file, a decoded export
 * (its weights Q(W) already) or a checkpoint (/model). */
typedef struct sr_train_src {
    const char *path;               /* for messages */
    const sr_model_meta *meta;
    sr_model_file *file;            /* a model file, or */
    const sr_export_decoded *dec;   /* a decoded export, or */
    sr_ckpt_file *ck;               /* a checkpoint */
} sr_train_src;
/* Any of the three, by its /@format (sr_train_src_open); owns what it
 * opened. */
typedef struct sr_train_src_file {
    sr_train_src s;
    sr_export_decoded dec;
    sr_model_meta ck_meta;
} sr_train_src_file;
sr_status sr_train_src_open(const char *path, sr_train_src_file *sf);
void sr_train_src_close(sr_train_src_file *sf);
/* "model", "export" or "checkpoint". */
const char *sr_train_src_kind(const sr_train_src *s);
/* The one check of a tensor's values, wherever it comes from: every value
 * finite, BN running variances >= 0; SR_E_FORMAT naming path, obj and the
 * first bad element (flat and as an index). */
sr_status sr_train_check_values(const char *path, const char *obj,
                                const sr_nn_tensor_info *ti, const float *v);
/* Tensor ti of net from s: present, at the network's full shape (not only
 * its element count), values checked (sr_train_check_values). */
sr_status sr_train_src_read(const sr_train_src *s, const sr_nn *net,
                            const sr_nn_tensor_info *ti, float *dst);
/* Every tensor of net (allocated) from s. */
sr_status sr_train_load_src(sr_nn *net, const sr_train_src *s);
/* Every tensor of the network from the --init file, by name and shape. */
sr_status sr_train_load_tensors(sr_nn *net, sr_model_file *f);
sr_status sr_train_save_model(sr_nn *net, const char *path,
                              const sr_model_meta *m);
/* Build the network s describes with its stored plan (not allocated): an
 * unknown net or quantizer, bits out of range, a plan that is not the
 * network's (layer names, count, what the planner resolves it to) are
 * SR_E_FORMAT/SR_E_BITS naming the file. eval and export both start here. */
sr_status sr_train_net_build(const sr_train_src *s, int batch, sr_nn **out);
/* ... and allocated on be with every tensor loaded (eval.c). */
sr_status sr_train_net_from_src(const sr_train_src *s, int batch,
                                sr_backend *be, sr_nn **out);

/* Evaluation statistics (eval_stats.c): r zeroed for classes classes. */
sr_status sr_eval_result_init(sr_eval_result *r, int classes);
/* r->class_names from name(src, k). */
sr_status sr_eval_result_names(sr_eval_result *r,
                               const char *(*name)(const void *, int),
                               const void *src);
/* Rows [0, nv) of logits [nv][classes] and their labels into the top-5
 * count and the confusion matrix. */
void sr_eval_result_add(sr_eval_result *r, const float *logits,
                        const uint32_t *y, int nv);

#endif

/* Checkpoint bookkeeping (ckpt.c). */
typedef struct sr_ckpt_entry {
    char path[4500];
    int epoch;
    long step;      /* global step */
} sr_ckpt_entry;
/* RUN_DIR/ckpt/ckpt-eEEEE-sSSSSSSSSS.h5, oldest first. */
sr_status sr_ckpt_list(const char *run_dir, sr_ckpt_entry **out, int *n);
/* Delete all but the newest keep. */
void sr_ckpt_prune(const char *run_dir, int keep);
/* Delete ckpt-*.tmp left by a killed writer. */
void sr_ckpt_remove_tmp(const char *run_dir);
/* Remove RUN_DIR/ckpt and every checkpoint in it (a new run over an old
 * one: --force). */
sr_status sr_ckpt_remove_all(const char *run_dir);
int sr_ckpt_key_may_differ(const char *key);
/* The resolved config as YAML text (malloc'd; NULL: out of memory). */
char *sr_train_config_text(const sr_train_config *c);
/* SR_E_CONFIG naming every key that differs (keys that may differ
 * skipped); what names the old config's source for the message. */
sr_status sr_train_config_compare(const char *old_text, const char *now_text,
                                  const char *what);
sr_status sr_trim_lines(const char *path, int keep_first,
                        int (*keep)(const char *line, long arg), long arg);

/* Data parallelism (rank_setup.c). */
#include "sinreq/dist.h"
/* CPU threads of this rank: threads when > 0; with several ranks on the
 * node and threads 0, the cores of this rank's affinity mask, divided
 * among the node's ranks when the mask is the whole node. */
int sr_train_rank_threads(const sr_dist *d, int threads);
/* LP_NUM_THREADS (lavapipe) = threads, unless already set. */
void sr_train_rank_lp_threads(int threads);
/* Vulkan device index (as text) for this rank: the local rank modulo the
 * number of usable devices of the best type; "" when there are none. */
sr_status sr_train_rank_device(const sr_dist *d, char *out, size_t n);
/* The device index sr_train_rank_device takes for local rank `local_rank`
 * from a device list (sr_backend_list_devices' text); -1 when none. */
int sr_train_pick_device(const char *list, int local_rank);
