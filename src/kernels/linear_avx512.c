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

/* Rows i0 .. i0 + rows (rows <= 8) by the columns of blocks nb and nb + 1
 * (the second only when two): accumulators start from the bias; rows past
 * `rows` repeat the last one (computed, not stored), so nothing is read
 * past x's last row. Per input index k: two loads of W's packed row k, one
 * broadcast of x[r][k] per row, 16 FMAs (torch.nn.functional.linear's sum
 * over k, in k order). */
__attribute__((target("avx512f"))) static void block(const avx512_args *a, int i0, int rows, int nb, int two) {
    int K = a->K;
    const float *B0 = a->Wp + (size_t)nb * K * 16, *B1 = B0 + (size_t)K * 16;
    const float *x[8];
    for (int r = 0; r < 8; r++) x[r] = a->x + (size_t)(i0 + (r < rows ? r : rows - 1)) * K;
    __m512 c0 = a->bias ? _mm512_loadu_ps(a->bias + nb * 16) : _mm512_setzero_ps();
    __m512 c1 = a->bias && two ? _mm512_loadu_ps(a->bias + nb * 16 + 16) : _mm512_setzero_ps();
    __m512 acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) acc[r][0] = c0, acc[r][1] = c1;
    if (two) {
        for (int k = 0; k < K; k++) {
            __m512 b0 = _mm512_loadu_ps(B0 + (size_t)k * 16), b1 = _mm512_loadu_ps(B1 + (size_t)k * 16);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++) {
                __m512 v = _mm512_set1_ps(x[r][k]);
                acc[r][0] = _mm512_fmadd_ps(v, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(v, b1, acc[r][1]);
            }
        }
    } else {
        for (int k = 0; k < K; k++) {
            __m512 b0 = _mm512_loadu_ps(B0 + (size_t)k * 16);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++) acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(x[r][k]), b0, acc[r][0]);
        }
    }
    float *y = a->y + (size_t)i0 * a->ldy + nb * 16;
    /* the feed-forward's GELU under f32 in registers (slabs.h; BERT-Tiny f32,
     * batch 8, one thread, 5.91 -> 5.70 ms) */
    int gelu = bert_epilogue_gelu_only(a->epi);
    for (int r = 0; r < rows; r++) {
        _mm512_storeu_ps(y + (size_t)r * a->ldy, gelu ? bert_gelu16(acc[r][0]) : acc[r][0]);
        if (two) _mm512_storeu_ps(y + (size_t)r * a->ldy + 16, gelu ? bert_gelu16(acc[r][1]) : acc[r][1]);
    }
}

/* Rows [i0, i1) by columns [j0, j1) (a thread's part: bert_for_slabs),
 * 32 rows at a time (their x stays in L1 while the packed W passes over
 * it), the epilogue on each 32 x 32 block just made. */
static void part(int i0, int i1, int j0, int j1, void *arg) {
    const avx512_args *a = arg;
    int nb1 = j1 / 16;
    for (int g = i0; g < i1; g += 32) {
        int g1 = i1 - g < 32 ? i1 : g + 32;
        for (int nb = j0 / 16; nb < nb1; nb += 2) {
            int two = nb + 1 < nb1;
            for (int r = g; r < g1; r += 8) block(a, r, g1 - r < 8 ? g1 - r : 8, nb, two);
            if (!bert_epilogue_gelu_only(a->epi))
                bert_epilogue_run(a->epi, a->y, a->ldy, g, g1 - g, nb * 16, (nb + (two ? 2 : 1)) * 16);
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
