/* gemm_onednn.h — oneDNN's bf16 matrix products, found at run time. Each
 * requires bert_bf16_unavailable() (capabilities.h) to have returned NULL. */
#ifndef BERT_KERNELS_GEMM_ONEDNN_H
#define BERT_KERNELS_GEMM_ONEDNN_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/capabilities.h"
#include "kernels/slabs.h"

/* y[M x N] (leading dimension ldy) = x16[M x K] W16[N x K]^T + bias, the
 * bf16 form of bert_linear: products in bf16, sums in f32, split over
 * n_threads as bert_for_slabs splits. Requires bert_bf16_unavailable() == NULL. */
void bert_linear_bf16(float *y, int ldy, const uint16_t *x16, const uint16_t *W16, const float *bias, int M, int N,
                      int K, int n_threads);
/* The same with an epilogue (slabs.h; NULL: none). */
void bert_linear_bf16_ex(float *y, int ldy, const uint16_t *x16, const uint16_t *W16, const float *bias, int M, int N,
                         int K, int n_threads, const bert_epilogue *epi);

/* C[M x N] = alpha op(A) op(B) + beta C with bf16 A and B, f32 C,
 * row-major (transa/transb 'N' or 'T', as bert_sgemm), threaded by oneDNN
 * over omp_get_max_threads(). Requires bert_bf16_unavailable() == NULL. */
void bert_gemm_bf16(char transa, char transb, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                    const uint16_t *B, int ldb, float beta, float *C, int ldc);

/* bert_linear_backward (ops.h) with bf16 products: dy is rounded into dy16
 * (scratch of M x N), x16 and W16 are the bf16 forms of the forward's input
 * and weight. dW += dy16^T x16, db += column sums of dy (f32), dx = (or +=
 * when accumulate) dy16 W16; sums in f32. dx may be NULL. */
void bert_linear_backward_bf16(float *dx, float *dW, float *db, const float *dy, uint16_t *dy16, const uint16_t *x16,
                               const uint16_t *W16, int M, int N, int K, int accumulate, int n_threads);

#endif
