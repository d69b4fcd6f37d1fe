/* nccl.c — NCCL's calls that src/cuda makes, on the CPU, built as the
 * libnccl.so.2 that the emulated build opens (see include/cuda_runtime.h
 * here). The ranks are the MPI job's (the program has started MPI): an id
 * names rank 0's process; joining checks that every rank passed the id
 * rank 0 made, its own MPI rank and the job's size; the all-reduce is
 * MPI_Allreduce over the emulated device memory (which must hold both
 * buffers: bert_emu_check_range), done before the call returns. A bad
 * argument is ncclInvalidArgument, as NCCL returns. Without MPI (a build
 * that has none) a communicator has one rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu.h"
#include "nccl.h"
#ifdef BERT_USE_MPI
#include <mpi.h>
#endif

static long n_sums; /* all-reduces done (for the report at exit) */

/* With BERT_EMU_REPORT set, the all-reduces this process did, said at exit. */
__attribute__((destructor)) static void report(void) {
    if (getenv("BERT_EMU_REPORT")) fprintf(stderr, "cuda-emu: NCCL summed %ld times\n", n_sums);
}

struct bert_emu_nccl {
    unsigned magic;
    int n, r;
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
    int n, r;
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
    c->magic = MAGIC, c->n = n, c->r = r;
    *comm = c;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
    (void)stream;
    if (!comm || comm->magic != MAGIC || type != ncclFloat32 || op != ncclSum || count > 0x7fffffff) return ncclInvalidArgument;
    bert_emu_check_range(send, count * sizeof(float), "ncclAllReduce's input");
    bert_emu_check_range(recv, count * sizeof(float), "ncclAllReduce's output");
    n_sums++;
    if (comm->n == 1) {
        if (send != recv) memmove(recv, send, count * sizeof(float));
        return ncclSuccess;
    }
#ifdef BERT_USE_MPI
    return MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) ==
                   MPI_SUCCESS
               ? ncclSuccess
               : ncclSystemError;
#else
    return ncclSystemError;
#endif
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    if (!comm || comm->magic != MAGIC) return ncclInvalidArgument;
    comm->magic = 0;
    free(comm);
    return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t r) {
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclSystemError: return "system error";
    default: return "unhandled error";
    }
}
