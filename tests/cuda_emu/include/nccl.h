/* nccl.h (emulated; see cuda_runtime.h here): the NCCL types and calls
 * src/cuda uses. The functions live in tests/cuda_emu/nccl.c, built as a
 * libnccl.so.2 that src/cuda opens as it opens NVIDIA's. */
#ifndef BERT_EMU_NCCL_H
#define BERT_EMU_NCCL_H

#include <stddef.h>

#ifdef __cplusplus
#include "cuda_runtime.h"
extern "C" {
#else
typedef struct bert_emu_stream *cudaStream_t;
#endif

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct bert_emu_nccl *ncclComm_t;
typedef struct {
    char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;
typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInProgress = 7
} ncclResult_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
typedef enum { ncclFloat32 = 7 } ncclDataType_t;

/* A communicator's configuration: the fields src/cuda sets (blocking) and
 * those NCCL checks first (size, magic, version), as NCCL lays them out. */
typedef struct {
    size_t size;
    unsigned int magic;
    unsigned int version;
    int blocking;
} ncclConfig_t;
#define NCCL_CONFIG_INITIALIZER {sizeof(ncclConfig_t), 0xcafebeef, 22800, -2147483647 - 1}

ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId);
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank);
ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank, ncclConfig_t *config);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError);
ncclResult_t ncclCommAbort(ncclComm_t comm);
ncclResult_t ncclCommFinalize(ncclComm_t comm);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
const char *ncclGetErrorString(ncclResult_t result);

#ifdef __cplusplus
}
#endif
#endif
