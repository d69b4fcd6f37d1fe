/* nccl.c — NCCL's calls that src/cuda makes, on the CPU, built as the
 * libnccl.so.2 that the emulated build opens (see include/cuda_runtime.h
 * here). The ranks are the MPI job's (the program has started MPI): an id
 * names rank 0's process; joining checks that every rank passed the id
 * rank 0 made, its own MPI rank and the job's size; the all-reduce is
 * MPI_Allreduce over the emulated device memory (which must hold both
 * buffers: bert_emu_check_range) once the stream's earlier work has run
 * (bert_emu_stream_drain), done before the call returns on a
 * blocking communicator. On a non-blocking one (ncclCommInitRankConfig,
 * blocking 0) it is MPI_Iallreduce, and as on a GPU its stream is busy
 * (cudaStreamQuery: cudaErrorNotReady; bert_emu_stream_hold) until it is
 * done, the communicator's state (ncclCommGetAsyncError, which moves MPI
 * on) ncclSuccess meanwhile; the first call of each kind on it (joining,
 * the first all-reduce) returns ncclInProgress, as NCCL may, the state
 * ncclInProgress until the next ncclCommGetAsyncError. ncclCommAbort
 * leaves an all-reduce unfinished and frees its stream; ncclCommFinalize
 * waits for it.
 * BERT_EMU_NCCL_HANG=k (read when a communicator is made): its k-th
 * all-reduce (from 1) never finishes, as when another rank stopped;
 * k@r: only rank r's (which never joins the others' MPI_Iallreduce, so
 * theirs never finishes either: a rank that stopped). A bad argument is
 * ncclInvalidArgument, as NCCL returns. Without MPI (a build that has
 * none) a communicator has one rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu.h"
#include "nccl.h"
#ifdef BERT_USE_MPI
#include <mpi.h>
#endif

static long n_sums, n_aborts; /* all-reduces started, communicators aborted (for the report at exit) */

/* With BERT_EMU_REPORT set, the all-reduces this process did, said at exit. */
__attribute__((destructor)) static void report(void) {
    if (getenv("BERT_EMU_REPORT")) fprintf(stderr, "cuda-emu: NCCL summed %ld times\n", n_sums);
    if (getenv("BERT_EMU_REPORT") && n_aborts) fprintf(stderr, "cuda-emu: NCCL aborted %ld communicators\n", n_aborts);
}

struct bert_emu_nccl {
    unsigned magic;
    int n, r;
    int blocking; /* 0: the all-reduce runs on, the state ncclInProgress until it is done */
    long sums, hang_at; /* its all-reduces so far; BERT_EMU_NCCL_HANG's (0: none) */
    int hung;           /* that all-reduce is pending: never done */
    int in_progress;    /* a call returned ncclInProgress: the state says so once */
    void *stream;       /* the stream held busy by a pending or hung all-reduce (NULL: none) */
#ifdef BERT_USE_MPI
    MPI_Request pending; /* the all-reduce running on (MPI_REQUEST_NULL: none) */
#endif
};
enum { MAGIC = 0x5ccc1u };

static int job(int *n, int *r) {
    *n = 1, *r = 0;
#ifdef BERT_USE_MPI
    int on = 0;
    MPI_Initialized(&on);
    if (on) MPI_Comm_size(MPI_COMM_WORLD, n), MPI_Comm_rank(MPI_COMM_WORLD, r);
#endif
    return 1;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    if (!id) return ncclInvalidArgument;
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "bert-emu-nccl %ld", (long)getpid());
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    ncclConfig_t blocking = NCCL_CONFIG_INITIALIZER;
    blocking.blocking = 1;
    return ncclCommInitRankConfig(comm, nranks, id, rank, &blocking);
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t *config) {
    int n, r;
    if (!config || config->size != sizeof *config || config->magic != 0xcafebeef) return ncclInvalidArgument;
    job(&n, &r);
    if (!comm || nranks != n || rank != r) return ncclInvalidArgument;
    *comm = NULL;
    ncclUniqueId root = id; /* the id every rank passed must be rank 0's */
#ifdef BERT_USE_MPI
    if (n > 1 && MPI_Bcast(root.internal, NCCL_UNIQUE_ID_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        return ncclSystemError;
#endif
    if (memcmp(root.internal, id.internal, NCCL_UNIQUE_ID_BYTES) != 0 || strncmp(id.internal, "bert-emu-nccl ", 14) != 0)
        return ncclInvalidArgument;
    struct bert_emu_nccl *c = calloc(1, sizeof *c);
    if (!c) return ncclSystemError;
    const char *hang = getenv("BERT_EMU_NCCL_HANG"), *at = hang ? strchr(hang, '@') : NULL;
    c->magic = MAGIC, c->n = n, c->r = r, c->blocking = config->blocking != 0;
    c->hang_at = hang && (!at || atoi(at + 1) == r) ? atol(hang) : 0;
#ifdef BERT_USE_MPI
    c->pending = MPI_REQUEST_NULL;
#endif
    *comm = c;
    c->in_progress = !c->blocking;
    return c->blocking ? ncclSuccess : ncclInProgress;
}


ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
    if (!comm || comm->magic != MAGIC || type != ncclFloat32 || op != ncclSum || count > 0x7fffffff) return ncclInvalidArgument;
    bert_emu_check_range(send, count * sizeof(float), "ncclAllReduce's input");
    bert_emu_check_range(recv, count * sizeof(float), "ncclAllReduce's output");
    if (comm->hung || comm->stream) return ncclInvalidArgument; /* the last one is still running */
    bert_emu_stream_drain(stream); /* the stream's earlier kernels, which write its input, have run */
    n_sums++;
    if (++comm->sums == comm->hang_at) {
        if (comm->blocking) return ncclSystemError; /* a blocking one would never return */
        comm->hung = 1, comm->stream = stream;
        bert_emu_stream_hold(stream, 1);
        return ncclSuccess;
    }
    if (comm->n == 1) {
        if (send != recv) memmove(recv, send, count * sizeof(float));
        return ncclSuccess;
    }
#ifdef BERT_USE_MPI
    if (comm->pending != MPI_REQUEST_NULL) return ncclInvalidArgument;
    const void *in = send == recv ? MPI_IN_PLACE : send;
    if (!comm->blocking) {
        if (MPI_Iallreduce(in, recv, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &comm->pending) != MPI_SUCCESS)
            return ncclSystemError;
        comm->stream = stream;
        bert_emu_stream_hold(stream, 1);
        if (comm->sums == 1) return comm->in_progress = 1, ncclInProgress;
        return ncclSuccess;
    }
    return MPI_Allreduce(in, recv, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS ? ncclSuccess
                                                                                               : ncclSystemError;
#else
    return ncclSystemError;
#endif
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *state) {
    if (!comm || comm->magic != MAGIC || !state) return ncclInvalidArgument;
    *state = comm->in_progress ? ncclInProgress : ncclSuccess;
    comm->in_progress = 0;
#ifdef BERT_USE_MPI
    if (comm->pending != MPI_REQUEST_NULL) { /* MPI moved on; the stream idle once it is done */
        int done = 0;
        if (MPI_Test(&comm->pending, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) *state = ncclSystemError;
        else if (done) bert_emu_stream_hold(comm->stream, 0), comm->stream = NULL;
    }
#endif
    return ncclSuccess;
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) {
    if (!comm || comm->magic != MAGIC || comm->hung) return ncclInvalidArgument;
#ifdef BERT_USE_MPI
    if (comm->pending != MPI_REQUEST_NULL && MPI_Wait(&comm->pending, MPI_STATUS_IGNORE) != MPI_SUCCESS) return ncclSystemError;
#endif
    if (comm->stream) bert_emu_stream_hold(comm->stream, 0), comm->stream = NULL;
    return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
    if (!comm || comm->magic != MAGIC) return ncclInvalidArgument;
    n_aborts++;
    if (comm->stream) bert_emu_stream_hold(comm->stream, 0); /* its kernels stop */
    comm->magic = 0;
    free(comm); /* an all-reduce running on is left unfinished (the job is ending) */
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    if (!comm || comm->magic != MAGIC || comm->hung || comm->stream) return ncclInvalidArgument; /* finalize first */
    comm->magic = 0;
    free(comm);
    return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t r) {
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInProgress: return "operation in progress";
    case ncclSystemError: return "system error";
    default: return "unhandled error";
    }
}
