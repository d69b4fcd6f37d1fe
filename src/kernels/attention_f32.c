/* attention_f32.c — one (sequence, head) of the exact (f32) attention in one
 * pass on AVX-512 registers. Why and the contract: attention.h.
 *
 * K is transposed once per head into Kt[d][j] (keys padded with zero to a
 * multiple of 32), 16 x 16 blocks at a time in registers. Then 16 query
 * rows at a time: their scores against every key in blocks of 8 rows x 32
 * keys (16 sums in registers; per dimension two loads of Kt, eight
 * broadcasts of Q, sixteen multiply-adds) where fewer than 64 keys are
 * left, else of 6 rows x 64 keys (24 sums), times the scale and with masked
 * keys at -FLT_MAX as on the BLAS path (bert_mask_key_columns), into a
 * 16 x T buffer that stays in L1/L2; bert_softmax_rows on it; then the
 * weighted sum of V's rows in blocks of 6 rows x 64 dimensions (8 x 32
 * where fewer than 64 are left), V read in
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

/* S[r][j0 .. j0 + 16 NB) (stride T, keys past T not stored) = scale x (Q
 * row r . K row j), masked keys -FLT_MAX, for rows r < nr of R (Q rows
 * past nr repeat row nr - 1 and are not stored). Per dimension: NB loads
 * of Kt, R broadcasts of Q, R x NB multiply-adds; each score summed over
 * the dimensions in order, whatever R and NB (constants where called). */
__attribute__((always_inline)) F32_TARGET static inline void scores_block(float *S, int T, const float *Q, int ld, int nr,
                                                                         const float *Kt, size_t t32, int j0, int hs,
                                                                         float scale, const float *keymask, const int R,
                                                                         const int NB) {
    __m512 acc[8][4];
    const float *q[8];
    for (int r = 0; r < R; r++) q[r] = Q + (size_t)(r < nr ? r : nr - 1) * ld;
#pragma GCC unroll 4
    for (int c = 0; c < NB; c++)
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[r][c] = _mm512_setzero_ps();
    for (int d = 0; d < hs; d++) {
        __m512 b[4];
#pragma GCC unroll 4
        for (int c = 0; c < NB; c++) b[c] = _mm512_loadu_ps(Kt + (size_t)d * t32 + j0 + 16 * c);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 a = _mm512_set1_ps(q[r][d]);
#pragma GCC unroll 4
            for (int c = 0; c < NB; c++) acc[r][c] = _mm512_fmadd_ps(a, b[c], acc[r][c]);
        }
    }
    const __m512 vs = _mm512_set1_ps(scale), neg = _mm512_set1_ps(-FLT_MAX);
#pragma GCC unroll 4
    for (int c = 0; c < NB; c++) {
        int j = j0 + 16 * c;
        __mmask16 k = bert_first_lanes(T - j);
        __mmask16 m = _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, keymask + j), _mm512_setzero_ps(), _CMP_EQ_OQ);
        for (int r = 0; r < R && r < nr; r++) /* (r < R: nothing past the block's sums) */
            _mm512_mask_storeu_ps(S + (size_t)r * T + j, k, _mm512_mask_mov_ps(_mm512_mul_ps(acc[r][c], vs), m, neg));
    }
}

/* out[r][d0 .. d0 + 16 NB) = sum over j < T of P[r][j] V[j][d0 ..], rows
 * r < nr of R (as scores_block; each sum over the keys in order). */
__attribute__((always_inline)) F32_TARGET static inline void weighted_block(float *out, int ldo, const float *P, int T,
                                                                           int nr, const float *V, int ld, int d0,
                                                                           const int R, const int NB) {
    __m512 acc[8][4];
    const float *p[8];
    for (int r = 0; r < R; r++) p[r] = P + (size_t)(r < nr ? r : nr - 1) * T;
#pragma GCC unroll 4
    for (int c = 0; c < NB; c++)
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[r][c] = _mm512_setzero_ps();
    for (int j = 0; j < T; j++) {
        const float *v = V + (size_t)j * ld + d0;
        __m512 b[4];
#pragma GCC unroll 4
        for (int c = 0; c < NB; c++) b[c] = _mm512_loadu_ps(v + 16 * c);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 a = _mm512_set1_ps(p[r][j]);
#pragma GCC unroll 4
            for (int c = 0; c < NB; c++) acc[r][c] = _mm512_fmadd_ps(a, b[c], acc[r][c]);
        }
    }
    for (int r = 0; r < R && r < nr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NB; c++) _mm512_storeu_ps(out + (size_t)r * ldo + d0 + 16 * c, acc[r][c]);
}

/* Blocks of 6 rows x 64 columns (24 sums; 6 x 64 ran BERT-Tiny's dense
 * layers 3-8 % faster than 8 x 32 on an Intel Xeon), 4 x 64 for the last
 * rows of a group, 8 x 32 where fewer than 64 columns are left. */
F32_TARGET static void scores_6x64(float *S, int T, const float *Q, int ld, int nr, const float *Kt, size_t t32, int j0,
                                   int hs, float scale, const float *keymask) {
    scores_block(S, T, Q, ld, nr, Kt, t32, j0, hs, scale, keymask, 6, 4);
}
F32_TARGET static void scores_4x64(float *S, int T, const float *Q, int ld, int nr, const float *Kt, size_t t32, int j0,
                                   int hs, float scale, const float *keymask) {
    scores_block(S, T, Q, ld, nr, Kt, t32, j0, hs, scale, keymask, 4, 4);
}
F32_TARGET static void scores_8x32(float *S, int T, const float *Q, int ld, int nr, const float *Kt, size_t t32, int j0,
                                   int hs, float scale, const float *keymask) {
    scores_block(S, T, Q, ld, nr, Kt, t32, j0, hs, scale, keymask, 8, 2);
}
F32_TARGET static void weighted_6x64(float *out, int ldo, const float *P, int T, int nr, const float *V, int ld, int d0) {
    weighted_block(out, ldo, P, T, nr, V, ld, d0, 6, 4);
}
F32_TARGET static void weighted_4x64(float *out, int ldo, const float *P, int T, int nr, const float *V, int ld, int d0) {
    weighted_block(out, ldo, P, T, nr, V, ld, d0, 4, 4);
}
F32_TARGET static void weighted_8x32(float *out, int ldo, const float *P, int T, int nr, const float *V, int ld, int d0) {
    weighted_block(out, ldo, P, T, nr, V, ld, d0, 8, 2);
}

/* The scores of query rows [0, nr) (nr <= 16, Q at their first row) into
 * S: keys 64 at a time in blocks of 6 rows (the last up to 4 rows in one
 * of 4), then the last 32 keys in blocks of 8 rows. */
F32_TARGET static void scores_rows(float *S, int T, const float *Q, int ld, int nr, const float *Kt, size_t t32, int hs,
                                   float scale, const float *keymask) {
    for (int j0 = 0; j0 < (int)t32; j0 += 64)
        for (int r = 0; r < nr;) {
            int left = nr - r;
            float *Sr = S + (size_t)r * T;
            const float *Qr = Q + (size_t)r * ld;
            if ((int)t32 - j0 < 64) scores_8x32(Sr, T, Qr, ld, left < 8 ? left : 8, Kt, t32, j0, hs, scale, keymask), r += 8;
            else if (left > 4) scores_6x64(Sr, T, Qr, ld, left < 6 ? left : 6, Kt, t32, j0, hs, scale, keymask), r += 6;
            else scores_4x64(Sr, T, Qr, ld, left, Kt, t32, j0, hs, scale, keymask), r += left;
        }
}

/* The weighted sums of V for probability rows [0, nr) (nr <= 16) into out
 * (at their first row): dimensions 64 at a time as scores_rows. */
F32_TARGET static void weighted_rows(float *out, int ldo, const float *P, int T, int nr, const float *V, int ld, int hs) {
    for (int d0 = 0; d0 < hs; d0 += 64)
        for (int r = 0; r < nr;) {
            int left = nr - r;
            float *o = out + (size_t)r * ldo;
            const float *Pr = P + (size_t)r * T;
            if (hs - d0 < 64) weighted_8x32(o, ldo, Pr, T, left < 8 ? left : 8, V, ld, d0), r += 8;
            else if (left > 4) weighted_6x64(o, ldo, Pr, T, left < 6 ? left : 6, V, ld, d0), r += 6;
            else weighted_4x64(o, ldo, Pr, T, left, V, ld, d0), r += left;
        }
}

void bert_attention_f32(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T, int hs,
                        float scale, const float *keymask, void *scratch) {
    size_t t32 = round_up32((size_t)T);
    float *Kt = scratch, *S = Kt + (size_t)hs * t32;
    transpose_keys(Kt, t32, K, ld, T, hs);
    for (int i0 = 0; i0 < T; i0 += 16) {
        int nr = T - i0 < 16 ? T - i0 : 16;
        scores_rows(S, T, Q + (size_t)i0 * ld, ld, nr, Kt, t32, hs, scale, keymask);
        bert_softmax_rows(S, nr, T);
        weighted_rows(out + (size_t)i0 * ldo, ldo, S, T, nr, V, ld, hs);
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
