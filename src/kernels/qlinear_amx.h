/* qlinear_amx.h — int8 dense layers on AMX int8 tiles with weights packed
 * once (internal); the same scheme as qlinear.h (per-row int8 input, per
 * output channel int8 weights, exact int32 sums), without calling oneDNN
 * (int8 as a whole still requires it: bert_int8_unavailable).
 *
 * Why: oneDNN's int8 matmul costs about as much per call at BERT-Tiny's
 * shapes (128 tokens x 128 hidden) as the AMX bf16 kernel (linear_amx.h),
 * so int8 gained nothing there. Here each call only streams tiles, and the
 * dequantization (acc * sx[m] * sw[n] + b[n]), the activation and the bf16
 * copy run on each 32 x 32 block while it is in L1, instead of a pass over
 * an int32 [M x N] scratch.
 *
 * Packed layout: for each block of 16 output columns nb and each 64-wide
 * chunk kc of the input dimension, one B tile of 16 rows x 64 bytes:
 * element (n, k) sits at ((nb * K/64 + kc) * 16 + (k % 64) / 4) * 64
 * + (n % 16) * 4 + k % 4 (int8 quadruples along k, as tdpbssd reads). */
#ifndef BERT_KERNELS_QLINEAR_AMX_H
#define BERT_KERNELS_QLINEAR_AMX_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/slabs.h"

/* 1 when this build and CPU can run the kernel (AMX-INT8 and the tile state
 * granted: bert_amx_int8_ready) and the shape fits it: N a multiple of 16,
 * K a multiple of 64. */
int bert_amx_qlinear_available(int N, int K);

/* Packs Wq [N x K] (int8, row-major) into dst (N * K bytes). Shape as above. */
void bert_amx_qlinear_pack(int8_t *dst, const int8_t *Wq, int N, int K);

/* y[M x N] (row stride ldy) = (xq[M x K] (row stride K) Wq^T) * sx[m] * sw[n]
 * + bias[n] (NULL: none), each value computed as (float)acc * (sx[m] * sw[n])
 * + bias[n], rounded after each operation (no fused multiply-add: the
 * oneDNN path's formula, the same bits); then the epilogue (NULL: none;
 * a bf16 copy alone with y16_only is written instead of y, which is left
 * as it was).
 * Wp is Wq packed by bert_amx_qlinear_pack. Reads exactly M rows of xq.
 * Split over n_threads as bert_for_slabs does. Only call when
 * bert_amx_qlinear_available(N, K). */
void bert_amx_qlinear(float *y, int ldy, const int8_t *xq, const float *sx, const int8_t *Wp, const float *sw,
                      const float *bias, int M, int N, int K, int n_threads, const bert_epilogue *epi);

/* bert_amx_qlinear (the same values) without fetching W into L2 ahead of
 * its use, for bench_gemm's product ceiling (bert_amx_linear_resident,
 * linear_amx.h, says why). */
void bert_amx_qlinear_resident(float *y, int ldy, const int8_t *xq, const float *sx, const int8_t *Wp,
                               const float *sw, const float *bias, int M, int N, int K, int n_threads,
                               const bert_epilogue *epi);

#endif
