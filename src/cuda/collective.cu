/* collective.cu — NCCL for the ranks' gradient sums (collective.h), opened
 * with dlopen the first time it is asked for. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda/collective.h"

extern "C" {
#include "cuda/encoder.h"
#include "util/clock.h"
#include "util/error.h"
}

#if __has_include(<nccl.h>)
#include <nccl.h>

static_assert(NCCL_UNIQUE_ID_BYTES == BERT_CUDA_NCCL_ID_BYTES, "NCCL's id size");

/* Non-blocking communicators need NCCL 2.14's header (its config type) and library. */
#ifdef NCCL_CONFIG_INITIALIZER
#define NONBLOCKING 1
#else
#define NONBLOCKING 0
#endif

/* Set once under pthread_once, read-only afterwards (the documented
 * capability cache of this file). */
static struct {
    char why[256]; /* empty: usable */
    decltype(&ncclGetUniqueId) get_id;
    decltype(&ncclCommInitRank) init_rank;
    decltype(&ncclAllReduce) all_reduce;
    decltype(&ncclCommDestroy) destroy;
    decltype(&ncclGetErrorString) error_string;
#if NONBLOCKING
    /* non-blocking communicators (NCCL 2.14 on): init_config NULL where the library lacks one of them */
    decltype(&ncclCommInitRankConfig) init_config;
    decltype(&ncclCommGetAsyncError) async_error;
    decltype(&ncclCommAbort) abort;
    decltype(&ncclCommFinalize) finalize;
#endif
} N;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* NCCL 2 (its soname), first beside the toolkit the build used, then from
 * the loader's path. */
static void probe(void) {
    const char *host = getenv("BERT_CUDA_ALLREDUCE"), *no_gpu = bert_cuda_unavailable();
    if (host && strcmp(host, "host") == 0) {
        snprintf(N.why, sizeof N.why, "BERT_CUDA_ALLREDUCE=host: the ranks' sums are taken on the host");
        return;
    }
    if (no_gpu) {
        snprintf(N.why, sizeof N.why, "%s", no_gpu);
        return;
    }
    char names[3][512];
    int n = 0;
#ifdef BERT_CUDA_LIBDIR
    snprintf(names[n++], sizeof names[0], "%s/libnccl.so.2", BERT_CUDA_LIBDIR);
    snprintf(names[n++], sizeof names[0], "%s/../lib/libnccl.so.2", BERT_CUDA_LIBDIR);
#endif
    snprintf(names[n++], sizeof names[0], "libnccl.so.2");
    void *h = NULL;
    for (int i = 0; i < n && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(N.why, sizeof N.why, "NCCL (libnccl.so.2) was not found: %s", dlerror());
        return;
    }
#define SYM(field, name) \
    if (!(*(void **)&N.field = dlsym(h, name))) snprintf(N.why, sizeof N.why, "NCCL lacks %s", name);
    SYM(get_id, "ncclGetUniqueId") SYM(init_rank, "ncclCommInitRank") SYM(all_reduce, "ncclAllReduce")
    SYM(destroy, "ncclCommDestroy") SYM(error_string, "ncclGetErrorString")
#undef SYM
#if NONBLOCKING
    *(void **)&N.init_config = dlsym(h, "ncclCommInitRankConfig");
    *(void **)&N.async_error = dlsym(h, "ncclCommGetAsyncError");
    *(void **)&N.abort = dlsym(h, "ncclCommAbort");
    *(void **)&N.finalize = dlsym(h, "ncclCommFinalize");
    if (!N.init_config || !N.async_error || !N.abort || !N.finalize) N.init_config = NULL; /* then blocking ones */
#endif
}

extern "C" const char *bert_cuda_nccl_unavailable(void) {
    pthread_once(&once, probe);
    return N.why[0] ? N.why : NULL;
}

/* BERT_ERR_IO with NCCL's message for r. */
static bert_status nccl_fail(bert_error *err, ncclResult_t r, const char *what) {
    return bert_fail(err, BERT_ERR_IO, "NCCL: %s: %s", what, N.error_string(r));
}

extern "C" bert_status bert_cuda_nccl_id(unsigned char id[BERT_CUDA_NCCL_ID_BYTES], bert_error *err) {
    const char *why = bert_cuda_nccl_unavailable();
    if (why) return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", why);
    ncclUniqueId u;
    ncclResult_t r = N.get_id(&u);
    if (r != ncclSuccess) return nccl_fail(err, r, "making a communicator's id");
    memcpy(id, u.internal, sizeof u.internal);
    return BERT_OK;
}

/* A joined communicator: NCCL's, and how long its calls may wait. */
typedef struct {
    ncclComm_t c;     /* NULL once aborted */
    int bounded;      /* non-blocking: its waits end after timeout_s */
    double timeout_s;
} nccl_comm;

#if NONBLOCKING
/* Waits until x's last call is through and, with stream s, s is idle:
 * polling NCCL's state and the stream, giving the CPU back between polls.
 * On NCCL's error, the stream's, or timeout_s without an end (a rank
 * stopped or hangs), aborts the communicator (NCCL's kernels stop; x->c
 * NULL) and fails. */
static bert_status settle(nccl_comm *x, cudaStream_t s, const char *what, bert_error *err) {
    double t0 = bert_now_s();
    for (long polls = 0;; polls++) {
        ncclResult_t state = ncclSuccess;
        ncclResult_t r = N.async_error(x->c, &state);
        cudaError_t q = s ? cudaStreamQuery(s) : cudaSuccess;
        if (q == cudaErrorNotReady) (void)cudaGetLastError(); /* not an error: not left for the next call */
        if (r == ncclSuccess && state == ncclSuccess && q == cudaSuccess) return BERT_OK;
        char why[200] = "";
        if (r != ncclSuccess || (state != ncclSuccess && state != ncclInProgress))
            snprintf(why, sizeof why, "%s", N.error_string(r != ncclSuccess ? r : state));
        else if (q != cudaSuccess && q != cudaErrorNotReady)
            snprintf(why, sizeof why, "%s", cudaGetErrorString(q));
        else if (polls > 256 && bert_now_s() - t0 > x->timeout_s)
            snprintf(why, sizeof why, "no answer from the other ranks in %.0f s (a rank stopped or hangs)", x->timeout_s);
        if (why[0]) {
            (void)cudaGetLastError();
            N.abort(x->c);
            x->c = NULL;
            return bert_fail(err, BERT_ERR_IO, "NCCL: %s: %s; the communicator was aborted", what, why);
        }
        if (polls > 256) { /* past a short spin, sleep a little between polls */
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
}
#endif

bert_status cuda_nccl_join(void **comm, const unsigned char id[BERT_CUDA_NCCL_ID_BYTES], int n, int r,
                           double timeout_s, bert_error *err) {
    *comm = NULL;
    const char *why = bert_cuda_nccl_unavailable();
    if (why) return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", why);
    ncclUniqueId u;
    memcpy(u.internal, id, sizeof u.internal);
    nccl_comm *x = (nccl_comm *)calloc(1, sizeof *x);
    if (!x) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    x->timeout_s = timeout_s;
    ncclResult_t res;
#if NONBLOCKING
    x->bounded = N.init_config != NULL && timeout_s > 0.0;
    if (x->bounded) { /* non-blocking: every wait on it ends after timeout_s */
        ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
        cfg.blocking = 0;
        res = N.init_config(&x->c, n, u, r, &cfg);
        if ((res == ncclSuccess || res == ncclInProgress) && x->c) {
            bert_status rc = settle(x, NULL, "joining the ranks' communicator", err);
            if (rc != BERT_OK) return free(x), rc;
            res = ncclSuccess;
        } else if (x->c) { /* a failed start may still have made one */
            N.abort(x->c);
            x->c = NULL;
        }
    } else
#endif
    {
        res = N.init_rank(&x->c, n, u, r);
    }
    if (res != ncclSuccess || !x->c) {
        free(x);
        return nccl_fail(err, res != ncclSuccess ? res : ncclInternalError, "joining the ranks' communicator");
    }
    *comm = x;
    return BERT_OK;
}

bert_status cuda_nccl_sum(void *comm, float *x, size_t count, cudaStream_t s, bert_error *err) {
    nccl_comm *c = (nccl_comm *)comm;
    if (!c->c) return bert_fail(err, BERT_ERR_STATE, "NCCL: the ranks' communicator was aborted after an earlier failure");
    ncclResult_t r = N.all_reduce(x, x, count, ncclFloat32, ncclSum, c->c, s);
    if (!c->bounded) /* the caller waits for the stream */
        return r == ncclSuccess ? BERT_OK : nccl_fail(err, r, "summing the gradients over the ranks");
#if NONBLOCKING
    if (r != ncclSuccess && r != ncclInProgress) { /* a communicator in error is aborted, not used again */
        N.abort(c->c);
        c->c = NULL;
        return bert_fail(err, BERT_ERR_IO, "NCCL: summing the gradients over the ranks: %s; the communicator was aborted",
                         N.error_string(r));
    }
    return settle(c, s, "summing the gradients over the ranks", err);
#else
    return BERT_OK;
#endif
}

void cuda_nccl_free(void *comm) {
    nccl_comm *c = (nccl_comm *)comm;
#if NONBLOCKING
    if (c && c->c && c->bounded) { /* a non-blocking one is finalized (waited for, within the timeout) first */
        bert_error ignored;
        ncclResult_t r = N.finalize(c->c);
        if (r != ncclSuccess && r != ncclInProgress) N.abort(c->c), c->c = NULL;
        else settle(c, NULL, "closing the ranks' communicator", &ignored); /* aborts it when it does not end */
    }
#endif
    if (c && c->c) N.destroy(c->c);
    free(c);
}

#else /* built without NCCL's header */

static const char *const no_header = "this build of bert.c has no NCCL (nccl.h was not found when it was built)";

extern "C" const char *bert_cuda_nccl_unavailable(void) { return no_header; }

extern "C" bert_status bert_cuda_nccl_id(unsigned char id[BERT_CUDA_NCCL_ID_BYTES], bert_error *err) {
    (void)id;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", no_header);
}

bert_status cuda_nccl_join(void **comm, const unsigned char id[BERT_CUDA_NCCL_ID_BYTES], int n, int r,
                           double timeout_s, bert_error *err) {
    (void)id, (void)n, (void)r, (void)timeout_s;
    *comm = NULL;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", no_header);
}

bert_status cuda_nccl_sum(void *comm, float *x, size_t count, cudaStream_t s, bert_error *err) {
    (void)comm, (void)x, (void)count, (void)s;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", no_header);
}

void cuda_nccl_free(void *comm) { (void)comm; }
#endif
