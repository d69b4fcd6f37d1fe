/* test_compute_dtype.c — BERT_COMPUTE_BF16 and BERT_COMPUTE_INT8 against
 * the exact f32 forward pass.
 *
 * Bounds (the CPU-speed issue's): every token's last_hidden_state has cosine
 * >= 0.999 (bf16) / >= 0.99 (int8) with the f32 one, on every fixture
 * model's golden batch. Where the machine cannot run a dtype (no
 * AVX512-BF16, no libdnnl.so.2, a build without oneDNN's header), what is
 * tested is that loading fails with BERT_ERR_UNSUPPORTED and the reason —
 * and the test says so on stdout; it never passes by doing nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "kernels/half.h"
#include "kernels/linear_amx.h"
#include "model/model.h"
#include "test.h"

static const char *const fixtures[] = {"tiny-pretraining", "f16-bertmodel", "classifier-4l", "sharded-512"};

static double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb);
}

/* Under bf16 the pooler runs in bf16 too (as autocast's Linear): sequence
 * b's pooled output against tanh(bf16(W) bf16(h0) + b) in double, h0 its
 * first token's last hidden state from the same pass; the largest |diff|
 * (f32 sums: ~1e-7 here; the f32 pooler on the same h0 is ~1e-3 away). */
static double bf16_pooler_error(const bert_model *m, bert_context *c, int b) {
    int C = bert_model_config(m)->hidden_size;
    const float *h0 = bert_output_hidden(c, b), *pooled = bert_output_pooled(c, b);
    const float *W = m->w.pooler.w, *bias = m->w.pooler.b;
    double worst = 0;
    for (int n = 0; n < C; n++) {
        double z = bias ? bias[n] : 0;
        for (int k = 0; k < C; k++)
            z += (double)bert_bf16_to_f32(bert_f32_to_bf16(W[(size_t)n * C + k])) * bert_bf16_to_f32(bert_f32_to_bf16(h0[k]));
        worst = fmax(worst, fabs(tanh(z) - pooled[n]));
    }
    return worst;
}

static void check_dtype(bert_compute_dtype dtype, const char *name, const char *why, double bound) {
    bert_model_params bf = bert_model_default_params();
    bf.compute = dtype;
    bert_error err;
    bert_model *m16 = NULL;
    if (why) {
        printf("  %s unavailable here (%s): checking the load error only\n", name, why);
        CHECK_ERR(bert_model_load(FIXTURES "/tiny-pretraining", &bf, &m16, &err), err, BERT_ERR_UNSUPPORTED, why);
        CHECK(m16 == NULL);
        return;
    }
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        char dir[512], path[600];
        snprintf(dir, sizeof dir, FIXTURES "/%s", fixtures[f]);
        snprintf(path, sizeof path, "%s/golden.safetensors", dir);
        st_file g;
        CHECK_OK(st_open(path, 0, &g, &err), err);
        const st_tensor *ids = st_find(&g, "input_ids"), *mask = st_find(&g, "attention_mask");
        int B = (int)ids->shape[0], T = (int)ids->shape[1];
        bert_model *m32 = NULL;
        CHECK_OK(bert_model_load(dir, NULL, &m32, &err), err);
        CHECK_OK(bert_model_load(dir, &bf, &m16, &err), err);
        if (!m32 || !m16) break;
        int C = bert_model_config(m32)->hidden_size;
        bert_context *c32 = NULL, *c16 = NULL;
        CHECK_OK(bert_context_create(m32, NULL, &c32, &err), err);
        CHECK_OK(bert_context_create(m16, NULL, &c16, &err), err);
        bert_sequence *seqs = calloc((size_t)B, sizeof *seqs);
        for (int b = 0; b < B; b++) {
            seqs[b].input_ids = (const int32_t *)(const void *)ids->data + b * T;
            seqs[b].attention_mask = (const int32_t *)(const void *)mask->data + b * T;
            seqs[b].n_tokens = T;
        }
        /* the pooler too where the checkpoint has one (int8 quantizes it) */
        int pooler = (bert_model_heads(m32) & BERT_HEAD_POOLER) != 0;
        unsigned outputs = BERT_OUTPUT_HIDDEN | (pooler ? BERT_OUTPUT_POOLED : 0);
        CHECK_OK(bert_forward(c32, seqs, B, outputs, &err), err);
        CHECK_OK(bert_forward(c16, seqs, B, outputs, &err), err);
        double worst = 1, maxdiff = 0, worst_pooled = 1;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                const float *h32 = bert_output_hidden(c32, b) + (size_t)t * C, *h16 = bert_output_hidden(c16, b) + (size_t)t * C;
                worst = fmin(worst, cosine(h32, h16, C));
                maxdiff = fmax(maxdiff, test_max_abs_diff(h32, h16, (size_t)C));
            }
            if (pooler) worst_pooled = fmin(worst_pooled, cosine(bert_output_pooled(c32, b), bert_output_pooled(c16, b), C));
            if (pooler && dtype == BERT_COMPUTE_BF16) {
                double e = bf16_pooler_error(m32, c16, b);
                if (!(e <= 1e-5)) test_fail(__FILE__, __LINE__, "%s: sequence %d: bf16 pooler off by %.3g", fixtures[f], b, e);
            }
        }
        printf("  %s: %s vs f32 min token cosine %.6f, max |diff| %.3g, pooled cosine %.6f%s\n", fixtures[f], name, worst,
               maxdiff, worst_pooled, pooler ? "" : " (no pooler)");
        if (!(worst >= bound)) test_fail(__FILE__, __LINE__, "%s: %s cosine %.6f < %g", fixtures[f], name, worst, bound);
        if (!(worst_pooled >= bound))
            test_fail(__FILE__, __LINE__, "%s: %s pooled cosine %.6f < %g", fixtures[f], name, worst_pooled, bound);
        /* it really ran: the result is not bit-identical to f32. */
        CHECK(maxdiff > 0);
        free(seqs);
        bert_context_free(c32);
        bert_context_free(c16);
        bert_model_free(m32);
        bert_model_free(m16);
        m16 = NULL;
        st_close(&g);
    }
}

TEST(bf16_hidden_states_within_cosine_bound_or_clear_error) {
    check_dtype(BERT_COMPUTE_BF16, "bf16", bert_bf16_unavailable_reason(), 0.999);
}

TEST(int8_hidden_states_within_cosine_bound_or_clear_error) {
    check_dtype(BERT_COMPUTE_INT8, "int8", bert_int8_unavailable_reason(), 0.99);
}

TEST(unknown_compute_dtype_is_an_error) {
    bert_model_params p = bert_model_default_params();
    p.compute = (bert_compute_dtype)7;
    bert_model *m = NULL;
    bert_error err;
    CHECK_ERR(bert_model_load(FIXTURES "/tiny-pretraining", &p, &m, &err), err, BERT_ERR_INPUT, "compute dtype");
    CHECK(m == NULL);
}

/* The fixture models have heads of 8-16 dimensions, which the AMX attention
 * kernel (kernels/attention.h: heads of 32-128) declines; the bundled
 * bertc-mini (heads of 64) takes it where the CPU has AMX. A ragged batch on
 * two threads — lengths 1, 17, 130, 33 with masked keys and a sequence whose
 * keys are all masked — against f32, same bounds as above. */
static void check_ragged_heads64(bert_compute_dtype dtype, const char *name, const char *why, double bound) {
    /* Without oneDNN (sanitizer builds too), bf16 still runs where every
     * dense layer fits the AMX kernel (kernels/linear_amx.h) — bertc-mini's
     * do, so on an AMX CPU this checks that path too. */
    int amx_only = why && dtype == BERT_COMPUTE_BF16 && bert_amx_linear_preferred(128, 512) &&
                   bert_amx_linear_preferred(512, 128) && bert_amx_linear_preferred(128, 128);
    if (why && !amx_only) return; /* the load error is checked above */
    if (amx_only) printf("  %s without oneDNN: the AMX kernels alone\n", name);
    bert_model_params bp = bert_model_default_params();
    bp.compute = dtype;
    bert_model *m32 = NULL, *m16 = NULL;
    bert_error err;
    CHECK_OK(bert_model_load("models/bertc-mini-uncased", NULL, &m32, &err), err);
    CHECK_OK(bert_model_load("models/bertc-mini-uncased", &bp, &m16, &err), err);
    if (!m32 || !m16) return;
    enum { S = 5 };
    static const int len[S] = {1, 17, 130, 33, 20};
    int32_t *ids[S], *mask[S];
    bert_sequence seqs[S];
    unsigned r = 5;
    for (int s = 0; s < S; s++) {
        ids[s] = malloc(sizeof(int32_t) * (size_t)len[s]), mask[s] = malloc(sizeof(int32_t) * (size_t)len[s]);
        for (int t = 0; t < len[s]; t++) {
            r = r * 1664525u + 1013904223u;
            ids[s][t] = 1000 + (int32_t)((r >> 8) % 20000u);
            mask[s][t] = s == 4 ? 0 : s == 3 && t % 4 == 3 ? 0 : 1;
        }
        seqs[s] = (bert_sequence){.input_ids = ids[s], .attention_mask = mask[s], .n_tokens = len[s]};
    }
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = 2;
    bert_context *c32 = NULL, *c16 = NULL;
    CHECK_OK(bert_context_create(m32, &cp, &c32, &err), err);
    CHECK_OK(bert_context_create(m16, &cp, &c16, &err), err);
    CHECK_OK(bert_forward(c32, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
    CHECK_OK(bert_forward(c16, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
    int C = bert_model_config(m32)->hidden_size;
    double worst = 1;
    for (int s = 0; s < S; s++)
        for (int t = 0; t < len[s]; t++)
            worst = fmin(worst, cosine(bert_output_hidden(c32, s) + (size_t)t * C, bert_output_hidden(c16, s) + (size_t)t * C, C));
    printf("  bertc-mini (heads of 64), ragged batch, 2 threads: %s vs f32 min token cosine %.6f\n", name, worst);
    if (!(worst >= bound)) test_fail(__FILE__, __LINE__, "bertc-mini: %s cosine %.6f < %g", name, worst, bound);
    /* One thread: the feed-forward runs the 201 rows in chunks (128 + 73
     * for an intermediate size of 512, src/model/forward.c), two threads in
     * one: the same values up to the products' summation order. */
    cp.n_threads = 1;
    bert_context *c1 = NULL;
    CHECK_OK(bert_context_create(m16, &cp, &c1, &err), err);
    CHECK_OK(bert_forward(c1, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
    double apart = 0;
    for (int s = 0; c1 && s < S; s++)
        apart = fmax(apart, test_max_abs_diff(bert_output_hidden(c1, s), bert_output_hidden(c16, s), (size_t)len[s] * C));
    printf("  one thread (feed-forward in chunks) vs two: max |diff| %.3g\n", apart);
    CHECK(apart <= 1e-4);
    bert_context_free(c1);
    for (int s = 0; s < S; s++) free(ids[s]), free(mask[s]);
    bert_context_free(c32);
    bert_context_free(c16);
    bert_model_free(m32);
    bert_model_free(m16);
}

TEST(reduced_precision_heads_of_64_ragged_batch) {
    check_ragged_heads64(BERT_COMPUTE_BF16, "bf16", bert_bf16_unavailable_reason(), 0.999);
    check_ragged_heads64(BERT_COMPUTE_INT8, "int8", bert_int8_unavailable_reason(), 0.99);
}

/* A feed-forward whose weights do not fit in L2 (hidden 128, intermediate
 * 4608: 1.2 MB in int8, 2.4 MB in bf16) runs in chunks of rows
 * (src/model/forward.c: on AMX 128 rows a thread, else 512): three
 * sequences of 100 tokens on one thread (chunks 128, 128, 44 on AMX) and
 * on two give each sequence the bits it gets alone (bert.h's batch
 * invariance), and stay within the dtype's bound of f32. */
static void check_big_feed_forward(bert_compute_dtype dtype, const char *name, const char *why, double bound) {
    if (why) return; /* the load error is checked above */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/big-ffn-%s", test_tmpdir(), name);
    if (!test_write_random_model(dir, 128, 2, 4608)) {
        test_fail(__FILE__, __LINE__, "cannot write %s", dir);
        return;
    }
    bert_model_params bp = bert_model_default_params();
    bp.compute = dtype;
    bert_model *m32 = NULL, *mq = NULL;
    bert_error err;
    CHECK_OK(bert_model_load(dir, NULL, &m32, &err), err);
    CHECK_OK(bert_model_load(dir, &bp, &mq, &err), err);
    enum { S = 3, T = 100, C = 128 };
    int32_t ids[S][T];
    bert_sequence seqs[S];
    for (int s = 0; s < S; s++) {
        for (int t = 0; t < T; t++) ids[s][t] = (s * 37 + t * 11) % 200;
        seqs[s] = (bert_sequence){.input_ids = ids[s], .n_tokens = T};
    }
    bert_context *c32 = NULL;
    if (m32 && mq) CHECK_OK(bert_context_create(m32, NULL, &c32, &err), err);
    if (c32) CHECK_OK(bert_forward(c32, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
    for (int nt = 1; c32 && nt <= 2; nt++) {
        bert_context_params cp = bert_context_default_params();
        cp.n_threads = nt;
        bert_context *batch = NULL, *one = NULL;
        CHECK_OK(bert_context_create(mq, &cp, &batch, &err), err);
        CHECK_OK(bert_context_create(mq, &cp, &one, &err), err);
        if (!batch || !one) break;
        CHECK_OK(bert_forward(batch, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
        double worst = 1;
        int differ = 0;
        for (int s = 0; s < S; s++) {
            CHECK_OK(bert_forward(one, &seqs[s], 1, BERT_OUTPUT_HIDDEN, &err), err);
            differ += memcmp(bert_output_hidden(one, 0), bert_output_hidden(batch, s), sizeof(float) * T * C) != 0;
            for (int t = 0; t < T; t++)
                worst = fmin(worst, cosine(bert_output_hidden(c32, s) + (size_t)t * C,
                                           bert_output_hidden(batch, s) + (size_t)t * C, C));
        }
        printf("  hidden 128, intermediate 4608, %d thread(s): %s vs f32 min token cosine %.6f, %d of %d sequences "
               "differ alone\n",
               nt, name, worst, differ, S);
        CHECK(differ == 0);
        if (!(worst >= bound)) test_fail(__FILE__, __LINE__, "big feed-forward: %s cosine %.6f < %g", name, worst, bound);
        bert_context_free(batch);
        bert_context_free(one);
    }
    bert_context_free(c32);
    bert_model_free(m32);
    bert_model_free(mq);
}

TEST(reduced_precision_big_feed_forward_in_chunks) {
    check_big_feed_forward(BERT_COMPUTE_BF16, "bf16", bert_bf16_unavailable_reason(), 0.999);
    check_big_feed_forward(BERT_COMPUTE_INT8, "int8", bert_int8_unavailable_reason(), 0.99);
}

/* BERT_COMPUTE_TF32 is the GPU's: on the CPU the load is refused naming
 * --device cuda, and nothing is left; an unknown dtype is BERT_ERR_INPUT. */
TEST(compute_tf32_only_on_the_gpu) {
    bert_model_params mp = bert_model_default_params();
    bert_model *m = NULL;
    bert_error err;
    mp.compute = BERT_COMPUTE_TF32;
    CHECK_ERR(bert_model_load(FIXTURES "/tiny-pretraining", &mp, &m, &err), err, BERT_ERR_UNSUPPORTED,
              "--device cuda only");
    CHECK(m == NULL);
    mp.compute = (bert_compute_dtype)9;
    CHECK_ERR(bert_model_load(FIXTURES "/tiny-pretraining", &mp, &m, &err), err, BERT_ERR_INPUT, "unknown compute");
    CHECK(m == NULL);
}
