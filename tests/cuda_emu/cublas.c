/* cublas.c — cuBLAS's calls that src/cuda makes, on the CPU, built as the
 * libcublas.so.13 that the emulated build opens (see include/cuda_runtime.h
 * here). Column-major as cuBLAS documents: C[m x n] = alpha op(A) op(B) +
 * beta C, op(X) = X or X^T, X stored with leading dimension ldX; beta 0
 * never reads C. Sums in double, rounded once. Every operand's extent,
 * and a batched call's pointer arrays, must lie inside emulated device
 * memory (bert_emu_check_range, in the test program); a bad argument is
 * CUBLAS_STATUS_INVALID_VALUE, as cuBLAS returns. A product is checked at
 * the call and queued on the handle's stream (bert_emu_enqueue): it runs
 * when the stream's work does, as on a GPU. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cublas_v2.h"
#include "cuda_fp16.h"
#include "emu.h"

struct bert_emu_cublas {
    uint32_t magic;
    cudaStream_t stream;
    cublasMath_t math;
};
enum { MAGIC = 0xc0b1a5u };

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
    struct bert_emu_cublas *h = calloc(1, sizeof *h);
    if (!h) return CUBLAS_STATUS_ALLOC_FAILED;
    h->magic = MAGIC;
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

static int bad(cublasHandle_t h) { return !h || h->magic != MAGIC; }

cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    if (bad(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->magic = 0;
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s) {
    if (bad(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
    if (bad(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_TENSOR_OP_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    h->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

/* One operand: a rows x cols matrix read through op, stored column-major. */
typedef struct {
    const void *p;
    cudaDataType type;
    int trans, ld;
    int tf32; /* operands rounded to TF32 (10 mantissa bits) first */
} operand;

static double element(const operand *x, int i, int j) {
    size_t at = x->trans ? (size_t)j + (size_t)i * (size_t)x->ld : (size_t)i + (size_t)j * (size_t)x->ld;
    uint32_t u;
    if (x->type == CUDA_R_16F) return bert_emu_half_bits_to_float(((const uint16_t *)x->p)[at]);
    if (x->type == CUDA_R_16BF) u = (uint32_t)((const uint16_t *)x->p)[at] << 16;
    else memcpy(&u, (const float *)x->p + at, sizeof u);
    if (x->tf32 && (u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static size_t type_size(cudaDataType t) { return t == CUDA_R_16BF || t == CUDA_R_16F ? 2 : 4; }

/* Checks op(x) of rows x cols: its leading dimension and its extent. */
static int operand_ok(const operand *x, int rows, int cols, const char *what) {
    int srows = x->trans ? cols : rows, scols = x->trans ? rows : cols;
    if (x->ld < (srows > 1 ? srows : 1)) return 0;
    if (rows && cols)
        bert_emu_check_range(x->p, type_size(x->type) * ((size_t)x->ld * (size_t)(scols - 1) + (size_t)srows), what);
    return 1;
}

/* One product queued on its handle's stream: a batch of `batch` pointer
 * triples read from device memory when it runs, or one product (batch 0). */
typedef struct {
    int m, n, k, ldc, batch;
    float alpha, beta;
    operand a, b;
    float *C;
    const float *const *Aarray, *const *Barray;
    float *const *Carray;
    const char *what;
} product;

/* Checks a product's arguments as cuBLAS does. */
static cublasStatus_t gemm_check(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, operand *a,
                                 operand *b, const float *C, int ldc, const char *what) {
    if ((ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) || (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T) || m < 0 || n < 0 ||
        k < 0 || ldc < (m > 1 ? m : 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    a->trans = ta == CUBLAS_OP_T, b->trans = tb == CUBLAS_OP_T;
    if (!operand_ok(a, m, k, what) || !operand_ok(b, k, n, what)) return CUBLAS_STATUS_INVALID_VALUE;
    if (m && n) bert_emu_check_range(C, sizeof(float) * ((size_t)ldc * (size_t)(n - 1) + (size_t)m), what);
    return CUBLAS_STATUS_SUCCESS;
}

static void gemm_one(const product *p, const operand *a, const operand *b, float *C) {
    for (int j = 0; j < p->n; j++)
        for (int i = 0; i < p->m; i++) {
            double s = 0;
            for (int q = 0; q < p->k; q++) s += element(a, i, q) * element(b, q, j);
            float *c = C + (size_t)i + (size_t)j * (size_t)p->ldc;
            *c = (float)(p->alpha * s + (p->beta != 0.0f ? (double)p->beta * *c : 0.0));
        }
}

/* Runs a queued product (bert_emu_enqueue); a batch's pointers, written by
 * the stream's earlier copies, are read and checked now. */
static void gemm_run(void *arg) {
    product *p = arg;
    if (!p->batch) gemm_one(p, &p->a, &p->b, p->C);
    for (int i = 0; i < p->batch; i++) {
        operand a = p->a, b = p->b;
        a.p = p->Aarray[i], b.p = p->Barray[i];
        operand_ok(&a, p->m, p->k, p->what), operand_ok(&b, p->k, p->n, p->what);
        if (p->m && p->n)
            bert_emu_check_range(p->Carray[i], sizeof(float) * ((size_t)p->ldc * (size_t)(p->n - 1) + (size_t)p->m),
                                 p->what);
        gemm_one(p, &a, &b, p->Carray[i]);
    }
    free(p);
}

static cublasStatus_t gemm_queue(cublasHandle_t h, const product *p) {
    product *q = malloc(sizeof *q);
    if (!q) return CUBLAS_STATUS_ALLOC_FAILED;
    *q = *p;
    bert_emu_enqueue(h->stream, gemm_run, q);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           float alpha, operand a, operand b, float beta, float *C, int ldc, const char *what) {
    if (bad(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    cublasStatus_t st = gemm_check(ta, tb, m, n, k, &a, &b, C, ldc, what);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    product p = {m, n, k, ldc, 0, alpha, beta, a, b, C, NULL, NULL, NULL, what};
    return gemm_queue(h, &p);
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                              float *C, int ldc) {
    int tf32 = !bad(h) && h->math == CUBLAS_TF32_TENSOR_OP_MATH;
    operand a = {A, CUDA_R_32F, 0, lda, tf32}, b = {B, CUDA_R_32F, 0, ldb, tf32};
    return gemm(h, ta, tb, m, n, k, *alpha, a, b, *beta, C, ldc, "cublasSgemm");
}

cublasStatus_t cublasSgemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const float *alpha, const float *const Aarray[], int lda,
                                  const float *const Barray[], int ldb, const float *beta, float *const Carray[],
                                  int ldc, int batch) {
    if (bad(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    if (batch == 0) return CUBLAS_STATUS_SUCCESS;
    bert_emu_check_range(Aarray, sizeof(void *) * (size_t)batch, "cublasSgemmBatched A pointers");
    bert_emu_check_range(Barray, sizeof(void *) * (size_t)batch, "cublasSgemmBatched B pointers");
    bert_emu_check_range(Carray, sizeof(void *) * (size_t)batch, "cublasSgemmBatched C pointers");
    int tf32 = h->math == CUBLAS_TF32_TENSOR_OP_MATH;
    /* the shapes now; the pointers are device memory, read when the product runs */
    int arows = ta == CUBLAS_OP_T ? k : m, brows = tb == CUBLAS_OP_T ? n : k;
    if ((ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) || (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T) || m < 0 || n < 0 ||
        k < 0 || ldc < (m > 1 ? m : 1) || lda < (arows > 1 ? arows : 1) || ldb < (brows > 1 ? brows : 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    operand a = {NULL, CUDA_R_32F, ta == CUBLAS_OP_T, lda, tf32}, b = {NULL, CUDA_R_32F, tb == CUBLAS_OP_T, ldb, tf32};
    product p = {m, n, k, ldc, batch, *alpha, *beta, a, b, NULL, Aarray, Barray, Carray, "cublasSgemmBatched"};
    return gemm_queue(h, &p);
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    (void)algo;
    int ok_in = (Atype == CUDA_R_16BF && Btype == CUDA_R_16BF) || (Atype == CUDA_R_16F && Btype == CUDA_R_16F) ||
                (Atype == CUDA_R_32F && Btype == CUDA_R_32F);
    if (!ok_in || Ctype != CUDA_R_32F || (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_TF32))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    int tf32 = Atype == CUDA_R_32F && (compute == CUBLAS_COMPUTE_32F_FAST_TF32 ||
                                       (!bad(h) && h->math == CUBLAS_TF32_TENSOR_OP_MATH));
    operand a = {A, Atype, 0, lda, tf32}, b = {B, Btype, 0, ldb, tf32};
    return gemm(h, ta, tb, m, n, k, *(const float *)alpha, a, b, *(const float *)beta, (float *)C, ldc,
                "cublasGemmEx");
}
