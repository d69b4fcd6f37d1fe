/* half.c — 16-bit float conversions by bit manipulation (no F16C needed,
 * so this is also the portable path); float to bf16 arrays on AVX512-BF16's
 * own conversion where the CPU has it, to the same bits. */
#include "kernels/half.h"

#include "kernels/cpu.h"
#include "kernels/vecmath.h"

#include <omp.h>

#include <string.h>

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

float bert_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (man << 13)); /* inf / NaN */
    if (exp == 0) {
        if (man == 0) return bits_to_f32(sign); /* signed zero */
        /* Subnormal: man * 2^-24, exact in float. */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

float bert_bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }

static uint16_t load_u16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

void bert_f16_to_f32_array(float *dst, const void *src, size_t n) {
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++) dst[i] = bert_f16_to_f32(load_u16(p + 2 * i));
}

void bert_bf16_to_f32_array(float *dst, const void *src, size_t n) {
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++) dst[i] = bert_bf16_to_f32(load_u16(p + 2 * i));
}

uint16_t bert_f32_to_bf16(float f) {
    uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* The same rounding without a branch, so the compiler vectorises it: this
 * runs on every dense layer's input under bf16 compute. */
BERT_VECTOR_CLONES
void bert_f32_to_bf16_array_portable(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, src + i, sizeof u);
        uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1)) >> 16, quiet = (u >> 16) | 0x40;
        dst[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
    }
}

uint16_t bert_f32_to_f16(float f) {
    uint32_t u = f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00; /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {
        /* Result is subnormal or zero: value / 2^-24, rounded to nearest even. */
        float v = bits_to_f32(a) * 16777216.0f;
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1))) m++;
        return sign | (uint16_t)m;
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1) - (112u << 23);
    return sign | (uint16_t)(r >> 13);
}

#if BERT_AMX_INTRINSICS
#include <immintrin.h>

/* bert_bf16_store_lanes (half.h) over the array; the tail through masked
 * lanes. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void f32_to_bf16_avx512(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = bert_first_lanes((long long)(n - i));
        bert_bf16_store_lanes(dst + i, _mm512_maskz_loadu_ps(k, src + i), k);
    }
}
#endif

void bert_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n) {
#if BERT_AMX_INTRINSICS
    if (bert_cpu_has_avx512bf16()) {
        f32_to_bf16_avx512(dst, src, n);
        return;
    }
#endif
    bert_f32_to_bf16_array_portable(dst, src, n);
}

void bert_f32_to_bf16_threaded(uint16_t *dst, const float *src, size_t n, int n_threads) {
#pragma omp parallel num_threads(n_threads) if (n_threads > 1 && n > 65536)
    {
        long long lo, hi;
        bert_thread_slice((long long)n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (lo < hi) bert_f32_to_bf16_array(dst + lo, src + lo, (size_t)(hi - lo));
    }
}
