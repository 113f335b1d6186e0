/* src/dist private: the sr_dist handle and helpers shared by dist.c and
 * dist_grad.c. The only header that includes mpi.h. */
#ifndef SR_DIST_INTERNAL_H
#define SR_DIST_INTERNAL_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sinreq/dist.h"

/* Largest count passed to one MPI call (counts are int). */
#define SR_DIST_CHUNK ((size_t)1 << 28)

/* What a rank knows of another (the watchdog's diagnosis). */
typedef struct sr_dist_peer {
    long long pid;
    unsigned long long start;  /* /proc/PID/stat start time (clock ticks) */
    unsigned long long host;   /* boot id + pid namespace: equal = the same
                                  /proc view, pid checkable here */
    uint64_t seq;              /* the last wait it reported being in */
    double at;                 /* when (sr_dist_now) */
    int heard;                 /* it reported at least once */
    char node[64];             /* its host name */
} sr_dist_peer;

struct sr_dist {
    int uses_mpi;
    int rank, size;
    int local_rank, local_size;
    const char *local_src;
    char node[64];        /* gethostname */
    sr_dist_reduce reduce;
    MPI_Comm comm;        /* a duplicate of MPI_COMM_WORLD (uses_mpi) */
    /* watchdog (sr_dist_set_timeout; size > 1) */
    MPI_Comm hb;          /* notices "I wait in collective #seq" */
    double timeout;       /* seconds; 0: off (plain MPI_Waitall) */
    uint64_t seq;         /* collectives waited for: the same on every rank */
    long step;
    char ckpt[1024];
    const volatile sig_atomic_t *stop_flag;
    sr_dist_peer *peer;   /* size entries */
    MPI_Request hb_rreq;  /* posted receive of a notice (any source) */
    long long hb_rbuf[3];
    MPI_Request *hb_sreq; /* one notice in flight per peer */
    long long *hb_sbuf;   /* 3 words per peer */
};

double sr_dist_now(void);
/* Wait for n requests of a collective named `what`. With the watchdog on:
 * polls, tells the other ranks this rank is waiting, and ends the job with
 * a message naming the rank(s) that did not come (sr_dist_set_timeout).
 * Every collective's wait goes through here once, on every rank, so that
 * d->seq counts the same collectives everywhere. */
void sr_dist_wait(sr_dist *d, int n, MPI_Request *req, const char *what);
/* Set up / tear down the watchdog's state (init, finalize; collective). */
sr_status sr_dist_watch_init(sr_dist *d);
void sr_dist_watch_free(sr_dist *d);
/* In-place float sum over ranks of n words (any n; chunked), honouring
 * d->reduce. Only with uses_mpi. */
sr_status sr_dist_sum_f32_mpi(sr_dist *d, float *v, size_t n);
/* SR_E_ARG on every rank when n differs between ranks. */
sr_status sr_dist_check_same(sr_dist *d, uint64_t n, const char *what);
/* 64-bit hash of n words; equal buffers give equal hashes. */
uint64_t sr_dist_hash(const float *v, size_t n);
/* SR_E_INTERNAL on every rank when the hashes differ between ranks. */
sr_status sr_dist_check_identical(sr_dist *d, uint64_t h, const char *what);

#endif
