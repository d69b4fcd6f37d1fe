/* vecmath.h — float math the compiler can vectorise (internal).
 *
 * libm's erff/expf are scalar calls that keep a loop from vectorising; these
 * inline replacements are branch-free polynomials, accurate to about one
 * float ulp (bounds below), so hot loops over activations and logits run at
 * vector speed. BERT_VECTOR_CLONES marks a function to be compiled once per
 * instruction set and picked at load time (ifunc): the library is built for
 * baseline x86-64, and the AVX-512 clone of such a loop is ~15x faster than
 * the SSE2 one. */
#ifndef BERT_KERNELS_VECMATH_H
#define BERT_KERNELS_VECMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* The AVX-512 mask of the first n of 16 lanes: all from 16 on, none for
 * n <= 0 (the tails of the intrinsics loops). */
static inline __mmask16 bert_first_lanes(long long n) {
    return n >= 16 ? (__mmask16)0xFFFF : n > 0 ? (__mmask16)((1u << n) - 1) : (__mmask16)0;
}
/* r[t] = column t of the 16 x 16 matrix of 32-bit lanes whose rows were
 * r[0..15]: unpacks of 32 and 64 bits transpose each 128-bit lane's 4 x 4
 * blocks, two rounds of 128-bit shuffles put the blocks in place. For
 * the attention kernels' packing of K (attention_bf16.c, attention_f32.c). */
__attribute__((target("avx512f"))) static inline void bert_transpose_16x16(__m512i r[16]) {
    __m512i a[16], b[16];
    for (int k = 0; k < 8; k++) {
        a[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        a[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 4; k++) { /* b[4k + e], lane L: rows 4k .. 4k + 3, column 4L + e */
        b[4 * k] = _mm512_unpacklo_epi64(a[4 * k], a[4 * k + 2]);
        b[4 * k + 1] = _mm512_unpackhi_epi64(a[4 * k], a[4 * k + 2]);
        b[4 * k + 2] = _mm512_unpacklo_epi64(a[4 * k + 1], a[4 * k + 3]);
        b[4 * k + 3] = _mm512_unpackhi_epi64(a[4 * k + 1], a[4 * k + 3]);
    }
    for (int e = 0; e < 4; e++) {
        __m512i c0 = _mm512_shuffle_i32x4(b[e], b[4 + e], 0x44), c1 = _mm512_shuffle_i32x4(b[e], b[4 + e], 0xEE);
        __m512i d0 = _mm512_shuffle_i32x4(b[8 + e], b[12 + e], 0x44), d1 = _mm512_shuffle_i32x4(b[8 + e], b[12 + e], 0xEE);
        r[e] = _mm512_shuffle_i32x4(c0, d0, 0x88);
        r[4 + e] = _mm512_shuffle_i32x4(c0, d0, 0xDD);
        r[8 + e] = _mm512_shuffle_i32x4(c1, d1, 0x88);
        r[12 + e] = _mm512_shuffle_i32x4(c1, d1, 0xDD);
    }
}
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BERT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BERT_VECTOR_CLONES
#endif

/* erf(x) as x * P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf(4) = 1 - 1.5e-8),
 * the rational approximation used by Eigen and XLA for float erf. Max absolute
 * error 3.3e-7 against double erf (checked on a 1e-5 grid over [-10, 10]),
 * which puts GELU within 1.4e-6 of the exact value: far inside the 1e-4 parity
 * bound. Why not erff: libm's erff is a branchy scalar call the compiler cannot
 * vectorise, and it took ~5 ms per bert-base layer at 128 tokens (one core) —
 * a quarter of the batch-1 forward pass. This loop vectorises: ~0.15 ms. */
static const float ERF_P[7] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                               -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                               -1.60960333262415e-02f};
static const float ERF_Q[5] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                               -7.37332916720468e-03f, -1.42647390514189e-02f};
static inline float erf_rational(float x) {
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    float x2 = x * x, p = ERF_P[0], q = ERF_Q[0];
    for (int i = 1; i < 7; i++) p = p * x2 + ERF_P[i];
    for (int i = 1; i < 5; i++) q = q * x2 + ERF_Q[i];
    return x * p / q;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* erf_rational of 16 lanes: its clamp and rational function in FMAs — the
 * C11 build contracts no a * b + c, so the compiler's clone of the scalar
 * loop spends a multiply and an add on each of its eleven Horner steps.
 * NaN stays NaN (max/min give back their second operand, t, when it is
 * NaN). */
__attribute__((target("avx512f"))) static inline __m512 bert_erf16(__m512 t) {
    t = _mm512_min_ps(_mm512_set1_ps(4.0f), _mm512_max_ps(_mm512_set1_ps(-4.0f), t));
    __m512 t2 = _mm512_mul_ps(t, t);
    __m512 p = _mm512_set1_ps(ERF_P[0]), q = _mm512_set1_ps(ERF_Q[0]);
    for (int j = 1; j < 7; j++) p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(ERF_P[j]));
    for (int j = 1; j < 5; j++) q = _mm512_fmadd_ps(q, t2, _mm512_set1_ps(ERF_Q[j]));
    return _mm512_div_ps(_mm512_mul_ps(t, p), q);
}

/* GELU (erf form) of 16 lanes, 0.5 v (1 + erf(v / sqrt 2)) with bert_erf16.
 * For the AVX-512 loops (ops.c) and the int8 kernel's dequantization
 * (qlinear_amx.c), which applies it in registers. */
__attribute__((target("avx512f"))) static inline __m512 bert_gelu16(__m512 v) {
    __m512 erf = bert_erf16(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)));
    /* (0.5 x) (1 + erf), not an FMA of 0.5 x: -0.0 and x below about
     * -5.65 keep their negative zero, as the portable path and PyTorch */
    __m512 half = _mm512_mul_ps(v, _mm512_set1_ps(0.5f));
    return _mm512_mul_ps(half, _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}
#endif

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

#if defined(__x86_64__) && defined(__GNUC__)
/* exp_nonpositive on 16 lanes: the same clamp, Cody-Waite
 * reduction and Cephes polynomial (in FMAs), the rounding by roundscale
 * and 2^n by scalef, 0 below -87, NaN kept. About half the instructions
 * of the compiler's vectorisation of the scalar form, which builds 2^n in
 * the exponent bits and selects with multiplies. */
__attribute__((target("avx512f"))) static inline __m512 bert_exp_nonpositive16(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_setzero_ps());
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
    __m512 e = _mm512_maskz_scalef_ps(keep, p, n);
    return _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}
#endif

/* The [lo, hi) share of n elements for thread t of nt, in 16-float-aligned
 * slices (one cache line), so vector loops split across threads without
 * two threads writing one line. */
static inline void bert_thread_slice(long long n, int t, int nt, long long *lo, long long *hi) {
    long long per = ((n + nt - 1) / nt + 15) / 16 * 16;
    *lo = (long long)t * per;
    *hi = *lo + per < n ? *lo + per : n;
}

/* The rows [*i0, *i1) of n for thread t of nt, in groups of four rows (the
 * AVX-512 row kernels' unit: LayerNorm, quantization) split evenly; empty
 * where there are fewer groups than threads. */
static inline void bert_thread_rows4(int n, int t, int nt, int *i0, int *i1) {
    long long groups = (n + 3) / 4;
    int hi = (int)(groups * (t + 1) / nt) * 4;
    *i0 = (int)(groups * t / nt) * 4;
    *i1 = hi < n ? hi : n;
}

#endif
