/* qlinear.c — int8 dense layers: on AMX, bert.c's own kernel
 * (qlinear_amx.h); elsewhere, and for shapes it does not take, oneDNN's
 * matmul primitive.
 *
 * Why the primitive and not dnnl_gemm_s8s8s32: measured here (one core,
 * oneDNN 2.6.3), the gemm API runs 128x768x768 at ~215 GOP/s, slower than
 * its bf16 gemm, while a matmul primitive created for a fixed shape with
 * weights in the layout it asks for JITs an AMX kernel
 * (brg:avx512_core_amx_int8): 650-2000 GOP/s at BERT's shapes (a run-time
 * M falls back to gemm:jit at ~200-700). The packing and the primitives per
 * row count are bert_dnnl_packed's (onednn.h). Why bert.c's AMX kernel
 * before the primitive where it can: qlinear_amx.h; it gives the same bits.
 *
 * oneDNN is opened at run time (kernels/onednn.c), so bert.c runs without
 * it; building this path needs oneDNN's header (Debian: libdnnl-dev), else
 * int8 reports itself unavailable. */
#include "kernels/qlinear.h"

#include "kernels/cpu.h"
#include "kernels/onednn.h"
#include "kernels/ops.h"
#include "kernels/qlinear_amx.h"
#include "kernels/vecmath.h"
#include "util/error.h"
#include "util/mem.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

BERT_VECTOR_CLONES
static void quantize_row(int8_t *q, float *s, const float *x, int K) {
    float amax = 0.0f;
#pragma omp simd reduction(max : amax)
    for (int j = 0; j < K; j++) {
        float a = x[j] < 0.0f ? -x[j] : x[j]; /* not fabsf/fmaxf: NaN rules keep those scalar */
        amax = a > amax ? a : amax;
    }
    float scale = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / scale;
#pragma omp simd
    for (int j = 0; j < K; j++) {
        float v = x[j] * inv; /* |v| <= 127 */
        v = (v + 12582912.0f) - 12582912.0f; /* round to nearest even, vectorisable */
        q[j] = (int8_t)(int)v;
    }
    *s = scale;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* quantize_row on AVX-512 intrinsics for n rows at once (n <= 4, a
 * constant where it is called: the rows' reductions and divisions
 * overlap), row r at offset r K; the same bits: the maximum ignores NaN
 * as the scalar comparison does (max_ps gives back its second operand,
 * the running maximum, when the first is NaN), cvtps_epi32 rounds to
 * nearest even as the scalar's add-subtract, and the pack to int8
 * truncates as the scalar's (int8_t) cast (|v| <= 127 for finite values).
 * Intel Xeon, one thread, 1,024 rows of 128 (of 512): 0.38 ns a value
 * for the compiler's clone (its conversion to int8 runs through
 * shuffles), 0.123 (0.20) row by row, 0.114 (0.15) four at a time. */
__attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) static inline void
quantize_rows_avx512(int8_t *q, float *s, const float *x, int K, int n) {
    __m512 vmax[4], vinv[4];
    const __m512i sign = _mm512_set1_epi32(0x7fffffff);
    for (int r = 0; r < n; r++) vmax[r] = _mm512_setzero_ps();
    for (int j = 0; j < K; j += 16) {
        __mmask16 k = bert_first_lanes(K - j);
        for (int r = 0; r < n; r++) {
            __m512 v = _mm512_maskz_loadu_ps(k, x + (size_t)r * K + j);
            vmax[r] = _mm512_max_ps(_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), sign)), vmax[r]);
        }
    }
    for (int r = 0; r < n; r++) {
        float amax = _mm512_reduce_max_ps(vmax[r]);
        float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
        vinv[r] = _mm512_set1_ps(1.0f / scale);
        s[r] = scale;
    }
    for (int j = 0; j < K; j += 16) {
        __mmask16 k = bert_first_lanes(K - j);
        for (int r = 0; r < n; r++) {
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + (size_t)r * K + j), vinv[r]));
            _mm_mask_storeu_epi8(q + (size_t)r * K + j, k, _mm512_cvtepi32_epi8(v));
        }
    }
}

/* Rows [i0, i1) four at a time, then one by one. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void quantize_range_avx512(int8_t *xq, float *sx, const float *x,
                                                                                    int i0, int i1, int K) {
    int i = i0;
    for (; i + 4 <= i1; i += 4) quantize_rows_avx512(xq + (size_t)i * K, sx + i, x + (size_t)i * K, K, 4);
    for (; i < i1; i++) quantize_rows_avx512(xq + (size_t)i * K, sx + i, x + (size_t)i * K, K, 1);
}
#endif

void bert_quantize_rows(int8_t *xq, float *sx, const float *x, int M, int K, int n_threads) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (bert_cpu_has_avx512()) {
        if (n_threads <= 1 || M <= 8) {
            quantize_range_avx512(xq, sx, x, 0, M, K);
            return;
        }
#pragma omp parallel num_threads(n_threads)
        {
            int i0, i1;
            bert_thread_rows4(M, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
            if (i0 < i1) quantize_range_avx512(xq, sx, x, i0, i1, K);
        }
        return;
    }
#endif
    bert_quantize_rows_portable(xq, sx, x, M, K, n_threads);
}

void bert_quantize_rows_portable(int8_t *xq, float *sx, const float *x, int M, int K, int n_threads) {
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && M > 8) schedule(static)
    for (int i = 0; i < M; i++) quantize_row(xq + (size_t)i * K, sx + i, x + (size_t)i * K, K);
}

size_t bert_qlinear_scratch(int M, int N) {
    (void)M;
    return (size_t)BERT_DNNL_ROWS * (size_t)N * sizeof(int32_t);
}

/* The checks of bert_qlinear_run's arguments for N outputs. */
static bert_status check_run(const float *y, int ldy, const int8_t *xq, const float *sx, int M, const int32_t *acc,
                             int N, bert_error *err) {
    if (M < 0 || ldy < N)
        return bert_fail(err, BERT_ERR_INPUT, "int8 product of %d rows with a row stride of %d for %d outputs", M, ldy, N);
    if (M > 0 && (!y || !xq || !sx || !acc)) return bert_fail(err, BERT_ERR_INPUT, "int8 product with a NULL buffer");
    return BERT_OK;
}

struct bert_qlinear {
    int N, K;
    float *sw;    /* [N] weight row scales */
    int8_t *wamx; /* the int8 weights packed for qlinear_amx.c, or NULL: */
#ifdef BERT_HAVE_DNNL
    bert_dnnl_packed mm; /* packed for oneDNN with the s8 x s8 -> s32 primitives */
#endif
};

void bert_qlinear_free(bert_qlinear *q) {
    if (!q) return;
#ifdef BERT_HAVE_DNNL
    if (!q->wamx) bert_dnnl_packed_destroy(&q->mm);
#endif
    free(q->wamx);
    free(q->sw);
    free(q);
}

#ifdef BERT_HAVE_DNNL
/* y = acc * (sx[i] sw[j]) + b[j], rows [0, M) of a chunk. */
BERT_VECTOR_CLONES
static void dequant_row(float *y, const int32_t *acc, float sx, const float *sw, const float *b, int N) {
    if (b) {
#pragma omp simd
        for (int j = 0; j < N; j++) y[j] = (float)acc[j] * (sx * sw[j]) + b[j];
    } else {
#pragma omp simd
        for (int j = 0; j < N; j++) y[j] = (float)acc[j] * (sx * sw[j]);
    }
}
#endif

bert_qlinear *bert_qlinear_create(const float *W, int N, int K, const char **why) {
    *why = bert_int8_unavailable();
    if (*why) return NULL;
    *why = "out of memory";
    bert_qlinear *q = calloc(1, sizeof *q);
    int8_t *wq = malloc((size_t)N * K);
    if (!q || !wq || !(q->sw = malloc(sizeof(float) * (size_t)N))) {
        free(wq);
        bert_qlinear_free(q);
        return NULL;
    }
    q->N = N, q->K = K;
    bert_quantize_rows(wq, q->sw, W, N, K, 1); /* symmetric per output channel */
    bert_status rc = BERT_OK;
    if (bert_amx_qlinear_available(N, K)) {
        if ((q->wamx = bert_alloc64((size_t)N * K))) bert_amx_qlinear_pack(q->wamx, wq, N, K);
        else rc = BERT_ERR_NOMEM;
    } else {
#ifdef BERT_HAVE_DNNL
        bert_error e;
        rc = bert_dnnl_packed_init(&q->mm, wq, N, K, dnnl_s8, dnnl_s32, 0, &e);
#endif
    }
    free(wq);
    if (rc != BERT_OK) {
        *why = rc == BERT_ERR_NOMEM ? "out of memory" : "oneDNN refused the int8 matmul";
        bert_qlinear_free(q);
        return NULL;
    }
    *why = NULL;
    return q;
}

bert_status bert_qlinear_run(const bert_qlinear *q, float *y, int ldy, const int8_t *xq, const float *sx,
                             const float *bias, int M, int32_t *acc, const bert_epilogue *epi, int n_threads,
                             bert_error *err) {
    if (!q) return bert_fail(err, BERT_ERR_INPUT, "int8 product without a weight");
    int N = q->N, K = q->K;
    bert_status rc = check_run(y, ldy, xq, sx, M, acc, N, err);
    if (rc == BERT_OK && q->wamx) {
        bert_amx_qlinear(y, ldy, xq, sx, q->wamx, q->sw, bias, M, N, K, n_threads, epi);
        return BERT_OK;
    }
#ifdef BERT_HAVE_DNNL
    for (int r0 = 0; rc == BERT_OK && r0 < M; r0 += BERT_DNNL_ROWS) {
        int m = M - r0 < BERT_DNNL_ROWS ? M - r0 : BERT_DNNL_ROWS, Mp = bert_dnnl_padded_rows(m);
        /* rows m..Mp of the chunk are read from the buffer's padding (see
         * bert_qlinear_rows) and their sums dropped */
        if ((rc = bert_dnnl_packed_run(&q->mm, Mp, xq + (size_t)r0 * K, acc, NULL, err)) != BERT_OK) break;
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && m > 1) schedule(static)
        for (int i = 0; i < m; i++) {
            float *yr = y + (size_t)(r0 + i) * ldy;
            dequant_row(yr, acc + (size_t)i * N, sx[r0 + i], q->sw, bias, N);
            bert_epilogue_run(epi, y, ldy, r0 + i, 1, 0, N);
        }
    }
    return rc;
#else /* built without oneDNN's header: bert_qlinear_create made no q */
    (void)bias, (void)epi, (void)n_threads, (void)K;
    return rc != BERT_OK ? rc : bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", bert_int8_unavailable());
#endif
}

int bert_qlinear_on_amx(const bert_qlinear *q) { return q && q->wamx; }

size_t bert_qlinear_rows(int M) { return (size_t)bert_dnnl_padded_rows(M); }
