/* ops.c — activations, LayerNorm and softmax as PyTorch computes them. */
#include "kernels/ops.h"
#include "kernels/cpu.h"
#include "kernels/vecmath.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <string.h>

int bert_activation_from_name(const char *name) {
    static const struct {
        const char *name;
        bert_activation act;
    } names[] = {
        {"gelu", BERT_ACT_GELU},           {"gelu_new", BERT_ACT_GELU_TANH}, {"gelu_pytorch_tanh", BERT_ACT_GELU_TANH},
        {"relu", BERT_ACT_RELU},           {"silu", BERT_ACT_SILU},          {"swish", BERT_ACT_SILU},
        {"gelu_fast", BERT_ACT_GELU_FAST},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) return (int)names[i].act;
    return -1;
}

BERT_VECTOR_CLONES /* see vecmath.h: the AVX-512 clone is ~15x the SSE2 one */
static void gelu_erf_range(float *x, long long n) {
#pragma omp simd
    for (long long i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erf_rational(x[i] * 0.70710678118654752f));
}

static void gelu_range(float *x, long long n);

/* The activation over x[0..n), on the calling thread. */
static void activation_range(float *x, long long n, bert_activation act) {
    const float k0 = 0.7978845608028654f; /* sqrt(2 / pi) */
    switch (act) {
    case BERT_ACT_GELU:
        gelu_range(x, n);
        break;
    case BERT_ACT_GELU_TANH:
        for (long long i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(k0 * (v + 0.044715f * v * v * v)));
        }
        break;
    case BERT_ACT_GELU_FAST:
        for (long long i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(v * k0 * (1.0f + 0.044715f * v * v)));
        }
        break;
    case BERT_ACT_RELU:
        for (long long i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case BERT_ACT_SILU:
        for (long long i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    }
}

/* y[0..n) = act(x[0..n)) on the calling thread, in pieces of 4,096 values
 * (16 KB) copied and then activated while they are in L1. */
static void activation_copy_range(float *y, const float *x, long long n, bert_activation act) {
    for (long long i = 0; i < n; i += 4096) {
        long long m = n - i < 4096 ? n - i : 4096;
        memcpy(y + i, x + i, (size_t)m * sizeof *y);
        activation_range(y + i, m, act);
    }
}

/* Small or single-threaded calls (the dense layers' epilogues call this per
 * row of a block, thousands of times per layer) stay out of OpenMP: even a
 * region with if(0) costs a team set-up, ~1 us nested inside the slab
 * threads — measured here as 2.8 ms per BERT-Tiny pass. */
void bert_activation_forward(float *x, size_t n, bert_activation act, int n_threads) {
    long long nn = (long long)n;
    if (n_threads <= 1 || n <= 4096) {
        activation_range(x, nn, act);
        return;
    }
#pragma omp parallel num_threads(n_threads)
    {
        /* Contiguous 16-float-aligned slices, one per thread. */
        long long lo, hi;
        bert_thread_slice(nn, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (lo < hi) activation_range(x + lo, hi - lo, act);
    }
}

void bert_activation_forward_copy(float *y, const float *x, size_t n, bert_activation act, int n_threads) {
    long long nn = (long long)n;
    if (n_threads <= 1 || n <= 4096) {
        activation_copy_range(y, x, nn, act);
        return;
    }
#pragma omp parallel num_threads(n_threads)
    {
        long long lo, hi;
        bert_thread_slice(nn, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (lo < hi) activation_copy_range(y + lo, x + lo, hi - lo, act);
    }
}

/* One LayerNorm over N rows of C: out = LayerNorm(a + b) (b may be NULL),
 * the sum a + b first stored in sum (out itself for inference), each row's
 * mean and rstd kept where those are not NULL; before(i0, i1, arg) on each
 * group of rows just before it is read and then(i0, i1, arg) as soon as
 * it is written, where those are not NULL. */
typedef struct {
    float *out, *sum, *mean, *rstd;
    const float *a, *b, *weight, *bias;
    int N, C;
    float eps;
    bert_rows_fn before, then;
    void *then_arg;
} ln_job;

/* One row: ro = LayerNorm(ra + rb) (rb may be NULL), the sum ra + rb
 * stored in rs first (rs may be ro or ra; ro may be ra); the row's mean
 * and 1 / sqrt(var + eps) go to *mean and *rstd where not NULL (what the
 * backward pass reads). The sums stay in double; `omp simd reduction`
 * lets them run in vector lanes (reassociated: ~1e-16 relative, nothing at
 * float precision) instead of one serial chain of double adds, which made
 * LayerNorm 20 % of a BERT-Tiny layer. */
BERT_VECTOR_CLONES
static void add_layernorm_row(float *ro, float *rs, const float *ra, const float *rb, const float *weight,
                              const float *bias, int C, float eps, float *mean, float *rstd) {
    double sum = 0.0;
    if (rb) {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < C; j++) {
            float v = ra[j] + rb[j];
            rs[j] = v;
            sum += v;
        }
    } else {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < C; j++) {
            rs[j] = ra[j];
            sum += ra[j];
        }
    }
    double mu = sum / C, var = 0.0;
#pragma omp simd reduction(+ : var)
    for (int j = 0; j < C; j++) {
        double d = rs[j] - mu;
        var += d * d;
    }
    float m = (float)mu, r = (float)(1.0 / sqrt(var / C + (double)eps));
    if (mean) *mean = m, *rstd = r;
#pragma omp simd
    for (int j = 0; j < C; j++) ro[j] = (rs[j] - m) * r * weight[j] + bias[j];
}

void bert_mask_key_columns(float *S, int T, const float *keymask) {
    for (int j = 0; j < T; j++)
        if (keymask[j] == 0.0f)
            for (int i = 0; i < T; i++) S[(size_t)i * T + j] = -FLT_MAX;
}

/* One row's softmax, any instruction set: max; exp and sum; scale. */
BERT_VECTOR_CLONES
static void softmax_row(float *r, int C) {
    float mx = r[0];
#pragma omp simd reduction(max : mx)
    for (int j = 1; j < C; j++) mx = r[j] > mx ? r[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < C; j++) sum += r[j] = exp_nonpositive(r[j] - mx);
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < C; j++) r[j] *= inv;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX512_TARGET __attribute__((target("avx512f")))

/* GELU (erf form) on x[0..n) with AVX-512 intrinsics (bert_gelu16,
 * vecmath.h), the tail through masked lanes. */
AVX512_TARGET static void gelu_range_avx512(float *x, long long n) {
    for (long long i = 0; i < n; i += 16) {
        __mmask16 k = bert_first_lanes(n - i);
        _mm512_mask_storeu_ps(x + i, k, bert_gelu16(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

/* softmax_row with AVX-512 intrinsics (the tail through masked lanes) on
 * n rows at once (n <= 4, a constant where it is called, so each call
 * site compiles to its own unrolled copy): each row's maximum,
 * exponentials, sum (in lane order) and scaling are those of the row
 * alone; the rows' chains interleave so that their latencies (the
 * exponential's FMAs, the reductions, the division) overlap. One row:
 * 2x the compiler's clone on 128-key rows (AMD EPYC, 8.4 vs 17-23 us per
 * 128 x 128 head); four: 128 x 128 15 -> 8 us on the Intel Xeon. A row
 * of NaN may hold another NaN's bits than alone: the compiler orders a
 * commutative operation's operands as it likes. */
__attribute__((always_inline)) AVX512_TARGET static inline void softmax_rows_avx512(float *r, int C, int n) {
    float *row[4];
    __m512 vmax[4], vsum[4], mx[4], inv[4];
    for (int q = 0; q < n; q++)
        row[q] = r + (size_t)q * C, vmax[q] = _mm512_set1_ps(-INFINITY), vsum[q] = _mm512_setzero_ps();
    for (int j = 0; j < C; j += 16) {
        __mmask16 k = bert_first_lanes(C - j);
        for (int q = 0; q < n; q++) vmax[q] = _mm512_mask_max_ps(vmax[q], k, vmax[q], _mm512_maskz_loadu_ps(k, row[q] + j));
    }
    for (int q = 0; q < n; q++) mx[q] = _mm512_set1_ps(_mm512_reduce_max_ps(vmax[q]));
    for (int j = 0; j < C; j += 16) {
        __mmask16 k = bert_first_lanes(C - j);
        for (int q = 0; q < n; q++) {
            __m512 e = _mm512_maskz_mov_ps(k, bert_exp_nonpositive16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row[q] + j), mx[q])));
            _mm512_mask_storeu_ps(row[q] + j, k, e);
            vsum[q] = _mm512_add_ps(vsum[q], e);
        }
    }
    for (int q = 0; q < n; q++) inv[q] = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum[q]));
    for (int j = 0; j < C; j += 16) {
        __mmask16 k = bert_first_lanes(C - j);
        for (int q = 0; q < n; q++) _mm512_mask_storeu_ps(row[q] + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row[q] + j), inv[q]));
    }
}

/* The sum of v's 16 lanes, in double. */
AVX512_TARGET static inline double sum16_double(__m512 v) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

/* add_layernorm_row on AVX-512 intrinsics for n rows at once (n <= 4, a
 * constant where it is called, as softmax_rows_avx512: the rows' chains of
 * reductions, square root and division overlap), row q at offset q C of
 * ro, rs, ra, rb and at mean[q], rstd[q]. In float lanes (two accumulators
 * of 16, their lanes summed in double): one pass stores ra + rb in rs and
 * sums it, a second sums the
 * differences from that mean and their squares (the corrected two-pass
 * variance: the first mean's rounding, up to C / 32 float ulps of a mean
 * large against the spread, comes back as the differences' sum; no
 * cancellation, where a one-pass sum of squares shifted by the first
 * value lost 3.6e-4 to a 300 among values of +-1), a third normalises
 * with the portable path's formula (no multiply-add); a row's values are
 * those of the row alone.
 * Within 2e-6 of the float64 LayerNorm (tests/kernels/test_ops.c). Intel
 * Xeon, one thread, 128 rows of 128: 7.6 us for the compiler's clone of
 * the portable form, 5.6 with sums in double lanes, row by row, 3.4 now;
 * 768 wide 27 us either way (bound by moving the rows through L2). */
__attribute__((always_inline)) AVX512_TARGET static inline void add_layernorm_rows_avx512(
    float *ro, float *rs, const float *ra, const float *rb, const float *weight, const float *bias, int C, float eps,
    int n, float *mean, float *rstd) {
    __m512 s0[4], s1[4], a0[4], a1[4], vm[4], vr[4];
    size_t off[4];
    for (int q = 0; q < n; q++) s0[q] = s1[q] = _mm512_setzero_ps(), off[q] = (size_t)q * C;
    int j = 0;
    for (; j + 32 <= C; j += 32)
        for (int q = 0; q < n; q++) {
            __m512 v0 = _mm512_loadu_ps(ra + off[q] + j), v1 = _mm512_loadu_ps(ra + off[q] + j + 16);
            if (rb) v0 = _mm512_add_ps(v0, _mm512_loadu_ps(rb + off[q] + j)), v1 = _mm512_add_ps(v1, _mm512_loadu_ps(rb + off[q] + j + 16));
            _mm512_storeu_ps(rs + off[q] + j, v0);
            _mm512_storeu_ps(rs + off[q] + j + 16, v1);
            s0[q] = _mm512_add_ps(s0[q], v0), s1[q] = _mm512_add_ps(s1[q], v1);
        }
    for (; j < C; j += 16) {
        __mmask16 k = bert_first_lanes(C - j);
        for (int q = 0; q < n; q++) {
            __m512 v = _mm512_maskz_loadu_ps(k, ra + off[q] + j);
            if (rb) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, rb + off[q] + j));
            _mm512_mask_storeu_ps(rs + off[q] + j, k, v);
            s0[q] = _mm512_add_ps(s0[q], v);
        }
    }
    float m[4];
    for (int q = 0; q < n; q++) {
        m[q] = (float)(sum16_double(_mm512_add_ps(s0[q], s1[q])) / C);
        vm[q] = _mm512_set1_ps(m[q]);
        s0[q] = s1[q] = a0[q] = a1[q] = _mm512_setzero_ps();
    }
    for (j = 0; j + 32 <= C; j += 32)
        for (int q = 0; q < n; q++) {
            __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(rs + off[q] + j), vm[q]);
            __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(rs + off[q] + j + 16), vm[q]);
            a0[q] = _mm512_add_ps(a0[q], d0), a1[q] = _mm512_add_ps(a1[q], d1);
            s0[q] = _mm512_fmadd_ps(d0, d0, s0[q]), s1[q] = _mm512_fmadd_ps(d1, d1, s1[q]);
        }
    for (; j < C; j += 16) {
        __mmask16 k = bert_first_lanes(C - j);
        for (int q = 0; q < n; q++) {
            __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, rs + off[q] + j), vm[q]);
            a0[q] = _mm512_add_ps(a0[q], d);
            s0[q] = _mm512_fmadd_ps(d, d, s0[q]);
        }
    }
    for (int q = 0; q < n; q++) {
        double dm = sum16_double(_mm512_add_ps(a0[q], a1[q])) / C, var = sum16_double(_mm512_add_ps(s0[q], s1[q])) / C - dm * dm;
        float mq = (float)((double)m[q] + dm), rq = (float)(1.0 / sqrt((var > 0.0 ? var : 0.0) + (double)eps));
        if (mean) mean[q] = mq, rstd[q] = rq;
        vm[q] = _mm512_set1_ps(mq);
        vr[q] = _mm512_set1_ps(rq);
    }
    for (j = 0; j < C; j += 16) {
        __mmask16 k = bert_first_lanes(C - j);
        __m512 w = _mm512_maskz_loadu_ps(k, weight + j), bv = _mm512_maskz_loadu_ps(k, bias + j);
        for (int q = 0; q < n; q++) {
            __m512 x = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, rs + off[q] + j), vm[q]), vr[q]), w);
            _mm512_mask_storeu_ps(ro + off[q] + j, k, _mm512_add_ps(x, bv));
        }
    }
}

/* Rows [i0, i1) of a LayerNorm job (ln_job) four at a time, then one by
 * one, each group written by L->before just before it is read and handed
 * to L->then while it is in L1. */
AVX512_TARGET static void add_layernorm_range_avx512(const ln_job *L, int i0, int i1) {
    size_t C = (size_t)L->C;
    int i = i0;
    for (; i + 4 <= i1; i += 4) {
        if (L->before) L->before(i, i + 4, L->then_arg);
        add_layernorm_rows_avx512(L->out + i * C, L->sum + i * C, L->a + i * C, L->b ? L->b + i * C : NULL, L->weight,
                                  L->bias, L->C, L->eps, 4, L->mean ? L->mean + i : NULL, L->rstd ? L->rstd + i : NULL);
        if (L->then) L->then(i, i + 4, L->then_arg);
    }
    for (; i < i1; i++) {
        if (L->before) L->before(i, i + 1, L->then_arg);
        add_layernorm_rows_avx512(L->out + i * C, L->sum + i * C, L->a + i * C, L->b ? L->b + i * C : NULL, L->weight,
                                  L->bias, L->C, L->eps, 1, L->mean ? L->mean + i : NULL, L->rstd ? L->rstd + i : NULL);
        if (L->then) L->then(i, i + 1, L->then_arg);
    }
}

/* The rows four at a time, then one by one. */
AVX512_TARGET static void softmax_rows_all_avx512(float *x, int N, int C) {
    int i = 0;
    for (; i + 4 <= N; i += 4) softmax_rows_avx512(x + (size_t)i * C, C, 4);
    for (; i < N; i++) softmax_rows_avx512(x + (size_t)i * C, C, 1);
}
#endif

/* Rows [i0, i1) of a LayerNorm job on the fastest path this CPU has. */
static void add_layernorm_range(const ln_job *L, int i0, int i1, int avx512) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (avx512) {
        add_layernorm_range_avx512(L, i0, i1);
        return;
    }
#endif
    (void)avx512;
    size_t C = (size_t)L->C;
    for (int i = i0; i < i1; i++) {
        if (L->before) L->before(i, i + 1, L->then_arg);
        add_layernorm_row(L->out + i * C, L->sum + i * C, L->a + i * C, L->b ? L->b + i * C : NULL, L->weight, L->bias,
                          L->C, L->eps, L->mean ? L->mean + i : NULL, L->rstd ? L->rstd + i : NULL);
        if (L->then) L->then(i, i + 1, L->then_arg);
    }
}

/* All rows of a LayerNorm job, split over n_threads in groups of four. */
static void add_layernorm_all(const ln_job *L, int n_threads) {
    int avx512 = bert_cpu_has_avx512();
    if (n_threads <= 1 || L->N <= 1) { /* no OpenMP team for one thread (see bert_activation_forward) */
        add_layernorm_range(L, 0, L->N, avx512);
        return;
    }
#pragma omp parallel num_threads(n_threads)
    {
        int i0, i1;
        bert_thread_rows4(L->N, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
        if (i0 < i1) add_layernorm_range(L, i0, i1, avx512);
    }
}

void bert_add_layernorm(float *out, const float *a, const float *b, const float *weight, const float *bias, int N,
                        int C, float eps, int n_threads) {
    bert_add_layernorm_then(out, a, b, weight, bias, N, C, eps, n_threads, NULL, NULL);
}

void bert_add_layernorm_then(float *out, const float *a, const float *b, const float *weight, const float *bias, int N,
                             int C, float eps, int n_threads, bert_rows_fn then, void *arg) {
    bert_add_layernorm_around(out, a, b, weight, bias, N, C, eps, n_threads, NULL, then, arg);
}

void bert_add_layernorm_around(float *out, const float *a, const float *b, const float *weight, const float *bias,
                               int N, int C, float eps, int n_threads, bert_rows_fn before, bert_rows_fn then,
                               void *arg) {
    ln_job L = {out, out, NULL, NULL, a, b, weight, bias, N, C, eps, before, then, arg};
    add_layernorm_all(&L, n_threads);
}

void bert_add_layernorm_train(float *out, float *sum, float *mean, float *rstd, const float *a, const float *b,
                              const float *weight, const float *bias, int N, int C, float eps, int n_threads) {
    ln_job L = {out, sum, mean, rstd, a, b, weight, bias, N, C, eps, NULL, NULL, NULL};
    add_layernorm_all(&L, n_threads);
}

void bert_add_layernorm_train_portable(float *out, float *sum, float *mean, float *rstd, const float *a,
                                       const float *b, const float *weight, const float *bias, int N, int C,
                                       float eps) {
    ln_job L = {out, sum, mean, rstd, a, b, weight, bias, N, C, eps, NULL, NULL, NULL};
    add_layernorm_range(&L, 0, N, 0);
}

/* erf GELU over x[0..n): on AVX-512 intrinsics where the CPU has them. */
static void gelu_range(float *x, long long n) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (bert_cpu_has_avx512()) {
        gelu_range_avx512(x, n);
        return;
    }
#endif
    gelu_erf_range(x, n);
}

void bert_gelu_portable(float *x, size_t n) { gelu_erf_range(x, (long long)n); }

void bert_softmax_rows(float *x, int N, int C) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (bert_cpu_has_avx512()) {
        softmax_rows_all_avx512(x, N, C);
        return;
    }
#endif
    bert_softmax_rows_portable(x, N, C);
}

void bert_softmax_rows_portable(float *x, int N, int C) {
    for (int i = 0; i < N; i++) softmax_row(x + (size_t)i * C, C);
}


BERT_VECTOR_CLONES
double bert_softmax_xent_row(const float *x, float *d, int L, int y, float g) {
    float mx = x[0], xy = x[y];
#pragma omp simd reduction(max : mx)
    for (int j = 1; j < L; j++) mx = x[j] > mx ? x[j] : mx;
    double sum = 0.0;
    if (d) {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < L; j++) sum += (d[j] = exp_nonpositive(x[j] - mx));
        float f = (float)(g / sum);
#pragma omp simd
        for (int j = 0; j < L; j++) d[j] *= f;
        d[y] -= g;
    } else {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < L; j++) sum += exp_nonpositive(x[j] - mx);
    }
    return -((double)xy - mx - log(sum));
}

void bert_tanh(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}

BERT_VECTOR_CLONES
static void column_sums_range(float *db, const float *dy, int M, int N, int j0, int j1) {
    for (int i = 0; i < M; i++) {
        const float *r = dy + (size_t)i * N;
#pragma omp simd
        for (int j = j0; j < j1; j++) db[j] += r[j];
    }
}

void bert_column_sums(float *db, const float *dy, int M, int N, int n_threads) {
#pragma omp parallel num_threads(n_threads) if (n_threads > 1 && (size_t)M * N > 65536)
    {
        long long lo, hi;
        bert_thread_slice(N, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (lo < hi) column_sums_range(db, dy, M, N, (int)lo, (int)hi);
    }
}
