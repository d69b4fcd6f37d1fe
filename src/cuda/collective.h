/* collective.h — the ranks' gradient sums across GPUs (NCCL): NVIDIA's
 * collective library, opened at run time like cuBLAS (libnccl.so.2), so a
 * machine without it trains data-parallel with the sums taken on the host.
 *
 * One communicator per training context (bert_cuda_train_join, train.h):
 * rank 0 makes an id (bert_cuda_nccl_id), the job hands it to every rank
 * over MPI, and each rank joins with it on its own GPU. */
#ifndef BERT_CUDA_COLLECTIVE_H
#define BERT_CUDA_COLLECTIVE_H

#include "bert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of a communicator's id (NCCL_UNIQUE_ID_BYTES). */
#define BERT_CUDA_NCCL_ID_BYTES 128

/* NULL when NCCL can sum this process's GPU gradients across ranks, else a
 * sentence saying why not: no GPU path (bert_cuda_unavailable), a build
 * without NCCL's header, libnccl.so.2 not found, or BERT_CUDA_ALLREDUCE=host
 * in the environment (the host's sums asked for). Decided once. */
const char *bert_cuda_nccl_unavailable(void);

/* A new communicator's id into id (rank 0 makes it; every rank joins with
 * the same one). BERT_ERR_UNSUPPORTED where NCCL is unavailable,
 * BERT_ERR_IO when it fails. */
bert_status bert_cuda_nccl_id(unsigned char id[BERT_CUDA_NCCL_ID_BYTES], bert_error *err);

#ifdef __cplusplus
}

#include <cuda_runtime.h>

/* For src/cuda's files (C++). A communicator of n ranks, this one rank r,
 * on the current GPU, into *comm (opaque). With timeout_s > 0 and an NCCL
 * that has non-blocking communicators (2.14 on), no wait on it lasts
 * longer: joining, then each sum, give up after timeout_s without an end
 * (a rank stopped or hangs), abort the communicator (its kernels stop)
 * and fail with BERT_ERR_IO; later sums are BERT_ERR_STATE. Otherwise a
 * blocking communicator, whose waits have no end. */
bert_status cuda_nccl_join(void **comm, const unsigned char id[BERT_CUDA_NCCL_ID_BYTES], int n, int r,
                           double timeout_s, bert_error *err);
/* x[0..count) summed over the ranks in place, queued on stream s: with a
 * timeout, waited for (s idle on return); else the caller waits for s. */
bert_status cuda_nccl_sum(void *comm, float *x, size_t count, cudaStream_t s, bert_error *err);
void cuda_nccl_free(void *comm);
#endif

#endif
