/* ops_backward.c — gradients of the encoder's kernels (see ops.h). The
 * derivations are the textbook ones; tests check each against float64
 * finite differences. */
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/onednn.h"
#include "kernels/ops.h"
#include "kernels/vecmath.h"

#include <omp.h>

/* d/dv GELU(v) = Phi(v) + v phi(v) in float with the vectorisable erf and
 * exp (abs. error ~4e-7): the double erf/exp version of this loop was the
 * largest single cost of a pre-training step (~40 ns per element). dx may
 * alias dy. */
BERT_VECTOR_CLONES
void bert_gelu_backward_portable(float *dx, const float *dy, const float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float d = 0.5f * (1.0f + erf_rational(v * 0.70710678118654752f)) +
                  v * 0.3989422804014327f * exp_nonpositive(-0.5f * v * v);
        dx[i] = dy[i] * d;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* bert_gelu_backward_portable on AVX-512 intrinsics (bert_erf16 and
 * bert_exp_nonpositive16, vecmath.h, in FMAs), whole vectors loaded and
 * stored unmasked, the tail through masked lanes. The compiler's clone of
 * the scalar loop, without contracted multiply-adds, was compute-bound at
 * ~1.3 ns an element on an Intel Xeon (4.2 ms for a bert-base layer's
 * 1,024 x 3,072 activations, one thread); this runs them in 2.8-3.1 ms,
 * near the memory's pace (36 MB moved; a reciprocal estimate for erf's
 * division was no faster). Inside a training step, where x and dy come
 * from memory, the loop is as fast only with both loads issued together at
 * the top of each step, as written here: a first version, and a rewrite as
 * a full-vector loop plus a masked tail, where the compiler sinks dy's load
 * to its use, spent ~1.9x as long here (perf samples, 8 steps: 409 and 430
 * against 224-248). Within the same bound of float64 as the portable loop
 * (tests/kernels/test_ops.c). */
__attribute__((target("avx512f"))) static void gelu_erf_backward_avx512(float *dx, const float *dy, const float *x,
                                                                      long long n) {
    const __m512 rsqrt2 = _mm512_set1_ps(0.70710678118654752f), half = _mm512_set1_ps(0.5f),
                 mhalf = _mm512_set1_ps(-0.5f), rsqrt2pi = _mm512_set1_ps(0.3989422804014327f);
    for (long long i = 0; i < n; i += 16) {
        __mmask16 k = bert_first_lanes(n - i);
        __m512 v = i + 16 <= n ? _mm512_loadu_ps(x + i) : _mm512_maskz_loadu_ps(k, x + i);
        __m512 g = i + 16 <= n ? _mm512_loadu_ps(dy + i) : _mm512_maskz_loadu_ps(k, dy + i);
        __m512 cdf = _mm512_fmadd_ps(bert_erf16(_mm512_mul_ps(v, rsqrt2)), half, half);
        __m512 pdf = _mm512_mul_ps(_mm512_mul_ps(v, rsqrt2pi), bert_exp_nonpositive16(_mm512_mul_ps(_mm512_mul_ps(v, v), mhalf)));
        __m512 d = _mm512_mul_ps(g, _mm512_add_ps(cdf, pdf));
        if (i + 16 <= n) _mm512_storeu_ps(dx + i, d);
        else _mm512_mask_storeu_ps(dx + i, k, d);
    }
}
#endif

/* The GELU derivative over [0, n) on the fastest path this CPU has. */
static void gelu_backward_range(float *dx, const float *dy, const float *x, long long n, int avx512) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (avx512) {
        gelu_erf_backward_avx512(dx, dy, x, n);
        return;
    }
#endif
    (void)avx512;
    bert_gelu_backward_portable(dx, dy, x, (size_t)n);
}

void bert_activation_backward(float *dx, const float *dy, const float *x, size_t n, bert_activation act, int n_threads) {
    long long nn = (long long)n;
    if (act == BERT_ACT_GELU) {
        int avx512 = bert_cpu_has_avx512();
#pragma omp parallel num_threads(n_threads) if (n_threads > 1 && n > 4096)
        {
            long long lo, hi;
            bert_thread_slice(nn, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
            if (lo < hi) gelu_backward_range(dx + lo, dy + lo, x + lo, hi - lo, avx512);
        }
        return;
    }
    const double k0 = 0.7978845608028654; /* sqrt(2 / pi) */
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && n > 4096) schedule(static)
    for (long long i = 0; i < nn; i++) {
        double v = x[i], d;
        switch (act) {
        case BERT_ACT_GELU_TANH:
        case BERT_ACT_GELU_FAST: {
            double u = k0 * (v + 0.044715 * v * v * v), t = tanh(u);
            d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * k0 * (1.0 + 3.0 * 0.044715 * v * v);
            break;
        }
        case BERT_ACT_RELU: d = v > 0.0 ? 1.0 : 0.0; break;
        default: { /* SiLU */
            double s = 1.0 / (1.0 + exp(-v));
            d = s * (1.0 + v * (1.0 - s));
        }
        }
        dx[i] = (float)(dy[i] * d);
    }
}

BERT_VECTOR_CLONES
void bert_mul_inplace(float *x, const float *y, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) x[i] *= y[i];
}

/* One row of bert_softmax_dropout_backward. */
BERT_VECTOR_CLONES
static void softmax_dropout_backward_row(float *ds, const float *dpd, const float *p, const float *pd, int T) {
    double dot = 0.0;
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < T; j++) {
        float dp = p[j] > 0.0f ? dpd[j] * (pd[j] / p[j]) : 0.0f;
        dot += (double)dp * p[j];
    }
#pragma omp simd
    for (int j = 0; j < T; j++) {
        float dp = p[j] > 0.0f ? dpd[j] * (pd[j] / p[j]) : 0.0f;
        ds[j] = (float)(p[j] * (dp - dot));
    }
}

void bert_softmax_dropout_backward(float *dS, const float *dPd, const float *P, const float *Pd, int R, int T) {
    for (int i = 0; i < R; i++) {
        size_t o = (size_t)i * T;
        softmax_dropout_backward_row(dS + o, dPd + o, P + o, Pd + o, T);
    }
}

/* LayerNorm's weight and bias gradients over columns [j0, j1): each
 * column's sum runs over the rows in order, in float, as a row-by-row loop
 * adds them, so the bits do not depend on how the columns are split. */
BERT_VECTOR_CLONES
static void layernorm_backward_columns(float *dweight, float *dbias, const float *dout, const float *inp,
                                       const float *mean, const float *rstd, int N, int C, int j0, int j1) {
    for (int i = 0; i < N; i++) {
        const float *dy = dout + (size_t)i * C, *x = inp + (size_t)i * C;
        double m = mean[i], r = rstd[i];
#pragma omp simd
        for (int j = j0; j < j1; j++) {
            dbias[j] += dy[j];
            dweight[j] += (float)(dy[j] * ((x[j] - m) * r));
        }
    }
}

/* One row's input gradient, in double: dx = r (g - mean(g) - xhat mean(g xhat))
 * with g = dy weight, xhat = (x - mean) r. dx may alias dy. */
BERT_VECTOR_CLONES
static void layernorm_backward_row(float *dx, const float *dy, const float *x, const float *weight, double m, double r,
                                   int C) {
    double sum_g = 0.0, sum_gx = 0.0;
#pragma omp simd reduction(+ : sum_g, sum_gx)
    for (int j = 0; j < C; j++) {
        double xhat = (x[j] - m) * r, g = (double)dy[j] * weight[j];
        sum_g += g;
        sum_gx += g * xhat;
    }
    sum_g /= C;
    sum_gx /= C;
#pragma omp simd
    for (int j = 0; j < C; j++) {
        double xhat = (x[j] - m) * r, g = (double)dy[j] * weight[j];
        dx[j] = (float)(r * (g - sum_g - xhat * sum_gx));
    }
}

void bert_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, const float *mean, const float *rstd, int N, int C, int n_threads) {
    int nt = n_threads > 1 && (long long)N * C >= 65536 ? n_threads : 1;
    /* the columns first: dinp may alias dout */
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        long long lo, hi;
        bert_thread_slice((C + 15) / 16, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        int j0 = (int)(lo * 16), j1 = (int)(hi * 16 < C ? hi * 16 : C);
        if (j0 < j1) layernorm_backward_columns(dweight, dbias, dout, inp, mean, rstd, N, C, j0, j1);
#pragma omp barrier
        bert_thread_slice(N, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        for (long long i = lo; i < hi; i++)
            layernorm_backward_row(dinp + (size_t)i * C, dout + (size_t)i * C, inp + (size_t)i * C, weight, mean[i],
                                   rstd[i], C);
    }
}

/* C[M x N] = op(A) B + beta C (row-major; op(A) = A^T when transA) with
 * CBLAS, or with oneDNN's sgemm where found and beta is 0 (the input
 * gradient dx, written): at the backward pass's bert-base shapes (1,024
 * tokens, one thread, Intel Xeon with AMX) its dx products took 26.2 /
 * 24.3 ms against OpenBLAS's 26.9 / 25.6 (feed-forward) and 6.46 against
 * 6.55 (attention projections). The accumulated weight gradients (beta 1)
 * stay on CBLAS: oneDNN's were 2-6 % faster for the feed-forward's but 4 %
 * slower for the projections', and a oneDNN call that failed part-way (its
 * threads allocate as they go) would leave C partly summed, where the
 * CBLAS retry may only follow a failure when C is written, not added to. */
static void backward_sgemm(int transA, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
                           float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    bert_dnnl_sgemm_fn f = beta == 0.0f ? bert_dnnl_gemm_api()->sgemm : NULL;
    if (f && K > 0 && f(transA ? 'T' : 'N', 'N', M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc) == 0) return;
    bert_sgemm(transA, 0, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void bert_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int M,
                          int N, int K, int accumulate, int n_threads) {
    /* dW[N x K] += dy^T[N x M] x[M x K] */
    backward_sgemm(1, N, K, M, dy, N, x, K, 1.0f, dW, K);
    if (db) bert_column_sums(db, dy, M, N, n_threads);
    /* dx[M x K] = dy[M x N] W[N x K] */
    if (dx) backward_sgemm(0, M, K, N, dy, N, W, K, accumulate ? 1.0f : 0.0f, dx, K);
}
