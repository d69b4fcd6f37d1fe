/* test_ops.c — kernels against float64 references. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/gemm_onednn.h"
#include "kernels/half.h"
#include "kernels/onednn.h"
#include "kernels/ops.h"
#include "test.h"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

TEST(gemm_all_transposes_match_float64) {
    unsigned seed = 1;
    int M = 37, N = 53, K = 71;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) A[i] = frand(&seed);
    for (int i = 0; i < K * N; i++) B[i] = frand(&seed);
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            /* A viewed as [M x K] (or stored [K x M] when transposed), likewise B. */
            for (int i = 0; i < M * N; i++) C[i] = 1.0f;
            bert_sgemm(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 2.0f, C, N);
            double worst = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
                    double d = fabs(0.5 * s + 2.0 - C[i * N + j]);
                    worst = d > worst ? d : worst;
                }
            CHECK(worst < 1e-4);
        }
    }
    free(A);
    free(B);
    free(C);
}

TEST(linear_threads_agree_and_match_float64) {
    unsigned seed = 7;
    int M = 19, N = 83, K = 45;
    float *x = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
    float *y1 = malloc(sizeof(float) * M * N), *y3 = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) x[i] = frand(&seed);
    for (int i = 0; i < N * K; i++) W[i] = frand(&seed);
    for (int i = 0; i < N; i++) b[i] = frand(&seed);
    bert_linear(y1, N, x, W, b, M, N, K, 1);
    bert_linear(y3, N, x, W, b, M, N, K, 3);
    /* Threads split the columns into slabs; where the product runs on
     * OpenBLAS (no oneDNN, sanitizer builds) slabs of other widths take other
     * kernel edge paths, so sums may round differently: a few ulps of the
     * largest output (2 ulps seen with OpenBLAS's Cooperlake kernels). */
    double ymax = 0;
    for (int i = 0; i < M * N; i++) ymax = fmax(ymax, fabs(y1[i]));
    CHECK(test_max_abs_diff(y1, y3, (size_t)M * N) <= 4 * FLT_EPSILON * ymax);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = b[j];
            for (int k = 0; k < K; k++) s += (double)x[i * K + k] * W[j * K + k];
            worst = fmax(worst, fabs(s - y1[i * N + j]));
        }
    CHECK(worst < 1e-5);
    free(x), free(W), free(b), free(y1), free(y3);
}

/* A row's result is the same bits whatever the row count of its product and
 * the thread count: bert serve's batched answers equal `bert embed`'s.
 * Every row count from 1 to 200 (rows below 16 run padded; from 128 rows on
 * two threads split rows, below that columns) against one 200-row product,
 * shapes of the model's layers and heads, 1 and 2 threads; f32, and bf16
 * where it runs (its single-row kernel differed before the padding).
 * Holds for oneDNN's sgemm (the default where libdnnl is present);
 * OpenBLAS's small-N kernels sum in another order for some row counts, so
 * without oneDNN (sanitizer builds, BERT_GEMM=openblas) the test says so. */
typedef struct {
    const float *x, *W, *b;
    const uint16_t *x16, *W16; /* set: the bf16 product */
    int N, K;
} rows_case;

static void rows_run(const rows_case *c, float *y, int M, int nt) {
    if (c->x16) bert_linear_bf16(y, c->N, c->x16, c->W16, c->b, M, c->N, c->K, nt);
    else bert_linear(y, c->N, c->x, c->W, c->b, M, c->N, c->K, nt);
}

/* How many of the row counts 1..MM at 1 and 2 threads give rows other than
 * the MM-row product's. */
static int rows_differing(const rows_case *c, int MM) {
    float *ref = malloc(sizeof(float) * MM * c->N), *y = malloc(sizeof(float) * MM * c->N);
    rows_run(c, ref, MM, 1);
    int differ = 0;
    for (int nt = 1; nt <= 2; nt++)
        for (int M = 1; M <= MM; M++) {
            rows_run(c, y, M, nt);
            differ += memcmp(y, ref, sizeof(float) * (size_t)M * c->N) != 0;
        }
    if (differ) printf("  %s %d x %d: %d of %d row counts differ\n", c->x16 ? "bf16" : "f32", c->N, c->K, differ, 2 * MM);
    free(ref), free(y);
    return differ;
}

TEST(linear_rows_do_not_depend_on_the_row_count) {
    if (!bert_dnnl_sgemm_available()) {
        printf("  (oneDNN's sgemm is not used here: rows may differ by a few ulps with the row count)\n");
        return;
    }
    static const int shapes[][2] = {{128, 128}, {384, 128}, {128, 512}, {2, 768}, {3, 384}, {64, 64}};
    enum { MM = 200 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], K = shapes[s][1];
        unsigned seed = 11 + (unsigned)s;
        float *x = malloc(sizeof(float) * MM * K), *W = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
        for (int i = 0; i < MM * K; i++) x[i] = frand(&seed);
        for (int i = 0; i < N * K; i++) W[i] = 0.1f * frand(&seed);
        for (int i = 0; i < N; i++) b[i] = frand(&seed);
        rows_case c = {x, W, b, NULL, NULL, N, K};
        CHECK(rows_differing(&c, MM) == 0);
        if (!bert_bf16_unavailable()) { /* the bf16 products: the same property */
            uint16_t *x16 = malloc(sizeof(uint16_t) * MM * K), *W16 = malloc(sizeof(uint16_t) * N * K);
            bert_f32_to_bf16_array(x16, x, (size_t)MM * K);
            bert_f32_to_bf16_array(W16, W, (size_t)N * K);
            c.x16 = x16, c.W16 = W16;
            CHECK(rows_differing(&c, MM) == 0);
            free(x16), free(W16);
        }
        free(x), free(W), free(b);
    }
}

TEST(layernorm_matches_float64) {
    unsigned seed = 3;
    int N = 5, C = 77;
    float a[5 * 77], r[5 * 77], g[77], be[77], out[5 * 77];
    for (int i = 0; i < N * C; i++) a[i] = 3.0f + 2.0f * frand(&seed), r[i] = frand(&seed);
    for (int j = 0; j < C; j++) g[j] = 1.0f + frand(&seed), be[j] = frand(&seed);
    bert_add_layernorm(out, a, r, g, be, N, C, 1e-12f, 2);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double mean = 0, var = 0;
        for (int j = 0; j < C; j++) mean += (double)(a[i * C + j] + r[i * C + j]);
        mean /= C;
        for (int j = 0; j < C; j++) var += pow((double)(a[i * C + j] + r[i * C + j]) - mean, 2);
        var /= C;
        for (int j = 0; j < C; j++) {
            double want = ((double)(a[i * C + j] + r[i * C + j]) - mean) / sqrt(var + 1e-12) * g[j] + be[j];
            worst = fmax(worst, fabs(want - out[i * C + j]));
        }
    }
    CHECK(worst < 1e-5);
    /* out may alias the input. */
    bert_add_layernorm(a, a, r, g, be, N, C, 1e-12f, 1);
    CHECK(test_max_abs_diff(a, out, (size_t)N * C) <= 1e-6);
}

/* Rows of BERT's widths (whole 16-lane blocks; a last block of 1 and of
 * 12 lanes), a row far from zero relative to its spread (mean 2^23,
 * spread ~2, the mean exact in float: unshifted, a one-pass sum of squares
 * measured 8e-4 off in the normalised values) and a row with one outlier
 * first (300 among values of +-1, as BERT's hidden states have: a float
 * one-pass sum of squares shifted by the first value measured 3.6e-4 off),
 * against float64, to 1e-5. */
TEST(layernorm_wide_and_offset_rows_match_float64) {
    const int widths[] = {16, 128, 129, 140, 768};
    unsigned seed = 9;
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int N = 4, C = widths[w];
        float *a = malloc(sizeof *a * (size_t)N * C), *out = malloc(sizeof *out * (size_t)N * C), *g = malloc(sizeof *g * C),
              *be = malloc(sizeof *be * C);
        for (int i = 0; i < N * C; i++) a[i] = frand(&seed);
        for (int j = 0; j < C; j++) { /* 2^23 +- 1..3, in pairs: the mean 2^23 exactly, every value a float */
            a[2 * C + j] = 8388608.0f + (j == C - 1 && C % 2 ? 0.0f : (j % 2 ? 1.0f : -1.0f) * (float)(1 + j / 2 % 3));
            g[j] = 1.0f + frand(&seed), be[j] = frand(&seed);
        }
        a[3 * C] = 300.0f;
        bert_add_layernorm(out, a, NULL, g, be, N, C, 1e-12f, 1);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double mean = 0, var = 0;
            for (int j = 0; j < C; j++) mean += a[i * C + j];
            mean /= C;
            for (int j = 0; j < C; j++) var += pow(a[i * C + j] - mean, 2);
            var /= C;
            for (int j = 0; j < C; j++)
                worst = fmax(worst, fabs((a[i * C + j] - mean) / sqrt(var + 1e-12) * g[j] + be[j] - out[i * C + j]));
        }
        if (!(worst < 1e-5)) test_fail(__FILE__, __LINE__, "C = %d: max |error| %.3g", C, worst);
        free(a), free(out), free(g), free(be);
    }
}

/* The training LayerNorm (which keeps a + b, each row's mean and rstd for
 * the backward pass) gives inference's bits, on rows not a multiple of
 * four and widths not of 16, one and two threads, with its sum written
 * over a (as the embeddings' LayerNorm: b NULL, out apart), over a with
 * out over it too, or apart; out is the float formula of the kept sum,
 * mean and rstd, and mean and rstd are float64's. The portable path (mode
 * 4, what CPUs without AVX-512 run) within the same bounds. */
TEST(layernorm_train_keeps_sum_mean_rstd_with_inference_bits) {
    enum { N = 7, C = 140 };
    unsigned seed = 21;
    float a[N * C], b[N * C], g[C], be[C], ref[2][N * C], out[N * C], sum[N * C], mean[N], rstd[N];
    for (int i = 0; i < N * C; i++) a[i] = frand(&seed) * 3.0f, b[i] = frand(&seed) + (i % C == 5 ? 50.0f : 0.0f);
    for (int j = 0; j < C; j++) g[j] = 1.0f + frand(&seed), be[j] = frand(&seed);
    bert_add_layernorm(ref[0], a, b, g, be, N, C, 1e-12f, 1);
    bert_add_layernorm(ref[1], a, NULL, g, be, N, C, 1e-12f, 1);
    for (int mode = 0; mode < 7; mode++) {
        int nt = 1 + mode % 2, with_b = mode < 5;
        float a2[N * C];
        memcpy(a2, a, sizeof a);
        /* modes 0, 1, 4: all apart; 2, 3: sum over a, out over sum; 5, 6: sum over a, out apart, no b */
        float *s = mode < 2 || mode == 4 ? sum : a2, *o = mode == 2 || mode == 3 ? a2 : out;
        for (int i = 0; i < N; i++) mean[i] = rstd[i] = NAN;
        if (mode == 4) bert_add_layernorm_train_portable(o, s, mean, rstd, a2, b, g, be, N, C, 1e-12f);
        else bert_add_layernorm_train(o, s, mean, rstd, a2, with_b ? b : NULL, g, be, N, C, 1e-12f, nt);
        double worst = 0;
        for (int i = 0; i < N * C; i++) worst = fmax(worst, fabs(o[i] - ref[!with_b][i]));
        if (mode == 4) CHECK(worst < 1e-5);
        else CHECK(memcmp(o, ref[!with_b], sizeof out) == 0);
        int exact = 1;
        for (int i = 0; i < N * C && o != s; i++) { /* (out written over the sum leaves no sum) */
            float x = with_b ? a[i] + b[i] : a[i];
            exact &= s[i] == x && o[i] == (s[i] - mean[i / C]) * rstd[i / C] * g[i % C] + be[i % C];
        }
        if (!exact) test_fail(__FILE__, __LINE__, "mode %d: the kept sum, mean and rstd do not give out", mode);
        for (int i = 0; i < N; i++) {
            double m = 0, v = 0;
            for (int j = 0; j < C; j++) m += (double)a[i * C + j] + (with_b ? b[i * C + j] : 0.0f);
            m /= C;
            for (int j = 0; j < C; j++) v += pow((double)a[i * C + j] + (with_b ? b[i * C + j] : 0.0f) - m, 2);
            double r = 1.0 / sqrt(v / C + 1e-12);
            if (!(fabs(mean[i] - m) <= 1e-6 * fmax(1.0, fabs(m)) && fabs(rstd[i] - r) <= 1e-6 * r))
                test_fail(__FILE__, __LINE__, "mode %d row %d: mean %.9g vs %.9g, rstd %.9g vs %.9g", mode, i, mean[i], m, rstd[i], r);
        }
    }
}

/* A LayerNorm hook (bert_rows_fn) that copies each row it is handed from
 * `from` to `to` and counts the calls per row: as then, each row handed
 * over once, already holding its final values; as before, each row of the
 * input written once, before it is read. */
typedef struct {
    const float *from;
    float *to;
    int C, calls[64];
} row_copy_probe;

static void copy_rows(int i0, int i1, void *arg) {
    row_copy_probe *p = arg;
    for (int i = i0; i < i1; i++) {
#pragma omp atomic
        p->calls[i]++;
        memcpy(p->to + (size_t)i * p->C, p->from + (size_t)i * p->C, sizeof(float) * p->C);
    }
}

/* 64 rows of C: the LayerNorm operands a, b, gain g and bias be from seed. */
static void ln_inputs(unsigned seed, float *a, float *b, float *g, float *be, int C) {
    for (int i = 0; i < 64 * C; i++) a[i] = frand(&seed) * 2.0f, b[i] = frand(&seed);
    for (int j = 0; j < C; j++) g[j] = 1.0f + frand(&seed), be[j] = frand(&seed);
}

TEST(layernorm_then_sees_each_row_once_when_written) {
    enum { C = 200 };
    static float a[64 * C], b[64 * C], g[C], be[C], ref[64 * C], out[64 * C], seen[64 * C];
    ln_inputs(5, a, b, g, be, C);
    static const int rows[] = {1, 3, 4, 7, 13, 64};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (int nt = 1; nt <= 3; nt++) {
            int N = rows[r];
            row_copy_probe p = {out, seen, C, {0}};
            memset(seen, 0, sizeof seen);
            bert_add_layernorm(ref, a, b, g, be, N, C, 1e-12f, 1);
            bert_add_layernorm_then(out, a, b, g, be, N, C, 1e-12f, nt, copy_rows, &p);
            int once = 1;
            for (int i = 0; i < 64; i++) once &= p.calls[i] == (i < N);
            if (!once) test_fail(__FILE__, __LINE__, "%d rows, %d threads: a row not handed over exactly once", N, nt);
            CHECK(memcmp(out, ref, sizeof(float) * N * C) == 0);
            CHECK(memcmp(seen, ref, sizeof(float) * N * C) == 0);
        }
}

/* bert_add_layernorm_around's hook before (copy_rows): each row written
 * by it once and before it is read (the rows start as NaN: a row read
 * before its hook ran would come out NaN), the result
 * bert_add_layernorm's of the rows as written, in place as the embeddings
 * run it (out == a, no b) and with b. */
TEST(layernorm_around_writes_each_row_once_before_it_is_read) {
    enum { C = 200 };
    static float a[64 * C], b[64 * C], g[C], be[C], ref[64 * C], work[64 * C], out[64 * C];
    ln_inputs(6, a, b, g, be, C);
    static const int rows[] = {1, 3, 4, 7, 13, 64};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (int nt = 1; nt <= 3; nt++)
            for (int with_b = 0; with_b < 2; with_b++) {
                int N = rows[r];
                row_copy_probe p = {a, work, C, {0}};
                for (int i = 0; i < 64 * C; i++) work[i] = NAN;
                bert_add_layernorm(ref, a, with_b ? b : NULL, g, be, N, C, 1e-12f, 1);
                float *dst = with_b ? out : work; /* without b: in place */
                bert_add_layernorm_around(dst, work, with_b ? b : NULL, g, be, N, C, 1e-12f, nt, copy_rows, NULL, &p);
                int once = 1;
                for (int i = 0; i < 64; i++) once &= p.calls[i] == (i < N);
                if (!once) test_fail(__FILE__, __LINE__, "%d rows, %d threads: a row not written exactly once", N, nt);
                CHECK(memcmp(dst, ref, sizeof(float) * N * C) == 0);
            }
}

/* The dense layer's backward pass against float64: dW and db added to what
 * they held, dx written or added to, one and two threads, shapes below and
 * above oneDNN's and OpenBLAS's small-matrix cut-offs (whichever library
 * does dx here). */
TEST(linear_backward_matches_float64) {
    static const int shapes[][3] = {{5, 16, 3}, {37, 48, 40}, {130, 96, 200}};
    for (int sh = 0; sh < 3; sh++)
        for (int mode = 0; mode < 4; mode++) {
            int M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2], nt = 1 + mode % 2, acc = mode >= 2;
            float *dy = malloc(sizeof(float) * M * N), *x = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K),
                  *dW = malloc(sizeof(float) * N * K), *db = malloc(sizeof(float) * N), *dx = malloc(sizeof(float) * M * K);
            CHECK(dy && x && W && dW && db && dx);
            if (!(dy && x && W && dW && db && dx)) return;
            unsigned seed = 40u + (unsigned)(sh * 4 + mode);
            for (int i = 0; i < M * N; i++) dy[i] = frand(&seed);
            for (int i = 0; i < M * K; i++) x[i] = frand(&seed), dx[i] = 0.5f * frand(&seed);
            for (int i = 0; i < N * K; i++) W[i] = frand(&seed), dW[i] = 0.25f * frand(&seed);
            for (int j = 0; j < N; j++) db[j] = 0.125f * frand(&seed);
            float *dW0 = malloc(sizeof(float) * N * K), *db0 = malloc(sizeof(float) * N), *dx0 = malloc(sizeof(float) * M * K);
            memcpy(dW0, dW, sizeof(float) * N * K), memcpy(db0, db, sizeof(float) * N), memcpy(dx0, dx, sizeof(float) * M * K);
            int saved = bert_blas_threads_enter(nt);
            bert_linear_backward(dx, dW, db, dy, x, W, M, N, K, acc, nt);
            bert_blas_threads_leave(saved);
            double worst = 0;
            for (int n = 0; n < N; n++) {
                double sb = db0[n];
                for (int i = 0; i < M; i++) sb += dy[i * N + n];
                worst = fmax(worst, fabs(sb - db[n]));
                for (int k = 0; k < K; k++) {
                    double sw = dW0[n * K + k];
                    for (int i = 0; i < M; i++) sw += (double)dy[i * N + n] * x[i * K + k];
                    worst = fmax(worst, fabs(sw - dW[n * K + k]));
                }
            }
            for (int i = 0; i < M; i++)
                for (int k = 0; k < K; k++) {
                    double sx = acc ? dx0[i * K + k] : 0.0;
                    for (int n = 0; n < N; n++) sx += (double)dy[i * N + n] * W[n * K + k];
                    worst = fmax(worst, fabs(sx - dx[i * K + k]));
                }
            if (!(worst < 1e-4)) test_fail(__FILE__, __LINE__, "%d x %d x %d mode %d: max |error| %.3g", M, N, K, mode, worst);
            free(dy), free(x), free(W), free(dW), free(db), free(dx), free(dW0), free(db0), free(dx0);
        }
}

/* The out-of-place activation (training keeps its input) gives the bits
 * of a copy activated in place, for every activation, lengths around its
 * 4,096-value pieces and the one-thread cut-off, one and two threads; its
 * input is left as it was and nothing past n is written. */
TEST(activation_copy_is_copy_then_activation) {
    enum { MAX = 12001 };
    float *x = malloc(sizeof(float) * MAX), *want = malloc(sizeof(float) * (MAX + 1)), *got = malloc(sizeof(float) * (MAX + 1));
    CHECK(x && want && got);
    if (!(x && want && got)) return;
    unsigned seed = 3;
    for (int i = 0; i < MAX; i++) x[i] = 8.0f * frand(&seed);
    const size_t lengths[] = {0, 1, 17, 4095, 4096, 4097, 8200, MAX};
    const bert_activation acts[] = {BERT_ACT_GELU, BERT_ACT_GELU_TANH, BERT_ACT_GELU_FAST, BERT_ACT_RELU, BERT_ACT_SILU};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
            for (int nt = 1; nt <= 2; nt++) {
                size_t n = lengths[l];
                memcpy(want, x, sizeof(float) * n);
                bert_activation_forward(want, n, acts[a], nt);
                got[n] = 7.0f;
                bert_activation_forward_copy(got, x, n, acts[a], nt);
                if (memcmp(want, got, sizeof(float) * n) != 0 || got[n] != 7.0f)
                    test_fail(__FILE__, __LINE__, "activation %d, n %zu, %d threads", (int)acts[a], n, nt);
            }
    unsigned check = 3;
    int kept = 1;
    for (int i = 0; i < MAX; i++) kept &= x[i] == 8.0f * frand(&check);
    CHECK(kept);
    free(x), free(want), free(got);
}

TEST(activations_match_float64) {
    float x[201];
    for (int i = 0; i <= 200; i++) x[i] = -10.0f + 0.1f * i;
    float y[201];
    double worst[5] = {0};
    const char *names[] = {"gelu", "gelu_new", "relu", "silu", "gelu_fast"};
    for (int a = 0; a < 5; a++) {
        int act = bert_activation_from_name(names[a]);
        CHECK(act >= 0);
        memcpy(y, x, sizeof x);
        bert_activation_forward(y, 201, (bert_activation)act, 1);
        for (int i = 0; i <= 200; i++) {
            double v = x[i], want;
            switch (a) {
            case 0: want = 0.5 * v * (1 + erf(v / sqrt(2.0))); break;
            case 1:
            case 4: want = 0.5 * v * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (v + 0.044715 * v * v * v))); break;
            case 2: want = v > 0 ? v : 0; break;
            default: want = v / (1 + exp(-v)); break;
            }
            worst[a] = fmax(worst[a], fabs(want - y[i]));
        }
        CHECK(worst[a] < 1e-5);
    }
    CHECK(bert_activation_from_name("gelu_pytorch_tanh") == BERT_ACT_GELU_TANH);
    CHECK(bert_activation_from_name("mish") == -1);
}

/* GELU's erf form on both paths (the one this CPU runs, AVX-512 where
 * present, and the portable one) against float64: a fine grid over
 * [-12, 12] in a length that leaves a partial vector (masked tail), the
 * clamp at |x / sqrt 2| = 4, and NaN kept. Bound: 2e-6 absolute (the
 * rational erf's 3.3e-7 times |x| / 2 up to |x| = 4, then the clamp's
 * 1.5e-8 relative). */
TEST(gelu_paths_match_float64) {
    enum { N = 24001 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = -12.0f + 0.001f * (float)i;
    for (int path = 0; path < 2; path++) {
        memcpy(y, x, sizeof x);
        if (path == 0) bert_activation_forward(y, N, BERT_ACT_GELU, 1);
        else bert_gelu_portable(y, N);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double v = x[i], want = 0.5 * v * (1 + erf(v / sqrt(2.0)));
            worst = fmax(worst, fabs(want - y[i]) / fmax(1.0, fabs(want)));
        }
        if (!(worst < 2e-6)) test_fail(__FILE__, __LINE__, "path %d: GELU error %.3g", path, worst);
        float z[4] = {NAN, 0.0f, -0.0f, -8.0f};
        if (path == 0) bert_activation_forward(z, 4, BERT_ACT_GELU, 1);
        else bert_gelu_portable(z, 4);
        CHECK(isnan(z[0]) && z[1] == 0.0f && !signbit(z[1]) && z[2] == 0.0f && signbit(z[2]));
        CHECK(z[3] == 0.0f && signbit(z[3])); /* 0.5 x (1 + erf) with erf = -1: -0, as PyTorch */
    }
    /* every length 0..33 (whole vectors, masked tails, nothing), values where
     * GELU is not the identity, a canary past the end: the path this CPU runs
     * against the portable one, within the bound */
    for (int n = 0; n <= 33; n++) {
        float a[34], b[34];
        for (int i = 0; i < 34; i++) a[i] = b[i] = -4.0f + 0.23f * (float)i;
        bert_activation_forward(a, (size_t)n, BERT_ACT_GELU, 1);
        bert_gelu_portable(b, (size_t)n);
        int bad = a[33] != b[33] || (n < 33 && a[n] != -4.0f + 0.23f * (float)n);
        for (int i = 0; i < n; i++) bad |= !(fabsf(a[i] - b[i]) <= 2e-6f) || (a[i] == b[i] && a[i] == 0 && signbit(a[i]) != signbit(b[i]));
        if (bad) test_fail(__FILE__, __LINE__, "GELU over %d values: the paths differ or a value past the end changed", n);
    }
}

/* Both softmax paths: the one this CPU runs and the portable one. */
static void (*const softmax_paths[2])(float *, int, int) = {bert_softmax_rows, bert_softmax_rows_portable};

TEST(softmax_rows_and_fully_masked_row) {
    for (int path = 0; path < 2; path++) {
        float x[6] = {1, 2, 3, -FLT_MAX, -FLT_MAX, -FLT_MAX};
        softmax_paths[path](x, 2, 3);
        double e = exp(1) + exp(2) + exp(3);
        CHECK(fabs(x[0] - exp(1) / e) < 1e-7 && fabs(x[2] - exp(3) / e) < 1e-7);
        /* Every key masked: PyTorch's finfo.min mask gives a uniform row. */
        CHECK(fabsf(x[3] - 1.0f / 3) < 1e-7f && fabsf(x[5] - 1.0f / 3) < 1e-7f);
    }
}

/* The vectorised exp: long rows (SIMD body and tail), a wide score range,
 * masked keys exactly 0, and a NaN score turning its row to NaN (so a
 * diverged model is seen, as with PyTorch). Bound: 1e-6 relative. */
static void softmax_long_rows(void (*softmax)(float *, int, int)) {
    enum { C = 301 };
    static float x[2 * C];
    unsigned seed = 7;
    for (int j = 0; j < C; j++) x[j] = 30.0f * frand(&seed) - 10.0f;
    for (int j = 0; j < C; j += 17) x[j] = -FLT_MAX;
    for (int j = 0; j < C; j++) x[C + j] = frand(&seed);
    x[C + 5] = NAN;
    float in[C];
    memcpy(in, x, sizeof in);
    softmax(x, 2, C);
    double mx = -INFINITY, sum = 0, worst = 0;
    for (int j = 0; j < C; j++) mx = fmax(mx, in[j]);
    for (int j = 0; j < C; j++) sum += in[j] == -FLT_MAX ? 0 : exp((double)in[j] - mx);
    for (int j = 0; j < C; j++) {
        if (in[j] == -FLT_MAX) {
            CHECK(x[j] == 0.0f);
            continue;
        }
        /* Probabilities below ~1e-30 are float denormals, with less
         * relative precision in any float softmax; the rest are held to 1e-6. */
        double want = exp((double)in[j] - mx) / sum;
        if (want > 1e-30) worst = fmax(worst, fabs(x[j] - want) / want);
    }
    if (!(worst < 1e-6)) test_fail(__FILE__, __LINE__, "softmax relative error %.3g", worst);
    int all_nan = 1;
    for (int j = 0; j < C; j++) all_nan &= isnan(x[C + j]) != 0;
    CHECK(all_nan);
}

TEST(softmax_long_rows_match_float64_and_keep_nan) {
    for (int path = 0; path < 2; path++) softmax_long_rows(softmax_paths[path]);
}

/* Rows go through four at a time (then one by one): each row must come out
 * the same bits as when it is the only row, for lengths 1-40 (tails), 128
 * and 301, with a fully masked row and rows of NaN among them (one from a
 * NaN input, one from a NaN and an inf: NaN wherever the row alone has
 * NaN, its bits aside — which NaN wins an add is the compiler's choice). */
TEST(softmax_rows_in_fours_are_rows_alone) {
    enum { N = 7, CMAX = 301 };
    float *x = malloc(sizeof *x * N * CMAX), *y = malloc(sizeof *y * N * CMAX);
    unsigned seed = 3;
    int bad = 0;
    for (int C = 1; C <= CMAX; C = C < 40 ? C + 1 : C < 128 ? 128 : C < CMAX ? CMAX : CMAX + 1) {
        for (int i = 0; i < N * C; i++) x[i] = 40.0f * frand(&seed) - 20.0f;
        x[1 * C + C / 2] = NAN;
        for (int j = 0; j < C; j++) x[2 * C + j] = -FLT_MAX;
        x[5 * C] = NAN, x[5 * C + C - 1] = INFINITY;
        memcpy(y, x, sizeof *x * N * C);
        bert_softmax_rows(x, N, C);
        for (int i = 0; i < N; i++) bert_softmax_rows(y + (size_t)i * C, 1, C);
        for (int i = 0; i < N * C; i++)
            bad += isnan(x[i]) ? !isnan(y[i]) : memcmp(&x[i], &y[i], sizeof x[i]) != 0;
    }
    CHECK(bad == 0);
    free(x), free(y);
}

/* GELU's derivative in float64. */
static double gelu_derivative(double v) {
    return 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * 3.141592653589793);
}

/* GELU's derivative (the float erf/exp form used in training) on a dense
 * grid: the path this CPU runs (paths 0 and 1, one and two threads) and the
 * portable one (path 2), against float64; NaN kept; every length
 * 0..33 with a canary past the end. */
TEST(gelu_backward_matches_float64) {
    enum { N = 40001 };
    float *x = malloc(sizeof(float) * N), *dy = malloc(sizeof(float) * N), *dx = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) x[i] = -10.0f + 20.0f * (float)i / (N - 1), dy[i] = 1.0f + (float)(i % 7) * 0.25f;
    for (int path = 0; path < 3; path++) {
        if (path < 2) bert_activation_backward(dx, dy, x, N, BERT_ACT_GELU, path + 1);
        else bert_gelu_backward_portable(dx, dy, x, N);
        double worst = 0;
        for (int i = 0; i < N; i++) worst = fmax(worst, fabs(dy[i] * gelu_derivative(x[i]) - dx[i]) / dy[i]);
        if (!(worst < 2e-6)) test_fail(__FILE__, __LINE__, "path %d: GELU derivative error %.3g", path, worst);
        float z[3] = {NAN, 0.0f, -30.0f}, g[3] = {1.0f, 2.0f, 1.0f}, d[3];
        if (path < 2) bert_activation_backward(d, g, z, 3, BERT_ACT_GELU, 1);
        else bert_gelu_backward_portable(d, g, z, 3);
        CHECK(isnan(d[0]) && d[1] == 1.0f && d[2] == 0.0f);
    }
    for (int n = 0; n <= 33; n++) {
        float a[34], g[34], o[2][34];
        for (int i = 0; i < 34; i++) a[i] = -4.0f + 0.23f * (float)i, g[i] = 0.5f + 0.1f * (float)i, o[0][i] = o[1][i] = 7.0f;
        bert_activation_backward(o[0], g, a, (size_t)n, BERT_ACT_GELU, 1);
        bert_gelu_backward_portable(o[1], g, a, (size_t)n);
        for (int i = 0; i < n; i++) CHECK(fabs(o[0][i] - g[i] * gelu_derivative(a[i])) < 2e-6 * g[i] && fabs(o[0][i] - o[1][i]) < 4e-6 * g[i]);
        CHECK(o[0][n] == 7.0f && o[1][n] == 7.0f);
    }
    /* in place (dx aliases dy), as the trainer calls it */
    memcpy(dx, dy, sizeof(float) * N);
    bert_activation_backward(dx, dx, x, N, BERT_ACT_GELU, 1);
    CHECK(fabs(dy[N / 3] * gelu_derivative(x[N / 3]) - dx[N / 3]) < 2e-5);
    free(x), free(dy), free(dx);
}

/* Softmax cross-entropy of a vocabulary-sized row: loss and gradient
 * against float64, separate and in-place output. */
TEST(softmax_xent_row_matches_float64) {
    enum { L = 30522 };
    unsigned seed = 7;
    float *z = malloc(sizeof(float) * L), *d = malloc(sizeof(float) * L);
    for (int j = 0; j < L; j++) z[j] = 8.0f * frand(&seed);
    int y = 1234;
    float g = 0.25f;
    double mx = z[0], sum = 0;
    for (int j = 1; j < L; j++) mx = fmax(mx, z[j]);
    for (int j = 0; j < L; j++) sum += exp(z[j] - mx);
    double ref = -(z[y] - mx - log(sum));
    double loss = bert_softmax_xent_row(z, d, L, y, g);
    CHECK(fabs(loss - ref) < 1e-5 * fabs(ref));
    double worst = 0;
    for (int j = 0; j < L; j++) worst = fmax(worst, fabs(d[j] - g * (exp(z[j] - mx) / sum - (j == y))));
    CHECK(worst < 1e-7);
    CHECK(fabs(bert_softmax_xent_row(z, NULL, L, y, g) - ref) < 1e-5 * fabs(ref)); /* loss only */
    float y_logit = z[y];
    double loss2 = bert_softmax_xent_row(z, z, L, y, g); /* the logits become their gradient */
    CHECK(loss2 == loss);
    CHECK(z[y] == d[y] && z[0] == d[0] && z[L - 1] == d[L - 1]);
    (void)y_logit;
    free(z), free(d);
}

/* Bias gradients: column sums, threaded over columns, equal to the plain loop. */
TEST(column_sums_match_plain_loop) {
    enum { M = 67, N = 1001 };
    unsigned seed = 3;
    float *dy = malloc(sizeof(float) * M * N), a[N], b[N];
    for (int i = 0; i < M * N; i++) dy[i] = frand(&seed);
    for (int j = 0; j < N; j++) a[j] = b[j] = 0.5f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) a[j] += dy[(size_t)i * N + j];
    bert_column_sums(b, dy, M, N, 2);
    CHECK(memcmp(a, b, sizeof a) == 0); /* same order of additions per column: bit-identical */
    free(dy);
}
