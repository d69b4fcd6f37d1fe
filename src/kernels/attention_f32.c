/* attention_f32.c — one (sequence, head) of the exact (f32) attention in one
 * pass on AVX-512 registers. Why and the contract: attention.h.
 *
 * K is transposed once per head into Kt[d][j] (keys padded with zero to a
 * multiple of 32), 16 x 16 blocks at a time in registers. Then 16 query
 * rows at a time: their scores against every key in blocks of 8 rows x 32
 * keys (16 sums in registers; per dimension two loads of Kt, eight
 * broadcasts of Q, sixteen multiply-adds), times the scale and with masked
 * keys at -FLT_MAX as on the BLAS path (bert_mask_key_columns), into a
 * 16 x T buffer that stays in L1/L2; bert_softmax_rows on it; then the
 * weighted sum of V's rows in blocks of 8 rows x 32 dimensions, V read in
 * place. The T x T matrix is never written whole, and nothing is packed
 * but K. */
#include "kernels/attention.h"

#include "kernels/cpu.h"
#include "kernels/ops.h"

#include <float.h>
#include <string.h>

#define F32_MAX_HEAD 256

static size_t round_up32(size_t n) { return (n + 31) / 32 * 32; }

/* Kt (head_size rows of t32 keys) and 16 score rows of T. */
size_t bert_attention_f32_scratch_bytes(int T, int head_size) {
    return sizeof(float) * ((size_t)head_size * round_up32((size_t)T) + 16 * (size_t)T);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include "kernels/vecmath.h"

#define F32_TARGET __attribute__((target("avx512f")))

int bert_attention_f32_available(int head_size) {
    return head_size > 0 && head_size % 32 == 0 && head_size <= F32_MAX_HEAD && bert_cpu_has_avx512();
}

/* Kt[d][j] = K[j][d] for j < t32 (zero past T). */
F32_TARGET static void transpose_keys(float *Kt, size_t t32, const float *K, int ld, int T, int hs) {
    for (size_t j0 = 0; j0 < t32; j0 += 16)
        for (int d0 = 0; d0 < hs; d0 += 16) {
            __m512i r[16]; /* float lanes, moved as 32-bit lanes */
            for (int j = 0; j < 16; j++)
                r[j] = (int)j0 + j < T ? _mm512_loadu_si512(K + (j0 + (size_t)j) * ld + d0) : _mm512_setzero_si512();
            bert_transpose_16x16(r);
            for (int t = 0; t < 16; t++) _mm512_storeu_si512(Kt + (size_t)(d0 + t) * t32 + j0, r[t]);
        }
}

/* S[r][j0 .. j0 + 32) (stride T, keys past T not stored) = scale x (Q
 * row r . K row j), masked keys -FLT_MAX, for rows r < nr of 8 (Q rows
 * past nr repeat row nr - 1 and are not stored). */
F32_TARGET static void scores_8x32(float *S, int T, const float *Q, int ld, int nr, const float *Kt, size_t t32, int j0,
                                   int hs, float scale, const float *keymask) {
    __m512 acc[8][2];
    const float *q[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps(), q[r] = Q + (size_t)(r < nr ? r : nr - 1) * ld;
    for (int d = 0; d < hs; d++) {
        __m512 b0 = _mm512_loadu_ps(Kt + (size_t)d * t32 + j0), b1 = _mm512_loadu_ps(Kt + (size_t)d * t32 + j0 + 16);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            __m512 a = _mm512_set1_ps(q[r][d]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    __mmask16 k0 = bert_first_lanes(T - j0), k1 = bert_first_lanes(T - j0 - 16);
    __mmask16 m0 = _mm512_mask_cmp_ps_mask(k0, _mm512_maskz_loadu_ps(k0, keymask + j0), _mm512_setzero_ps(), _CMP_EQ_OQ);
    __mmask16 m1 = _mm512_mask_cmp_ps_mask(k1, _mm512_maskz_loadu_ps(k1, keymask + j0 + 16), _mm512_setzero_ps(), _CMP_EQ_OQ);
    const __m512 vs = _mm512_set1_ps(scale), neg = _mm512_set1_ps(-FLT_MAX);
    for (int r = 0; r < nr; r++) {
        float *s = S + (size_t)r * T + j0;
        _mm512_mask_storeu_ps(s, k0, _mm512_mask_mov_ps(_mm512_mul_ps(acc[r][0], vs), m0, neg));
        _mm512_mask_storeu_ps(s + 16, k1, _mm512_mask_mov_ps(_mm512_mul_ps(acc[r][1], vs), m1, neg));
    }
}

/* out[r][d0 .. d0 + 32) = sum over j < T of P[r][j] V[j][d0 ..], rows
 * r < nr of 8 (as scores_8x32). */
F32_TARGET static void weighted_8x32(float *out, int ldo, const float *P, int T, int nr, const float *V, int ld, int d0) {
    __m512 acc[8][2];
    const float *p[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps(), p[r] = P + (size_t)(r < nr ? r : nr - 1) * T;
    for (int j = 0; j < T; j++) {
        const float *v = V + (size_t)j * ld + d0;
        __m512 b0 = _mm512_loadu_ps(v), b1 = _mm512_loadu_ps(v + 16);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            __m512 a = _mm512_set1_ps(p[r][j]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < nr; r++) {
        _mm512_storeu_ps(out + (size_t)r * ldo + d0, acc[r][0]);
        _mm512_storeu_ps(out + (size_t)r * ldo + d0 + 16, acc[r][1]);
    }
}

void bert_attention_f32(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T, int hs,
                        float scale, const float *keymask, void *scratch) {
    size_t t32 = round_up32((size_t)T);
    float *Kt = scratch, *S = Kt + (size_t)hs * t32;
    transpose_keys(Kt, t32, K, ld, T, hs);
    for (int i0 = 0; i0 < T; i0 += 16) {
        int nr = T - i0 < 16 ? T - i0 : 16;
        for (int r0 = 0; r0 < nr; r0 += 8) {
            int n8 = nr - r0 < 8 ? nr - r0 : 8;
            for (int j0 = 0; j0 < T; j0 += 32)
                scores_8x32(S + (size_t)r0 * T, T, Q + (size_t)(i0 + r0) * ld, ld, n8, Kt, t32, j0, hs, scale, keymask);
        }
        bert_softmax_rows(S, nr, T);
        for (int r0 = 0; r0 < nr; r0 += 8) {
            int n8 = nr - r0 < 8 ? nr - r0 : 8;
            for (int d0 = 0; d0 < hs; d0 += 32)
                weighted_8x32(out + (size_t)(i0 + r0) * ldo, ldo, S + (size_t)r0 * T, T, n8, V, ld, d0);
        }
    }
}

#else /* not x86-64 with GCC's intrinsics: the BLAS path is used */

int bert_attention_f32_available(int head_size) {
    (void)head_size;
    return 0;
}

void bert_attention_f32(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T, int hs,
                        float scale, const float *keymask, void *scratch) {
    (void)out, (void)ldo, (void)Q, (void)K, (void)V, (void)ld, (void)T, (void)hs, (void)scale, (void)keymask,
        (void)scratch;
}

#endif
