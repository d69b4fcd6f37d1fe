/* half.h — widening 16-bit floats (IEEE binary16 and bfloat16) to float. */
#ifndef BERT_KERNELS_HALF_H
#define BERT_KERNELS_HALF_H

#include <stddef.h>
#include <stdint.h>

/* Exact conversions: every F16 and BF16 value is representable in float,
 * subnormals, infinities and NaN payloads included. */
float bert_f16_to_f32(uint16_t h);
float bert_bf16_to_f32(uint16_t h);

/* Convert n little-endian values read from src (any alignment) into dst. */
void bert_f16_to_f32_array(float *dst, const void *src, size_t n);
void bert_bf16_to_f32_array(float *dst, const void *src, size_t n);

/* Round-to-nearest-even narrowing, for writing F16/BF16 checkpoints. */
uint16_t bert_f32_to_bf16(float f);
/* bert_f32_to_bf16 over an array (round to nearest even, NaN kept), the
 * same bits on every path: AVX512-BF16's conversion where the CPU has it,
 * else bert_f32_to_bf16_array_portable. */
void bert_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n);
/* The same for any instruction set (the compiler's vectorisation); the tests
 * hold both paths to the scalar rounding. */
void bert_f32_to_bf16_array_portable(uint16_t *dst, const float *src, size_t n);
/* The same split over n_threads (for activations of training batches). */
void bert_f32_to_bf16_threaded(uint16_t *dst, const float *src, size_t n, int n_threads);
uint16_t bert_f32_to_f16(float f);

#include "kernels/cpu.h"
#if BERT_AMX_INTRINSICS
#include <immintrin.h>
/* The lanes of v in mask k as bf16 into dst[0..15] (the other lanes' dst
 * untouched), the bits of bert_f32_to_bf16: AVX512-BF16's vcvtneps2bf16
 * rounds to nearest even and quiets NaN as it does, but reads a subnormal
 * input as zero, so the lanes holding one (exponent 0, mantissa not) are
 * redone by the scalar rounding. Only where the CPU has AVX512-BF16. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static inline void
bert_bf16_store_lanes(uint16_t *dst, __m512 v, __mmask16 k) {
    __m512i u = _mm512_castps_si512(v);
    _mm256_mask_storeu_epi16(dst, k, (__m256i)_mm512_cvtneps_pbh(v));
    __mmask16 sub = _mm512_mask_testn_epi32_mask(k, u, _mm512_set1_epi32(0x7f800000)) &
                    _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x007fffff));
    if (sub) {
        float f[16];
        _mm512_storeu_ps(f, v);
        for (; sub; sub &= (__mmask16)(sub - 1)) {
            int j = __builtin_ctz(sub);
            dst[j] = bert_f32_to_bf16(f[j]);
        }
    }
}
/* 16 floats as bf16 into dst[0..15] by vcvtneps2bf16 alone: round to
 * nearest even, NaN quieted, as bert_f32_to_bf16, except that a subnormal
 * input becomes a zero of its sign (the instruction reads it as zero; the
 * fused attention kernel's conversions do the same). For the products'
 * epilogues that hand bf16 to the next bf16 operation, where
 * bert_bf16_store_lanes' check for subnormals cost a fifth of the int8
 * dequantization's time. Only where the CPU has AVX512-BF16. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static inline void
bert_bf16_store16_daz(uint16_t *dst, __m512 v) {
    _mm256_storeu_si256((__m256i *)dst, (__m256i)_mm512_cvtneps_pbh(v));
}
#endif

#endif
