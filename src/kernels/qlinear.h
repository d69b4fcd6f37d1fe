/* qlinear.h — int8 dense layers (BERT_COMPUTE_INT8): dynamic quantization,
 * the products on AMX tiles by bert.c's own kernel (qlinear_amx.h) where
 * the CPU has AMX-INT8 and the shape fits it, else through oneDNN's matmul
 * primitive (VNNI or AMX).
 *
 * Scheme (as ONNX Runtime's / PyTorch's dynamic quantization of Linear,
 * with finer activation scales): each weight row (output channel) is
 * quantized once at load to int8 with its own symmetric scale max|w| / 127;
 * each input row (token) is quantized at run time with its own scale
 * max|x| / 127. The int8 x int8 products are summed exactly in int32, then
 * y = acc * sx[m] * sw[n] + b[n] in f32. The weights are stored in the
 * blocked layout the kernel asks for, so nothing is repacked per call. */
#ifndef BERT_KERNELS_QLINEAR_H
#define BERT_KERNELS_QLINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "kernels/capabilities.h"
#include "kernels/slabs.h"

/* Whether int8 products can run here, and why not, is said by
 * bert_int8_unavailable (capabilities.h). */

/* One dense layer's weights, quantized and packed. */
typedef struct bert_qlinear bert_qlinear;

/* Quantize and pack W [N x K] (f32, out x in). NULL on failure (out of
 * memory or oneDNN refusing the shape); *why then says what. */
bert_qlinear *bert_qlinear_create(const float *W, int N, int K, const char **why);
void bert_qlinear_free(bert_qlinear *q);

/* x[M x K] (row stride K) quantized per row into xq [M x K] and scales
 * sx [M]: the form bert_qlinear_run takes, made once per input and shared
 * by every layer that reads it (Q, K and V). */
void bert_quantize_rows(int8_t *xq, float *sx, const float *x, int M, int K, int n_threads);
/* The same without the AVX-512 intrinsics (the same bits; for the tests,
 * and what runs on CPUs without AVX-512). */
void bert_quantize_rows_portable(int8_t *xq, float *sx, const float *x, int M, int K, int n_threads);

/* 1 when q runs on bert.c's AMX int8 kernel (qlinear_amx.h); 0 on oneDNN, or for NULL. */
int bert_qlinear_on_amx(const bert_qlinear *q);

/* Rows to allocate for an xq of M rows: bert_qlinear_run may read up to a
 * multiple of 16 (oneDNN's path; the padding's values do not matter). */
size_t bert_qlinear_rows(int M);

/* Bytes of int32 scratch bert_qlinear_run needs for M rows of N outputs. */
size_t bert_qlinear_scratch(int M, int N);

/* y[M x N] (row stride ldy) = dequant(xq W^T) + bias, then the epilogue
 * (epi may be NULL; with y16_only the AMX kernel leaves y unwritten). acc is the
 * scratch above (the AMX kernel needs none). Threads: the
 * AMX kernel uses n_threads, oneDNN omp_get_max_threads(); the callers set
 * it per call (bert_blas_threads_enter). M = 0 does nothing. Fails with
 * BERT_ERR_INPUT for a NULL q or buffer, M < 0 or ldy < N, with
 * BERT_ERR_UNSUPPORTED in a build without oneDNN's header, and with what
 * oneDNN said (its status named) when the primitive for a chunk of rows
 * cannot be made or run; rows of y before the failing chunk are written. */
bert_status bert_qlinear_run(const bert_qlinear *q, float *y, int ldy, const int8_t *xq, const float *sx,
                             const float *bias, int M, int32_t *acc, const bert_epilogue *epi, int n_threads,
                             bert_error *err);

#endif
