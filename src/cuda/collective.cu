/* collective.cu — NCCL for the ranks' gradient sums (collective.h), opened
 * with dlopen the first time it is asked for. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/collective.h"

extern "C" {
#include "cuda/encoder.h"
#include "util/error.h"
}

#if __has_include(<nccl.h>)
#include <nccl.h>

static_assert(NCCL_UNIQUE_ID_BYTES == BERT_CUDA_NCCL_ID_BYTES, "NCCL's id size");

/* Set once under pthread_once, read-only afterwards (the documented
 * capability cache of this file). */
static struct {
    char why[256]; /* empty: usable */
    decltype(&ncclGetUniqueId) get_id;
    decltype(&ncclCommInitRank) init_rank;
    decltype(&ncclAllReduce) all_reduce;
    decltype(&ncclCommDestroy) destroy;
    decltype(&ncclGetErrorString) error_string;
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

bert_status cuda_nccl_join(void **comm, const unsigned char id[BERT_CUDA_NCCL_ID_BYTES], int n, int r, bert_error *err) {
    *comm = NULL;
    const char *why = bert_cuda_nccl_unavailable();
    if (why) return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", why);
    ncclUniqueId u;
    memcpy(u.internal, id, sizeof u.internal);
    ncclComm_t c = NULL;
    ncclResult_t res = N.init_rank(&c, n, u, r);
    if (res != ncclSuccess) return nccl_fail(err, res, "joining the ranks' communicator");
    *comm = c;
    return BERT_OK;
}

bert_status cuda_nccl_sum(void *comm, float *x, size_t count, cudaStream_t s, bert_error *err) {
    ncclResult_t r = N.all_reduce(x, x, count, ncclFloat32, ncclSum, (ncclComm_t)comm, s);
    return r == ncclSuccess ? BERT_OK : nccl_fail(err, r, "summing the gradients over the ranks");
}

void cuda_nccl_free(void *comm) {
    if (comm) N.destroy((ncclComm_t)comm);
}

#else /* built without NCCL's header */

static const char *const no_header = "this build of bert.c has no NCCL (nccl.h was not found when it was built)";

extern "C" const char *bert_cuda_nccl_unavailable(void) { return no_header; }

extern "C" bert_status bert_cuda_nccl_id(unsigned char id[BERT_CUDA_NCCL_ID_BYTES], bert_error *err) {
    (void)id;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", no_header);
}

bert_status cuda_nccl_join(void **comm, const unsigned char id[BERT_CUDA_NCCL_ID_BYTES], int n, int r, bert_error *err) {
    (void)id, (void)n, (void)r;
    *comm = NULL;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", no_header);
}

bert_status cuda_nccl_sum(void *comm, float *x, size_t count, cudaStream_t s, bert_error *err) {
    (void)comm, (void)x, (void)count, (void)s;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", no_header);
}

void cuda_nccl_free(void *comm) { (void)comm; }
#endif
