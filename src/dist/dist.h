/* dist.h — a process's place in a data-parallel job (internal view).
 *
 * dist.c holds what does not depend on the transport: the parameters, the
 * job-of-one case, the launcher detection, the statistics. The transport
 * is a backend with the functions below: mpi.c (Open MPI's, compiled when
 * the build finds it, BERT_USE_MPI) or, without it, dist.c's stand-ins,
 * which only know a job of one.
 *
 * Gradient buckets: dist_push queues a sum-allreduce of a float range
 * (a layer's gradients as soon as its backward is done); a communication
 * thread runs them in order while the caller goes on; dist_drain waits
 * for every queued one and reports the first failure. Other collectives
 * (bert_dist_sum, dist_same_u64, bert_dist_gather) drain first, so only one
 * thread is inside MPI at a time (MPI_THREAD_SERIALIZED suffices). */
#ifndef BERT_DIST_DIST_H
#define BERT_DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"

struct bert_dist {
    bert_dist_params p;
    int rank, size;
    int local_rank;         /* rank among the job's processes on this machine (0 in a job of one) */
    void *impl;             /* the backend's state; NULL in a job of one */
    bert_dist_stats stats;
};

/* ---- the backend (mpi.c, or dist.c's stand-ins) ---- */

/* Join the job the launcher started (d->rank, d->size set). */
bert_status dist_backend_open(bert_dist *d, bert_error *err);
void dist_backend_close(bert_dist *d);
void dist_backend_abort(bert_dist *d, int code);
/* Queue / wait for gradient buckets (see above). */
void dist_backend_push(bert_dist *d, float *x, size_t n);
bert_status dist_backend_drain(bert_dist *d, bert_error *err);
bert_status dist_backend_sum_f64(bert_dist *d, double *x, int n, bert_error *err);
bert_status dist_backend_minmax_u64(bert_dist *d, uint64_t v, uint64_t *lo, uint64_t *hi, bert_error *err);
bert_status dist_backend_gather(bert_dist *d, const void *data, size_t len, char **out, size_t *lens, bert_error *err);
bert_status dist_backend_bcast(bert_dist *d, void *buf, int len, bert_error *err);
bert_status dist_backend_allgather_f32(bert_dist *d, const float *mine, int count, float *all, const int *counts,
                                       const int *displs, bert_error *err);

/* ---- for the trainer and the loop ---- */

/* d's rank among the job's processes on this machine; 0 without d. */
static inline int dist_local_rank(const bert_dist *d) { return d ? d->local_rank : 0; }

/* 1 when d is a job of several processes. */
static inline int dist_active(const bert_dist *d) { return d && d->size > 1; }

/* Rank r's share of n items: [*lo, *hi), contiguous, sizes differing by at
 * most one, in rank order (rank r of N: r*n/N .. (r+1)*n/N). */
void dist_share(const bert_dist *d, int n, int *lo, int *hi);
/* The same for rank r. */
void dist_share_of(const bert_dist *d, int r, int n, int *lo, int *hi);

/* Every rank's count floats gathered on every rank into all: rank r's at
 * displs[r], counts[r] of them (counts and displs the same on every rank). */
bert_status dist_allgatherv(bert_dist *d, const float *mine, int count, float *all, const int *counts, const int *displs,
                            bert_error *err);

/* Every rank's share of n rows of `width` floats, gathered on every rank:
 * rank r contributes rows [lo_r, hi_r) of dist_share_of (mine, already
 * computed), and all[0 .. n x width) ends up whole everywhere. */
bert_status dist_allgather_rows(bert_dist *d, const float *mine, int n, int width, float *all, bert_error *err);

/* Sum x[0..n) over the ranks (in place): gradients, in buckets that may be
 * still travelling when this returns; dist_drain waits for them. */
void dist_push(bert_dist *d, float *x, size_t n);
bert_status dist_drain(bert_dist *d, bert_error *err);

/* Rank 0's len bytes at buf copied into every rank's buf. */
bert_status dist_bcast(bert_dist *d, void *buf, size_t len, bert_error *err);

/* BERT_ERR_STATE naming `what` unless every rank passed the same value. */
bert_status dist_same_u64(bert_dist *d, uint64_t v, const char *what, bert_error *err);

/* A 64-bit digest of n floats' bits (for comparing weights across ranks). */
uint64_t dist_digest(const float *x, size_t n);

#endif
