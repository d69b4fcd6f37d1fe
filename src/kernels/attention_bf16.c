/* attention_bf16.c — one (sequence, head) of attention in one pass in
 * bf16, on AMX tiles or AVX512-BF16 registers. Why and how: attention.h.
 *
 * Layouts (bf16 values; a "pair" is two bf16 in one 32-bit lane, the unit
 * AMX's tdpbf16ps and AVX512-BF16's vdpbf16ps multiply-add into one f32):
 *   Kp[kb][d2][j]   pair (K[16 kb + j][2 d2], K[16 kb + j][2 d2 + 1]): for
 *                   key block kb, 16 consecutive d2 rows are the B tile of
 *                   one 32-dimension chunk (16 rows x 64 bytes).
 *   Vp[kp][db][j]   pair (V[2 kp][16 db + j], V[2 kp + 1][16 db + j]): rows
 *                   kp .. kp + 15 of block db (stride head_size / 16 x 64
 *                   bytes) are the B tile of 32 keys x 16 output dimensions.
 * Per 16 query rows: the scores of all keys go through tiles into a 16 x T
 * f32 buffer (L1/L2), get the key mask, an f32 softmax and bf16 rounding,
 * and come back as A tiles of the weighted sum; the tiles do the products
 * of a 512-token head in ~65k cycles, and what is left is the softmax.
 * Without AMX the same layouts feed vdpbf16ps (below): on AMD Zen 4 2.3x the
 * f32 path per head; on an Intel Xeon it was 1.5x slower than f32, so the
 * pick (attention.h) takes it only where bert_cpu_bf16_dot_is_fast(). */
#include "kernels/attention.h"

#include "kernels/cpu.h"
#include "kernels/vecmath.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_HEAD 128 /* four 32-dimension query tiles */

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* Scratch: Kp, Vp, 16 score rows (f32) and probability rows (bf16), each
 * padded to 32 keys (one P tile's width), 16 bf16 query rows, one 16 x 16
 * output block. */
size_t bert_attention_bf16_scratch_bytes(int T, int head_size) {
    size_t t32 = round_up((size_t)T, 32), hs = (size_t)head_size;
    return 2 * round_up(t32 * hs * 2, 64) + 16 * t32 * 4 + 16 * t32 * 2 + 16 * hs * 2 + 16 * 16 * 4;
}

#if BERT_AMX_INTRINSICS
#include "kernels/amx.h"


#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* 16 floats to 16 bf16 (round to nearest even), as a 256-bit vector. */
BF16_TARGET static inline __m256i to_bf16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

/* Keys [0, rows) (rows a multiple of 16 and >= T; keys past T zero). */
BF16_TARGET static void pack_k(uint32_t *Kp, const float *K, int ld, int rows, int T, int hs) {
    int nkb = rows / 16, h2 = hs / 2;
    uint32_t row[MAX_HEAD / 2];
    for (int kb = 0; kb < nkb; kb++) {
        uint32_t *blk = Kp + (size_t)kb * h2 * 16;
        for (int j = 0; j < 16; j++) {
            int key = kb * 16 + j;
            if (key < T) {
                const float *k = K + (size_t)key * ld;
                for (int d = 0; d < hs; d += 16) _mm256_storeu_si256((__m256i *)(row + d / 2), to_bf16(_mm512_loadu_ps(k + d)));
            } else {
                memset(row, 0, sizeof row[0] * (size_t)h2);
            }
            for (int d2 = 0; d2 < h2; d2++) blk[(size_t)d2 * 16 + j] = row[d2];
        }
    }
}

BF16_TARGET static void pack_v(uint16_t *Vp, const float *V, int ld, int rows, int T, int hs) {
    /* element 2j + e of the output vector = element j of row e */
    static const uint16_t inter[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    __m512i idx = _mm512_loadu_si512(inter);
    int nd = hs / 16;
    for (int kp = 0; kp < rows / 2; kp++) { /* rows (even) >= T: pairs past T are zero */
        const float *r0 = V + (size_t)(2 * kp) * ld, *r1 = r0 + ld;
        int has0 = 2 * kp < T, has1 = 2 * kp + 1 < T;
        for (int db = 0; db < nd; db++) {
            __m256i a = has0 ? to_bf16(_mm512_loadu_ps(r0 + 16 * db)) : _mm256_setzero_si256();
            __m256i b = has1 ? to_bf16(_mm512_loadu_ps(r1 + 16 * db)) : _mm256_setzero_si256();
            __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
            _mm512_storeu_si512(Vp + ((size_t)kp * nd + db) * 32, _mm512_permutexvar_epi16(idx, both));
        }
    }
}

/* e^x for x <= 0, to ~3e-6 relative: 2^(x log2 e) with the fraction's 2^f
 * from its degree-5 Taylor polynomial on [-1/2, 1/2] and the integer part
 * applied by vscalefps. Enough here, since the result is rounded to bf16
 * (2^-9); about half the instructions of vecmath.h's float-exact
 * exp_nonpositive. Below -87 (masked keys, padding) exactly 0, as there;
 * NaN stays NaN (its row's sum, then every weight of the row, becomes NaN,
 * as on the f32 path: a diverged model is seen to diverge). */
BF16_TARGET static inline __m512 exp_for_bf16(__m512 x) {
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
    __m512 t = _mm512_mul_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(1.44269504088896341f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(1.3333558146e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108665e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650696e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718056e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_mask_mov_ps(_mm512_maskz_scalef_ps(keep, p, n), _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

/* One row's softmax in three passes (max; exp and sum; scale and round to
 * bf16 pairs): with bert_softmax_rows' four passes, a conversion pass and
 * the float-exact exp it was half of the kernel's time at 512 tokens. n is
 * a multiple of 32. */
BF16_TARGET static void softmax_to_bf16(float *s, uint16_t *pb, size_t n) {
    __m512 vmax = _mm512_set1_ps(-INFINITY), vsum = _mm512_setzero_ps();
    for (size_t j = 0; j < n; j += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(s + j));
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    for (size_t j = 0; j < n; j += 16) {
        __m512 e = exp_for_bf16(_mm512_sub_ps(_mm512_loadu_ps(s + j), mx));
        _mm512_storeu_ps(s + j, e);
        vsum = _mm512_add_ps(vsum, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (size_t j = 0; j < n; j += 32)
        _mm512_storeu_si512(pb + j, (__m512i)_mm512_cvtne2ps_pbh(_mm512_mul_ps(_mm512_loadu_ps(s + j + 16), inv),
                                                                 _mm512_mul_ps(_mm512_loadu_ps(s + j), inv)));
}

/* The scaled queries of rows i0 .. i0 + 15 as bf16 (rows past T zero). */
BF16_TARGET static void load_queries(uint16_t *Qb, const float *Q, int ld, int i0, int nr, int hs, float scale) {
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int r = 0; r < 16; r++) {
        uint16_t *qr = Qb + (size_t)r * hs;
        const float *q = Q + (size_t)(i0 + r) * ld;
        for (int d = 0; d < hs; d += 16)
            _mm256_storeu_si256((__m256i *)(qr + d), r < nr ? to_bf16(_mm512_mul_ps(_mm512_loadu_ps(q + d), vscale))
                                                         : _mm256_setzero_si256());
    }
}

/* Scores of rows [0, rows) of S (stride t32) to probabilities in Pb:
 * masked keys -FLT_MAX, keys past T -inf, then the f32 softmax. */
BF16_TARGET static void scores_to_probs(float *S, uint16_t *Pb, size_t t32, int T, int rows, const float *keymask) {
    const __m512 neg_max = _mm512_set1_ps(-FLT_MAX), neg_inf = _mm512_set1_ps(-INFINITY);
    int nkb = (T + 15) / 16;
    for (int kb = 0; kb < (int)(t32 / 16); kb++) {
        int left = T - kb * 16;
        __mmask16 valid = bert_first_lanes(left);
        __mmask16 masked = _mm512_mask_cmp_ps_mask(valid, _mm512_maskz_loadu_ps(valid, keymask + kb * 16),
                                                   _mm512_setzero_ps(), _CMP_EQ_OQ);
        if (valid == 0xFFFF && !masked) continue;
        for (int r = 0; r < rows; r++) {
            float *sr = S + (size_t)r * t32 + kb * 16;
            __m512 v = kb < nkb ? _mm512_mask_mov_ps(_mm512_loadu_ps(sr), masked, neg_max) : neg_inf;
            _mm512_storeu_ps(sr, _mm512_mask_mov_ps(v, (__mmask16)~valid, neg_inf));
        }
    }
    for (int r = 0; r < rows; r++) softmax_to_bf16(S + (size_t)r * t32, Pb + (size_t)r * t32, t32);
}

/* Where bert_attention_bf16_with's scratch goes. */
typedef struct {
    uint32_t *Kp;
    uint16_t *Vp, *Pb, *Qb;
    float *S, *Cb;
    size_t t32;
} bf16_scratch;

static bf16_scratch carve(void *scratch, int T, int hs) {
    bf16_scratch b;
    char *p = scratch;
    b.t32 = round_up((size_t)T, 32);
    b.Kp = (uint32_t *)p;
    p += round_up(b.t32 * (size_t)hs * 2, 64);
    b.Vp = (uint16_t *)p;
    p += round_up(b.t32 * (size_t)hs * 2, 64);
    b.S = (float *)p;                           /* [16][t32] scores, then probabilities */
    b.Pb = (uint16_t *)(b.S + 16 * b.t32);      /* [16][t32] bf16 probabilities */
    b.Qb = b.Pb + 16 * b.t32;                   /* [16][hs] bf16 scaled queries */
    b.Cb = (float *)(b.Qb + 16 * (size_t)hs);   /* [16][16] one output block of a partial row group */
    return b;
}

/* ---- AVX512-BF16: vdpbf16ps on registers --------------------------------
 * One vdpbf16ps adds, in each of 16 f32 lanes, the products of one bf16
 * pair: a query's pair of dimensions broadcast to every lane against one
 * pair per key (Kp's layout), or a probability pair (two keys) against one
 * pair of V rows per output dimension (Vp's layout). Blocks of 8 rows x 32
 * columns keep 16 sums in registers per 2 loads and 8 broadcasts. */

/* out[r][16 c + j] (r < min(rows, 8), c < 2, j < 16) = sum over p < np of
 * pair a[r lda + p] . pair b[p ldb + c off1 + j]: a's rows of pairs, b's
 * 16-output column blocks (the second off1 pairs after the first). */
BF16_TARGET static void dot_8x32(float *out, size_t ldo, int rows, const uint32_t *a, size_t lda, const uint32_t *b,
                                 size_t ldb, size_t off1, int np) {
    __m512 acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int p = 0; p < np; p++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + (size_t)p * ldb);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + (size_t)p * ldb + off1);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)a[(size_t)r * lda + p]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
        if (r >= rows) break;
        _mm512_storeu_ps(out + (size_t)r * ldo, acc[r][0]);
        _mm512_storeu_ps(out + (size_t)r * ldo + 16, acc[r][1]);
    }
}

BF16_TARGET static void attention_avx512(float *out, int ldo, const float *Q, const float *K, const float *V, int ld,
                                         int T, int hs, float scale, const float *keymask, bf16_scratch b) {
    size_t t32 = b.t32;
    int h2 = hs / 2, nd = hs / 16;
    pack_k(b.Kp, K, ld, (int)t32, T, hs);
    pack_v(b.Vp, V, ld, (int)t32, T, hs);
    for (int i0 = 0; i0 < T; i0 += 16) {
        int nr = T - i0 < 16 ? T - i0 : 16, rows = nr > 8 ? 16 : 8;
        load_queries(b.Qb, Q, ld, i0, nr, hs, scale);
        /* scores: key blocks kb and kb + 1 (Kp holds a block's pairs for
         * every d2 together, so the second block starts h2 x 16 pairs on) */
        for (int r0 = 0; r0 < rows; r0 += 8)
            for (size_t kb = 0; kb < t32 / 16; kb += 2)
                dot_8x32(b.S + (size_t)r0 * t32 + kb * 16, t32, 8, (const uint32_t *)(b.Qb + (size_t)r0 * hs),
                         (size_t)h2, b.Kp + kb * (size_t)h2 * 16, 16, (size_t)h2 * 16, h2);
        scores_to_probs(b.S, b.Pb, t32, T, rows, keymask);
        /* out = P V: 32 output dimensions (two of Vp's 16-dimension blocks) per call */
        for (int r0 = 0; r0 < nr; r0 += 8)
            for (int db = 0; db < nd; db += 2)
                dot_8x32(out + (size_t)(i0 + r0) * ldo + db * 16, (size_t)ldo, nr - r0,
                         (const uint32_t *)(b.Pb + (size_t)r0 * t32), t32 / 2, (const uint32_t *)b.Vp + (size_t)db * 16,
                         (size_t)nd * 16, 16, (int)(t32 / 2));
    }
}
/* AMX: eight tile registers, configured as 16 rows x 64 bytes each.
 * Scores use tile 0 (C), 1-4 (Q, 32 dimensions each), 5 (K); the weighted
 * sum uses 0-3 (C, 16 output dimensions each), 4 (P, 32 keys), 5 (V). */
AMX_TARGET static void attention_amx(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T,
                                     int hs, float scale, const float *keymask, bf16_scratch sc) {
    size_t t32 = sc.t32;
    int h2 = hs / 2, nd = hs / 16, nkb = (T + 15) / 16, nchunks = hs / 32;
    uint32_t *Kp = sc.Kp;
    uint16_t *Vp = sc.Vp, *Pb = sc.Pb, *Qb = sc.Qb;
    float *S = sc.S, *Cb = sc.Cb;
    pack_k(Kp, K, ld, (int)t32, T, hs);
    pack_v(Vp, V, ld, (int)t32, T, hs);
    static const uint8_t tile_rows[6] = {16, 16, 16, 16, 16, 16};
    bert_amx_configure(6, tile_rows);
    for (int i0 = 0; i0 < T; i0 += 16) {
        int nr = T - i0 < 16 ? T - i0 : 16;
        load_queries(Qb, Q, ld, i0, nr, hs, scale);
        _tile_loadd(1, Qb, hs * 2);
        if (nchunks > 1) _tile_loadd(2, Qb + 32, hs * 2);
        if (nchunks > 2) _tile_loadd(3, Qb + 64, hs * 2);
        if (nchunks > 3) _tile_loadd(4, Qb + 96, hs * 2);
        for (int kb = 0; kb < nkb; kb++) {
            const uint32_t *kblk = Kp + (size_t)kb * h2 * 16;
            _tile_zero(0);
            _tile_loadd(5, kblk, 64);
            _tile_dpbf16ps(0, 1, 5);
            if (nchunks > 1) {
                _tile_loadd(5, kblk + 256, 64);
                _tile_dpbf16ps(0, 2, 5);
            }
            if (nchunks > 2) {
                _tile_loadd(5, kblk + 512, 64);
                _tile_dpbf16ps(0, 3, 5);
            }
            if (nchunks > 3) {
                _tile_loadd(5, kblk + 768, 64);
                _tile_dpbf16ps(0, 4, 5);
            }
            _tile_stored(0, S + kb * 16, (long)t32 * 4);
        }
        scores_to_probs(S, Pb, t32, T, 16, keymask);
        /* out = P V, four 16-dimension blocks at a time */
        for (int db0 = 0; db0 < nd; db0 += 4) {
            int nb = nd - db0 < 4 ? nd - db0 : 4;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (size_t kc = 0; kc < t32 / 32; kc++) {
                _tile_loadd(4, Pb + kc * 32, (long)t32 * 2);
                const uint16_t *vb = Vp + (kc * 16 * (size_t)nd + (size_t)db0) * 32;
                long vstride = (long)nd * 64;
                _tile_loadd(5, vb, vstride);
                _tile_dpbf16ps(0, 4, 5);
                if (nb > 1) {
                    _tile_loadd(5, vb + 32, vstride);
                    _tile_dpbf16ps(1, 4, 5);
                }
                if (nb > 2) {
                    _tile_loadd(5, vb + 64, vstride);
                    _tile_dpbf16ps(2, 4, 5);
                }
                if (nb > 3) {
                    _tile_loadd(5, vb + 96, vstride);
                    _tile_dpbf16ps(3, 4, 5);
                }
            }
            /* full row groups straight into out; the last partial one through Cb */
            for (int b = 0; b < nb; b++) {
                float *dst = nr == 16 ? out + (size_t)i0 * ldo + (db0 + b) * 16 : Cb;
                long dstride = nr == 16 ? (long)ldo * 4 : 64;
                switch (b) { /* tile numbers are immediates */
                case 0: _tile_stored(0, dst, dstride); break;
                case 1: _tile_stored(1, dst, dstride); break;
                case 2: _tile_stored(2, dst, dstride); break;
                default: _tile_stored(3, dst, dstride); break;
                }
                for (int r = 0; nr < 16 && r < nr; r++)
                    memcpy(out + (size_t)(i0 + r) * ldo + (db0 + b) * 16, Cb + r * 16, 64);
            }
        }
    }
    _tile_release();
}

bert_attention_bf16_kernel bert_attention_bf16_pick(int head_size) {
    if (head_size <= 0 || head_size % 32 != 0 || head_size > MAX_HEAD) return BERT_ATTENTION_BF16_NONE;
    if (bert_amx_bf16_ready()) return BERT_ATTENTION_BF16_AMX;
    return bert_cpu_bf16_dot_is_fast() ? BERT_ATTENTION_BF16_AVX512 : BERT_ATTENTION_BF16_NONE;
}

void bert_attention_bf16_with(bert_attention_bf16_kernel kernel, float *out, int ldo, const float *Q, const float *K,
                              const float *V, int ld, int T, int hs, float scale, const float *keymask, void *scratch) {
    bf16_scratch b = carve(scratch, T, hs);
    if (kernel == BERT_ATTENTION_BF16_NONE) return; /* not to be called so (attention.h) */
    if (kernel == BERT_ATTENTION_BF16_AMX) attention_amx(out, ldo, Q, K, V, ld, T, hs, scale, keymask, b);
    else attention_avx512(out, ldo, Q, K, V, ld, T, hs, scale, keymask, b);
}

#else /* no AMX / AVX512-BF16 intrinsics in this build: the exact path is used */

bert_attention_bf16_kernel bert_attention_bf16_pick(int head_size) {
    (void)head_size;
    return BERT_ATTENTION_BF16_NONE;
}

void bert_attention_bf16_with(bert_attention_bf16_kernel kernel, float *out, int ldo, const float *Q, const float *K,
                              const float *V, int ld, int T, int hs, float scale, const float *keymask, void *scratch) {
    (void)kernel, (void)out, (void)ldo, (void)Q, (void)K, (void)V, (void)ld, (void)T, (void)hs, (void)scale,
        (void)keymask, (void)scratch;
}

#endif

int bert_attention_bf16_available(int head_size) { return bert_attention_bf16_pick(head_size) != BERT_ATTENTION_BF16_NONE; }

void bert_attention_bf16(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T, int hs,
                         float scale, const float *keymask, void *scratch) {
    bert_attention_bf16_with(bert_attention_bf16_pick(hs), out, ldo, Q, K, V, ld, T, hs, scale, keymask, scratch);
}
