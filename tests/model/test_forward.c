/* test_forward.c — the forward pass against the PyTorch reference.
 *
 * For every fixture model (tools/make_fixtures.py) golden.safetensors holds
 * a padded batch and the reference outputs. Tolerance: max |diff| <= 1e-4
 * in fp32 on last_hidden_state, pooler_output, MLM and NSP logits. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "tasks/finite.h"
#include "test.h"

static const char *const fixtures[] = {"tiny-pretraining", "f16-bertmodel", "bf16-mlm-gamma", "sharded-512",
                                       "classifier-4l"};
#define N_FIXTURES (int)(sizeof fixtures / sizeof fixtures[0])
#define TOL 1e-4

typedef struct {
    st_file st;
    int B, T;
    const int32_t *ids, *types, *mask;
    const float *hidden, *pooled, *mlm, *nsp; /* NULL when the model lacks them */
} golden;

static const float *golden_f32(const st_file *f, const char *name) {
    const st_tensor *t = st_find(f, name);
    return t ? (const float *)(const void *)t->data : NULL;
}

static int load_golden(const char *name, golden *g) {
    char path[512];
    bert_error err;
    snprintf(path, sizeof path, FIXTURES "/%s/golden.safetensors", name);
    if (st_open(path, 0, &g->st, &err) != BERT_OK) {
        test_fail(__FILE__, __LINE__, "%s", err.message);
        return 0;
    }
    const st_tensor *ids = st_find(&g->st, "input_ids");
    g->B = (int)ids->shape[0];
    g->T = (int)ids->shape[1];
    g->ids = (const int32_t *)(const void *)ids->data;
    g->types = (const int32_t *)(const void *)st_find(&g->st, "token_type_ids")->data;
    g->mask = (const int32_t *)(const void *)st_find(&g->st, "attention_mask")->data;
    g->hidden = golden_f32(&g->st, "last_hidden_state");
    g->pooled = golden_f32(&g->st, "pooler_output");
    g->mlm = golden_f32(&g->st, "prediction_logits");
    g->nsp = golden_f32(&g->st, "seq_relationship_logits");
    return 1;
}

static unsigned outputs_of(const golden *g) {
    return BERT_OUTPUT_HIDDEN | (g->pooled ? BERT_OUTPUT_POOLED : 0) | (g->mlm ? BERT_OUTPUT_MLM : 0) |
           (g->nsp ? BERT_OUTPUT_NSP : 0);
}

/* Number of leading tokens with mask 1 (fixtures pad on the right). */
static int real_len(const golden *g, int b) {
    int n = 0;
    while (n < g->T && g->mask[b * g->T + n]) n++;
    return n;
}

/* Compare sequence b of the context's output (n tokens) with the golden row. */
static void compare_seq(const char *what, const bert_context *ctx, int seq, const golden *g, int b, int n, int C,
                        int V) {
    double d = test_max_abs_diff(bert_output_hidden(ctx, seq), g->hidden + (size_t)b * g->T * C, (size_t)n * C);
    if (!(d <= TOL)) test_fail(__FILE__, __LINE__, "%s seq %d: last_hidden_state max diff %.3g", what, b, d);
    if (g->pooled) {
        d = test_max_abs_diff(bert_output_pooled(ctx, seq), g->pooled + (size_t)b * C, (size_t)C);
        if (!(d <= TOL)) test_fail(__FILE__, __LINE__, "%s seq %d: pooler_output max diff %.3g", what, b, d);
    }
    if (g->mlm) {
        d = test_max_abs_diff(bert_output_mlm_logits(ctx, seq), g->mlm + (size_t)b * g->T * V, (size_t)n * V);
        if (!(d <= TOL)) test_fail(__FILE__, __LINE__, "%s seq %d: prediction_logits max diff %.3g", what, b, d);
    }
    if (g->nsp) {
        d = test_max_abs_diff(bert_output_nsp_logits(ctx, seq), g->nsp + (size_t)b * 2, 2);
        if (!(d <= TOL)) test_fail(__FILE__, __LINE__, "%s seq %d: seq_relationship max diff %.3g", what, b, d);
    }
}

/* The padded batch, exactly as the reference ran it (pad positions too),
 * on the CPU or (device BERT_DEVICE_CUDA) the GPU. */
static void check_padded(const char *name, int n_threads, int use_mmap, bert_device device) {
    golden g;
    if (!load_golden(name, &g)) return;
    char dir[512];
    snprintf(dir, sizeof dir, FIXTURES "/%s", name);
    bert_error err;
    bert_model *m = NULL;
    bert_model_params mp = bert_model_default_params();
    mp.use_mmap = use_mmap;
    mp.device = device;
    CHECK_OK(bert_model_load(dir, &mp, &m, &err), err);
    if (!m) {
        st_close(&g.st);
        return;
    }
    int C = bert_model_config(m)->hidden_size, V = bert_model_config(m)->vocab_size;
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = n_threads;
    bert_context *ctx = NULL;
    CHECK_OK(bert_context_create(m, &cp, &ctx, &err), err);
    bert_sequence *seqs = calloc((size_t)g.B, sizeof *seqs);
    for (int b = 0; b < g.B; b++) {
        seqs[b].input_ids = g.ids + b * g.T;
        seqs[b].token_type_ids = g.types + b * g.T;
        seqs[b].attention_mask = g.mask + b * g.T;
        seqs[b].n_tokens = g.T;
    }
    CHECK_OK(bert_forward(ctx, seqs, g.B, outputs_of(&g), &err), err);
    for (int b = 0; b < g.B; b++) compare_seq(name, ctx, b, &g, b, g.T, C, V);
    free(seqs);
    bert_context_free(ctx);
    bert_model_free(m);
    st_close(&g.st);
}

TEST(forward_matches_reference_padded_batch) {
    for (int i = 0; i < N_FIXTURES; i++) check_padded(fixtures[i], 2, 1, BERT_DEVICE_CPU);
}

TEST(forward_matches_reference_one_thread_no_mmap) {
    for (int i = 0; i < N_FIXTURES; i++) check_padded(fixtures[i], 1, 0, BERT_DEVICE_CPU);
}

/* Without padding: each sequence cut to its real length, all in one ragged
 * batch, must give the reference's values at the real positions; and each
 * sequence run alone must give the same as in the batch (<= 1e-5). */
static void check_ragged(bert_device device) {
    for (int i = 0; i < N_FIXTURES; i++) {
        golden g;
        if (!load_golden(fixtures[i], &g)) continue;
        char dir[512];
        snprintf(dir, sizeof dir, FIXTURES "/%s", fixtures[i]);
        bert_error err;
        bert_model *m = NULL;
        bert_model_params mp = bert_model_default_params();
        mp.device = device;
        CHECK_OK(bert_model_load(dir, &mp, &m, &err), err);
        if (!m) continue;
        int C = bert_model_config(m)->hidden_size, V = bert_model_config(m)->vocab_size;
        bert_context *batch_ctx = NULL, *one_ctx = NULL;
        CHECK_OK(bert_context_create(m, NULL, &batch_ctx, &err), err);
        CHECK_OK(bert_context_create(m, NULL, &one_ctx, &err), err);
        bert_sequence *seqs = calloc((size_t)g.B, sizeof *seqs);
        int *map = calloc((size_t)g.B, sizeof *map), S = 0;
        for (int b = 0; b < g.B; b++) {
            int n = real_len(&g, b);
            if (n == 0) continue; /* a fully masked row has no unpadded form */
            seqs[S].input_ids = g.ids + b * g.T;
            seqs[S].token_type_ids = g.types + b * g.T;
            seqs[S].n_tokens = n;
            map[S++] = b;
        }
        unsigned outs = outputs_of(&g);
        CHECK_OK(bert_forward(batch_ctx, seqs, S, outs, &err), err);
        for (int s = 0; s < S; s++) compare_seq(fixtures[i], batch_ctx, s, &g, map[s], seqs[s].n_tokens, C, V);
        for (int s = 0; s < S; s++) {
            CHECK_OK(bert_forward(one_ctx, &seqs[s], 1, outs, &err), err);
            size_t n = (size_t)seqs[s].n_tokens;
            double d = test_max_abs_diff(bert_output_hidden(one_ctx, 0), bert_output_hidden(batch_ctx, s), n * C);
            if (!(d <= 1e-5)) test_fail(__FILE__, __LINE__, "%s seq %d: batch vs single diff %.3g", fixtures[i], s, d);
            if (outs & BERT_OUTPUT_MLM) {
                /* the vocabulary product's blocking depends on the batch's row count, so
                 * its rounding may differ: 1e-5 relative to the largest logit */
                const float *z = bert_output_mlm_logits(one_ctx, 0);
                double big = 1.0;
                for (size_t k = 0; k < n * V; k++) big = fmax(big, fabs(z[k]));
                d = test_max_abs_diff(z, bert_output_mlm_logits(batch_ctx, s), n * V);
                if (!(d <= 1e-5 * big)) test_fail(__FILE__, __LINE__, "%s seq %d: MLM batch vs single %.3g (max |logit| %.3g)", fixtures[i], s, d, big);
            }
        }
        free(seqs);
        free(map);
        bert_context_free(batch_ctx);
        bert_context_free(one_ctx);
        bert_model_free(m);
        st_close(&g.st);
    }
}

TEST(forward_ragged_batch_equals_single_runs) { check_ragged(BERT_DEVICE_CPU); }

/* A context grows when a later call needs more, and outputs that were not
 * requested are NULL. */
TEST(forward_context_reuse_and_output_selection) {
    bert_error err;
    bert_model *m = NULL;
    CHECK_OK(bert_model_load(FIXTURES "/tiny-pretraining", NULL, &m, &err), err);
    if (!m) return;
    bert_context_params cp = bert_context_default_params();
    cp.max_batch_tokens = 4;
    cp.max_seq_len = 4;
    bert_context *ctx = NULL;
    CHECK_OK(bert_context_create(m, &cp, &ctx, &err), err);
    int32_t ids[64];
    for (int i = 0; i < 64; i++) ids[i] = (i * 7) % 99;
    bert_sequence small = {.input_ids = ids, .n_tokens = 3}, big = {.input_ids = ids, .n_tokens = 64};
    CHECK_OK(bert_forward(ctx, &small, 1, BERT_OUTPUT_HIDDEN, &err), err);
    float first[48];
    memcpy(first, bert_output_hidden(ctx, 0), sizeof first);
    CHECK(bert_output_pooled(ctx, 0) == NULL);
    CHECK(bert_output_mlm_logits(ctx, 0) == NULL);
    CHECK(bert_output_hidden(ctx, 1) == NULL);
    CHECK_OK(bert_forward(ctx, &big, 1, BERT_OUTPUT_POOLED | BERT_OUTPUT_MLM, &err), err);
    CHECK(bert_output_pooled(ctx, 0) != NULL && bert_output_mlm_logits(ctx, 0) != NULL);
    CHECK_OK(bert_forward(ctx, &small, 1, BERT_OUTPUT_HIDDEN, &err), err);
    CHECK(test_max_abs_diff(first, bert_output_hidden(ctx, 0), 48) == 0.0);
    bert_context_free(ctx);
    bert_model_free(m);
}

/* bert_mlm_logits_at gives BERT_OUTPUT_MLM's rows for the positions asked
 * (the product's blocking differs with the row count: 1e-5 relative to the
 * largest logit), in the order asked, for any sequence of a batch; and it
 * refuses what it cannot do. */
TEST(forward_mlm_logits_at_positions) {
    bert_error err;
    bert_model *m = NULL;
    CHECK_OK(bert_model_load(FIXTURES "/tiny-pretraining", NULL, &m, &err), err);
    if (!m) return;
    int V = bert_model_config(m)->vocab_size;
    bert_context *ctx = NULL;
    CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
    int32_t ids[40];
    for (int i = 0; i < 40; i++) ids[i] = (i * 11 + 3) % 99;
    bert_sequence seqs[2] = {{.input_ids = ids, .n_tokens = 9}, {.input_ids = ids + 9, .n_tokens = 31}};
    CHECK_OK(bert_forward(ctx, seqs, 2, BERT_OUTPUT_HIDDEN | BERT_OUTPUT_MLM, &err), err);
    const int32_t pos[3] = {30, 0, 17};
    float *out = malloc(sizeof *out * 3 * (size_t)V);
    CHECK_OK(bert_mlm_logits_at(ctx, 1, pos, 3, out, &err), err);
    const float *all = bert_output_mlm_logits(ctx, 1);
    double big = 1.0, d = 0;
    for (int i = 0; i < 3; i++)
        for (int v = 0; v < V; v++) {
            double ref = all[(size_t)pos[i] * V + v];
            big = fmax(big, fabs(ref));
            d = fmax(d, fabs(ref - out[(size_t)i * V + v]));
        }
    if (!(d <= 1e-5 * big)) test_fail(__FILE__, __LINE__, "logits at positions differ by %.3g (max |logit| %.3g)", d, big);
    CHECK_ERR(bert_mlm_logits_at(ctx, 0, (const int32_t[]){9}, 1, out, &err), err, BERT_ERR_INPUT,
              "position 9 is outside sequence 0's 9 tokens");
    CHECK_ERR(bert_mlm_logits_at(ctx, 2, pos, 1, out, &err), err, BERT_ERR_INPUT, "sequence 2 of a batch of 2");
    CHECK_ERR(bert_mlm_logits_at(ctx, 0, pos, 0, out, &err), err, BERT_ERR_INPUT, "no positions");
    /* after a pass that asked for other outputs: the states are still the context's */
    float *again = malloc(sizeof *again * 3 * (size_t)V);
    CHECK_OK(bert_forward(ctx, seqs, 2, BERT_OUTPUT_NSP, &err), err);
    CHECK(bert_output_mlm_logits(ctx, 1) == NULL);
    CHECK_OK(bert_mlm_logits_at(ctx, 1, pos, 3, again, &err), err);
    CHECK(test_max_abs_diff(out, again, 3 * (size_t)V) == 0.0);
    /* after a failed pass: none */
    ids[3] = 99;
    CHECK_ERR(bert_forward(ctx, seqs, 2, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT, "");
    CHECK_ERR(bert_mlm_logits_at(ctx, 0, pos + 1, 1, again, &err), err, BERT_ERR_STATE, "no hidden states");
    free(again);
    free(out);
    bert_context_free(ctx);
    bert_model_free(m);
}

/* One model shared by several threads, each with its own context. */
/* One model, four threads each with its own context, at once: every pass
 * equal to one run alone, in f32 and in int8 — int8 runs packed oneDNN
 * primitives (as bert-base-sized f32 layers do), which crashed or gave
 * wrong rows when several threads ran one at once, before each run got its
 * own scratchpad. */
static void check_shared(bert_compute_dtype compute) {
    bert_error err;
    bert_model *m = NULL;
    bert_model_params mp = bert_model_default_params();
    mp.compute = compute;
    CHECK_OK(bert_model_load(FIXTURES "/classifier-4l", &mp, &m, &err), err);
    if (!m) return;
    int32_t ids[16];
    for (int i = 0; i < 16; i++) ids[i] = (i * 13) % 200;
    bert_sequence seq = {.input_ids = ids, .n_tokens = 16};
    float ref[96];
    bert_context *c0 = NULL;
    CHECK_OK(bert_context_create(m, NULL, &c0, &err), err);
    CHECK_OK(bert_forward(c0, &seq, 1, BERT_OUTPUT_POOLED, &err), err);
    memcpy(ref, bert_output_pooled(c0, 0), sizeof ref);
    bert_context_free(c0);
    int bad = 0;
#pragma omp parallel num_threads(4) reduction(+ : bad)
    {
        bert_context_params cp = bert_context_default_params();
        cp.n_threads = 1;
        bert_context *c = NULL;
        bert_error e;
        if (bert_context_create(m, &cp, &c, &e) != BERT_OK) bad++;
        for (int rep = 0; rep < 20 && c; rep++) {
            if (bert_forward(c, &seq, 1, BERT_OUTPUT_POOLED, &e) != BERT_OK ||
                test_max_abs_diff(ref, bert_output_pooled(c, 0), 96) > 1e-5)
                bad++;
        }
        bert_context_free(c);
    }
    CHECK(bad == 0);
    bert_model_free(m);
}

TEST(forward_model_shared_between_threads) {
    check_shared(BERT_COMPUTE_F32);
    if (!bert_int8_unavailable_reason()) check_shared(BERT_COMPUTE_INT8);
}

/* The tiny pre-training fixture (hidden size 48) on the CPU and a context
 * for it; NULL (the test failed) when either cannot be made. */
static bert_context *tiny_context(bert_model **m) {
    bert_error err;
    bert_context *ctx = NULL;
    *m = NULL;
    CHECK_OK(bert_model_load(FIXTURES "/tiny-pretraining", NULL, m, &err), err);
    if (*m) CHECK_OK(bert_context_create(*m, NULL, &ctx, &err), err);
    if (!ctx) bert_model_free(*m), *m = NULL;
    return ctx;
}

TEST(pool_cls_and_mean_exclude_padding) {
    bert_error err;
    bert_model *m;
    bert_context *ctx = tiny_context(&m);
    if (!ctx) return;
    int32_t ids[6] = {5, 6, 7, 0, 0, 0}, mask[6] = {1, 1, 1, 0, 0, 0};
    bert_sequence padded = {.input_ids = ids, .attention_mask = mask, .n_tokens = 6};
    bert_sequence plain = {.input_ids = ids, .n_tokens = 3};
    float a[48], b[48], c[48];
    CHECK_OK(bert_forward(ctx, &padded, 1, BERT_OUTPUT_HIDDEN, &err), err);
    CHECK_OK(bert_pool(ctx, 0, BERT_POOL_MEAN, 1, a, &err), err);
    CHECK_OK(bert_pool(ctx, 0, BERT_POOL_CLS, 0, c, &err), err);
    CHECK(test_max_abs_diff(c, bert_output_hidden(ctx, 0), 48) == 0.0);
    CHECK_OK(bert_forward(ctx, &plain, 1, BERT_OUTPUT_HIDDEN, &err), err);
    CHECK_OK(bert_pool(ctx, 0, BERT_POOL_MEAN, 1, b, &err), err);
    CHECK(test_max_abs_diff(a, b, 48) <= 1e-5);
    double norm = 0;
    for (int j = 0; j < 48; j++) norm += (double)a[j] * a[j];
    CHECK(fabs(norm - 1.0) < 1e-5);
    CHECK_ERR(bert_pool(ctx, 1, BERT_POOL_MEAN, 1, a, &err), err, BERT_ERR_STATE, "no hidden states");
    bert_context_free(ctx);
    bert_model_free(m);
}

/* BERT_OUTPUT_SENTENCE: each sequence pooled by its spec exactly as
 * bert_pool_states pools its hidden states and attention_mask (every mode,
 * a prompt, masked tokens, cls with max on a skipped first token), the
 * spec reported back; one spec for all, the default mean; refusals. */
TEST(forward_sentence_output_is_bert_pool_states) {
    bert_error err;
    bert_model *m;
    bert_context *ctx = tiny_context(&m);
    if (!ctx) return;
    enum { C = 48, S = 3 };
    int32_t ids[S][9] = {{2, 5, 6, 7, 8, 9, 3}, {2, 11, 12, 13, 14, 15, 16, 17, 3}, {2}};
    int32_t mask1[9] = {1, 1, 0, 1, 1, 0, 1, 1, 1};
    bert_sequence seqs[S] = {{.input_ids = ids[0], .n_tokens = 7},
                             {.input_ids = ids[1], .attention_mask = mask1, .n_tokens = 9},
                             {.input_ids = ids[2], .n_tokens = 1}};
    const bert_pooling_spec spec[S] = {
        {0x3f, 2}, /* every mode, two prompt tokens */
        {1u << BERT_POOL_CLS | 1u << BERT_POOL_MAX, 1},
        {1u << BERT_POOL_LAST_TOKEN | 1u << BERT_POOL_MEAN_SQRT_LEN | 1u << BERT_POOL_WEIGHTED_MEAN, 0}};
    float ref[6 * C];
    CHECK_OK(bert_context_set_pooling(ctx, spec, S, &err), err);
    CHECK_OK(bert_forward(ctx, seqs, S, BERT_OUTPUT_HIDDEN | BERT_OUTPUT_SENTENCE, &err), err);
    for (int s = 0; s < S; s++) {
        bert_pooling_spec got = {0, -1};
        const float *v = bert_output_sentence(ctx, s, &got);
        CHECK(v && got.modes == spec[s].modes && got.prompt_length == spec[s].prompt_length);
        CHECK_OK(bert_pool_states(bert_output_hidden(ctx, s), seqs[s].attention_mask, seqs[s].n_tokens, C, spec[s].modes,
                                  spec[s].prompt_length, ref, &err), err);
        int k = __builtin_popcount(spec[s].modes);
        CHECK(v && memcmp(v, ref, sizeof(float) * (size_t)k * C) == 0);
    }
    CHECK(bert_output_sentence(ctx, 1, NULL)[0] == -1e9f); /* cls with max on: token 0 is in the prompt */
    CHECK(bert_output_sentence(ctx, S, NULL) == NULL);
    /* one spec for every sequence; then the default, mean */
    CHECK_OK(bert_context_set_pooling(ctx, spec + 1, 1, &err), err);
    CHECK_OK(bert_forward(ctx, seqs, S, BERT_OUTPUT_SENTENCE, &err), err);
    CHECK_OK(bert_pool_states(bert_output_hidden(ctx, 2), NULL, 1, C, spec[1].modes, 1, ref, &err), err);
    CHECK(memcmp(bert_output_sentence(ctx, 2, NULL), ref, sizeof(float) * 2 * C) == 0);
    CHECK_OK(bert_context_set_pooling(ctx, NULL, 0, &err), err);
    CHECK_OK(bert_forward(ctx, seqs, S, BERT_OUTPUT_SENTENCE, &err), err);
    CHECK_OK(bert_pool_states(bert_output_hidden(ctx, 1), mask1, 9, C, 1u << BERT_POOL_MEAN, 0, ref, &err), err);
    CHECK(memcmp(bert_output_sentence(ctx, 1, NULL), ref, sizeof(float) * C) == 0);
    /* the tasks' finiteness check reads it: a NaN in sequence 2's pooled row fails naming input 2 */
    CHECK_OK(task_check_finite(ctx, m, seqs, S, BERT_OUTPUT_SENTENCE, &err), err);
    ((float *)bert_output_sentence(ctx, 2, NULL))[C - 1] = NAN;
    CHECK_ERR(task_check_finite(ctx, m, seqs, S, BERT_OUTPUT_SENTENCE, &err), err, BERT_ERR_FORMAT, "input 2: ");
    CHECK(err.item == 2);
    CHECK_OK(bert_forward(ctx, seqs, S, BERT_OUTPUT_HIDDEN, &err), err);
    CHECK(bert_output_sentence(ctx, 0, NULL) == NULL);
    /* refusals */
    CHECK_OK(bert_context_set_pooling(ctx, spec, 2, &err), err);
    CHECK_ERR(bert_forward(ctx, seqs, S, BERT_OUTPUT_SENTENCE, &err), err, BERT_ERR_INPUT, "names 2 sequences");
    CHECK_OK(bert_forward(ctx, seqs, 2, BERT_OUTPUT_SENTENCE, &err), err);
    const bert_pooling_spec bad[3] = {{0, 0}, {1u << BERT_POOL_N_MODES, 0}, {1, -1}};
    for (int i = 0; i < 3; i++) CHECK_ERR(bert_context_set_pooling(ctx, bad + i, 1, &err), err, BERT_ERR_INPUT, "pooling spec 0");
    CHECK_ERR(bert_context_set_pooling(ctx, NULL, 2, &err), err, BERT_ERR_INPUT, "2 specs");
    bert_context_free(ctx);
    bert_model_free(m);
}

/* A profiling context times every kind of operation per layer: the calls
 * and tokens are counted, the kinds add up to the total, every layer has
 * products, attention and LayerNorm time, the outputs are the plain
 * context's bit for bit, the text forms carry every kind; a plain context
 * has no profile, and reset zeroes it. */
TEST(forward_profile_times_every_operation) {
    bert_error err;
    bert_model *m = NULL;
    CHECK_OK(bert_model_load(FIXTURES "/tiny-pretraining", NULL, &m, &err), err);
    if (!m) return;
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = 1;
    bert_context *plain = NULL, *ctx = NULL;
    CHECK_OK(bert_context_create(m, &cp, &plain, &err), err);
    cp.profile = 1;
    CHECK_OK(bert_context_create(m, &cp, &ctx, &err), err);
    int32_t ids[40];
    for (int i = 0; i < 40; i++) ids[i] = (i * 11) % 99;
    bert_sequence b[2] = {{.input_ids = ids, .n_tokens = 17}, {.input_ids = ids + 17, .n_tokens = 23}};
    bert_profile p;
    CHECK(bert_context_profile(plain, &p, &err) == BERT_ERR_STATE);
    CHECK_OK(bert_forward(plain, b, 2, BERT_OUTPUT_POOLED, &err), err);
    for (int r = 0; r < 3; r++) CHECK_OK(bert_forward(ctx, b, 2, BERT_OUTPUT_POOLED, &err), err);
    CHECK(test_max_abs_diff(bert_output_hidden(plain, 1), bert_output_hidden(ctx, 1), 23 * 48) == 0.0);
    CHECK_OK(bert_context_profile(ctx, &p, &err), err);
    int L = bert_model_config(m)->num_hidden_layers;
    CHECK(p.calls == 3 && p.tokens == 120 && p.n_layers == L && p.total_s > 0);
    double sum = 0;
    for (int k = 0; k < BERT_OP_COUNT; k++) {
        CHECK(p.op_s[k] >= 0);
        sum += p.op_s[k];
    }
    CHECK(fabs(sum - p.total_s) <= 1e-9 * p.total_s + 1e-12);
    for (int l = 0; l < L; l++) {
        const double *row = p.layer_op_s + (size_t)l * BERT_OP_COUNT;
        CHECK(row[BERT_OP_PRODUCTS] > 0 && row[BERT_OP_ATTENTION] > 0 && row[BERT_OP_LAYERNORM] > 0);
        CHECK(row[BERT_OP_EMBEDDINGS] == 0 && row[BERT_OP_HEADS] == 0 && row[BERT_OP_OTHER] == 0);
    }
    CHECK(p.op_s[BERT_OP_EMBEDDINGS] > 0 && p.op_s[BERT_OP_HEADS] > 0);
    char text[8192];
    CHECK(bert_profile_format(&p, 1, text, sizeof text) < (int)sizeof text);
    cJSON *o = cJSON_Parse(text);
    CHECK(o && cJSON_GetObjectItem(o, "calls") && cJSON_GetObjectItem(o, "calls")->valueint == 3);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(o, "layers")) == L);
    for (int k = 0; k < BERT_OP_COUNT; k++) CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "ops"), bert_op_kind_name(k)) != NULL);
    cJSON_Delete(o);
    int need = bert_profile_format(&p, 0, NULL, 0);
    CHECK(need > 0 && bert_profile_format(&p, 0, text, sizeof text) == need && strstr(text, "products") && strstr(text, "total"));
    CHECK(bert_op_kind_name(BERT_OP_COUNT) == NULL);
    bert_context_profile_reset(ctx);
    CHECK_OK(bert_context_profile(ctx, &p, &err), err);
    CHECK(p.calls == 0 && p.total_s == 0 && p.layer_op_s[BERT_OP_PRODUCTS] == 0 && p.n_layers == L);
    bert_context_free(plain);
    bert_context_free(ctx);
    bert_model_free(m);
}

/* BERT_DEVICE_CUDA: where a GPU can run it, every fixture's padded batch
 * and its ragged form against the PyTorch reference (1e-4, as on the CPU),
 * each sequence alone equal to it in the batch (1e-5); elsewhere the load is
 * refused with BERT_ERR_UNSUPPORTED naming why, f32 and bf16 alike (int8:
 * that the GPU runs f32, bf16 and tf32; a device that does not exist:
 * BERT_ERR_INPUT), and nothing leaks. (bf16 on the GPU against f32:
 * tests/gpu/run.sh.) */
TEST(forward_cuda_matches_reference_or_is_refused) {
    const char *why = bert_cuda_unavailable_reason();
    if (why) {
        printf("  (no GPU path here: %s)\n", why);
        bert_model_params mp = bert_model_default_params();
        mp.device = BERT_DEVICE_CUDA;
        bert_model *m = NULL;
        bert_error err;
        CHECK_ERR(bert_model_load(FIXTURES "/tiny-pretraining", &mp, &m, &err), err, BERT_ERR_UNSUPPORTED, why);
        CHECK(m == NULL);
        mp.compute = BERT_COMPUTE_BF16; /* bf16 runs there too, and asks for no oneDNN first */
        CHECK_ERR(bert_model_load(FIXTURES "/tiny-pretraining", &mp, &m, &err), err, BERT_ERR_UNSUPPORTED, why);
        CHECK(m == NULL);
        mp.compute = BERT_COMPUTE_INT8;
        CHECK_ERR(bert_model_load(FIXTURES "/tiny-pretraining", &mp, &m, &err), err, BERT_ERR_UNSUPPORTED,
                  "(not --dtype int8)");
        CHECK(m == NULL);
        mp.compute = BERT_COMPUTE_F32;
        mp.device = (bert_device)7;
        CHECK(bert_model_load(FIXTURES "/tiny-pretraining", &mp, &m, &err) == BERT_ERR_INPUT && m == NULL);
        return;
    }
    for (int i = 0; i < N_FIXTURES; i++) check_padded(fixtures[i], 2, 1, BERT_DEVICE_CUDA);
    check_ragged(BERT_DEVICE_CUDA);
}
