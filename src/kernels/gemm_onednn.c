/* gemm_onednn.c — oneDNN's matrix products: bf16 for --dtype bf16, and its
 * f32 sgemm for the dense layers (7-13 % faster than OpenBLAS at BERT's
 * shapes here, e.g. 128x768x768 on one core: 139 vs 123 GFLOP/s, and free of
 * OpenBLAS's CPU-detection trap on new CPUs).
 *
 * Why oneDNN, and why dlopen: Debian's OpenBLAS is built without its
 * bfloat16 kernels (no sbgemm), while oneDNN's dnnl_gemm_bf16bf16f32 uses
 * AVX512-BF16 or AMX (it makes the arch_prctl request for AMX tiles
 * itself). Measured here (128 x 768 x 768, one core): OpenBLAS sgemm
 * 90 GFLOP/s, oneDNN bf16 259 GFLOP/s. Opening the library at run time
 * keeps it optional: a machine without it (or without a bf16-capable CPU)
 * still builds and runs every f32 path, and asking for bf16 there is a
 * clear error at model load. */
#include "kernels/gemm_onednn.h"

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/half.h"
#include "kernels/ops.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* dnnl_status_t dnnl_gemm_bf16bf16f32(char transa, char transb, dnnl_dim_t M,
 * N, K, float alpha, const bf16 *A, lda, const bf16 *B, ldb, float beta,
 * float *C, ldc): row-major, dnnl_dim_t is int64_t, 0 is success. */
typedef int (*dnnl_gemm_bf16_fn)(char, char, int64_t, int64_t, int64_t, float, const uint16_t *, int64_t,
                                 const uint16_t *, int64_t, float, float *, int64_t);
/* dnnl_sgemm: the same with float A and B. */
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *,
                             int64_t, float, float *, int64_t);

/* The one process-wide state of this file: the resolved functions, set once
 * under pthread_once and read-only afterwards. */
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;
static dnnl_gemm_bf16_fn gemm_bf16;
static dnnl_sgemm_fn sgemm_dnnl;
static const char *unavailable_reason;

static void resolve(void) {
#if defined(__SANITIZE_ADDRESS__)
    /* With oneDNN in the process, LeakSanitizer's exit-time tracer dies
     * ("Tracer caught signal 11") in about half the runs, which hides any
     * real report. Sanitizer builds therefore run without it: the f32 paths
     * on OpenBLAS, and --dtype bf16 as the clear error below. */
    unavailable_reason = "bf16 needs oneDNN, which sanitizer builds do not load";
    return;
#endif
    void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libdnnl.so.3", RTLD_NOW | RTLD_LOCAL);
    /* BERT_GEMM=openblas keeps every f32 product on OpenBLAS (for comparing). */
    const char *force = getenv("BERT_GEMM");
    if (h && !(force && strcmp(force, "openblas") == 0)) sgemm_dnnl = (dnnl_sgemm_fn)dlsym(h, "dnnl_sgemm");
    if (!bert_cpu_has_avx512bf16()) {
        unavailable_reason = "bf16 needs a CPU with AVX512-BF16 (Cooper Lake, Sapphire Rapids or newer); this one has not";
        return;
    }
    if (!h) {
        unavailable_reason = "bf16 needs oneDNN (libdnnl.so.2; Debian: apt-get install libdnnl2), which was not found";
        return;
    }
    gemm_bf16 = (dnnl_gemm_bf16_fn)dlsym(h, "dnnl_gemm_bf16bf16f32");
    if (!gemm_bf16) unavailable_reason = "bf16 needs dnnl_gemm_bf16bf16f32, which the libdnnl found lacks";
}

int bert_dnnl_sgemm(int M, int N, int K, const float *x, int ldx, const float *W, int ldw, float beta, float *y,
                    int ldy) {
    pthread_once(&resolve_once, resolve);
    if (!sgemm_dnnl) return 0;
    return sgemm_dnnl('N', 'T', M, N, K, 1.0f, x, ldx, W, ldw, beta, y, ldy) == 0;
}

int bert_dnnl_sgemm_available(void) {
    pthread_once(&resolve_once, resolve);
    return sgemm_dnnl != NULL;
}

const char *bert_bf16_unavailable(void) {
    pthread_once(&resolve_once, resolve);
    return gemm_bf16 ? NULL : unavailable_reason;
}

typedef struct {
    float *y;
    const uint16_t *x16, *W16;
    const float *bias;
    int ldy, M, K;
    const bert_epilogue *epi;
} linear_bf16_args;

/* oneDNN runs single-threaded inside each slab (nested OpenMP is off). */
static void linear_bf16_slab(int j0, int j1, void *arg) {
    const linear_bf16_args *a = arg;
    float beta = bert_bias_prefill(a->y, a->ldy, a->bias, a->M, j0, j1);
    gemm_bf16('N', 'T', a->M, j1 - j0, a->K, 1.0f, a->x16, a->K, a->W16 + (size_t)j0 * a->K, a->K, beta, a->y + j0,
              a->ldy);
    bert_epilogue_run(a->epi, a->y, a->ldy, a->M, j0, j1);
}

void bert_linear_bf16_ex(float *y, int ldy, const uint16_t *x16, const uint16_t *W16, const float *bias, int M, int N,
                         int K, int n_threads, const bert_epilogue *epi) {
    if (M <= 0 || N <= 0) return;
    linear_bf16_args a = {y, x16, W16, bias, ldy, M, K, epi};
    bert_for_column_slabs(N, n_threads, linear_bf16_slab, &a);
}

void bert_linear_bf16(float *y, int ldy, const uint16_t *x16, const uint16_t *W16, const float *bias, int M, int N,
                      int K, int n_threads) {
    bert_linear_bf16_ex(y, ldy, x16, W16, bias, M, N, K, n_threads, NULL);
}

void bert_gemm_bf16(char transa, char transb, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                    const uint16_t *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    gemm_bf16(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void bert_linear_backward_bf16(float *dx, float *dW, float *db, const float *dy, uint16_t *dy16, const uint16_t *x16,
                               const uint16_t *W16, int M, int N, int K, int accumulate, int n_threads) {
    bert_f32_to_bf16_threaded(dy16, dy, (size_t)M * N, n_threads);
    /* dW[N x K] += dy^T[N x M] x[M x K] */
    gemm_bf16('T', 'N', N, K, M, 1.0f, dy16, N, x16, K, 1.0f, dW, K);
    if (db) bert_column_sums(db, dy, M, N, n_threads);
    /* dx[M x K] = dy[M x N] W[N x K] */
    if (dx) gemm_bf16('N', 'N', M, K, N, 1.0f, dy16, N, W16, K, accumulate ? 1.0f : 0.0f, dx, K);
}
