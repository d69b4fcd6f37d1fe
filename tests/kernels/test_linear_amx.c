/* test_linear_amx.c — the AMX bf16 dense kernel against float64.
 *
 * Reference: x and W rounded to bf16 exactly as the kernel's inputs are,
 * then x W^T + b in double, then the epilogue's activation in double. What
 * is left is the tiles' f32 sums: every output must be within 1e-5 x
 * (sum_k |x_k w_k| + |b|) of the reference — f32 accumulation over K terms
 * in chunks of 32 errs by ~K/32 x 2^-24 of that sum, far below the bound,
 * while a wrong pair order, a dropped chunk or a misplaced block is off by
 * the size of a product. Shapes cover M below 16 (a configuration with
 * fewer tile rows), M % 32 = 16 (one A tile), other tails, an odd number of
 * 16-column blocks (one B tile), several threads, no bias, and the
 * epilogue (GELU and the bf16 copy). Where the CPU has no AMX, the test
 * says so and checks only that the kernel declines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/half.h"
#include "kernels/linear_amx.h"
#include "kernels/ops.h"
#include "test.h"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static double bf(float x) { return bert_bf16_to_f32(bert_f32_to_bf16(x)); }

/* worst |kernel - reference| / (sum |x w| + |b|) over one case; *y16_bad
 * counts bf16 copies that differ from the rounded f32 output */
static double run_case(int M, int N, int K, int with_bias, int gelu, int n_threads, unsigned seed, int *y16_bad) {
    int ldy = N + 16; /* a row stride wider than N, as a slice of a wider buffer */
    float *x = malloc(sizeof *x * (size_t)M * K), *W = malloc(sizeof *W * (size_t)N * K), *b = malloc(sizeof *b * (size_t)N),
          *y = malloc(sizeof *y * (size_t)M * ldy);
    uint16_t *x16 = malloc(2 * (size_t)M * K), *Wp = malloc(2 * (size_t)N * K), *y16 = calloc((size_t)M * ldy, 2);
    for (int i = 0; i < M * K; i++) x[i] = frand(&seed);
    for (int i = 0; i < N * K; i++) W[i] = 0.2f * frand(&seed);
    for (int i = 0; i < N; i++) b[i] = frand(&seed);
    for (int i = 0; i < M * ldy; i++) y[i] = 1e30f; /* must all be overwritten within N */
    bert_f32_to_bf16_array(x16, x, (size_t)M * K);
    bert_amx_pack_weights(Wp, W, N, K);
    bert_epilogue epi = {gelu ? (int)BERT_ACT_GELU : -1, y16, 0};
    bert_amx_linear(y, ldy, x16, Wp, with_bias ? b : NULL, M, N, K, n_threads, &epi);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = with_bias ? b[j] : 0, mag = with_bias ? fabs(b[j]) : 0;
            for (int k = 0; k < K; k++) {
                double p = bf(x[i * K + k]) * bf(W[j * K + k]);
                ref += p, mag += fabs(p);
            }
            if (gelu) ref = 0.5 * ref * (1.0 + erf(ref / sqrt(2.0)));
            worst = fmax(worst, fabs(ref - y[i * ldy + j]) / (mag + 1e-30));
            if (y16[i * ldy + j] != bert_f32_to_bf16(y[i * ldy + j])) ++*y16_bad;
        }
    free(x), free(W), free(b), free(y), free(x16), free(Wp), free(y16);
    return worst;
}

TEST(amx_linear_matches_float64_or_declines) {
    if (!bert_amx_linear_available(64, 64)) {
        printf("  no AMX-BF16 here: checking that the kernel declines\n");
        CHECK(!bert_amx_linear_available(64, 64));
        return;
    }
    CHECK(!bert_amx_linear_available(40, 64)); /* N: whole 16-column blocks only */
    CHECK(!bert_amx_linear_available(64, 48)); /* K: whole 32-input chunks only */
    const int shapes[][5] = {/* M, N, K, bias, gelu */
                             {1, 16, 32, 1, 0},   {7, 48, 64, 1, 1},   {16, 32, 128, 0, 0}, {17, 64, 96, 1, 0},
                             {45, 80, 128, 1, 1}, {48, 128, 256, 1, 0}, {64, 96, 512, 0, 1}, {131, 384, 128, 1, 1},
                             {200, 64, 96, 1, 1}, {256, 32, 64, 0, 0}, /* row parts on 3 threads */
                             {600, 48, 768, 1, 1}}; /* groups of 160 rows (bert_amx_group_rows) and a rest */
    double worst = 0;
    int bad16 = 0;
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (int nt = 1; nt <= 3; nt += 2) {
            const int *s = shapes[c];
            double w = run_case(s[0], s[1], s[2], s[3], s[4], nt, 11u + (unsigned)c, &bad16);
            worst = fmax(worst, w);
            if (w > 1e-5) printf("  M=%d N=%d K=%d threads %d: error %.2e\n", s[0], s[1], s[2], nt, w);
            CHECK(w <= 1e-5);
        }
    CHECK(bad16 == 0);
    printf("  worst error %.2e x sum|x w| over %d cases\n", worst, (int)(2 * sizeof shapes / sizeof shapes[0]));
}

TEST(amx_linear_leaves_columns_past_n_alone) {
    if (!bert_amx_linear_available(32, 32)) return;
    /* y is a slice of a wider buffer: columns N..ldy belong to someone else */
    int M = 20, N = 32, K = 32, ldy = 40;
    float *x = calloc((size_t)M * K, 4), *W = calloc((size_t)N * K, 4), *y = malloc(sizeof *y * (size_t)M * ldy);
    uint16_t *x16 = malloc(2 * (size_t)M * K), *Wp = malloc(2 * (size_t)N * K);
    for (int i = 0; i < M * ldy; i++) y[i] = -7.0f;
    bert_f32_to_bf16_array(x16, x, (size_t)M * K);
    bert_amx_pack_weights(Wp, W, N, K);
    bert_amx_linear(y, ldy, x16, Wp, NULL, M, N, K, 1, NULL);
    int untouched = 1, zeros = 1;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldy; j++) {
            if (j >= N) untouched &= y[i * ldy + j] == -7.0f;
            else zeros &= y[i * ldy + j] == 0.0f;
        }
    CHECK(untouched);
    CHECK(zeros);
    free(x), free(W), free(y), free(x16), free(Wp);
}

/* x (bf16), W (packed) and b of a product, drawn from seed. */
typedef struct {
    uint16_t *x16, *Wp;
    float *b;
} inputs;

static inputs draw(int M, int N, int K, unsigned seed) {
    float *x = malloc(sizeof *x * (size_t)M * K), *W = malloc(sizeof *W * (size_t)N * K);
    inputs in = {malloc(2 * (size_t)M * K), malloc(2 * (size_t)N * K), malloc(sizeof(float) * (size_t)N)};
    for (int i = 0; i < M * K; i++) x[i] = frand(&seed);
    for (int i = 0; i < N * K; i++) W[i] = 0.2f * frand(&seed);
    for (int i = 0; i < N; i++) in.b[i] = frand(&seed);
    bert_f32_to_bf16_array(in.x16, x, (size_t)M * K);
    bert_amx_pack_weights(in.Wp, W, N, K);
    free(x), free(W);
    return in;
}

/* y = x W^T + b over in's rows [r0, r0 + M) with the epilogue (y16 NULL
 * and act < 0: none), into y's rows from r0 (row stride ldy). */
static void product(float *y, uint16_t *y16, int ldy, const inputs *in, int r0, int M, int N, int K, int act,
                    int y16_only, int n_threads) {
    bert_epilogue epi = {act, y16 ? y16 + (size_t)r0 * ldy : NULL, y16_only};
    bert_amx_linear(y + (size_t)r0 * ldy, ldy, in->x16 + (size_t)r0 * K, in->Wp, in->b, M, N, K, n_threads,
                    y16 || act >= 0 ? &epi : NULL);
}

/* The epilogue on the blocks in registers gives the bits of the product
 * followed by the activation's and the bf16 conversion's own passes; with
 * y16_only, y is left alone and y16 is the same; the row groups, their
 * k-blocks (K = 768) and the rest give a row the bits it gets in a call of
 * 128 rows and in a call of its own (bert.h's batch invariance). */
TEST(amx_linear_epilogue_in_registers_same_bits) {
    if (!bert_amx_linear_available(64, 768)) return;
    int M = 600, N = 96, K = 768, ldy = N;
    size_t n = (size_t)M * ldy;
    float *y = malloc(sizeof *y * n), *ref = malloc(sizeof *ref * n), *act = malloc(sizeof *act * n),
          *part = malloc(sizeof *part * n);
    uint16_t *y16 = malloc(2 * n), *y16b = malloc(2 * n), *ref16 = malloc(2 * n);
    inputs in = draw(M, N, K, 5u);
    for (int nt = 1; nt <= 2; nt++) {
        product(ref, NULL, ldy, &in, 0, M, N, K, -1, 0, nt);
        memcpy(act, ref, sizeof *act * n);
        bert_activation_forward(act, n, BERT_ACT_GELU, 1);
        bert_f32_to_bf16_array(ref16, act, n);
        product(y, y16, ldy, &in, 0, M, N, K, BERT_ACT_GELU, 0, nt);
        CHECK(memcmp(y, act, sizeof *y * n) == 0);
        CHECK(memcmp(y16, ref16, 2 * n) == 0);
        for (size_t i = 0; i < n; i++) y[i] = 1e30f;
        product(y, y16b, ldy, &in, 0, M, N, K, BERT_ACT_GELU, 1, nt);
        CHECK(memcmp(y16b, ref16, 2 * n) == 0);
        int untouched = 1;
        for (size_t i = 0; i < n; i++) untouched &= y[i] == 1e30f;
        CHECK(untouched);
        for (int r0 = 0; r0 < M; r0 += 128) product(part, NULL, ldy, &in, r0, M - r0 < 128 ? M - r0 : 128, N, K, -1, 0, nt);
        CHECK(memcmp(part, ref, sizeof *ref * n) == 0);
        /* one row a call: under 16 rows, K is not split into k-blocks */
        static const int rows[] = {0, 1, 299, 598};
        for (int i = 0; i < 4; i++) {
            product(part, NULL, ldy, &in, rows[i], 1, N, K, -1, 0, nt);
            CHECK(memcmp(part + (size_t)rows[i] * ldy, ref + (size_t)rows[i] * ldy, sizeof *ref * N) == 0);
        }
    }
    free(in.x16), free(in.Wp), free(in.b);
    free(y), free(ref), free(act), free(part), free(y16), free(y16b), free(ref16);
}

/* bert_amx_linear_resident (no prefetch of W) gives bert_amx_linear's bits:
 * row groups with k-blocks (K = 768) and a rest of rows, whole-K groups
 * (K = 3072), an odd column block, one and two threads. */
TEST(amx_linear_resident_same_bits) {
    if (!bert_amx_linear_available(64, 768)) return;
    static const int shapes[][3] = {{600, 96, 768}, {300, 48, 3072}, {45, 80, 128}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int M = shapes[c][0], N = shapes[c][1], K = shapes[c][2];
        size_t n = (size_t)M * N;
        float *y = malloc(sizeof *y * n), *res = malloc(sizeof *res * n);
        inputs in = draw(M, N, K, 11u + (unsigned)c);
        for (int nt = 1; nt <= 2; nt++) {
            bert_amx_linear(y, N, in.x16, in.Wp, in.b, M, N, K, nt, NULL);
            bert_amx_linear_resident(res, N, in.x16, in.Wp, in.b, M, N, K, nt, NULL);
            CHECK(memcmp(y, res, sizeof *y * n) == 0);
        }
        free(in.x16), free(in.Wp), free(in.b), free(y), free(res);
    }
}
