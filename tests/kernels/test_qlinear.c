/* test_qlinear.c — the int8 dense layer's pieces against exact references.
 *
 * Quantization: |x - q s| <= s / 2 with s = max|x| / 127 per row (zero
 * rows: q = 0). The product: with the same quantized inputs, oneDNN's int32
 * sums are exact, so y must equal the float64 dequantized product (+ bias,
 * then GELU) to float rounding, for row counts that exercise the 128-row
 * chunks and the 16-row padding. Where int8 cannot run here, the test checks
 * that making the layer fails with the reason, and says so. Errors: a run
 * with impossible arguments fails with BERT_ERR_INPUT naming them, and such
 * a failure inside a layer is what bert_forward returns. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/qlinear.h"
#include "model/context.h"
#include "test.h"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

TEST(quantize_rows_round_to_the_row_scale) {
    enum { M = 5, K = 301 };
    unsigned seed = 11;
    float x[M * K], s[M];
    int8_t q[M * K];
    for (int i = 0; i < M * K; i++) x[i] = 3.0f * frand(&seed) * (float)(1 + i / K);
    for (int j = 0; j < K; j++) x[2 * K + j] = 0.0f; /* a zero row */
    bert_quantize_rows(q, s, x, M, K, 2);
    for (int i = 0; i < M; i++) {
        float amax = 0;
        for (int j = 0; j < K; j++) amax = fmaxf(amax, fabsf(x[i * K + j]));
        if (amax == 0) {
            CHECK(s[i] == 1.0f);
            for (int j = 0; j < K; j++) CHECK(q[i * K + j] == 0);
            continue;
        }
        CHECK(fabsf(s[i] - amax / 127.0f) <= 1e-6f * amax);
        double worst = 0;
        for (int j = 0; j < K; j++) {
            CHECK(q[i * K + j] >= -127 && q[i * K + j] <= 127);
            worst = fmax(worst, fabs(x[i * K + j] - (double)q[i * K + j] * s[i]));
        }
        CHECK(worst <= 0.5 * s[i] * (1 + 1e-5));
    }
}

/* The AVX-512 quantization (where the CPU has it) gives the portable
 * path's bits: row lengths 1-40 (masked tails) and 301, ties rounding to
 * even (a row whose maximum is 127 has scale 1: 2.5 -> 2, 3.5 -> 4), NaN
 * left out of the maximum, -0.0, subnormals, an all-zero row. */
TEST(quantize_rows_fast_path_is_the_portable_one) {
    enum { M = 11, KMAX = 301 }; /* 11 rows: two groups of four and three alone */
    unsigned seed = 5;
    float *x = malloc(sizeof *x * M * KMAX), s1[M], s2[M];
    int8_t *q1 = malloc(M * KMAX + 1), *q2 = malloc(M * KMAX + 1);
    int bad = 0;
    for (int K = 1; K <= KMAX; K = K < 40 ? K + 1 : KMAX + (K == KMAX)) {
        for (int i = 0; i < M * K; i++) x[i] = 4.0f * frand(&seed);
        for (int j = 0; j < K; j++) x[2 * K + j] = 0.0f;                    /* a zero row */
        x[K] = 127.0f;                                                       /* row 1: scale 1 */
        for (int j = 1; j < K; j++) x[K + j] = (float)(j % 9) - 4.5f;       /* halves: ties */
        x[3 * K] = NAN;                                                      /* row 3: NaN not the maximum */
        if (K > 2) x[3 * K + 1] = -0.0f, x[3 * K + 2] = 1e-40f;
        for (int j = 0; j < K; j++) x[4 * K + j] = 1e-39f * (float)(j + 1); /* row 4: subnormal */
        memset(q2, 0x55, M * KMAX + 1);
        bert_quantize_rows_portable(q2, s2, x, M, K, 1);
        for (int nt = 1; nt <= 3; nt += 2) { /* one thread, and three splitting the groups */
            memset(q1, 0x55, M * KMAX + 1);
            bert_quantize_rows(q1, s1, x, M, K, nt);
            for (int i = 0; i < M; i++) bad += memcmp(&s1[i], &s2[i], sizeof s1[i]) != 0;
            bad += memcmp(q1, q2, (size_t)M * K) != 0 || q1[M * K] != 0x55; /* nothing past the rows */
        }
        if (K == 9) CHECK(q2[K + 3] == -2 && q2[K + 7] == 2 && q2[K + 8] == 4 && q2[K + 5] == 0); /* ties to even */
    }
    CHECK(bad == 0);
    free(x), free(q1), free(q2);
}

TEST(int8_linear_matches_exact_product_or_clear_error) {
    enum { N = 48, K = 80 };
    const char *why = bert_int8_unavailable();
    unsigned seed = 5;
    float W[N * K], b[N];
    for (int i = 0; i < N * K; i++) W[i] = 0.1f * frand(&seed);
    for (int j = 0; j < N; j++) b[j] = 0.01f * (float)j;
    const char *err = NULL;
    bert_qlinear *q = bert_qlinear_create(W, N, K, &err);
    if (why) {
        printf("  int8 unavailable here (%s): checking the error only\n", why);
        CHECK(q == NULL && err && strstr(err, "int8"));
        return;
    }
    CHECK(q != NULL);
    if (!q) return;
    /* the weights as the layer quantized them */
    int8_t wq[N * K];
    float sw[N];
    bert_quantize_rows(wq, sw, W, N, K, 1);
    const int rows[] = {1, 37, 128, 200};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        int M = rows[r];
        float *x = malloc(sizeof(float) * M * K), *y = malloc(sizeof(float) * M * N), *sx = malloc(sizeof(float) * bert_qlinear_rows(M));
        int8_t *xq = calloc(bert_qlinear_rows(M), K);
        void *acc = malloc(bert_qlinear_scratch(M, N));
        for (int i = 0; i < M * K; i++) x[i] = frand(&seed);
        bert_quantize_rows(xq, sx, x, M, K, 1);
        bert_epilogue gelu = {(int)BERT_ACT_GELU, NULL, 0};
        bert_error e;
        CHECK_OK(bert_qlinear_run(q, y, N, xq, sx, b, M, acc, &gelu, 2, &e), e);
        double worst = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                long long dot = 0;
                for (int k = 0; k < K; k++) dot += (long long)xq[i * K + k] * wq[j * K + k];
                double pre = (double)dot * sx[i] * sw[j] + b[j];
                double ref = 0.5 * pre * (1.0 + erf(pre / sqrt(2.0)));
                worst = fmax(worst, fabs(ref - y[i * N + j]));
            }
        if (!(worst < 1e-5)) test_fail(__FILE__, __LINE__, "%d rows: max |error| %.3g", M, worst);
        free(x), free(y), free(sx), free(xq), free(acc);
    }
    bert_qlinear_free(q);
}

TEST(int8_run_rejects_impossible_arguments) {
    bert_error err;
    float y[16] = {0};
    int8_t xq[16] = {0};
    float sx[1] = {1.0f};
    int32_t acc[16] = {0};
    CHECK_ERR(bert_qlinear_run(NULL, y, 16, xq, sx, NULL, 1, acc, NULL, 1, &err), err, BERT_ERR_INPUT, "without a weight");
    if (bert_int8_unavailable()) return;
    enum { N = 32, K = 16 };
    float W[N * K] = {0};
    const char *why = NULL;
    bert_qlinear *q = bert_qlinear_create(W, N, K, &why);
    CHECK(q != NULL);
    if (!q) return;
    int8_t *xp = calloc(bert_qlinear_rows(1), K);
    int32_t *ap = malloc(bert_qlinear_scratch(1, N));
    float out[N];
    CHECK_ERR(bert_qlinear_run(q, out, N - 1, xp, sx, NULL, 1, ap, NULL, 1, &err), err, BERT_ERR_INPUT, "row stride of 31 for 32 outputs");
    CHECK_ERR(bert_qlinear_run(q, out, N, xp, sx, NULL, -1, ap, NULL, 1, &err), err, BERT_ERR_INPUT, "-1 rows");
    CHECK_ERR(bert_qlinear_run(q, out, N, NULL, sx, NULL, 1, ap, NULL, 1, &err), err, BERT_ERR_INPUT, "NULL buffer");
    CHECK_OK(bert_qlinear_run(q, out, N, xp, sx, NULL, 0, ap, NULL, 1, &err), err); /* no rows: nothing to do */
    CHECK_OK(bert_qlinear_run(q, out, N, xp, sx, NULL, 1, ap, NULL, 1, &err), err);
    free(xp), free(ap);
    bert_qlinear_free(q);
}

/* A layer's int8 product that fails (here: a weight of more outputs than the
 * layer's output rows hold) makes bert_forward fail with that product's code
 * and message, not a generic one; the next call, with the layer restored,
 * succeeds (the context forgets the failure). */
TEST(int8_failure_inside_a_layer_is_what_bert_forward_returns) {
    if (bert_int8_unavailable()) return;
    bert_model_params mp = bert_model_default_params();
    mp.compute = BERT_COMPUTE_INT8;
    bert_model *m = NULL;
    bert_error err;
    CHECK_OK(bert_model_load(FIXTURES "/tiny-pretraining", &mp, &m, &err), err);
    if (!m) return;
    int C = m->cfg.pub.hidden_size, I = m->cfg.pub.intermediate_size;
    float *W = calloc((size_t)(C + 16) * I, sizeof *W);
    const char *why = NULL;
    bert_qlinear *wide = bert_qlinear_create(W, C + 16, I, &why); /* the output dense's K, 16 outputs too many */
    CHECK(wide != NULL);
    bert_context *ctx = NULL;
    CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
    if (wide && ctx) {
        static const int32_t ids[5] = {2, 10, 11, 12, 3};
        bert_sequence seq = {.input_ids = ids, .n_tokens = 5};
        bert_layer_weights *L = &m->w.layers[0];
        bert_qlinear *kept = L->out.q8;
        L->out.q8 = wide;
        char want[64];
        snprintf(want, sizeof want, "row stride of %d for %d outputs", C, C + 16);
        CHECK_ERR(bert_forward(ctx, &seq, 1, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT, want);
        L->out.q8 = kept;
        CHECK_OK(bert_forward(ctx, &seq, 1, BERT_OUTPUT_HIDDEN, &err), err);
    }
    bert_context_free(ctx);
    bert_qlinear_free(wide);
    free(W);
    bert_model_free(m);
}
