/* gemm.c — matrix products through CBLAS or a portable fallback. */
#include "kernels/gemm.h"
#include "kernels/onednn.h"

#include <stddef.h>

#ifdef BERT_USE_CBLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

void bert_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
#ifdef BERT_USE_CBLAS
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        for (int k = 0; k < K; k++) {
            float a = alpha * (transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
            if (!transB) {
                const float *b = B + (size_t)k * ldb;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (int j = 0; j < N; j++) c[j] += a * B[(size_t)j * ldb + k];
            }
        }
    }
#endif
}

typedef struct {
    float *y;
    const float *x, *W, *bias;
    int ldy, M, K;
    const bert_epilogue *epi;
} linear_args;

static void linear_block(int i0, int i1, int j0, int j1, void *arg) {
    const linear_args *a = arg;
    int m = i1 - i0;
    float *y = a->y + (size_t)i0 * a->ldy;
    const float *x = a->x + (size_t)i0 * a->K, *W = a->W + (size_t)j0 * a->K;
    float beta = bert_bias_prefill(y, a->ldy, a->bias, m, j0, j1);
    if (!bert_dnnl_sgemm(m, j1 - j0, a->K, x, a->K, W, a->K, beta, y + j0, a->ldy))
        bert_sgemm(0, 1, m, j1 - j0, a->K, 1.0f, x, a->K, W, a->K, beta, y + j0, a->ldy);
    bert_epilogue_run(a->epi, a->y, a->ldy, i0, m, j0, j1);
}

/* Below BERT_LINEAR_MIN_ROWS rows the backends switch kernels (oneDNN's
 * sgemm below 16 rows, OpenBLAS's small-matrix and gemv kernels below ~10),
 * and those sum in another order: a row alone would come out a few ulps away
 * from the same row inside a longer product. Fewer rows therefore run as a
 * zero-padded product of BERT_LINEAR_MIN_ROWS rows, whose extra rows are
 * dropped; from 16 rows on, oneDNN's sgemm gives a row the same bits at
 * every row count (tests/kernels/test_ops.c: counts 1..200, 1 and 2
 * threads). OpenBLAS's small-N kernels still vary with the row count for
 * some shapes (N = 2, 3, 64 seen). The cost: at 16 rows oneDNN's sgemm
 * repacks W on every call — BERT-Tiny's layers at 8 tokens 0.10 -> 0.23 ms
 * a pass (AMD EPYC); from 16 rows on, nothing. bert-base-sized layers and
 * the pooler run packed (linear_packed.h) and do not come here. Without the
 * memory for the padded copy the product runs unpadded: the same values to
 * rounding. */
void bert_linear_ex(float *y, int ldy, const float *x, const float *W, const float *bias, int M, int N, int K,
                    int n_threads, const bert_epilogue *epi) {
    if (M <= 0 || N <= 0) return;
    bert_padded p;
    if (M < BERT_LINEAR_MIN_ROWS && bert_padded_begin(&p, x, sizeof(float) * (size_t)K, M, N)) {
        linear_args a = {p.y, p.x, W, bias, N, BERT_LINEAR_MIN_ROWS, K, NULL};
        bert_for_slabs(BERT_LINEAR_MIN_ROWS, N, n_threads, linear_block, &a);
        bert_padded_end(&p, y, ldy, M, N, epi);
        return;
    }
    linear_args a = {y, x, W, bias, ldy, M, K, epi};
    bert_for_slabs(M, N, n_threads, linear_block, &a);
}

void bert_linear(float *y, int ldy, const float *x, const float *W, const float *bias, int M, int N, int K,
                 int n_threads) {
    bert_linear_ex(y, ldy, x, W, bias, M, N, K, n_threads, NULL);
}

#ifdef BERT_USE_CBLAS
/* OpenBLAS extensions, declared here so any CBLAS header works. */
extern int openblas_get_parallel(void) __attribute__((weak));
extern void openblas_set_num_threads(int) __attribute__((weak));
#endif

int bert_blas_threads_enter(int n_threads) {
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(n_threads > 0 ? n_threads : 1);
    return saved;
#else
    (void)n_threads;
    return 0;
#endif
}

void bert_blas_threads_leave(int saved) {
#ifdef _OPENMP
    omp_set_num_threads(saved);
#else
    (void)saved;
#endif
}

void bert_gemm_init(void) {
#ifdef BERT_USE_CBLAS
    /* A pthread build of OpenBLAS would start its own threads inside each
     * of ours; an OpenMP build already runs single-threaded there. */
    if (openblas_get_parallel && openblas_set_num_threads && openblas_get_parallel() == 1) openblas_set_num_threads(1);
#endif
}
