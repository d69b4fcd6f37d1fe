/* test_attention.c — the fused attention kernels (bf16 and f32) against
 * float64.
 *
 * bf16: Q (times the scale), K and V rounded to bf16 exactly as the
 * kernel rounds them, then scores, softmax and the weighted sum in double.
 * What is left is the kernel's f32 sums and its bf16 probabilities (relative
 * 2^-9 each), so every output must be within 4e-3 x max|V| of the reference
 * (measured worst: printed). Shapes cover T = 1, tails of the 16-key blocks,
 * of the 16-row query groups and of the 32-key probability tiles, odd T,
 * every head size the kernel takes (32, 64, 96, 128: 1-4 query tiles; 96 and
 * 128 need two passes of the 4-tile output group), masked
 * keys (weight exactly 0) and a sequence whose keys are all masked (uniform
 * average, as the exact path and PyTorch give). Each kernel the CPU has runs
 * (AVX512-BF16; AMX where granted); where it has no AVX512-BF16, the test
 * says so and checks only that the kernel declines. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/cpu.h"
#include "kernels/half.h"
#include "test.h"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static double bf(float x) { return bert_bf16_to_f32(bert_f32_to_bf16(x)); }

static double same(float x) { return x; }

/* The f32 kernel where kernel is F32, else the bf16 one given. */
enum { F32 = -1 };

/* worst |kernel - reference| / max|V| over one case (infinite for a NaN);
 * the reference rounds its inputs as the kernel does (bf16, or not) */
static double run_case(int kernel, int T, int hs, int ld, int pattern, unsigned seed) {
    float *Q = malloc(sizeof *Q * (size_t)T * ld), *K = malloc(sizeof *K * (size_t)T * ld),
          *V = malloc(sizeof *V * (size_t)T * ld), *out = malloc(sizeof *out * (size_t)T * ld), *mask = malloc(sizeof *mask * (size_t)T);
    void *scratch = NULL;
    size_t bytes = kernel == F32 ? bert_attention_f32_scratch_bytes(T, hs) : bert_attention_bf16_scratch_bytes(T, hs);
    double (*r)(float) = kernel == F32 ? same : bf;
    if (posix_memalign(&scratch, 64, bytes) != 0) return 1e9;
    double vmax = 0, worst = 0, *s = malloc(sizeof *s * (size_t)T);
    for (int i = 0; i < T * ld; i++) Q[i] = 2.0f * frand(&seed), K[i] = 2.0f * frand(&seed), V[i] = frand(&seed);
    for (int i = 0; i < T * ld; i++) vmax = fmax(vmax, fabs(V[i]));
    for (int j = 0; j < T; j++) mask[j] = pattern == 2 ? 0.0f : pattern == 1 && j % 3 == 1 ? 0.0f : 1.0f;
    float scale = 1.0f / sqrtf((float)hs);
    if (kernel == F32) bert_attention_f32(out, ld, Q, K, V, ld, T, hs, scale, mask, scratch);
    else bert_attention_bf16_with((bert_attention_bf16_kernel)kernel, out, ld, Q, K, V, ld, T, hs, scale, mask, scratch);
    for (int i = 0; i < T; i++) {
        double mx = -INFINITY, sum = 0;
        int any = 0;
        for (int j = 0; j < T; j++) any |= mask[j] != 0.0f;
        for (int j = 0; j < T; j++) {
            double d = 0;
            for (int k = 0; k < hs; k++)
                d += kernel == F32 ? (double)Q[i * ld + k] * K[j * ld + k] * scale : bf(Q[i * ld + k] * scale) * bf(K[j * ld + k]);
            s[j] = mask[j] != 0.0f ? d : any ? -INFINITY : 0.0; /* all masked: uniform */
            mx = fmax(mx, s[j]);
        }
        for (int j = 0; j < T; j++) sum += s[j] = exp(s[j] - mx);
        for (int k = 0; k < hs; k++) {
            double ref = 0;
            for (int j = 0; j < T; j++) ref += s[j] / sum * r(V[j * ld + k]);
            double e = fabs(ref - out[i * ld + k]) / vmax;
            worst = isnan(e) ? INFINITY : fmax(worst, e); /* fmax would drop a NaN output */
        }
    }
    free(Q), free(K), free(V), free(out), free(mask), free(scratch), free(s);
    return worst;
}

/* A NaN in one key turns every row's scores, then every output, to NaN,
 * as on the f32 path (a diverged model is seen to diverge): 1 when so. */
static int nan_spreads(int kernel) {
    enum { T = 20, HS = 64 };
    static float Q[T * HS], K[T * HS], V[T * HS], out[T * HS], mask[T];
    unsigned seed = 3;
    for (int i = 0; i < T * HS; i++) Q[i] = frand(&seed), K[i] = frand(&seed), V[i] = frand(&seed);
    for (int j = 0; j < T; j++) mask[j] = 1.0f;
    K[3 * HS + 5] = NAN;
    void *scratch = NULL;
    if (posix_memalign(&scratch, 64, kernel == F32 ? bert_attention_f32_scratch_bytes(T, HS) : bert_attention_bf16_scratch_bytes(T, HS)) != 0)
        return 0;
    if (kernel == F32) bert_attention_f32(out, HS, Q, K, V, HS, T, HS, 0.125f, mask, scratch);
    else bert_attention_bf16_with((bert_attention_bf16_kernel)kernel, out, HS, Q, K, V, HS, T, HS, 0.125f, mask, scratch);
    free(scratch);
    int all = 1;
    for (int i = 0; i < T * HS; i++) all &= isnan(out[i]) != 0;
    return all;
}

TEST(attention_bf16_matches_float64_or_declines) {
    CHECK(!bert_attention_bf16_available(16)); /* heads of 32, 64, 96 or 128 only (32-dimension tiles) */
    CHECK(!bert_attention_bf16_available(80));
    CHECK(!bert_attention_bf16_available(256));
    /* the pick: AMX where granted, else AVX512-BF16 where it is the fast
     * path (cpu.h), else none */
    bert_attention_bf16_kernel want = bert_amx_bf16_ready()           ? BERT_ATTENTION_BF16_AMX
                                      : bert_cpu_bf16_dot_is_fast() ? BERT_ATTENTION_BF16_AVX512
                                                                    : BERT_ATTENTION_BF16_NONE;
    CHECK(bert_attention_bf16_pick(64) == want);
    if (!bert_cpu_has_avx512bf16() || !BERT_AMX_INTRINSICS) {
        printf("  no AVX512-BF16 here (or a build without its intrinsics): checking that the kernel declines\n");
        CHECK(!bert_attention_bf16_available(64));
        return;
    }
    const int shapes[][3] = {{1, 64, 64}, {5, 32, 48}, {16, 64, 192}, {17, 64, 64}, {33, 96, 96},
                             {130, 64, 768}, {131, 32, 32}, {70, 128, 128}, {512, 64, 64}};
    /* every kernel this CPU can run, picked or not: AVX512-BF16, and AMX where granted */
    int last = bert_amx_bf16_ready() ? BERT_ATTENTION_BF16_AMX : BERT_ATTENTION_BF16_AVX512;
    for (int kernel = BERT_ATTENTION_BF16_AVX512; kernel <= last; kernel++) {
        const char *name = kernel == BERT_ATTENTION_BF16_AMX ? "AMX" : "AVX512-BF16";
        double worst = 0;
        for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
            for (int pattern = 0; pattern < 3; pattern++) {
                double w = run_case(kernel, shapes[c][0], shapes[c][1], shapes[c][2],
                                    pattern, 7u + (unsigned)c * 3u + (unsigned)pattern);
                worst = fmax(worst, w);
                if (w > 4e-3)
                    printf("  %s T=%d head=%d mask pattern %d: error %.2e x max|V|\n", name, shapes[c][0],
                           shapes[c][1], pattern, w);
                CHECK(w <= 4e-3);
            }
        CHECK(nan_spreads(kernel));
        printf("  %s: worst error %.2e x max|V| over %d cases\n", name, worst,
               (int)(3 * sizeof shapes / sizeof shapes[0]));
    }
}

/* bert_attention_bf16_io on bf16(Q), bf16(K), bf16(V) against the f32
 * kernel on Q, K, V (each as bert_f32_to_bf16 rounds, no subnormals), head
 * 64 (scale 1/8, a power of two): 1 when every output is the f32 kernel's
 * output (rounded to bf16 with out16), bit for bit, and the output's
 * columns past the head (ldo wider) are left as they were; with_next
 * names a next head (this one's inputs again), which changes no bits. */
static int io_same_bits(int kernel, int T, int ld, int pattern, int out16, int with_next, unsigned seed) {
    enum { HS = 64 };
    int ldo = HS + 32;
    size_t n = (size_t)T * ld, no = (size_t)T * ldo;
    float *Q = malloc(sizeof *Q * n), *K = malloc(sizeof *K * n), *V = malloc(sizeof *V * n);
    float *out = malloc(sizeof *out * (size_t)T * HS), *mask = malloc(sizeof *mask * (size_t)T), *of = malloc(4 * no);
    uint16_t *q16 = malloc(2 * n), *k16 = malloc(2 * n), *v16 = malloc(2 * n), *o16 = malloc(2 * no);
    void *scratch = NULL;
    int ok = Q && K && V && out && mask && of && q16 && k16 && v16 && o16 &&
             posix_memalign(&scratch, 64, bert_attention_bf16_scratch_bytes(T, HS)) == 0;
    for (size_t i = 0; ok && i < n; i++) Q[i] = 3.0f * frand(&seed), K[i] = 3.0f * frand(&seed), V[i] = frand(&seed);
    for (int j = 0; ok && j < T; j++) mask[j] = pattern == 2 ? 0.0f : pattern == 1 && j % 3 == 1 ? 0.0f : 1.0f;
    for (size_t i = 0; ok && i < no; i++) o16[i] = 0x7fc1, of[i] = -7.0f; /* values the kernel does not write */
    if (ok) {
        bert_f32_to_bf16_array(q16, Q, n), bert_f32_to_bf16_array(k16, K, n), bert_f32_to_bf16_array(v16, V, n);
        bert_attention_bf16_with((bert_attention_bf16_kernel)kernel, out, HS, Q, K, V, ld, T, HS, 0.125f, mask, scratch);
        bert_attention_next next = {q16, k16, v16, T};
        bert_attention_bf16_io((bert_attention_bf16_kernel)kernel, out16 ? (void *)o16 : (void *)of, ldo, out16, q16,
                               k16, v16, ld, T, HS, 0.125f, mask, scratch, with_next ? &next : NULL);
    }
    for (int i = 0; ok && i < T; i++)
        for (int c = 0; c < ldo; c++) {
            size_t at = (size_t)i * ldo + c;
            float want = c < HS ? out[(size_t)i * HS + c] : -7.0f;
            ok &= out16 ? o16[at] == (c < HS ? bert_f32_to_bf16(want) : 0x7fc1) : memcmp(&of[at], &want, 4) == 0;
        }
    free(Q), free(K), free(V), free(out), free(mask), free(of), free(q16), free(k16), free(v16), free(o16), free(scratch);
    return ok;
}

TEST(attention_bf16_io_same_bits_as_f32_in_and_out) {
    if (!bert_cpu_has_avx512bf16() || !BERT_AMX_INTRINSICS) {
        printf("  no AVX512-BF16 here (or a build without its intrinsics): nothing to run\n");
        CHECK(!bert_attention_bf16_available(64));
        return;
    }
    const int shapes[][2] = {{1, 64}, {15, 64}, {17, 192}, {40, 64}, {128, 768}, {200, 2304}};
    int last = bert_amx_bf16_ready() ? BERT_ATTENTION_BF16_AMX : BERT_ATTENTION_BF16_AVX512;
    for (int kernel = BERT_ATTENTION_BF16_AVX512; kernel <= last; kernel++)
        for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
            for (int pattern = 0; pattern < 6; pattern++) {
                int out16 = pattern < 3;
                int ok = io_same_bits(kernel, shapes[c][0], shapes[c][1], pattern % 3, out16, (int)(c + pattern) % 2,
                                      11u + (unsigned)c * 5u + (unsigned)pattern);
                if (!ok)
                    printf("  %s T=%d ld=%d mask pattern %d, %s output: bits differ\n",
                           kernel == BERT_ATTENTION_BF16_AMX ? "AMX" : "AVX512-BF16", shapes[c][0], shapes[c][1],
                           pattern % 3, out16 ? "bf16" : "f32");
                CHECK(ok);
            }
}

/* The exact path's fused head (f32): the reference unrounded, every output
 * within 1e-5 x max|V| (measured worst: printed), head sizes 32-256. */
TEST(attention_f32_matches_float64_or_declines) {
    CHECK(!bert_attention_f32_available(16)); /* multiples of 32 up to 256 only */
    CHECK(!bert_attention_f32_available(80));
    CHECK(!bert_attention_f32_available(288));
    if (!bert_cpu_has_avx512()) {
        printf("  no AVX-512 here (or a build without its intrinsics): checking that the kernel declines\n");
        CHECK(!bert_attention_f32_available(64));
        return;
    }
    const int shapes[][3] = {{1, 64, 64}, {5, 32, 48}, {16, 64, 192}, {17, 64, 64}, {33, 96, 96},
                             {130, 64, 768}, {131, 32, 32}, {70, 128, 128}, {40, 256, 256}, {512, 64, 64}};
    double worst = 0;
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (int pattern = 0; pattern < 3; pattern++) {
            double w = run_case(F32, shapes[c][0], shapes[c][1], shapes[c][2], pattern, 7u + (unsigned)c * 3u + (unsigned)pattern);
            worst = fmax(worst, w);
            if (!(w <= 1e-5)) printf("  T=%d head=%d mask pattern %d: error %.2e x max|V|\n", shapes[c][0], shapes[c][1], pattern, w);
            CHECK(w <= 1e-5);
        }
    CHECK(nan_spreads(F32));
    printf("  worst error %.2e x max|V| over %d cases\n", worst, (int)(3 * sizeof shapes / sizeof shapes[0]));
}
