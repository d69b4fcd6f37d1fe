/* ops.c — activations, LayerNorm and softmax as PyTorch computes them. */
#include "kernels/ops.h"

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

/* erf(x) as x * P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf(4) = 1 - 1.5e-8),
 * the rational approximation used by Eigen and XLA for float erf. Max absolute
 * error 3.3e-7 against double erf (checked on a 1e-5 grid over [-10, 10]),
 * which puts GELU within 1.4e-6 of the exact value: far inside the 1e-4 parity
 * bound. Why not erff: libm's erff is a branchy scalar call the compiler cannot
 * vectorise, and it took ~5 ms per bert-base layer at 128 tokens (one core) —
 * a quarter of the batch-1 forward pass. This loop vectorises: ~0.15 ms. */
static inline float erf_rational(float x) {
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return x * p / q;
}

/* One clone per instruction set, picked at load time by the CPU (ifunc): the
 * library is built for baseline x86-64, and the AVX-512 clone of this loop is
 * ~15x faster than the SSE2 one. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void gelu_erf_range(float *x, long long n) {
#pragma omp simd
    for (long long i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erf_rational(x[i] * 0.70710678118654752f));
}

void bert_activation_forward(float *x, size_t n, bert_activation act, int n_threads) {
    long long nn = (long long)n;
    const float k0 = 0.7978845608028654f; /* sqrt(2 / pi) */
    switch (act) {
    case BERT_ACT_GELU:
#pragma omp parallel num_threads(n_threads) if (n_threads > 1 && n > 4096)
        {
            /* Contiguous 16-float-aligned slices, one per thread. */
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            long long per = ((nn + nt - 1) / nt + 15) / 16 * 16;
            long long lo = (long long)t * per, hi = lo + per < nn ? lo + per : nn;
            if (lo < hi) gelu_erf_range(x + lo, hi - lo);
        }
        break;
    case BERT_ACT_GELU_TANH:
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && n > 4096) schedule(static)
        for (long long i = 0; i < nn; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(k0 * (v + 0.044715f * v * v * v)));
        }
        break;
    case BERT_ACT_GELU_FAST:
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && n > 4096) schedule(static)
        for (long long i = 0; i < nn; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(v * k0 * (1.0f + 0.044715f * v * v)));
        }
        break;
    case BERT_ACT_RELU:
        for (long long i = 0; i < nn; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case BERT_ACT_SILU:
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && n > 4096) schedule(static)
        for (long long i = 0; i < nn; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    }
}

void bert_add_layernorm(float *out, const float *a, const float *b, const float *weight, const float *bias, int N,
                        int C, float eps, int n_threads) {
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && N > 1) schedule(static)
    for (int i = 0; i < N; i++) {
        const float *ra = a + (size_t)i * C, *rb = b ? b + (size_t)i * C : NULL;
        float *ro = out + (size_t)i * C;
        double sum = 0.0;
        for (int j = 0; j < C; j++) {
            float v = rb ? ra[j] + rb[j] : ra[j];
            ro[j] = v;
            sum += v;
        }
        double mean = sum / C, var = 0.0;
        for (int j = 0; j < C; j++) {
            double d = ro[j] - mean;
            var += d * d;
        }
        float m = (float)mean, rstd = (float)(1.0 / sqrt(var / C + (double)eps));
        for (int j = 0; j < C; j++) ro[j] = (ro[j] - m) * rstd * weight[j] + bias[j];
    }
}

/* exp(x) for x <= 0 (softmax's shifted scores), vectorisable: n = round(x /
 * ln 2), r = x - n ln 2 in two parts (Cody-Waite), Cephes' degree-6 expf
 * polynomial for e^r, and 2^n built in the exponent bits. Relative error
 * below 8.4e-8 (under one float ulp) against double exp over [-87, 0];
 * below -87 the result is 0, as expf underflows there too (to within
 * denormals), so masked keys (-FLT_MAX) get exactly zero weight; NaN
 * stays NaN, so a diverged model is still seen to diverge. */
static inline float exp_nonpositive(float x) {
    /* Clamped to [-87, 0] so that n below stays in range even for NaN
     * (compared false, becomes -87); NaN is given back at the end. */
    float xc = x > -87.0f ? x : -87.0f;
    xc = xc < 0.0f ? xc : 0.0f;
    /* round to nearest by adding and removing 1.5 * 2^23: vectorises where
     * floorf would be a libm call in the baseline build. */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n); /* a bit cast; compiles to no call */
    /* A multiply by 0/1 rather than a branch, so the loop vectorises
     * without -fno-trapping-math. */
    float e = p * two_n * (float)(x >= -87.0f);
    return x == x ? e : x;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void bert_softmax_rows(float *x, int N, int C) {
    for (int i = 0; i < N; i++) {
        float *r = x + (size_t)i * C;
        float mx = r[0];
#pragma omp simd reduction(max : mx)
        for (int j = 1; j < C; j++) mx = r[j] > mx ? r[j] : mx;
#pragma omp simd
        for (int j = 0; j < C; j++) r[j] = exp_nonpositive(r[j] - mx);
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < C; j++) sum += r[j];
        float inv = 1.0f / sum;
#pragma omp simd
        for (int j = 0; j < C; j++) r[j] *= inv;
    }
}


void bert_tanh(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}
