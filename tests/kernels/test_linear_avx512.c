/* test_linear_avx512.c — the AVX-512 f32 dense kernel against float64.
 *
 * Every output must be within 1e-6 x (sum_k |x_k w_k| + |b|) of x W^T + b
 * summed in double: f32 FMAs over K terms err by ~K x 2^-24 of that sum at
 * worst, far below the bound for these K, while a wrong index, a dropped
 * block or a misplaced row is off by a product's size. Shapes cover M
 * below 8 and other row tails (of 6- and 4-row blocks too), 64-column
 * blocks with 32 or 16 columns after them, an odd number of 16-column blocks, a row
 * stride wider than N (columns past N untouched), no bias, 1-3 threads,
 * and the epilogue (GELU and the bf16 copy, the same bits as running it on
 * the plain output). A row's result is the same bits whatever the batch
 * holds. Where the CPU has no AVX-512, the test says so and checks only
 * that the kernel declines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/half.h"
#include "kernels/linear_avx512.h"
#include "kernels/ops.h"
#include "test.h"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* worst |kernel - reference| / (sum |x w| + |b|) over one case; *bad counts
 * outputs that break the other rules (columns past N written, epilogue or
 * one-row results not the same bits) */
static double run_case(int M, int N, int K, int with_bias, int gelu, int n_threads, unsigned seed, int *bad) {
    int ldy = N + 16;
    float *x = malloc(sizeof *x * (size_t)M * K), *W = malloc(sizeof *W * (size_t)N * K), *b = malloc(sizeof *b * (size_t)N),
          *Wp = malloc(sizeof *Wp * (size_t)N * K), *y = malloc(sizeof *y * (size_t)M * ldy),
          *y1 = malloc(sizeof *y1 * (size_t)ldy);
    uint16_t *y16 = calloc((size_t)M * ldy, 2);
    for (int i = 0; i < M * K; i++) x[i] = frand(&seed);
    for (int i = 0; i < N * K; i++) W[i] = 0.2f * frand(&seed);
    for (int i = 0; i < N; i++) b[i] = frand(&seed);
    for (int i = 0; i < M * ldy; i++) y[i] = 1e30f;
    bert_avx512_pack_weights(Wp, W, N, K);
    bert_epilogue epi = {gelu ? (int)BERT_ACT_GELU : -1, y16, 0};
    bert_avx512_linear(y, ldy, x, Wp, with_bias ? b : NULL, M, N, K, n_threads, gelu ? &epi : NULL);
    if (gelu) { /* GELU alone runs in the kernel's registers: the same bits as the epilogue's pass */
        float *y2 = malloc(sizeof *y2 * (size_t)M * ldy);
        bert_epilogue alone = {(int)BERT_ACT_GELU, NULL, 0};
        for (int i = 0; i < M * ldy; i++) y2[i] = 1e30f;
        bert_avx512_linear(y2, ldy, x, Wp, with_bias ? b : NULL, M, N, K, n_threads, &alone);
        *bad += memcmp(y, y2, sizeof *y * (size_t)M * ldy) != 0;
        free(y2);
    }
    double worst = 0;
    for (int i = 0; i < M; i++) {
        for (int n = 0; n < N; n++) {
            double ref = with_bias ? b[n] : 0, scale = with_bias ? fabs(b[n]) : 0;
            for (int k = 0; k < K; k++) {
                ref += (double)x[(size_t)i * K + k] * W[(size_t)n * K + k];
                scale += fabs((double)x[(size_t)i * K + k] * W[(size_t)n * K + k]);
            }
            if (gelu) ref = 0.5 * ref * (1 + erf(ref / sqrt(2.0)));
            double got = y[(size_t)i * ldy + n];
            worst = fmax(worst, fabs(got - ref) / (scale + 1e-30) * (gelu ? 0.5 : 1.0));
            if (gelu && y16[(size_t)i * ldy + n] != bert_f32_to_bf16((float)got)) (*bad)++;
        }
        for (int n = N; n < ldy; n++) *bad += y[(size_t)i * ldy + n] != 1e30f;
    }
    /* a row alone: the same bits as in the batch (the plain product) */
    if (!gelu) {
        int r = M / 2;
        bert_avx512_linear(y1, ldy, x + (size_t)r * K, Wp, with_bias ? b : NULL, 1, N, K, n_threads, NULL);
        *bad += memcmp(y1, y + (size_t)r * ldy, sizeof *y1 * (size_t)N) != 0;
    }
    free(x), free(W), free(b), free(Wp), free(y), free(y1), free(y16);
    return worst;
}

TEST(linear_avx512_matches_float64) {
    if (!bert_avx512_linear_preferred(384, 128)) {
        printf("  (no AVX-512 kernel for BERT-Tiny's shapes here: the plain path runs)\n");
        CHECK(!bert_avx512_linear_preferred(16, 16));
        return;
    }
    CHECK(!bert_avx512_linear_preferred(40, 128)); /* N not a multiple of 16 */
    /* 130 and 200 rows: row parts on 2 and 3 threads; 53 and 100 rows: a 48-row
     * group and a tail of 5 (a 6-row block) or 4 (a 4-row block); N = 112 and 80:
     * 64-column blocks, then 32 and 16 */
    static const int shapes[][3] = {{1, 16, 8},    {5, 48, 37},    {37, 32, 128}, {130, 384, 128}, {64, 128, 512},
                                    {9, 80, 3},    {200, 48, 64},  {53, 112, 40}, {100, 64, 24},   {4, 80, 16}};
    int bad = 0;
    double worst = 0;
    unsigned seed = 11;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int nt = 1; nt <= 3; nt++)
            for (int v = 0; v < 3; v++) /* bias, no bias, bias + GELU epilogue */
                worst = fmax(worst, run_case(shapes[s][0], shapes[s][1], shapes[s][2], v != 1, v == 2, nt, seed++, &bad));
    if (!(worst < 1e-6)) test_fail(__FILE__, __LINE__, "worst relative error %.3g", worst);
    CHECK(bad == 0);
}
