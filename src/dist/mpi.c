/* mpi.c — the MPI backend of bert_dist (Open MPI; compiled with
 * BERT_USE_MPI). MPI's own errors are returned (MPI_ERRORS_RETURN) and
 * said with MPI_Error_string.
 *
 * Gradient buckets go through a queue to one communication thread
 * (MPI_THREAD_SERIALIZED or better), which sums them in order with
 * MPI_Allreduce (Open MPI's tuned algorithms) while the trainer goes on;
 * the trainer waits at dist_backend_drain, for at most timeout_s without
 * a bucket finishing: then a rank stopped answering, and the error says
 * so (the communication thread stays inside MPI: the caller ends the job,
 * bert_dist_abort). Without the thread level, buckets are summed by the
 * draining thread with MPI_Iallreduce polled by MPI_Test under the same
 * timeout. The small collectives (sums of doubles, the digest check,
 * gathers) run in the calling thread, queue drained first, non-blocking
 * and polled likewise. bf16 compression sums with a user operation on
 * 16-bit words: each hop adds two bf16 values in f32 and rounds the sum to
 * bf16, as torch's bf16 allreduce does. */
#ifdef BERT_USE_MPI
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "kernels/half.h"
#include "util/clock.h"
#include "util/error.h"

#define QUEUE_CAP 1024
#define CHUNK ((size_t)1 << 26) /* floats per collective (MPI counts are int) */

typedef struct {
    float *x;
    size_t n;
} bucket;

typedef struct {
    int threaded;              /* the communication thread runs */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    bucket queue[QUEUE_CAP];
    int head, tail, quit;
    long finished;             /* buckets summed so far (the drain's sign of progress) */
    int failed;                /* a bucket failed: msg says how */
    int stuck;                 /* the thread is inside a collective the drain gave up on */
    char msg[300];
    uint16_t *scratch;         /* bf16 compression */
    size_t scratch_cap;
    MPI_Op bf16_sum;
} mpi_state;

int bert_dist_compiled(void) { return 1; }

/* MPI's words for an error code. */
static const char *mpi_words(int code, char *buf) {
    int len = 0;
    if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) snprintf(buf, MPI_MAX_ERROR_STRING, "MPI error %d", code);
    return buf;
}

/* Poll r to completion; 0 with msg after d->p.timeout_s or an MPI error. */
static int wait_request(bert_dist *d, MPI_Request *r, const char *what, char *msg, size_t cap) {
    double t0 = bert_now_s();
    for (long spins = 0;; spins++) {
        int done = 0, rc = MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            char words[MPI_MAX_ERROR_STRING];
            snprintf(msg, cap, "%s: %s", what, mpi_words(rc, words));
            return 0;
        }
        if (done) return 1;
        if (spins > 256) { /* past a short spin, give the CPU to the ranks' compute */
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
            if (bert_now_s() - t0 > d->p.timeout_s) {
                snprintf(msg, cap, "%s: no answer from the other ranks in %.0f s (a rank stopped or hangs)", what,
                         d->p.timeout_s);
                return 0;
            }
        }
    }
}

/* Start a collective (its MPI return code) and wait for it. */
static bert_status finish(bert_dist *d, int started, MPI_Request *r, const char *what, bert_error *err) {
    char msg[300];
    if (started != MPI_SUCCESS) {
        char words[MPI_MAX_ERROR_STRING];
        return bert_fail(err, BERT_ERR_IO, "%s: %s", what, mpi_words(started, words));
    }
    return wait_request(d, r, what, msg, sizeof msg) ? BERT_OK : bert_fail(err, BERT_ERR_IO, "%s", msg);
}

/* The MPI user operation of bf16 compression: inout[i] = bf16(in[i] + inout[i]), summed in f32. */
static void bf16_sum(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    const uint16_t *a = in;
    uint16_t *b = inout;
    for (int i = 0; i < *len; i++) b[i] = bert_f32_to_bf16(bert_bf16_to_f32(a[i]) + bert_bf16_to_f32(b[i]));
}

/* Sum one bucket over the ranks (blocking on the communication thread,
 * polled under the timeout elsewhere); 0 with s->msg on failure. */
static int reduce_bucket(bert_dist *d, bucket b) {
    mpi_state *s = d->impl;
    double t0 = bert_now_s();
    int compress = d->p.compress_bf16;
    for (size_t off = 0; off < b.n; off += CHUNK) {
        size_t k = b.n - off < CHUNK ? b.n - off : CHUNK;
        MPI_Request r;
        int rc;
        if (compress) {
            if (k > s->scratch_cap) {
                uint16_t *p = realloc(s->scratch, k * sizeof *p);
                if (!p) {
                    snprintf(s->msg, sizeof s->msg, "out of memory for %zu bf16 gradients", k);
                    return 0;
                }
                s->scratch = p, s->scratch_cap = k;
            }
            bert_f32_to_bf16_array(s->scratch, b.x + off, k);
        }
        void *buf = compress ? (void *)s->scratch : (void *)(b.x + off);
        MPI_Datatype type = compress ? MPI_UINT16_T : MPI_FLOAT;
        MPI_Op op = compress ? s->bf16_sum : MPI_SUM;
        if (s->threaded) rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)k, type, op, MPI_COMM_WORLD);
        else rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)k, type, op, MPI_COMM_WORLD, &r);
        if (rc != MPI_SUCCESS) {
            char words[MPI_MAX_ERROR_STRING];
            snprintf(s->msg, sizeof s->msg, "summing gradients: %s", mpi_words(rc, words));
            return 0;
        }
        if (!s->threaded && !wait_request(d, &r, "summing gradients", s->msg, sizeof s->msg)) return 0;
        if (compress) bert_bf16_to_f32_array(b.x + off, s->scratch, k);
        d->stats.bytes += (double)k * (compress ? 2 : 4);
    }
    d->stats.buckets++;
    d->stats.reduce_s += bert_now_s() - t0;
    return 1;
}

/* The communication thread: the queue's buckets in order. */
static void *comm_main(void *arg) {
    bert_dist *d = arg;
    mpi_state *s = d->impl;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->head == s->tail && !s->quit) pthread_cond_wait(&s->work, &s->mu);
        if (s->head == s->tail) break;
        bucket b = s->queue[s->head];
        int failed = s->failed;
        pthread_mutex_unlock(&s->mu);
        int ok = failed || reduce_bucket(d, b);
        pthread_mutex_lock(&s->mu);
        if (!ok) s->failed = 1;
        s->head = (s->head + 1) % QUEUE_CAP;
        s->finished++;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

bert_status dist_backend_open(bert_dist *d, bert_error *err) {
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (inited) return bert_fail(err, BERT_ERR_STATE, "MPI was already started in this process (one bert_dist per process)");
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return bert_fail(err, BERT_ERR_IO, "MPI_Init_thread failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node; /* the ranks sharing this machine: this one's place among them picks its GPU */
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &d->local_rank);
        MPI_Comm_free(&node);
    }
    mpi_state *s = calloc(1, sizeof *s);
    if (!s) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    d->impl = s;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    MPI_Op_create(bf16_sum, 1, &s->bf16_sum);
    if (provided >= MPI_THREAD_SERIALIZED && pthread_create(&s->thread, NULL, comm_main, d) == 0) s->threaded = 1;
    else d->p.overlap = 0; /* buckets are then summed at the step by the trainer's thread */
    return BERT_OK;
}

void dist_backend_push(bert_dist *d, float *x, size_t n) {
    mpi_state *s = d->impl;
    pthread_mutex_lock(&s->mu);
    long seen = s->finished;
    double since = bert_now_s();
    while ((s->tail + 1) % QUEUE_CAP == s->head) {
        if (!s->threaded) { /* full and nobody drains: sum the oldest here */
            bucket b = s->queue[s->head];
            if (!s->failed && !reduce_bucket(d, b)) s->failed = 1;
            s->head = (s->head + 1) % QUEUE_CAP;
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&s->done, &s->mu, &until);
        if (s->finished != seen) seen = s->finished, since = bert_now_s();
        else if (bert_now_s() - since > d->p.timeout_s) { /* the drain reports it */
            s->stuck = 1;
            snprintf(s->msg, sizeof s->msg, "summing gradients: no answer from the other ranks in %.0f s (a rank stopped or hangs)",
                     d->p.timeout_s);
            pthread_mutex_unlock(&s->mu);
            return;
        }
    }
    s->queue[s->tail] = (bucket){x, n};
    s->tail = (s->tail + 1) % QUEUE_CAP;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
}

bert_status dist_backend_drain(bert_dist *d, bert_error *err) {
    mpi_state *s = d->impl;
    double t0 = bert_now_s();
    pthread_mutex_lock(&s->mu);
    if (s->stuck) {
        pthread_mutex_unlock(&s->mu);
        return bert_fail(err, BERT_ERR_IO, "%s", s->msg[0] ? s->msg : "an earlier sum never finished: end the job");
    }
    long seen = s->finished;
    double since = t0;
    while (s->head != s->tail) {
        if (s->threaded) { /* wait; give up after timeout_s without a bucket finishing */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&s->done, &s->mu, &until);
            double now = bert_now_s();
            if (s->finished != seen) seen = s->finished, since = now;
            else if (now - since > d->p.timeout_s) {
                s->stuck = 1;
                pthread_mutex_unlock(&s->mu);
                return bert_fail(err, BERT_ERR_IO, "summing gradients: no answer from the other ranks in %.0f s (a rank stopped or hangs)",
                                 d->p.timeout_s);
            }
            continue;
        }
        bucket b = s->queue[s->head];
        if (!s->failed && !reduce_bucket(d, b)) s->failed = 1;
        s->head = (s->head + 1) % QUEUE_CAP;
    }
    int failed = s->failed;
    s->failed = 0;
    pthread_mutex_unlock(&s->mu);
    d->stats.wait_s += bert_now_s() - t0;
    return failed ? bert_fail(err, BERT_ERR_IO, "%s", s->msg) : BERT_OK;
}

bert_status dist_backend_sum_f64(bert_dist *d, double *x, int n, bert_error *err) {
    bert_status rc = dist_backend_drain(d, err);
    MPI_Request r;
    return rc != BERT_OK ? rc
                         : finish(d, MPI_Iallreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &r), &r,
                                  "summing over the ranks", err);
}

bert_status dist_backend_minmax_u64(bert_dist *d, uint64_t v, uint64_t *lo, uint64_t *hi, bert_error *err) {
    uint64_t x[2] = {v, ~v};
    MPI_Request r;
    bert_status rc = dist_backend_drain(d, err);
    if (rc == BERT_OK)
        rc = finish(d, MPI_Iallreduce(MPI_IN_PLACE, x, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD, &r), &r,
                    "comparing the ranks", err);
    *hi = x[0], *lo = ~x[1];
    return rc;
}

bert_status dist_backend_bcast(bert_dist *d, void *buf, int len, bert_error *err) {
    MPI_Request r;
    bert_status rc = dist_backend_drain(d, err);
    if (rc == BERT_OK)
        rc = finish(d, MPI_Ibcast(buf, len, MPI_BYTE, 0, MPI_COMM_WORLD, &r), &r, "sharing rank 0's bytes", err);
    return rc;
}

bert_status dist_backend_gather(bert_dist *d, const void *data, size_t len, char **out, size_t *lens, bert_error *err) {
    if (len > (size_t)1 << 30) return bert_fail(err, BERT_ERR_INPUT, "gathering %zu bytes from one rank (at most 1 GiB)", len);
    bert_status rc = dist_backend_drain(d, err);
    if (rc != BERT_OK) return rc;
    int mine = (int)len, root = d->rank == 0;
    int *counts = root ? calloc((size_t)d->size, sizeof *counts) : NULL, *displs = root ? calloc((size_t)d->size, sizeof *displs) : NULL;
    MPI_Request r;
    if (root && (!counts || !displs)) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    /* Every rank takes part in both collectives, even after a failure here. */
    bert_status g = finish(d, MPI_Igather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD, &r), &r,
                           "gathering lengths", rc == BERT_OK ? err : NULL);
    if (rc == BERT_OK) rc = g;
    long total = 0;
    for (int i = 0; root && counts && rc == BERT_OK && i < d->size; i++) {
        displs[i] = (int)total, total += counts[i];
        if (total > (long)1 << 30) rc = bert_fail(err, BERT_ERR_INPUT, "gathering %ld bytes on rank 0 (at most 1 GiB)", total);
    }
    if (root && rc == BERT_OK && !(*out = malloc(total ? (size_t)total : 1))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) {
        rc = finish(d, MPI_Igatherv(data, mine, MPI_BYTE, *out, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD, &r), &r,
                    "gathering outputs", err);
        for (int i = 0; root && lens && i < d->size; i++) lens[i] = (size_t)counts[i];
    }
    if (rc != BERT_OK) free(*out), *out = NULL;
    free(counts), free(displs);
    return rc;
}

bert_status dist_backend_allgather_f32(bert_dist *d, const float *mine, int count, float *all, const int *counts,
                                       const int *displs, bert_error *err) {
    MPI_Request r;
    bert_status rc = dist_backend_drain(d, err);
    return rc != BERT_OK ? rc
                         : finish(d, MPI_Iallgatherv(mine == all + displs[d->rank] ? MPI_IN_PLACE : mine, count, MPI_FLOAT, all,
                                                     counts, displs, MPI_FLOAT, MPI_COMM_WORLD, &r),
                                  &r, "gathering outputs", err);
}

void dist_backend_abort(bert_dist *d, int code) {
    (void)d;
    MPI_Abort(MPI_COMM_WORLD, code);
}

void dist_backend_close(bert_dist *d) {
    mpi_state *s = d->impl;
    bert_error e;
    if (dist_backend_drain(d, &e) != BERT_OK && s->stuck) { /* the thread never returns from MPI: leave it */
        d->impl = NULL;
        return;
    }
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        s->quit = 1;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    MPI_Op_free(&s->bf16_sum);
    pthread_cond_destroy(&s->work), pthread_cond_destroy(&s->done), pthread_mutex_destroy(&s->mu);
    free(s->scratch);
    free(s);
    d->impl = NULL;
    MPI_Finalize();
}
#endif
