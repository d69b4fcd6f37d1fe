/* linear_amx.h — dense layers on AMX bf16 tiles with weights packed once
 * (internal).
 *
 * Under --dtype bf16 the dense layers went through oneDNN's
 * dnnl_gemm_bf16bf16f32, which takes W as a plain row-major matrix and
 * repacks it on every call: at BERT-Tiny's shapes (128 tokens x 128 hidden)
 * that repacking and the call's set-up were most of a product's time. Here
 * W is packed once at model load into the layout AMX's tdpbf16ps reads, and
 * each call only streams tiles; the bias is the accumulators' starting value
 * and the epilogue (activation, bf16 copy) runs on each 32 x 32 block while
 * it is in L1.
 *
 * Packed layout: for each block of 16 output columns nb and each 32-wide
 * chunk kc of the input dimension, one B tile of 16 rows x 64 bytes:
 * element (n, k) sits at ((nb * K/32 + kc) * 16 + (k % 32) / 2) * 32
 * + (n % 16) * 2 + k % 2 (bf16 pairs along k). */
#ifndef BERT_KERNELS_LINEAR_AMX_H
#define BERT_KERNELS_LINEAR_AMX_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/slabs.h"

/* 1 when this build and CPU can run the kernel (AMX-BF16, AMX tile state
 * granted by Linux — requested on the first call) and the shape fits it:
 * N a multiple of 16, K a multiple of 32. */
int bert_amx_linear_available(int N, int K);

/* Which kernel a bf16 dense layer of this shape should use: 1 = this one
 * wherever it is available, 0 = oneDNN's (packed matmul or gemm). Measured
 * on the Intel Xeon with AMX, one thread: BERT-Tiny's 128 x 384 x 128 21-29
 * us here vs 58-128 us for oneDNN's gemm; bert-base's four products of 2
 * layers in pass order (each weight from L3, 1,024 rows) 23.8-24.1 ms here
 * in row groups against 26.0 for oneDNN's packed matmul in 512-row calls,
 * 128 rows 2.87 against 3.44 ms; and here the epilogue runs on each block
 * in registers (bf16 pass, bert-base shape, batch 1: 4.86-4.89 -> 4.30-4.45
 * ms). */
int bert_amx_linear_preferred(int N, int K);

/* Packs W [N x K] (f32, row-major, as nn.Linear stores it) into dst, N * K
 * bf16 values rounded to nearest even. Shape as above. */
void bert_amx_pack_weights(uint16_t *dst, const float *W, int N, int K);

/* y[M x N] (row stride ldy) = x16[M x K] (bf16, row stride K) W^T + bias
 * (NULL: none), with W packed by bert_amx_pack_weights; then the epilogue
 * (NULL: none). Split over n_threads by rows, or columns for short inputs
 * (bert_for_slabs; why rows: linear_avx512.h). Only call when
 * bert_amx_linear_available(N, K). */
void bert_amx_linear(float *y, int ldy, const uint16_t *x16, const uint16_t *Wp, const float *bias, int M, int N,
                     int K, int n_threads, const bert_epilogue *epi);

/* bert_amx_linear (the same values) without fetching W into L2 ahead of
 * its use. bert_amx_linear does, as a pass needs (each layer's W comes
 * from L3); where W already sits in L2 that costs ~1-5 % (one thread,
 * 128 x 768 x 768: ~1 % after bench_gemm's warm-up, 3-5 % without it),
 * so bench_gemm times this too for the product ceiling. */
void bert_amx_linear_resident(float *y, int ldy, const uint16_t *x16, const uint16_t *Wp, const float *bias, int M,
                              int N, int K, int n_threads, const bert_epilogue *epi);

#endif
