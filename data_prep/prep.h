/* sinreq-prep: internal interfaces shared by the subcommands.
 *
 * A converter describes its input as "parts" (one per output split), each a
 * source of N images with known labels and a fetch function that produces
 * image i as C x H x W uint8. prep_run() then holds out the validation split
 * (stratified, seeded), writes every part through the dataset writer in
 * batches (fetching with several threads), commits and prints the summary. */
#ifndef SINREQ_PREP_H
#define SINREQ_PREP_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/dataset.h"
#include "sinreq/status.h"


struct prep_opts {
    const char *input;
    const char *output;
    int force;
    int quiet;
    double val_fraction;   /* 0: none */
    uint64_t seed;
    int threads;
    int deflate;
    /* per subcommand */
    int skip_md5;          /* cifar10 */
    uint32_t size, resize; /* images */
    const char *extra;     /* svhn: "split", "train" or "skip" */
    const char *class_names; /* idx: preset or comma-separated list */
    int quick;             /* info: skip reading every chunk */
    /* set by prep_run when the output side failed (exit code 2) */
    int runtime_failure;
};

/* Produces image `index` of the source into `out` (C*H*W bytes, CHW).
 * Called from several threads at once: must not share mutable state. */
typedef sr_status (*prep_fetch_fn)(void *ctx, uint64_t index, uint8_t *out);

struct prep_part {
    const char *split;        /* output split: "train", "test", "val", "extra" */
    uint64_t count;
    const uint32_t *labels;   /* count labels, 0..K-1 */
    prep_fetch_fn fetch;
    void *ctx;
};

#define PREP_MAX_PARTS 6

struct prep_job {
    struct sr_ds_meta meta;
    int nparts;
    struct prep_part parts[PREP_MAX_PARTS];
};

/* Converts: val split, writing, commit, summary. */
sr_status prep_run(struct prep_job *job, struct prep_opts *o);

/* Marks a stratified random fraction of each class as held out:
 * is_val[i] = 1 for round(fraction * n_c) items of each class c, chosen by
 * a seeded Fisher-Yates shuffle per class (counter-based RNG, so the choice
 * depends only on (seed, class, labels)). */
sr_status prep_stratified_split(const uint32_t *labels, uint64_t n,
                                uint32_t num_classes, double fraction,
                                uint64_t seed, uint8_t *is_val);

/* Progress on stderr: a redrawn bar on a terminal, periodic lines otherwise. */
struct prep_progress {
    const char *label;
    uint64_t total, done;
    double t0, last;
    int tty, quiet;
    int last_pct;
};
void prep_progress_start(struct prep_progress *p, const char *label,
                         uint64_t total, int quiet);
void prep_progress_update(struct prep_progress *p, uint64_t done);
void prep_progress_end(struct prep_progress *p);
double prep_now(void);

/* Reads a whole plain file into memory. */
sr_status prep_read_file(const char *path, uint8_t **data, size_t *size);
int prep_is_dir(const char *path);
int prep_is_file(const char *path);
char *prep_join(const char *dir, const char *name);   /* malloc'd */

/* Resizes the shorter side of an interleaved w x h x c image to `resize`
 * (separable triangle filter, antialiased when shrinking) and writes the
 * centre crop x crop as planar CHW into `out`. crop <= resize. */
sr_status prep_resize_crop(const uint8_t *src, uint32_t w, uint32_t h,
                           uint32_t c, uint32_t resize, uint32_t crop,
                           uint8_t *out);

/* Subcommands. */
sr_status prep_cifar10(struct prep_opts *o);
sr_status prep_svhn(struct prep_opts *o);
sr_status prep_images(struct prep_opts *o);
sr_status prep_idx(struct prep_opts *o);
sr_status prep_info(struct prep_opts *o);

#endif
