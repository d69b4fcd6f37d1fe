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
 * (available, and either the weights are small — N x K <= 512 x 512, where
 * oneDNN's per-call repacking and set-up dominate — or oneDNN's bf16 GEMM is
 * missing), 0 = oneDNN's dnnl_gemm_bf16bf16f32. Measured on one core
 * (pre-training paused, best of 5 x 200 calls): BERT-Tiny's 128 x 384 x 128
 * 21-29 us here vs 58-128 us; bert-base's 128 x 768 x 768 a tie (237 vs
 * 202-371 us); bigger products favour oneDNN (128 x 3072 x 768: ~1050 vs
 * 620-970 us; 512 x 768 x 768: ~1000 vs 590-830 us) — this kernel reaches
 * ~600 GFLOP/s, oneDNN's ~1000. */
#define AMX_PREFERRED_MAX_WEIGHTS (512L * 512L)
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

#endif
