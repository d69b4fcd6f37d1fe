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
typedef enum { ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInvalidArgument = 4 } ncclResult_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
typedef enum { ncclFloat32 = 7 } ncclDataType_t;

ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId);
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
const char *ncclGetErrorString(ncclResult_t result);

#ifdef __cplusplus
}
#endif
#endif
