/* linear_avx512.h — small f32 dense layers on AVX-512 registers, weights
 * packed once at load (internal).
 *
 * Layers below what oneDNN's packed matmul takes (linear_packed.h: both
 * sides >= 256, so BERT-Tiny's and other small models' layers) went through
 * sgemm, which packs W on every call and, on two threads, splits 128-row
 * inputs into two 64-row products that each pack all of W again. Here W is
 * packed at load, each output block of 6 rows x 64 columns is 24 zmm
 * accumulators fed by one broadcast of x per row and four loads of W per
 * input index (24 FMAs; linear_avx512.c has the smaller blocks for the
 * edges). Measured alone with 8 x 32 blocks (AMD EPYC, median of 5): one
 * thread 128 x 128 x 512 146 vs 172 us, 128 x 384 x 128 115 vs 118 us;
 * two threads 75 vs 101 us and 64 vs 66 us. Threads take row parts from
 * 64 rows each (bert_for_slabs), so a layer reads the rows its thread just
 * wrote: on an Intel Xeon (2 cores), BERT-Tiny's 128 x 128 x 512 after the
 * 128 x 512 x 128 that made its input, two threads, took 44 us by rows vs
 * 68 us by column slabs (each thread reading the half of every row the
 * other core wrote), 1,024 rows 353 vs 545 us. W is 64-byte aligned (each
 * load one cache line: 16-byte aligned ran ~8 % slower).
 *
 * Packed layout: for each block of 16 output columns nb, K rows of 16
 * floats: element (n, k) at (nb * K + k) * 16 + n % 16. Each output row is
 * summed in the same order whatever M is, so a sequence's result does not
 * depend on its batch. */
#ifndef BERT_KERNELS_LINEAR_AVX512_H
#define BERT_KERNELS_LINEAR_AVX512_H

#include <stddef.h>

#include "kernels/slabs.h"

/* 1 when this CPU and build run the kernel, N is a multiple of 16 and a
 * side is under BERT_PLINEAR_MIN_SIDE (a layer oneDNN's packed matmul does
 * not take: larger ones stay on it or on the BLAS, whether or not oneDNN is
 * found, so no large model carries a second copy of its weights).
 * BERT_GEMM=openblas, a choice between the two BLAS, does not change it;
 * bert_model_params.pack_weights = 0 keeps the plain path. */
int bert_avx512_linear_preferred(int N, int K);

/* Packs W [N x K] (row-major, as nn.Linear stores it) into dst, N * K floats. */
void bert_avx512_pack_weights(float *dst, const float *W, int N, int K);

/* y[M x N] (row stride ldy) = x[M x K] (row stride K) W^T + bias (NULL:
 * none), W packed by bert_avx512_pack_weights; then the epilogue (NULL:
 * none). Split over n_threads by rows, or columns for short inputs
 * (bert_for_slabs). Only call where
 * bert_avx512_linear_preferred(N, K). */
void bert_avx512_linear(float *y, int ldy, const float *x, const float *Wp, const float *bias, int M, int N, int K,
                        int n_threads, const bert_epilogue *epi);

#endif
