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
 * f32 buffer (L1/L2), get the key mask and the softmax's numerators, rounded
 * to bf16, which come back as A tiles of the weighted sum (each output row
 * divided by its sum after); the tiles do the products
 * of a 512-token head in ~65k cycles, and what is left is the softmax.
 * Without AMX the same layouts feed vdpbf16ps (below): on AMD Zen 4 2.3x the
 * f32 path per head; on an Intel Xeon it was 1.5x slower than f32, so the
 * pick (attention.h) takes it only where bert_cpu_bf16_dot_is_fast(). */
#include "kernels/attention.h"

#include "kernels/cpu.h"
#include "kernels/half.h"
#include "kernels/vecmath.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_HEAD 128 /* four 32-dimension query tiles */

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* One head's inputs and output: Q, K, V rows ld elements apart, f32 or
 * (in16) bf16; out rows ldo elements apart, f32 or (out16) bf16. */
typedef struct {
    const void *Q, *K, *V;
    int ld, in16;
    void *out;
    int ldo, out16;
    const bert_attention_next *next; /* NULL: none */
} head_io;

/* Scratch: Kp, Vp and the bf16 scaled queries (rows padded to 32), two
 * sets of 16 score rows (f32) and of 16 probability rows (bf16), each padded
 * to 32 keys (one P tile's width), 16 output rows of a partial row group. */
size_t bert_attention_bf16_scratch_bytes(int T, int head_size) {
    size_t t32 = round_up((size_t)T, 32), hs = (size_t)head_size;
    return 3 * round_up(t32 * hs * 2, 64) + 2 * 16 * t32 * 4 + 2 * 16 * t32 * 2 + 16 * hs * 4;
}

#if BERT_AMX_INTRINSICS
#include "kernels/amx.h"


#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* 16 floats to 16 bf16 (round to nearest even), as a 256-bit vector. */
BF16_TARGET static inline __m256i to_bf16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

/* 32 values of row r of m (head_io's layout, from column 2c) as 16 bf16
 * pairs: read as they are from bf16, rounded (vcvtne2ps2bf16) from f32. */
BF16_TARGET static inline __m512i row_pairs(const void *m, int in16, size_t r, int ld, int c) {
    if (in16) return _mm512_loadu_si512((const uint16_t *)m + r * ld + 2 * c);
    const float *k = (const float *)m + r * ld + 2 * c;
    return (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(k + 16), _mm512_loadu_ps(k));
}

/* 16 values of row r of m (from column d) as bf16. */
BF16_TARGET static inline __m256i row_bf16(const void *m, int in16, size_t r, int ld, int d) {
    if (in16) return _mm256_loadu_si256((const __m256i *)((const uint16_t *)m + r * ld + d));
    return to_bf16(_mm512_loadu_ps((const float *)m + r * ld + d));
}

/* Keys [0, rows) (rows a multiple of 16 and >= T; keys past T zero): per
 * block of 16 keys and 16 pairs of dimensions, the keys' pairs (16 keys x
 * 16 pairs) transposed in registers. */
BF16_TARGET static void pack_k(uint32_t *Kp, const head_io *io, int rows, int T, int hs) {
    int h2 = hs / 2;
    for (int kb = 0; kb < rows / 16; kb++) {
        uint32_t *blk = Kp + (size_t)kb * h2 * 16;
        for (int c = 0; c < h2; c += 16) {
            __m512i r[16];
            for (int j = 0; j < 16; j++)
                r[j] = kb * 16 + j < T ? row_pairs(io->K, io->in16, (size_t)(kb * 16 + j), io->ld, c) : _mm512_setzero_si512();
            bert_transpose_16x16(r);
            for (int t = 0; t < 16; t++) _mm512_storeu_si512(blk + (size_t)(c + t) * 16, r[t]);
        }
    }
}

BF16_TARGET static void pack_v(uint16_t *Vp, const head_io *io, int rows, int T, int hs) {
    /* element 2j + e of the output vector = element j of row e */
    static const uint16_t inter[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    __m512i idx = _mm512_loadu_si512(inter);
    int nd = hs / 16;
    for (int kp = 0; kp < rows / 2; kp++) { /* rows (even) >= T: pairs past T are zero */
        int has0 = 2 * kp < T, has1 = 2 * kp + 1 < T;
        for (int db = 0; db < nd; db++) {
            __m256i a = has0 ? row_bf16(io->V, io->in16, (size_t)(2 * kp), io->ld, 16 * db) : _mm256_setzero_si256();
            __m256i b = has1 ? row_bf16(io->V, io->in16, (size_t)(2 * kp + 1), io->ld, 16 * db) : _mm256_setzero_si256();
            __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
            _mm512_storeu_si512(Vp + ((size_t)kp * nd + db) * 32, _mm512_permutexvar_epi16(idx, both));
        }
    }
}

/* 2^t for t <= 0, to 2.7e-6 relative: t = n + f with n an integer (the
 * add and subtract of 1.5 x 2^23 round to nearest) and |f| <= 1/2, 2^f
 * from a degree-4 polynomial (least squares on Chebyshev nodes, relative
 * weights: 2.7e-6 worst, measured on 2e5 points in float), 2^n applied
 * by vscalefps. Enough here, since the result is rounded to bf16 (2^-9);
 * about a third of the instructions of vecmath.h's float-exact
 * exp_nonpositive. Below -125 (masked keys, padding, -inf) exactly 0:
 * those lanes' polynomial (NaN for -inf) is masked out; NaN stays NaN (it
 * passes the mask, and every step keeps it: its row's sum, then every
 * weight of the row, becomes NaN, as on the f32 path: a diverged model is
 * seen to diverge). */
BF16_TARGET static inline __m512 exp2_for_bf16(__m512 t) {
    const __m512 shifter = _mm512_set1_ps(12582912.0f);
    __mmask16 keep = _mm512_cmp_ps_mask(t, _mm512_set1_ps(-125.0f), _CMP_NLT_UQ);
    __m512 n = _mm512_sub_ps(_mm512_add_ps(t, shifter), shifter);
    __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(9.5605105162e-03f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5917039514e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4024981260e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9312196970e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.9999916553e-01f));
    return _mm512_maskz_scalef_ps(keep, p, n);
}

/* One row's softmax numerators in two passes (maximum; exponentials, their
 * f32 sum and the bf16 pairs of the exponentials), the row's 1 / sum given
 * back for the weighted sum to apply to its output row: normalising the
 * 16 x head_size output costs less than a third pass over 16 x T
 * probabilities (bf16 rounds e or e / sum alike, to 2^-9 relative). With a
 * normalising pass, a conversion pass and the float-exact exp it was half
 * of the kernel's time at 512 tokens. e^(s - max) is 2^((s - max) log2 e),
 * the difference first: a row whose keys are all masked (all -FLT_MAX)
 * gets 0, weight 1 each (s log2 e - max log2 e would overflow). n is a
 * multiple of 32. */
__attribute__((always_inline)) BF16_TARGET static inline float softmax_to_bf16(const float *s, uint16_t *pb, size_t n) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    __m512 vmax = _mm512_set1_ps(-INFINITY), sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    for (size_t j = 0; j < n; j += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(s + j));
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    for (size_t j = 0; j < n; j += 32) {
        __m512 e0 = exp2_for_bf16(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(s + j), mx), log2e));
        __m512 e1 = exp2_for_bf16(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(s + j + 16), mx), log2e));
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
        _mm512_storeu_si512(pb + j, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    return 1.0f / _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

/* The scaled queries of rows i0 .. i0 + 15 as bf16 (rows past T zero):
 * bf16(q scale), from bf16 q bf16(bf16(q) scale), which is the same
 * where scale is a power of two and q not subnormal. */
BF16_TARGET static void load_queries(uint16_t *Qb, const head_io *io, int i0, int nr, int hs, float scale) {
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int r = 0; r < 16; r++) {
        uint16_t *qr = Qb + (size_t)r * hs;
        size_t row = (size_t)(i0 + r) * io->ld;
        for (int d = 0; d < hs; d += 16) {
            if (r >= nr) { /* rows past T are not read */
                _mm256_storeu_si256((__m256i *)(qr + d), _mm256_setzero_si256());
                continue;
            }
            __m512 q = io->in16 ? _mm512_castsi512_ps(_mm512_slli_epi32(
                                      _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)io->Q + row + d))), 16))
                                : _mm512_loadu_ps((const float *)io->Q + row + d);
            _mm256_storeu_si256((__m256i *)(qr + d), to_bf16(_mm512_mul_ps(q, vscale)));
        }
    }
}

/* Output row i (head_io's out) from the 16-dimension blocks of src, each
 * times f: f32, or bf16 with bert_f32_to_bf16's bits (bert_bf16_store_lanes,
 * the conversion the next product's input would get). */
BF16_TARGET static void store_row(const head_io *io, int i, const float *src, int hs, float f) {
    __m512 vf = _mm512_set1_ps(f);
    if (io->out16) {
        uint16_t *o = (uint16_t *)io->out + (size_t)i * io->ldo;
        for (int d = 0; d < hs; d += 16) bert_bf16_store_lanes(o + d, _mm512_mul_ps(_mm512_loadu_ps(src + d), vf), 0xFFFF);
        return;
    }
    float *o = (float *)io->out + (size_t)i * io->ldo;
    for (int d = 0; d < hs; d += 16) _mm512_storeu_ps(o + d, _mm512_mul_ps(_mm512_loadu_ps(src + d), vf));
}

/* Scores of rows [0, rows) of S (stride t32) to softmax numerators in Pb
 * and each row's 1 / sum in inv: masked keys -FLT_MAX, keys past T -inf,
 * then softmax_to_bf16. */
BF16_TARGET static void scores_to_probs(float *S, uint16_t *Pb, float *inv, size_t t32, int T, int rows,
                                        const float *keymask) {
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
    for (int r = 0; r < rows; r++) inv[r] = softmax_to_bf16(S + (size_t)r * t32, Pb + (size_t)r * t32, t32);
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
    b.Qb = (uint16_t *)p;                       /* [t32][hs] bf16 scaled queries */
    p += round_up(b.t32 * (size_t)hs * 2, 64);
    b.S = (float *)p;                           /* [2][16][t32] scores */
    b.Pb = (uint16_t *)(b.S + 2 * 16 * b.t32);  /* [2][16][t32] bf16 softmax numerators */
    b.Cb = (float *)(b.Pb + 2 * 16 * b.t32);    /* [16][hs] output rows of a partial row group */
    return b;
}

/* ---- AVX512-BF16: vdpbf16ps on registers --------------------------------
 * One vdpbf16ps adds, in each of 16 f32 lanes, the products of one bf16
 * pair: a query's pair of dimensions broadcast to every lane against one
 * pair per key (Kp's layout), or a probability pair (two keys) against one
 * pair of V rows per output dimension (Vp's layout). Blocks of 8 rows x 32
 * columns keep 16 sums in registers per 2 loads and 8 broadcasts. */

/* out[r][16 c + j] (r < min(rows, 8), c < 2, j < 16) = sum over p < np of
 * pair a[r lda + p] . pair b[p ldb + c off1 + j], times scale[r] where
 * scale is not NULL: a's rows of pairs, b's 16-output column blocks (the
 * second off1 pairs after the first). */
BF16_TARGET static void dot_8x32(float *out, size_t ldo, int rows, const uint32_t *a, size_t lda, const uint32_t *b,
                                 size_t ldb, size_t off1, int np, const float *scale) {
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
        __m512 f = scale ? _mm512_set1_ps(scale[r]) : _mm512_set1_ps(1.0f);
        _mm512_storeu_ps(out + (size_t)r * ldo, scale ? _mm512_mul_ps(acc[r][0], f) : acc[r][0]);
        _mm512_storeu_ps(out + (size_t)r * ldo + 16, scale ? _mm512_mul_ps(acc[r][1], f) : acc[r][1]);
    }
}

BF16_TARGET static void attention_avx512(const head_io *io, int T, int hs, float scale, const float *keymask,
                                         bf16_scratch b) {
    size_t t32 = b.t32;
    int h2 = hs / 2, nd = hs / 16;
    pack_k(b.Kp, io, (int)t32, T, hs);
    pack_v(b.Vp, io, (int)t32, T, hs);
    for (int i0 = 0; i0 < T; i0 += 16) {
        int nr = T - i0 < 16 ? T - i0 : 16, rows = nr > 8 ? 16 : 8;
        load_queries(b.Qb, io, i0, nr, hs, scale);
        /* scores: key blocks kb and kb + 1 (Kp holds a block's pairs for
         * every d2 together, so the second block starts h2 x 16 pairs on) */
        for (int r0 = 0; r0 < rows; r0 += 8)
            for (size_t kb = 0; kb < t32 / 16; kb += 2)
                dot_8x32(b.S + (size_t)r0 * t32 + kb * 16, t32, 8, (const uint32_t *)(b.Qb + (size_t)r0 * hs),
                         (size_t)h2, b.Kp + kb * (size_t)h2 * 16, 16, (size_t)h2 * 16, h2, NULL);
        float inv[16];
        scores_to_probs(b.S, b.Pb, inv, t32, T, rows, keymask);
        /* P V: 32 output dimensions (two of Vp's 16-dimension blocks) per
         * call, into the f32 output's rows (divided by their sums there) or
         * into Cb, then divided and rounded to bf16 (store_row) */
        float *dst = io->out16 ? b.Cb : (float *)io->out + (size_t)i0 * io->ldo;
        size_t ldd = io->out16 ? (size_t)hs : (size_t)io->ldo;
        for (int r0 = 0; r0 < nr; r0 += 8)
            for (int db = 0; db < nd; db += 2)
                dot_8x32(dst + (size_t)r0 * ldd + db * 16, ldd, nr - r0, (const uint32_t *)(b.Pb + (size_t)r0 * t32),
                         t32 / 2, (const uint32_t *)b.Vp + (size_t)db * 16, (size_t)nd * 16, 16, (int)(t32 / 2),
                         io->out16 ? NULL : inv + r0);
        for (int r = 0; io->out16 && r < nr; r++) store_row(io, i0 + r, b.Cb + (size_t)r * hs, hs, inv[r]);
    }
}

/* AMX: eight tile registers, each 16 rows x 64 bytes. Scores: tiles 1-4
 * hold a query block (32 dimensions each), and two key blocks at a time
 * run as two independent chains, C tiles 0 and 6 from K tiles 5 and 7.
 * The weighted sum: C tiles 0-3 (16 output dimensions each), P tile 4,
 * V tiles 5, 6, 7 in turn. Tile numbers are immediates: hence the
 * unrolled chunks. */

/* The scores of the 16 queries at Qb (rows of hs) against every key, into
 * S (stride t32). */
AMX_TARGET static void scores_amx(float *S, size_t t32, const uint16_t *Qb, const uint32_t *Kp, int nkb, int hs) {
    int h2 = hs / 2, nchunks = hs / 32;
    _tile_loadd(1, Qb, hs * 2);
    if (nchunks > 1) _tile_loadd(2, Qb + 32, hs * 2);
    if (nchunks > 2) _tile_loadd(3, Qb + 64, hs * 2);
    if (nchunks > 3) _tile_loadd(4, Qb + 96, hs * 2);
/* 32-dimension chunk q - 1 (Q tile q) of key blocks k0 and k1 into C
 * tiles 0 and 6 (two chains), or of k0 alone into tile 0 */
#define SCORE_PAIR(q)                                                                                                  \
    do {                                                                                                               \
        _tile_loadd(5, k0 + ((q) - 1) * 256, 64);                                                                      \
        _tile_loadd(7, k1 + ((q) - 1) * 256, 64);                                                                      \
        _tile_dpbf16ps(0, q, 5);                                                                                       \
        _tile_dpbf16ps(6, q, 7);                                                                                       \
    } while (0)
#define SCORE_ONE(q)                                                                                                   \
    do {                                                                                                               \
        _tile_loadd(5, k0 + ((q) - 1) * 256, 64);                                                                      \
        _tile_dpbf16ps(0, q, 5);                                                                                       \
    } while (0)
    int kb = 0;
    for (; kb + 1 < nkb; kb += 2) {
        const uint32_t *k0 = Kp + (size_t)kb * h2 * 16, *k1 = k0 + (size_t)h2 * 16;
        _tile_zero(0);
        _tile_zero(6);
        SCORE_PAIR(1);
        if (nchunks > 1) SCORE_PAIR(2);
        if (nchunks > 2) SCORE_PAIR(3);
        if (nchunks > 3) SCORE_PAIR(4);
        _tile_stored(0, S + kb * 16, (long)t32 * 4);
        _tile_stored(6, S + kb * 16 + 16, (long)t32 * 4);
    }
    if (kb < nkb) { /* an odd last key block */
        const uint32_t *k0 = Kp + (size_t)kb * h2 * 16;
        _tile_zero(0);
        SCORE_ONE(1);
        if (nchunks > 1) SCORE_ONE(2);
        if (nchunks > 2) SCORE_ONE(3);
        if (nchunks > 3) SCORE_ONE(4);
        _tile_stored(0, S + kb * 16, (long)t32 * 4);
    }
#undef SCORE_PAIR
#undef SCORE_ONE
}

/* dst (16 rows, stride ldd floats) = Pb (16 rows of t32 bf16 numerators)
 * times V (Vp's layout), four 16-dimension blocks at a time. */
AMX_TARGET static void weighted_sum_amx(float *dst, long ldd, const uint16_t *Pb, size_t t32, const uint16_t *Vp, int hs) {
    int nd = hs / 16;
    long vstride = (long)nd * 64;
    for (int db0 = 0; db0 < nd; db0 += 4) {
        int nb = nd - db0 < 4 ? nd - db0 : 4;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (size_t kc = 0; kc < t32 / 32; kc++) {
            _tile_loadd(4, Pb + kc * 32, (long)t32 * 2);
            const uint16_t *vb = Vp + (kc * 16 * (size_t)nd + (size_t)db0) * 32;
            _tile_loadd(5, vb, vstride);
            _tile_dpbf16ps(0, 4, 5);
            if (nb > 1) {
                _tile_loadd(6, vb + 32, vstride);
                _tile_dpbf16ps(1, 4, 6);
            }
            if (nb > 2) {
                _tile_loadd(7, vb + 64, vstride);
                _tile_dpbf16ps(2, 4, 7);
            }
            if (nb > 3) {
                _tile_loadd(5, vb + 96, vstride);
                _tile_dpbf16ps(3, 4, 5);
            }
        }
        float *d = dst + db0 * 16;
        _tile_stored(0, d, ldd * 4);
        if (nb > 1) _tile_stored(1, d + 16, ldd * 4);
        if (nb > 2) _tile_stored(2, d + 32, ldd * 4);
        if (nb > 3) _tile_stored(3, d + 48, ldd * 4);
    }
}

/* Share `part` of `parts` of the next head's Q, K and V rows
 * (bert_attention_next) fetched into L2: at 128 tokens, bert-base shape,
 * batch 8, bf16, one thread, the pass's attention 2.66-2.88 -> 2.36-2.38
 * ms (three interleaved rounds, Intel Xeon). */
AMX_TARGET static void prefetch_next(const head_io *io, int part, int parts, int hs) {
    const bert_attention_next *n = io->next;
    if (!n || n->T <= 0) return;
    int per = (n->T + parts - 1) / parts, r1 = (part + 1) * per < n->T ? (part + 1) * per : n->T;
    for (int r = part * per; r < r1; r++)
        for (int d = 0; d < hs; d += 32) { /* 64 bytes */
            size_t at = (size_t)r * io->ld + d;
            _mm_prefetch((const char *)(n->Q + at), _MM_HINT_T1);
            _mm_prefetch((const char *)(n->K + at), _MM_HINT_T1);
            _mm_prefetch((const char *)(n->V + at), _MM_HINT_T1);
        }
}

/* A head, 16 queries at a time, software-pipelined in three stages: while
 * the vector unit runs group g's softmax (its scores stored by the tiles
 * a step before) and then divides group g - 1's output rows by their sums,
 * the tiles take group g + 1's scores and group g - 1's weighted sum (its
 * numerators written by the vector unit a step before); S and Pb are
 * double-buffered. Run one after another, the vector loads of the scores
 * and the tile loads of P and of the queries waited on the stores that
 * had just written them (at 128 tokens, 12.4 -> 9.5 us a head, Intel
 * Xeon, one thread). */
AMX_TARGET static void attention_amx(const head_io *io, int T, int hs, float scale, const float *keymask,
                                     bf16_scratch sc) {
    size_t t32 = sc.t32, sbuf = 16 * t32;
    int ngroups = (T + 15) / 16; /* of 16 queries, and of 16 keys */
    float inv[2][16];
    pack_k(sc.Kp, io, (int)t32, T, hs);
    pack_v(sc.Vp, io, (int)t32, T, hs);
    for (int g = 0; g < ngroups; g++)
        load_queries(sc.Qb + (size_t)g * 16 * hs, io, g * 16, T - g * 16 < 16 ? T - g * 16 : 16, hs, scale);
    static const uint8_t tile_rows[8] = {16, 16, 16, 16, 16, 16, 16, 16};
    bert_amx_configure(8, tile_rows);
    scores_amx(sc.S, t32, sc.Qb, sc.Kp, ngroups, hs);
    for (int g = 0; g <= ngroups; g++) {
        int prev = (g - 1) & 1, i0 = (g - 1) * 16, nr = T - i0 < 16 ? T - i0 : 16;
        prefetch_next(io, g, ngroups + 1, hs);
        if (g + 1 < ngroups) scores_amx(sc.S + ((g + 1) & 1) * sbuf, t32, sc.Qb + (size_t)(g + 1) * 16 * hs, sc.Kp, ngroups, hs);
        /* group g - 1: full row groups of an f32 output straight into it, else through Cb */
        int direct = g > 0 && nr == 16 && !io->out16;
        float *dst = direct ? (float *)io->out + (size_t)i0 * io->ldo : sc.Cb;
        long ldd = direct ? io->ldo : hs;
        if (g > 0) weighted_sum_amx(dst, ldd, sc.Pb + prev * sbuf, t32, sc.Vp, hs);
        if (g < ngroups) scores_to_probs(sc.S + (g & 1) * sbuf, sc.Pb + (g & 1) * sbuf, inv[g & 1], t32, T, 16, keymask);
        /* group g - 1's rows divided by their sums (softmax_to_bf16) */
        for (int r = 0; g > 0 && r < nr; r++) store_row(io, i0 + r, dst + (size_t)r * ldd, hs, inv[prev][r]);
    }
    _tile_release();
}

bert_attention_bf16_kernel bert_attention_bf16_pick(int head_size) {
    if (head_size <= 0 || head_size % 32 != 0 || head_size > MAX_HEAD) return BERT_ATTENTION_BF16_NONE;
    if (bert_amx_bf16_ready()) return BERT_ATTENTION_BF16_AMX;
    return bert_cpu_bf16_dot_is_fast() ? BERT_ATTENTION_BF16_AVX512 : BERT_ATTENTION_BF16_NONE;
}

static void run_head(bert_attention_bf16_kernel kernel, const head_io *io, int T, int hs, float scale,
                     const float *keymask, void *scratch) {
    bf16_scratch b = carve(scratch, T, hs);
    if (kernel == BERT_ATTENTION_BF16_NONE) return; /* not to be called so (attention.h) */
    if (kernel == BERT_ATTENTION_BF16_AMX) attention_amx(io, T, hs, scale, keymask, b);
    else attention_avx512(io, T, hs, scale, keymask, b);
}

void bert_attention_bf16_with(bert_attention_bf16_kernel kernel, float *out, int ldo, const float *Q, const float *K,
                              const float *V, int ld, int T, int hs, float scale, const float *keymask, void *scratch) {
    head_io io = {Q, K, V, ld, 0, out, ldo, 0, NULL};
    run_head(kernel, &io, T, hs, scale, keymask, scratch);
}

void bert_attention_bf16_io(bert_attention_bf16_kernel kernel, void *out, int ldo, int out16, const uint16_t *Q,
                            const uint16_t *K, const uint16_t *V, int ld, int T, int hs, float scale,
                            const float *keymask, void *scratch, const bert_attention_next *next) {
    head_io io = {Q, K, V, ld, 1, out, ldo, out16 != 0, next};
    run_head(kernel, &io, T, hs, scale, keymask, scratch);
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


void bert_attention_bf16_io(bert_attention_bf16_kernel kernel, void *out, int ldo, int out16, const uint16_t *Q,
                            const uint16_t *K, const uint16_t *V, int ld, int T, int hs, float scale,
                            const float *keymask, void *scratch, const bert_attention_next *next) {
    (void)next;
    (void)kernel, (void)out, (void)ldo, (void)out16, (void)Q, (void)K, (void)V, (void)ld, (void)T, (void)hs, (void)scale,
        (void)keymask, (void)scratch;
}
#endif

int bert_attention_bf16_available(int head_size) { return bert_attention_bf16_pick(head_size) != BERT_ATTENTION_BF16_NONE; }

void bert_attention_bf16(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T, int hs,
                         float scale, const float *keymask, void *scratch) {
    bert_attention_bf16_with(bert_attention_bf16_pick(hs), out, ldo, Q, K, V, ld, T, hs, scale, keymask, scratch);
}
