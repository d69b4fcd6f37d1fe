/* blas.h — the cuBLAS entry points src/cuda calls, from the library
 * device.cu opens at run time (C++; the .cu files only). */
#ifndef BERT_CUDA_BLAS_H
#define BERT_CUDA_BLAS_H

#include <cublas_v2.h>

/* The cuBLAS calls src/cuda makes, from the library opened at run time. */
struct cuda_blas_api {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math;
    decltype(&cublasSgemm_v2) sgemm;
    decltype(&cublasSgemmBatched) sgemm_batched;
    /* the C symbol (CUDA 11 on): compute type a cublasComputeType_t (C++ also
     * declares an overload with a cudaDataType there) */
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
                              const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *,
                              cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
};

/* device.cu: the entry points, valid once bert_cuda_unavailable() has
 * returned NULL (every caller has checked it by then). */
const cuda_blas_api *cuda_blas(void);

#endif
