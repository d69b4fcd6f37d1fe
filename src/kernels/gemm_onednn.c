/* gemm_onednn.c — oneDNN's bf16 matrix products for --dtype bf16.
 *
 * Why oneDNN: Debian's OpenBLAS is built without its bfloat16 kernels (no
 * sbgemm), while oneDNN's dnnl_gemm_bf16bf16f32 uses AVX512-BF16 or AMX (it
 * makes the arch_prctl request for AMX tiles itself). The library is opened
 * at run time (onednn.c), so a machine without it (or without a
 * bf16-capable CPU) still builds and runs every f32 path, and asking for
 * bf16 there is a clear error at model load (capabilities.c). */
#include "kernels/gemm_onednn.h"

#include "kernels/half.h"
#include "kernels/onednn.h"
#include "kernels/ops.h"

#include <stddef.h>

typedef struct {
    float *y;
    const uint16_t *x16, *W16;
    const float *bias;
    int ldy, M, K;
    const bert_epilogue *epi;
} linear_bf16_args;

/* oneDNN runs single-threaded inside each block (nested OpenMP is off). */
static void linear_bf16_block(int i0, int i1, int j0, int j1, void *arg) {
    const linear_bf16_args *a = arg;
    int m = i1 - i0;
    float *y = a->y + (size_t)i0 * a->ldy;
    float beta = bert_bias_prefill(y, a->ldy, a->bias, m, j0, j1);
    bert_dnnl_gemm_api()->gemm_bf16('N', 'T', m, j1 - j0, a->K, 1.0f, a->x16 + (size_t)i0 * a->K, a->K,
                                    a->W16 + (size_t)j0 * a->K, a->K, beta, y + j0, a->ldy);
    bert_epilogue_run(a->epi, a->y, a->ldy, i0, m, j0, j1);
}

void bert_linear_bf16_ex(float *y, int ldy, const uint16_t *x16, const uint16_t *W16, const float *bias, int M, int N,
                         int K, int n_threads, const bert_epilogue *epi) {
    if (M <= 0 || N <= 0) return;
    /* oneDNN's bf16 gemm takes another kernel for a single row: as for f32
     * (gemm.c), fewer than BERT_LINEAR_MIN_ROWS rows run zero-padded */
    bert_padded p;
    if (M < BERT_LINEAR_MIN_ROWS && bert_padded_begin(&p, x16, sizeof(uint16_t) * (size_t)K, M, N)) {
        linear_bf16_args a = {p.y, p.x, W16, bias, N, BERT_LINEAR_MIN_ROWS, K, NULL};
        bert_for_slabs(BERT_LINEAR_MIN_ROWS, N, n_threads, linear_bf16_block, &a);
        bert_padded_end(&p, y, ldy, M, N, epi);
        return;
    }
    linear_bf16_args a = {y, x16, W16, bias, ldy, M, K, epi};
    bert_for_slabs(M, N, n_threads, linear_bf16_block, &a);
}

void bert_linear_bf16(float *y, int ldy, const uint16_t *x16, const uint16_t *W16, const float *bias, int M, int N,
                      int K, int n_threads) {
    bert_linear_bf16_ex(y, ldy, x16, W16, bias, M, N, K, n_threads, NULL);
}

void bert_gemm_bf16(char transa, char transb, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                    const uint16_t *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    bert_dnnl_gemm_api()->gemm_bf16(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void bert_linear_backward_bf16(float *dx, float *dW, float *db, const float *dy, uint16_t *dy16, const uint16_t *x16,
                               const uint16_t *W16, int M, int N, int K, int accumulate, int n_threads) {
    bert_dnnl_gemm_bf16_fn gemm_bf16 = bert_dnnl_gemm_api()->gemm_bf16;
    bert_f32_to_bf16_threaded(dy16, dy, (size_t)M * N, n_threads);
    /* dW[N x K] += dy^T[N x M] x[M x K] */
    gemm_bf16('T', 'N', N, K, M, 1.0f, dy16, N, x16, K, 1.0f, dW, K);
    if (db) bert_column_sums(db, dy, M, N, n_threads);
    /* dx[M x K] = dy[M x N] W[N x K] */
    if (dx) gemm_bf16('N', 'N', M, K, N, 1.0f, dy16, N, W16, K, accumulate ? 1.0f : 0.0f, dx, K);
}
