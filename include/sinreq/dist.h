/* sinreq: data parallelism over MPI (src/dist, the only place with mpi.h).
 *
 * One process per device. A process started by mpirun (Open MPI, MPICH) or
 * srun (Slurm with --mpi=pmix / pmi2) is one rank of the job; a process
 * started alone is rank 0 of 1 and, by default, does not initialise MPI at
 * all (every call below then works locally: broadcasts and reductions are
 * no-ops, averages divide by 1). See docs/distributed.md.
 *
 *   SINREQ_DIST=auto (default)  MPI_Init only when a launcher is detected
 *                               (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK,
 *                               PMI_SIZE, MV2_COMM_WORLD_SIZE, or
 *                               SLURM_STEP_NUM_TASKS > 1)
 *   SINREQ_DIST=mpi             always MPI_Init (a lone process becomes an
 *                               Open MPI singleton, rank 0 of 1)
 *   SINREQ_DIST=none            never; rank 0 of 1 (an error if a launcher
 *                               started several tasks)
 *
 * Collectives must be called by every rank in the same order with the same
 * sizes; sizes are checked where a mismatch would otherwise corrupt data or
 * hang (broadcast and average of buffer ranges, gradient plans).
 *
 * Determinism: every reduction gives bit-identical results on every rank
 * and, for a given number of ranks and message sizes, from run to run (see
 * docs/distributed.md for why MPI_Allreduce qualifies, and for the
 * SR_DIST_REDUCE_EXACT mode, reduce to rank 0 + broadcast, that does not
 * depend on the MPI library's algorithm choice).
 *
 * Faults: a rank that dies (SIGKILL, crash) makes mpirun / srun end the
 * whole job with a non-zero status; no rank waits forever in a collective.
 * An MPI error inside these calls aborts the job (MPI_ERRORS_ARE_FATAL):
 * a collective that failed on one rank cannot be recovered by the others.
 * With the watchdog on (sr_dist_set_timeout), a rank that waits longer than
 * the timeout for the others in a collective (one stopped, hung, stuck in
 * I/O) ends the job: it prints which rank(s) did not come, the step and the
 * last good checkpoint (sr_dist_set_context), tells the other waiting ranks
 * to do the same, and calls MPI_Abort with SR_DIST_EXIT_TIMEOUT. A rank on
 * the same node that died is named at once (its /proc entry is gone).
 */
#ifndef SINREQ_DIST_H
#define SINREQ_DIST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sinreq/backend.h"
#include "sinreq/status.h"

typedef struct sr_dist sr_dist;
typedef struct sr_dist_grad sr_dist_grad;

/* A range of 32-bit float words of a backend buffer. */
typedef struct sr_dist_range {
    sr_buf *buf;
    size_t off;    /* words */
    size_t words;
} sr_dist_range;

typedef enum sr_dist_mode {
    SR_DIST_AUTO = 0,   /* SINREQ_DIST, else detect the launcher */
    SR_DIST_MPI,        /* always initialise MPI */
    SR_DIST_NONE        /* never: a single process */
} sr_dist_mode;

typedef enum sr_dist_reduce {
    SR_DIST_REDUCE_ALLREDUCE = 0, /* MPI_Allreduce / MPI_Iallreduce */
    SR_DIST_REDUCE_EXACT          /* MPI_Reduce to 0 + MPI_Bcast */
} sr_dist_reduce;

typedef struct sr_dist_opts {
    sr_dist_mode mode;     /* SR_DIST_AUTO; env SINREQ_DIST overrides AUTO */
    sr_dist_reduce reduce; /* env SINREQ_DIST_REDUCE=exact overrides */
    int verbose;           /* one line per rank to stderr at init;
                              env SINREQ_DIST_VERBOSE=1 also turns it on */
} sr_dist_opts;
void sr_dist_opts_default(sr_dist_opts *o);

/* ---- Lifecycle ---- */

/* argc/argv may be NULL. Once per process: MPI cannot be initialised again
 * after sr_dist_finalize (a second init is SR_E_ARG). */
sr_status sr_dist_init(int *argc, char ***argv, const sr_dist_opts *opts,
                       sr_dist **out);
/* MPI_Finalize (when initialised); NULL is a no-op. */
void sr_dist_finalize(sr_dist *d);
/* End every rank of the job now with `code` (MPI_Abort; exit() without MPI).
 * For a fatal error seen by one rank only. */
void sr_dist_abort(sr_dist *d, int code);

/* ---- Watchdog ----
 *
 * seconds > 0: every wait for the other ranks in a collective (all the
 * calls below) polls instead of blocking, and a wait longer than `seconds`
 * ends the job (exit status SR_DIST_EXIT_TIMEOUT) with a message on every
 * waiting rank naming the rank(s) that did not come. 0 (the default): off,
 * plain blocking waits. Local to the rank; results do not depend on it. */
#define SR_DIST_EXIT_TIMEOUT 2
sr_status sr_dist_set_timeout(sr_dist *d, double seconds);
/* For the watchdog's message: the global step in progress and the last
 * good checkpoint (NULL: unchanged; "" none yet). Cheap: call every step. */
void sr_dist_set_context(sr_dist *d, long step, const char *ckpt);
/* A flag a signal handler sets (SIGTERM from mpirun when another rank
 * died): a wait that goes on 0.5 s after it is set says which rank(s) it
 * still waits for, before the launcher's SIGKILL. NULL: none. */
void sr_dist_set_stop_flag(sr_dist *d, const volatile sig_atomic_t *flag);

int sr_dist_rank(const sr_dist *d);
int sr_dist_size(const sr_dist *d);
int sr_dist_local_rank(const sr_dist *d);  /* among ranks on this node */
int sr_dist_local_size(const sr_dist *d);
int sr_dist_uses_mpi(const sr_dist *d);    /* 1 when MPI was initialised */
/* Where the local rank came from: "OMPI_COMM_WORLD_LOCAL_RANK",
 * "SLURM_LOCALID", "MPI_COMM_TYPE_SHARED" or "single". */
const char *sr_dist_local_rank_source(const sr_dist *d);
/* This process's node: its host name (gethostname, at most 63 bytes);
 * what the logs and the watchdog's messages call the node. */
const char *sr_dist_node(const sr_dist *d);

/* Device index for this rank among `ndevices` devices of the node:
 * local_rank % ndevices (-1 when ndevices < 1). More local ranks than
 * devices share devices (allowed: lavapipe, tests). */
int sr_dist_device_index(const sr_dist *d, int ndevices);

/* ---- Collectives on host data ---- */

sr_status sr_dist_barrier(sr_dist *d);
/* Rank 0's n bytes to every rank. */
sr_status sr_dist_bcast_bytes(sr_dist *d, void *p, size_t n);
/* Every rank's n bytes `mine`, in rank order, into all (size x n bytes) on
 * every rank (n < 2^31; per-rank descriptions for the log). */
sr_status sr_dist_gather_bytes(sr_dist *d, const void *mine, size_t n,
                               void *all);
/* In-place sums over ranks, result on every rank (metrics: losses, correct
 * counts, images seen). The f32 form is also the benchmark's allreduce. */
sr_status sr_dist_sum_f64(sr_dist *d, double *v, size_t n);
sr_status sr_dist_sum_u64(sr_dist *d, uint64_t *v, size_t n);
sr_status sr_dist_sum_f32(sr_dist *d, float *v, size_t n);
sr_status sr_dist_max_f64(sr_dist *d, double *v, size_t n);
/* *all = 1 when flag != 0 on every rank (checkpoint agreement);
 * *any = 1 when flag != 0 on some rank (a signal seen by any rank). */
sr_status sr_dist_all(sr_dist *d, int flag, int *all);
sr_status sr_dist_any(sr_dist *d, int flag, int *any);

/* ---- Collectives on backend buffers ---- */

/* Rank 0's contents of every range to the same ranges on every rank
 * (initial parameters, BN statistics, WaveQ betas). The ranges are packed
 * into one host message; every rank must pass the same sizes. */
sr_status sr_dist_bcast_bufs(sr_dist *d, sr_backend *be,
                             const sr_dist_range *r, int nr);
/* Every range := the average over ranks of that range (float32; summed in
 * float32 by MPI, then scaled by 1/size). BN running statistics before an
 * evaluation or a checkpoint. */
sr_status sr_dist_avg_bufs(sr_dist *d, sr_backend *be,
                           const sr_dist_range *r, int nr);

/* ---- Gradient averaging in buckets ----
 *
 * The plan cuts the gradient ranges, given in the order backward produces
 * them (nn's slabs: slab 0 from word 0 upward, then slab 1, ...), into
 * buckets of at most bucket_bytes; a bucket never spans two ranges. A step:
 *
 *   sr_dist_grad_begin(g, weight)      before or during backward
 *   sr_dist_grad_bucket_ready(g, i)    bucket i's words are final on the
 *                                      device: read to host, MPI_Iallreduce
 *                                      starts; call in increasing i
 *   sr_dist_grad_finish(g)             starts the buckets not yet started,
 *                                      waits for all, writes the averages
 *                                      back; then the optimizer update
 *
 * or sr_dist_grad_allreduce(g, weight) for all three at once (backward as one
 * call). The result is sum_r w_r g_r / sum_r w_r, w_r the weight rank r gave
 * to begin (its valid rows: the global mean gradient when each g_r is the
 * mean over rank r's rows). Equal weights give sum_r g_r / size, scaled after
 * the sum; unequal weights scale each g_r by w_r / sum w before the sum.
 *
 * MPI progresses non-blocking collectives only inside MPI calls: each
 * bucket_ready call also tests the outstanding buckets, which is what moves
 * them along while the caller's backward runs between calls. */
sr_status sr_dist_grad_create(sr_dist *d, sr_backend *be,
                              const sr_dist_range *r, int nr,
                              size_t bucket_bytes, sr_dist_grad **out);
void sr_dist_grad_free(sr_dist_grad *g);
int sr_dist_grad_bucket_count(const sr_dist_grad *g);
/* Bucket i as a range (the plan's ranges[range_index] sub-range). */
sr_status sr_dist_grad_bucket(const sr_dist_grad *g, int i,
                              sr_dist_range *out, int *range_index);
/* Verify every step that all ranks hold bit-identical averages (a hash
 * compared with MPI_MIN/MPI_MAX); a mismatch is SR_E_INTERNAL. Tests. */
void sr_dist_grad_set_verify(sr_dist_grad *g, int on);

sr_status sr_dist_grad_begin(sr_dist_grad *g, double weight);
sr_status sr_dist_grad_bucket_ready(sr_dist_grad *g, int i);
sr_status sr_dist_grad_finish(sr_dist_grad *g);
/* Optional: move the buckets in flight along (MPI_Testall); cheap. Call
 * between backward's ops when buckets are large and layers are slow. */
sr_status sr_dist_grad_progress(sr_dist_grad *g);
sr_status sr_dist_grad_allreduce(sr_dist_grad *g, double weight);

/* Seconds spent in the last step blocked in MPI (begin's weight exchange;
 * finish waiting for the buckets, after starting the remaining ones), in
 * the ready and progress calls, and in host<->device copies; how many
 * buckets bucket_ready started before finish (those whose allreduce could
 * overlap the caller's backward; 0 with one rank, where nothing starts). */
typedef struct sr_dist_grad_times {
    double wait_s;     /* MPI_Allgather of the weights in begin (a rank
                          ahead waits there) + MPI_Waitall in finish */
    double copy_s;     /* sr_buf_read + sr_buf_write */
    double progress_s; /* in bucket_ready and progress, copies aside:
                          starting buckets, MPI_Testall (MPI moves them
                          only inside such calls: work done while the
                          caller's backward waits) */
    double total_s;    /* begin .. end of finish */
    int early;         /* buckets started by bucket_ready */
} sr_dist_grad_times;
void sr_dist_grad_last_times(const sr_dist_grad *g, sr_dist_grad_times *t);

#endif
