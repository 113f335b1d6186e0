/* src/dist private: the sr_dist handle and helpers shared by dist.c and
 * dist_grad.c. The only header that includes mpi.h. */
#ifndef SR_DIST_INTERNAL_H
#define SR_DIST_INTERNAL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "sinreq/dist.h"

/* Largest count passed to one MPI call (counts are int). */
#define SR_DIST_CHUNK ((size_t)1 << 28)

struct sr_dist {
    int uses_mpi;
    int rank, size;
    int local_rank, local_size;
    const char *local_src;
    sr_dist_reduce reduce;
    MPI_Comm comm;        /* a duplicate of MPI_COMM_WORLD (uses_mpi) */
};

double sr_dist_now(void);
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
