/* test_linear_packed.c — f32 dense layers with oneDNN-packed weights,
 * against float64, and a model loaded packed against the same model loaded
 * in the file's layout.
 *
 * Reference: x W^T + b in double, then GELU in double. Bound: every output
 * within 1e-5 x (sum_k |x_k w_k| + |b|) of it — f32 sums over K <= 1024
 * terms err far less (~K x 6e-8 of that sum at worst, ~1e-7 in practice),
 * while a wrong row chunk, a dropped padding row or a misplaced column is
 * off by the size of a product. Shapes cover one row, rows below 16, a
 * multiple of 16, more than one 128-row chunk with a padded tail, 512-row
 * calls (two with a padded rest, exactly one, and none where the row stride
 * is wider), a row stride wider than N (through scratch), no bias, GELU,
 * one and two threads; f32 and bf16 weights (the bf16 with its epilogue's
 * bf16 copy). Where oneDNN is not available (sanitizer builds, no libdnnl),
 * the test says so and checks that nothing is packed. A run with impossible
 * arguments fails with BERT_ERR_INPUT naming them. */
#include <stdlib.h>
#include <sys/stat.h>

#include "io/fs.h"
#include "kernels/capabilities.h"
#include "kernels/gemm.h"
#include "kernels/half.h"
#include "kernels/linear_amx.h"
#include "kernels/linear_packed.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "test.h"
#include "train/trainer.h"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* bf16: x and W rounded to bf16 first (the reference multiplies the
 * rounded values, whose products f32 holds exactly), run on the bf16
 * primitive with the epilogue's bf16 copy of y checked too. */
static double run_case(int M, int N, int K, int ldy, int with_bias, int gelu, int n_threads, unsigned seed, int bf16) {
    float *x = malloc(sizeof *x * (size_t)M * K), *W = malloc(sizeof *W * (size_t)N * K), *b = malloc(sizeof *b * (size_t)N),
          *y = malloc(sizeof *y * (size_t)M * ldy), *scratch = malloc(sizeof(float) * bert_plinear_scratch(K, N));
    uint16_t *x16 = malloc(sizeof *x16 * (size_t)M * K), *W16 = malloc(sizeof *W16 * (size_t)N * K),
             *y16 = calloc((size_t)M * ldy, sizeof *y16);
    for (int i = 0; i < M * K; i++) x[i] = frand(&seed);
    for (int i = 0; i < N * K; i++) W[i] = 0.1f * frand(&seed);
    for (int i = 0; i < N; i++) b[i] = frand(&seed);
    for (int i = 0; i < M * ldy; i++) y[i] = -7.0f;
    if (bf16) {
        bert_f32_to_bf16_array(x16, x, (size_t)M * K), bert_f32_to_bf16_array(W16, W, (size_t)N * K);
        for (int i = 0; i < M * K; i++) x[i] = bert_bf16_to_f32(x16[i]);
        for (int i = 0; i < N * K; i++) W[i] = bert_bf16_to_f32(W16[i]);
    }
    bert_plinear *p = bf16 ? bert_plinear_create_bf16(W16, N, K, with_bias) : bert_plinear_create(W, N, K, with_bias);
    CHECK(p != NULL);
    if (!p) return 1;
    bert_epilogue epi = {gelu ? (int)BERT_ACT_GELU : -1, bf16 ? y16 : NULL, 0};
    int saved = bert_blas_threads_enter(n_threads);
    bert_error e;
    if (bf16) CHECK_OK(bert_plinear_run_bf16(p, y, ldy, x16, with_bias ? b : NULL, M, scratch, &epi, n_threads, &e), e);
    else CHECK_OK(bert_plinear_run(p, y, ldy, x, with_bias ? b : NULL, M, scratch, &epi, n_threads, &e), e);
    /* a weight of the other dtype is refused */
    if (bf16) CHECK_ERR(bert_plinear_run(p, y, ldy, x, NULL, M, scratch, NULL, 1, &e), e, BERT_ERR_INPUT, "packed bf16 weight given f32");
    else CHECK_ERR(bert_plinear_run_bf16(p, y, ldy, x16, NULL, M, scratch, NULL, 1, &e), e, BERT_ERR_INPUT, "packed f32 weight given bf16");
    bert_blas_threads_leave(saved);
    int y16_ok = 1;
    for (int i = 0; bf16 && i < M; i++)
        for (int j = 0; j < N; j++) y16_ok &= y16[(size_t)i * ldy + j] == bert_f32_to_bf16(y[(size_t)i * ldy + j]);
    CHECK(y16_ok);
    double worst = 0;
    int untouched = 1;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double ref = with_bias ? b[j] : 0, mag = with_bias ? fabs(b[j]) : 0;
            for (int k = 0; k < K; k++) {
                double q = (double)x[i * K + k] * W[j * K + k];
                ref += q, mag += fabs(q);
            }
            if (gelu) ref = 0.5 * ref * (1.0 + erf(ref / sqrt(2.0)));
            worst = fmax(worst, fabs(ref - y[(size_t)i * ldy + j]) / (mag + 1e-30));
        }
        for (int j = N; j < ldy; j++) untouched &= y[(size_t)i * ldy + j] == -7.0f;
    }
    CHECK(untouched); /* columns past N belong to someone else */
    bert_plinear_free(p);
    free(x), free(W), free(b), free(y), free(scratch), free(x16), free(W16), free(y16);
    return worst;
}

TEST(packed_linear_matches_float64_or_is_not_used) {
    if (!bert_plinear_preferred(256, 256)) {
        printf("  oneDNN not available here: checking that nothing is packed\n");
        CHECK(bert_plinear_create(NULL, 256, 256, 1) == NULL || bert_plinear_preferred(256, 256));
        return;
    }
    CHECK(!bert_plinear_preferred(128, 512)); /* small layers stay on the plain path */
    const int shapes[][6] = {/* M, N, K, ldy extra, bias, gelu */
                             {1, 256, 256, 0, 1, 0},   {7, 272, 288, 0, 1, 1},    {16, 256, 512, 0, 0, 0},
                             {8, 128, 128, 0, 1, 0},   {130, 96, 384, 0, 1, 1},
                             {33, 384, 256, 8, 1, 1},  {128, 256, 256, 0, 1, 0},  {130, 512, 256, 0, 1, 1},
                             {300, 256, 1024, 0, 1, 0}, {257, 320, 256, 16, 0, 1},
                             /* 512-row calls: two and a padded rest; exactly one; not with ldy != N */
                             {1100, 256, 256, 0, 1, 1}, {512, 272, 256, 0, 0, 0}, {600, 256, 384, 8, 1, 0}};
    /* f32, and bf16 where this CPU and oneDNN can */
    int dtypes = bert_plinear_bf16_preferred(256, 256) && !bert_bf16_unavailable() ? 2 : 1;
    if (dtypes == 1) printf("  no bf16 here: f32 only\n");
    for (int bf16 = 0; bf16 < dtypes; bf16++) {
        double worst = 0;
        for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
            for (int nt = 1; nt <= 2; nt++) {
                const int *s = shapes[c];
                double w = run_case(s[0], s[1], s[2], s[1] + s[3], s[4], s[5], nt, 21u + (unsigned)c, bf16);
                worst = fmax(worst, w);
                if (w > 1e-5) printf("  %s M=%d N=%d K=%d threads %d: error %.2e\n", bf16 ? "bf16" : "f32", s[0], s[1], s[2], nt, w);
                CHECK(w <= 1e-5);
            }
        printf("  %s: worst error %.2e x sum|x w| over %d cases\n", bf16 ? "bf16" : "f32", worst,
               (int)(2 * sizeof shapes / sizeof shapes[0]));
    }
}

/* A row's bits do not depend on the call it runs in (bert.h's batch
 * invariance): 600 rows in one run (a 512-row call, then 88 padded to 96)
 * against the same rows run 128 (and the last 88) at a time, f32 and bf16,
 * one and two threads: every output the same bits. */
TEST(packed_rows_same_bits_in_any_call_size) {
    if (!bert_plinear_preferred(256, 256)) {
        printf("  oneDNN's primitives not available here: nothing packed to compare\n");
        return;
    }
    enum { M = 600, N = 256, K = 384 };
    unsigned seed = 7;
    float *x = malloc(sizeof *x * M * K), *W = malloc(sizeof *W * N * K), *b = malloc(sizeof *b * N),
          *big = malloc(sizeof *big * M * N), *small = malloc(sizeof *small * M * N),
          *scratch = malloc(sizeof(float) * bert_plinear_scratch(K, N));
    uint16_t *x16 = malloc(sizeof *x16 * M * K), *W16 = malloc(sizeof *W16 * N * K);
    for (int i = 0; i < M * K; i++) x[i] = frand(&seed);
    for (int i = 0; i < N * K; i++) W[i] = 0.1f * frand(&seed);
    for (int i = 0; i < N; i++) b[i] = frand(&seed);
    bert_f32_to_bf16_array(x16, x, (size_t)M * K), bert_f32_to_bf16_array(W16, W, (size_t)N * K);
    int dtypes = bert_plinear_bf16_preferred(256, 256) && !bert_bf16_unavailable() ? 2 : 1;
    for (int bf16 = 0; bf16 < dtypes; bf16++)
        for (int nt = 1; nt <= 2; nt++) {
            bert_plinear *p = bf16 ? bert_plinear_create_bf16(W16, N, K, 1) : bert_plinear_create(W, N, K, 1);
            CHECK(p != NULL);
            if (!p) continue;
            int saved = bert_blas_threads_enter(nt);
            bert_error e;
            for (int r0 = -1; r0 < M; r0 += r0 < 0 ? 1 : 128) { /* -1: all rows in one run */
                int a = r0 < 0 ? 0 : r0, m = r0 < 0 ? M : (M - r0 < 128 ? M - r0 : 128);
                float *y = (r0 < 0 ? big : small) + (size_t)a * N;
                if (bf16) CHECK_OK(bert_plinear_run_bf16(p, y, N, x16 + (size_t)a * K, b, m, scratch, NULL, nt, &e), e);
                else CHECK_OK(bert_plinear_run(p, y, N, x + (size_t)a * K, b, m, scratch, NULL, nt, &e), e);
            }
            bert_blas_threads_leave(saved);
            int differ = 0;
            for (int i = 0; i < M * N; i++) differ += memcmp(&big[i], &small[i], sizeof(float)) != 0;
            if (differ) printf("  %s, %d thread(s): %d of %d outputs differ\n", bf16 ? "bf16" : "f32", nt, differ, M * N);
            CHECK(differ == 0);
            bert_plinear_free(p);
        }
    free(x), free(W), free(b), free(big), free(small), free(scratch), free(x16), free(W16);
}

/* A 1-layer model of hidden 256 (its dense layers big enough to be packed),
 * random-initialised by the trainer and saved as F32 safetensors, loaded
 * with and without pack_weights: same hidden states for a ragged batch that
 * crosses a 128-row chunk, within 1e-5 (f32 summation order only); and
 * loaded as bf16 (packed bf16 layers), as below. */
TEST(model_loaded_packed_gives_the_same_hidden_states) {
    char dir[1024], path[1100], saved[1100];
    bert_error err;
    snprintf(dir, sizeof dir, "%s/packed-256", test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0);
    static const char *const tok_files[] = {"vocab.txt", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        char from[256];
        snprintf(from, sizeof from, "tests/fixtures/tasks/mlm/%s", tok_files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, tok_files[i]);
        CHECK_OK(bert_file_copy(from, path, &err), err);
    }
    const char *cfg = "{\"model_type\": \"bert\", \"vocab_size\": 242, \"hidden_size\": 256, \"num_hidden_layers\": 1, "
                      "\"num_attention_heads\": 4, \"intermediate_size\": 1024, \"max_position_embeddings\": 512, "
                      "\"pad_token_id\": 0, \"initializer_range\": 0.02}";
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK(test_write_file(path, cfg, strlen(cfg)) == 0);
    bert_train_params tp = bert_train_default_params();
    tp.task = BERT_TASK_PRETRAINING;
    tp.from_scratch = 1;
    bert_trainer *t = NULL;
    CHECK_OK(bert_trainer_open(dir, &tp, &t, NULL, &err), err);
    if (!t) return;
    snprintf(saved, sizeof saved, "%s/saved", dir);
    CHECK_OK(bert_trainer_save(t, saved, 0, NULL, &err), err);
    bert_trainer_free(t);
    bert_model_params pp = bert_model_default_params(), pl = pp;
    pl.pack_weights = 0;
    bert_model *mp = NULL, *ml = NULL;
    CHECK_OK(bert_model_load(saved, &pp, &mp, &err), err);
    CHECK_OK(bert_model_load(saved, &pl, &ml, &err), err);
    if (!mp || !ml) return;
    CHECK(mp->packed_f32 == bert_plinear_preferred(256, 256));
    CHECK(!ml->packed_f32);
    enum { S = 4 };
    static const int len[S] = {1, 17, 130, 33};
    int32_t *ids[S];
    bert_sequence seqs[S];
    unsigned r = 9;
    for (int s = 0; s < S; s++) {
        ids[s] = malloc(sizeof(int32_t) * (size_t)len[s]);
        for (int i = 0; i < len[s]; i++) {
            r = r * 1664525u + 1013904223u;
            ids[s][i] = 5 + (int32_t)((r >> 8) % 230u);
        }
        seqs[s] = (bert_sequence){.input_ids = ids[s], .n_tokens = len[s]};
    }
    for (int nt = 1; nt <= 2; nt++) {
        bert_context_params cp = bert_context_default_params();
        cp.n_threads = nt;
        bert_context *cpk = NULL, *cpl = NULL;
        CHECK_OK(bert_context_create(mp, &cp, &cpk, &err), err);
        CHECK_OK(bert_context_create(ml, &cp, &cpl, &err), err);
        if (!cpk || !cpl) break;
        /* twice: the second pass reuses the primitives made by the first */
        for (int rep = 0; rep < 2; rep++) {
            CHECK_OK(bert_forward(cpk, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
            CHECK_OK(bert_forward(cpl, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
            double worst = 0;
            for (int s = 0; s < S; s++)
                worst = fmax(worst, test_max_abs_diff(bert_output_hidden(cpk, s), bert_output_hidden(cpl, s), (size_t)len[s] * 256));
            if (!(worst <= 1e-5)) test_fail(__FILE__, __LINE__, "threads %d: packed vs plain max |diff| %.3g", nt, worst);
        }
        bert_context_free(cpk);
        bert_context_free(cpl);
    }
    /* bf16: the layers on the packed bf16 primitive where not on AMX;
     * every token's cosine to f32 >= 0.999 (the dtype's bound), and each
     * sequence of the batch the same bytes as that sequence alone */
    bert_model_params pb = bert_model_default_params();
    pb.compute = BERT_COMPUTE_BF16;
    bert_model *mb = NULL;
    if (bert_bf16_unavailable()) {
        printf("  no bf16 here: %s\n", bert_bf16_unavailable());
    } else {
        CHECK_OK(bert_model_load(saved, &pb, &mb, &err), err);
        int expect = 0;
        static const int shapes[3][2] = {{256, 256}, {1024, 256}, {256, 1024}};
        for (int i = 0; i < 3; i++)
            expect |= !bert_amx_linear_preferred(shapes[i][0], shapes[i][1]) && bert_plinear_bf16_preferred(shapes[i][0], shapes[i][1]);
        if (mb) CHECK(mb->packed_bf16 == expect);
        bert_context *cb = NULL, *cf = NULL;
        bert_context_params cp = bert_context_default_params();
        cp.n_threads = 2;
        if (mb) CHECK_OK(bert_context_create(mb, &cp, &cb, &err), err);
        CHECK_OK(bert_context_create(ml, &cp, &cf, &err), err);
        if (cb && cf) {
            CHECK_OK(bert_forward(cb, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
            CHECK_OK(bert_forward(cf, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
            double worst = 1;
            float *batched = malloc(sizeof(float) * 256 * 130);
            for (int s = 0; s < S; s++) {
                const float *h = bert_output_hidden(cb, s), *f = bert_output_hidden(cf, s);
                for (int i = 0; i < len[s]; i++) {
                    double ab = 0, aa = 0, bb = 0;
                    for (int k = 0; k < 256; k++) {
                        double x = h[(size_t)i * 256 + k], y = f[(size_t)i * 256 + k];
                        ab += x * y, aa += x * x, bb += y * y;
                    }
                    worst = fmin(worst, ab / sqrt(aa * bb));
                }
            }
            printf("  bf16 (%s) vs f32 min token cosine %.8f\n", mb->packed_bf16 ? "packed" : "not packed", worst);
            CHECK(worst >= 0.999);
            int same = 1;
            for (int s = 0; s < S && batched; s++) {
                CHECK_OK(bert_forward(cb, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
                memcpy(batched, bert_output_hidden(cb, s), sizeof(float) * 256 * (size_t)len[s]);
                CHECK_OK(bert_forward(cb, &seqs[s], 1, BERT_OUTPUT_HIDDEN, &err), err);
                same &= memcmp(batched, bert_output_hidden(cb, 0), sizeof(float) * 256 * (size_t)len[s]) == 0;
            }
            CHECK(same);
            free(batched);
        }
        bert_context_free(cb);
        bert_context_free(cf);
    }
    for (int s = 0; s < S; s++) free(ids[s]);
    bert_model_free(mp);
    bert_model_free(ml);
    bert_model_free(mb);
}

TEST(packed_f32_run_rejects_impossible_arguments) {
    bert_error err;
    float y[16] = {0}, x[16] = {0}, scratch[16] = {0};
    CHECK_ERR(bert_plinear_run(NULL, y, 16, x, NULL, 1, scratch, NULL, 1, &err), err, BERT_ERR_INPUT, "without a weight");
    if (!bert_plinear_preferred(256, 256)) return;
    enum { N = 256, K = 256 };
    float *W = calloc((size_t)N * K, sizeof *W), *xs = calloc(K, sizeof *xs), *ys = malloc(sizeof *ys * N),
          *sc = malloc(sizeof(float) * bert_plinear_scratch(K, N));
    bert_plinear *p = bert_plinear_create(W, N, K, 0);
    CHECK(p != NULL);
    if (p) {
        CHECK_ERR(bert_plinear_run(p, ys, N - 16, xs, NULL, 1, sc, NULL, 1, &err), err, BERT_ERR_INPUT,
                  "row stride of 240 for 256 outputs");
        CHECK_ERR(bert_plinear_run(p, ys, N, xs, NULL, -3, sc, NULL, 1, &err), err, BERT_ERR_INPUT, "-3 rows");
        CHECK_ERR(bert_plinear_run(p, ys, N, NULL, NULL, 1, sc, NULL, 1, &err), err, BERT_ERR_INPUT, "NULL buffer");
        CHECK_OK(bert_plinear_run(p, ys, N, xs, NULL, 1, sc, NULL, 1, &err), err);
        CHECK(ys[0] == 0.0f && ys[N - 1] == 0.0f);
    }
    bert_plinear_free(p);
    free(W), free(xs), free(ys), free(sc);
}
