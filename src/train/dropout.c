/* dropout.c — nn.Dropout's masks (dropout.h). */
#include "train/dropout.h"

#include "kernels/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DROPOUT_AVX512 1
#else
#define DROPOUT_AVX512 0
#endif

#if DROPOUT_AVX512
/* 16 draws at a time, the same draws in the same order as the scalar loop:
 * lane j of two 8 x 64-bit vectors holds the state draw i + j starts from
 * (lanes 8-15 in the second), and each step moves every lane 16 draws on by
 * the LCG's 16-step map; PCG32's output (xorshift, then a rotation by the
 * top five bits) and the uniform's 24 bits are bert_rng_u32 and
 * bert_rng_uniform lane by lane. Returns how many values it drew (a
 * multiple of 16); r ends after them. */
__attribute__((target("avx512f,avx512dq,avx512vl"))) static size_t draw_mask_avx512(bert_rng *r, float *mask, size_t n,
                                                                                    float p, float keep) {
    size_t n16 = n / 16 * 16;
    if (n16 == 0) return 0;
    uint64_t start[16], a16, c16;
    for (int j = 0; j < 16; j++) {
        uint64_t A, C;
        bert_rng_step_map(r, (uint64_t)j, &A, &C);
        start[j] = A * r->state + C;
    }
    bert_rng_step_map(r, 16, &a16, &c16);
    __m512i s0 = _mm512_loadu_si512(start), s1 = _mm512_loadu_si512(start + 8);
    const __m512i va = _mm512_set1_epi64((long long)a16), vc = _mm512_set1_epi64((long long)c16);
    const __m512 scale = _mm512_set1_ps(1.0f / 16777216.0f), vp = _mm512_set1_ps(p), vkeep = _mm512_set1_ps(keep);
    for (size_t i = 0; i < n16; i += 16) {
        /* xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27), rot = old >> 59 */
        __m256i x0 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(_mm512_xor_si512(_mm512_srli_epi64(s0, 18), s0), 27));
        __m256i x1 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(_mm512_xor_si512(_mm512_srli_epi64(s1, 18), s1), 27));
        __m256i r0 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(s0, 59)), r1 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(s1, 59));
        __m512i u = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_rorv_epi32(x0, r0)), _mm256_rorv_epi32(x1, r1), 1);
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(u, 8)), scale);
        _mm512_storeu_ps(mask + i, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(f, vp, _CMP_GE_OQ), vkeep));
        s0 = _mm512_add_epi64(_mm512_mullo_epi64(s0, va), vc);
        s1 = _mm512_add_epi64(_mm512_mullo_epi64(s1, va), vc);
    }
    uint64_t lane0[8];
    _mm512_storeu_si512(lane0, s0);
    r->state = lane0[0];
    return n16;
}
#endif

void train_draw_mask(bert_rng *r, float *mask, size_t n, double p) {
    float keep = (float)(1.0 / (1.0 - p));
    size_t i = 0;
    if (p <= 0.0) {
        for (; i < n; i++) mask[i] = keep;
        return;
    }
#if DROPOUT_AVX512
    if (bert_cpu_has_avx512()) i = draw_mask_avx512(r, mask, n, (float)p, keep);
#endif
    for (; i < n; i++) mask[i] = bert_rng_uniform(r) < (float)p ? 0.0f : keep;
}

void train_draw_mask_part(bert_rng *r, float *mask, size_t blocks, size_t n, double p, size_t before, size_t after) {
    for (size_t b = 0; b < blocks; b++) {
        if (p > 0.0) bert_rng_advance(r, before);
        train_draw_mask(r, mask + b * n, n, p);
        if (p > 0.0) bert_rng_advance(r, after);
    }
}

void train_dropout(float *x, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] *= mask[i];
}
