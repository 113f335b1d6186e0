/* sinreq: the training data loader (src/data).
 *
 * Reads one split of a sinreq HDF5 dataset (include/sinreq/dataset.h) and
 * produces float NCHW batches, normalised, with the augmentation the network
 * family uses. Work happens on one background thread that prepares the next
 * batches while the current step runs.
 *
 * Determinism: the per-epoch order is a pure function of (seed, epoch), and
 * every random choice of the augmentation (crop offsets, flips, resized-crop
 * boxes) a pure function of (seed, epoch, sample index) through the
 * counter-based RNG (include/sinreq/rng.h). The batches are therefore the same
 * whatever the thread timing, and a resumed run can seek to (epoch, batch)
 * and continue exactly.
 *
 * Sharding (data parallelism): with nranks > 1 each rank reads its share of
 * the same global per-epoch order (global batch = batch * nranks; rank r takes
 * rows [r*batch, (r+1)*batch) of every global batch); see docs/data.md for the
 * tail rule.
 */
#ifndef SINREQ_LOADER_H
#define SINREQ_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

typedef struct sr_loader sr_loader;

typedef enum sr_augment {
    SR_AUG_NONE = 0,  /* SVHN, evaluation */
    SR_AUG_CIFAR,     /* 4-pixel zero-padded random crop + horizontal flip */
    SR_AUG_IMAGENET,  /* train: random resized crop to `crop` + flip;
                         eval: resize shorter side to crop*256/224 (when the
                         stored images are larger) + centre crop `crop` */
    SR_AUG_CENTER     /* eval for ImageNet-style data: centre crop `crop` */
} sr_augment;

typedef struct sr_loader_opts {
    const char *path;    /* dataset file */
    const char *split;   /* "train", "test", "val" */
    int batch;           /* per rank */
    int shuffle;         /* 1: seeded per-epoch permutation */
    int drop_last;       /* 1: skip a final partial global batch */
    sr_augment augment;
    int crop;            /* output H = W for IMAGENET/CENTER; 0 = stored size */
    uint32_t seed;
    int rank, nranks;    /* 0, 1 without MPI */
    /* Per-channel normalisation x = (pixel/255 - mean) / std. All zero:
     * computed from the file's "train" split (documented in docs/data.md). */
    float mean[3], std[3];
    /* Short experiments: use only `limit` records of the split (0: all).
     * They are the first `limit` of a fixed permutation of the records (the
     * same for every seed, rank count and run; a smaller limit's records
     * are part of a larger one's), read in file order. A split sorted by
     * class still gives a sample of every class. */
    uint64_t limit;
} sr_loader_opts;

sr_status sr_loader_open(const sr_loader_opts *opts, sr_loader **out);
void sr_loader_free(sr_loader *ld);   /* NULL is a no-op; any time */

/* A split of at most this many image bytes is read whole at open (CIFAR-10
 * train: 150 MiB); a larger one is read on demand in chunk-aligned blocks
 * through a small cache. Both give the same batches. */
#define SR_LOADER_MEM_CAP_DEFAULT (1ull << 30)

/* sr_loader_open with another cap (0 forces the block path; tests). */
sr_status sr_loader_open_cap(const sr_loader_opts *opts, uint64_t mem_cap,
                             sr_loader **out);

/* Output batch geometry and dataset facts. */
void sr_loader_shape(const sr_loader *ld, int *c, int *h, int *w);
int sr_loader_classes(const sr_loader *ld);
const char *sr_loader_class_name(const sr_loader *ld, int i);
uint64_t sr_loader_samples(const sr_loader *ld);      /* used (limit) */
uint64_t sr_loader_records(const sr_loader *ld);      /* in the split */
int sr_loader_batches_per_epoch(const sr_loader *ld); /* for this rank */
void sr_loader_norm(const sr_loader *ld, float mean[3], float std[3]);

/* Start (or restart) epoch `epoch` at batch `batch_index` (0 = beginning).
 * Positioning anywhere is what exact resume needs. */
sr_status sr_loader_seek(sr_loader *ld, int epoch, int batch_index);

/* Next batch of this epoch: x gets batch*C*H*W floats, labels batch words.
 * *n_valid is the number of real rows (< batch only for a final partial
 * batch, whose remaining rows are zero-filled with label 0); 0 at the end of
 * the epoch. */
sr_status sr_loader_next(sr_loader *ld, float *x, uint32_t *labels,
                         int *n_valid);

#endif
