/* gemm.h — the one interface every matrix product in bert.c goes through.
 *
 * Backed by CBLAS (OpenBLAS, found with pkg-config) or, when built with
 * BLAS=none, by a portable loop nest. Keeping all products behind these two
 * calls lets the backend change without touching the model code. */
#ifndef BERT_KERNELS_GEMM_H
#define BERT_KERNELS_GEMM_H

#include "kernels/slabs.h"

/* C[M x N] = alpha * op(A) * op(B) + beta * C, row-major, on the calling
 * thread only. op(A) is [M x K]: A itself (transA = 0, lda >= K) or A's
 * transpose (transA = 1, A is [K x M]). Likewise op(B) is [K x N]. */
void bert_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);

/* A linear layer as PyTorch stores it: y[M x N] = x[M x K] * W^T + bias,
 * W is [N x K] (out x in), bias [N] or NULL. Rows of y have stride ldy.
 * Splits the output over n_threads OpenMP threads (bert_for_slabs: rows
 * for long inputs, columns for short ones). Each row of y is
 * the same bits whatever M and n_threads are (a product of fewer than
 * BERT_LINEAR_MIN_ROWS rows runs zero-padded to that many, slabs.h), so a
 * sequence's result does not depend on the batch around it. */
void bert_linear(float *y, int ldy, const float *x, const float *W, const float *bias, int M, int N, int K,
                 int n_threads);

/* bert_linear with an epilogue (slabs.h; NULL: none). */
void bert_linear_ex(float *y, int ldy, const float *x, const float *W, const float *bias, int M, int N, int K,
                    int n_threads, const bert_epilogue *epi);

/* BLAS calls made outside our own parallel regions (a one-thread run, the
 * per-head attention products) take their thread count from the calling
 * thread's OpenMP setting: OpenBLAS's and oneDNN's OpenMP builds follow
 * omp_get_max_threads(), which is every core by default. A call of the
 * library sets it to the caller's n_threads on entry and restores it on
 * exit, so "1 thread" means one core. Returns what to restore. */
int bert_blas_threads_enter(int n_threads);
void bert_blas_threads_leave(int saved);

/* Called once before threaded use: makes the BLAS run single-threaded
 * inside our own OpenMP regions (needed for pthread builds of OpenBLAS). */
void bert_gemm_init(void);

#endif
