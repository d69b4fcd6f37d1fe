/* linear_avx512.c — y = x W^T + b on AVX-512 registers, W packed at load.
 * Why and the layout: linear_avx512.h. */
#include "kernels/linear_avx512.h"

#include "kernels/cpu.h"
#include "kernels/linear_packed.h"
#include "kernels/vecmath.h"

void bert_avx512_pack_weights(float *dst, const float *W, int N, int K) {
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) dst[((size_t)(n / 16) * K + k) * 16 + n % 16] = W[(size_t)n * K + k];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

int bert_avx512_linear_preferred(int N, int K) {
    return N > 0 && K > 0 && N % 16 == 0 && (N < BERT_PLINEAR_MIN_SIDE || K < BERT_PLINEAR_MIN_SIDE) &&
           bert_cpu_has_avx512();
}

typedef struct {
    float *y;
    const float *x, *Wp, *bias;
    int ldy, M, K;
    const bert_epilogue *epi;
} avx512_args;

/* Stores acc (the sums of one row's 16 outputs) at y, through the
 * feed-forward's GELU under f32 where that is the whole epilogue (slabs.h;
 * BERT-Tiny f32, batch 8, one thread, 5.91 -> 5.70 ms). */
__attribute__((target("avx512f"), always_inline)) static inline void store16(float *y, __m512 acc, int gelu) {
    _mm512_storeu_ps(y, gelu ? bert_gelu16(acc) : acc);
}

/* Rows i0 .. i0 + rows (rows <= R) by the NB blocks of 16 columns from nb:
 * accumulators start from the bias; rows past `rows` repeat the last one
 * (computed, not stored), so nothing is read past x's last row. Per input
 * index k: NB loads of W's packed rows k, one broadcast of x[r][k] per row,
 * R x NB FMAs (torch.nn.functional.linear's sum over k, in k order: each
 * output's sum is the same whatever R and NB, so the result does not
 * depend on which block made it). R and NB are constants where it is
 * called (6 x 4 and 4 x 4: 24 and 16 zmm sums; 8 x 2 and 8 x 1). */
__attribute__((target("avx512f"), always_inline)) static inline void block(const avx512_args *a, int i0, int rows,
                                                                             int nb, const int R, const int NB) {
    int K = a->K;
    const float *B = a->Wp + (size_t)nb * K * 16;
    const float *x[8];
    for (int r = 0; r < R; r++) x[r] = a->x + (size_t)(i0 + (r < rows ? r : rows - 1)) * K;
    __m512 acc[8][4];
#pragma GCC unroll 4
    for (int c = 0; c < NB; c++) {
        __m512 b = a->bias ? _mm512_loadu_ps(a->bias + (nb + c) * 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[r][c] = b;
    }
    for (int k = 0; k < K; k++) {
        __m512 w[4];
#pragma GCC unroll 4
        for (int c = 0; c < NB; c++) w[c] = _mm512_loadu_ps(B + ((size_t)c * K + k) * 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 v = _mm512_set1_ps(x[r][k]);
#pragma GCC unroll 4
            for (int c = 0; c < NB; c++) acc[r][c] = _mm512_fmadd_ps(v, w[c], acc[r][c]);
        }
    }
    float *y = a->y + (size_t)i0 * a->ldy + nb * 16;
    int gelu = bert_epilogue_gelu_only(a->epi);
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NB; c++) store16(y + (size_t)r * a->ldy + c * 16, acc[r][c], gelu);
}

__attribute__((target("avx512f"))) static void block_6x4(const avx512_args *a, int i0, int rows, int nb) {
    block(a, i0, rows, nb, 6, 4);
}
__attribute__((target("avx512f"))) static void block_4x4(const avx512_args *a, int i0, int rows, int nb) {
    block(a, i0, rows, nb, 4, 4);
}
__attribute__((target("avx512f"))) static void block_8x2(const avx512_args *a, int i0, int rows, int nb) {
    block(a, i0, rows, nb, 8, 2);
}
__attribute__((target("avx512f"))) static void block_8x1(const avx512_args *a, int i0, int rows, int nb) {
    block(a, i0, rows, nb, 8, 1);
}

/* Rows [i0, i1) by columns [j0, j1) (a thread's part: bert_for_slabs), 48
 * rows at a time (their x stays near while the packed W passes over it),
 * the epilogue on each 48-row block of 64 columns just made. 64 columns
 * are blocks of 6 rows (a last one of up to 4 rows by a 4-row block);
 * the columns past the last 64 blocks of 8 rows x 32 or 16. 6 x 64 against
 * 8 x 32 everywhere (Intel Xeon with AMX, one thread, 1,024 rows, median of
 * 30): 384 x 128 205 vs 198 GFLOP/s, 128 x 128 208 vs 202, 512 x 128 204
 * vs 197, 128 x 512 204 vs 189 (oneDNN's packed matmul 212, 214, 208, 214). */
static void part(int i0, int i1, int j0, int j1, void *arg) {
    const avx512_args *a = arg;
    int nb1 = j1 / 16;
    for (int g = i0; g < i1; g += 48) {
        int g1 = i1 - g < 48 ? i1 : g + 48;
        for (int nb = j0 / 16; nb < nb1;) {
            int wide = nb1 - nb >= 4 ? 4 : nb1 - nb >= 2 ? 2 : 1;
            for (int r = g; r < g1;) {
                int left = g1 - r;
                if (wide == 4 && left > 4) block_6x4(a, r, left < 6 ? left : 6, nb), r += 6;
                else if (wide == 4) block_4x4(a, r, left, nb), r += left;
                else if (wide == 2) block_8x2(a, r, left < 8 ? left : 8, nb), r += 8;
                else block_8x1(a, r, left < 8 ? left : 8, nb), r += 8;
            }
            if (!bert_epilogue_gelu_only(a->epi)) bert_epilogue_run(a->epi, a->y, a->ldy, g, g1 - g, nb * 16, (nb + wide) * 16);
            nb += wide;
        }
    }
}

void bert_avx512_linear(float *y, int ldy, const float *x, const float *Wp, const float *bias, int M, int N, int K,
                        int n_threads, const bert_epilogue *epi) {
    if (M <= 0 || N <= 0) return;
    avx512_args a = {y, x, Wp, bias, ldy, M, K, epi};
    bert_for_slabs(M, N, n_threads, part, &a);
}

#else /* not x86-64 GCC/Clang: the plain path is used */

int bert_avx512_linear_preferred(int N, int K) {
    (void)N, (void)K;
    return 0;
}

void bert_avx512_linear(float *y, int ldy, const float *x, const float *Wp, const float *bias, int M, int N, int K,
                        int n_threads, const bert_epilogue *epi) {
    (void)y, (void)ldy, (void)x, (void)Wp, (void)bias, (void)M, (void)N, (void)K, (void)n_threads, (void)epi;
}

#endif
