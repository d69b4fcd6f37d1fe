/* attention_bf16.c — one (sequence, head) of attention in one pass on AMX
 * bf16 tiles. Why and how: attention.h.
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
 * and come back as A tiles of the weighted sum. A first version did the same
 * with vdpbf16ps on AVX-512 registers: 1.5x slower than the f32 OpenBLAS
 * path (that instruction has the f32 FMA's throughput here); the tiles do
 * the products of a 512-token head in ~65k cycles, and what is left is the
 * softmax. */
#include "kernels/attention.h"

#include "kernels/cpu.h"

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

int bert_attention_bf16_available(int head_size) {
    return head_size > 0 && head_size % 32 == 0 && head_size <= MAX_HEAD && bert_amx_bf16_ready();
}

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* 16 floats to 16 bf16 (round to nearest even), as a 256-bit vector. */
BF16_TARGET static inline __m256i to_bf16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

BF16_TARGET static void pack_k(uint32_t *Kp, const float *K, int ld, int T, int hs) {
    int nkb = (T + 15) / 16, h2 = hs / 2;
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
 * exp_nonpositive. Below -87 (masked keys, padding) exactly 0, as there. */
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
    return _mm512_maskz_scalef_ps(keep, p, n);
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

/* AMX: eight tile registers, configured as 16 rows x 64 bytes each.
 * Scores use tile 0 (C), 1-4 (Q, 32 dimensions each), 5 (K); the weighted
 * sum uses 0-3 (C, 16 output dimensions each), 4 (P, 32 keys), 5 (V). */
AMX_TARGET void bert_attention_bf16(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T,
                                    int hs, float scale, const float *keymask, void *scratch) {
    size_t t32 = round_up((size_t)T, 32);
    int h2 = hs / 2, nd = hs / 16, nkb = (T + 15) / 16, nchunks = hs / 32;
    char *p = scratch;
    uint32_t *Kp = (uint32_t *)p;
    p += round_up(t32 * (size_t)hs * 2, 64);
    uint16_t *Vp = (uint16_t *)p;
    p += round_up(t32 * (size_t)hs * 2, 64);
    float *S = (float *)p;                     /* [16][t32] scores, then probabilities */
    uint16_t *Pb = (uint16_t *)(S + 16 * t32); /* [16][t32] bf16 probabilities */
    uint16_t *Qb = Pb + 16 * t32;              /* [16][hs] bf16 scaled queries */
    float *Cb = (float *)(Qb + 16 * (size_t)hs); /* [16][16] one output block of a partial row group */
    pack_k(Kp, K, ld, T, hs);
    pack_v(Vp, V, ld, (int)t32, T, hs);
    static const uint8_t tile_rows[6] = {16, 16, 16, 16, 16, 16};
    bert_amx_configure(6, tile_rows);
    const __m512 neg_max = _mm512_set1_ps(-FLT_MAX), neg_inf = _mm512_set1_ps(-INFINITY), vscale = _mm512_set1_ps(scale);
    for (int i0 = 0; i0 < T; i0 += 16) {
        int nr = T - i0 < 16 ? T - i0 : 16;
        for (int r = 0; r < 16; r++) {
            uint16_t *qr = Qb + (size_t)r * hs;
            const float *q = Q + (size_t)(i0 + r) * ld;
            for (int d = 0; d < hs; d += 16)
                _mm256_storeu_si256((__m256i *)(qr + d), r < nr ? to_bf16(_mm512_mul_ps(_mm512_loadu_ps(q + d), vscale))
                                                             : _mm256_setzero_si256());
        }
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
        /* masked keys -FLT_MAX, keys past T -inf; f32 softmax; bf16 probabilities */
        for (int kb = 0; kb < (int)(t32 / 16); kb++) {
            int left = T - kb * 16;
            __mmask16 valid = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
            __mmask16 masked = _mm512_mask_cmp_ps_mask(valid, _mm512_maskz_loadu_ps(valid, keymask + kb * 16),
                                                       _mm512_setzero_ps(), _CMP_EQ_OQ);
            if (valid == 0xFFFF && !masked) continue;
            for (int r = 0; r < 16; r++) {
                float *sr = S + (size_t)r * t32 + kb * 16;
                __m512 v = kb < nkb ? _mm512_mask_mov_ps(_mm512_loadu_ps(sr), masked, neg_max) : neg_inf;
                _mm512_storeu_ps(sr, _mm512_mask_mov_ps(v, (__mmask16)~valid, neg_inf));
            }
        }
        for (int r = 0; r < 16; r++) softmax_to_bf16(S + (size_t)r * t32, Pb + (size_t)r * t32, t32);
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

#else /* no AMX / AVX512-BF16 intrinsics in this build: the exact path is used */

int bert_attention_bf16_available(int head_size) {
    (void)head_size;
    return 0;
}

void bert_attention_bf16(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T, int hs,
                         float scale, const float *keymask, void *scratch) {
    (void)out, (void)ldo, (void)Q, (void)K, (void)V, (void)ld, (void)T, (void)hs, (void)scale, (void)keymask,
        (void)scratch;
}

#endif
