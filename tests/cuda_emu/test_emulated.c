/* test_emulated.c — the GPU path (--device cuda) run by the CPU emulator
 * (tests/cuda_emu): what the shared tests do not reach. Linked into
 * build/test_cuda_emu only, beside every other test; tests/run.sh runs those
 * named forward_cuda there (test_forward.c's check against the PyTorch
 * reference takes its GPU branch in that program). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cuda/collective.h"
#include "cuda/encoder.h"
#include "cuda/train.h"
#include "io/safetensors.h"
#include "util/clock.h"
#include "train/dropout.h"
#include "train/rng.h"
#include "train/trainer.h"
#include "emu.h"
#include "include/cuda_fp16.h" /* the emulator's float16 conversions */
#include "test.h"

typedef struct {
    const char *dir;
    int C, vocab;
} fixture;
static const fixture BIG = {FIXTURES "/classifier-4l", 96, 200};    /* 4 layers, 6 heads, SiLU */
static const fixture SMALL = {FIXTURES "/tiny-pretraining", 48, 99}; /* 1 layer, 3 heads, GELU */
enum { N_SEQS = 6, MAX_T = 70 };
static const int lengths[N_SEQS] = {17, 40, 5, 23, 1, 70}; /* 1 to 3 tiles of 32 rows */

static int32_t ids[N_SEQS * MAX_T];
static bert_sequence seqs[N_SEQS];

static void make_batch(const fixture *f, int n_seqs) {
    for (int i = 0; i < N_SEQS * MAX_T; i++) ids[i] = 1 + (i * 37) % (f->vocab - 1);
    for (int s = 0; s < n_seqs; s++) seqs[s] = (bert_sequence){.input_ids = ids + s * MAX_T, .n_tokens = lengths[s]};
}

static size_t batch_tokens(int n_seqs) {
    size_t n = 0;
    for (int s = 0; s < n_seqs; s++) n += (size_t)lengths[s];
    return n;
}

static bert_status load(const fixture *f, bert_device device, bert_compute_dtype compute, bert_model **m,
                        bert_error *err) {
    bert_model_params mp = bert_model_default_params();
    mp.device = device;
    mp.compute = compute;
    return bert_model_load(f->dir, &mp, m, err);
}

/* Runs the first n_seqs sequences; their hidden states, one after another, into out. */
static bert_status run(const fixture *f, bert_context *ctx, int n_seqs, float *out, bert_error *err) {
    make_batch(f, n_seqs);
    bert_status rc = bert_forward(ctx, seqs, n_seqs, BERT_OUTPUT_HIDDEN | BERT_OUTPUT_POOLED, err);
    if (rc != BERT_OK || !out) return rc;
    int C = f->C;
    for (int s = 0; s < n_seqs; s++) {
        memcpy(out, bert_output_hidden(ctx, s), sizeof(float) * (size_t)lengths[s] * C);
        out += (size_t)lengths[s] * C;
    }
    return BERT_OK;
}

/* One model's hidden states for the first n_seqs sequences (NULL on failure, reported). */
static float *hidden_of(const fixture *f, int n_seqs, bert_device device, bert_compute_dtype compute) {
    bert_error err;
    bert_model *m = NULL;
    bert_context *ctx = NULL;
    float *h = malloc(sizeof(float) * batch_tokens(n_seqs) * (size_t)f->C);
    CHECK_OK(load(f, device, compute, &m, &err), err);
    if (m) CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
    if (!ctx || !h || run(f, ctx, n_seqs, h, &err) != BERT_OK) {
        test_fail(__FILE__, __LINE__, "hidden_of: %s", ctx ? err.message : "no context");
        free(h);
        h = NULL;
    }
    bert_context_free(ctx);
    bert_model_free(m);
    return h;
}

/* The smallest cosine between a token's hidden states in a and b. */
static double worst_cosine(const float *a, const float *b, size_t N, size_t C) {
    double worst = 1.0;
    for (size_t t = 0; t < N; t++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t j = 0; j < C; j++) {
            double x = a[t * C + j], y = b[t * C + j];
            ab += x * y, aa += x * x, bb += y * y;
        }
        worst = fmin(worst, ab / sqrt(aa * bb));
    }
    return worst;
}

/* --dtype bf16, f16 and tf32 on the GPU: every token's hidden state
 * within cosine 0.999 (bf16) or 0.9999 (f16, tf32) of the CPU's f32 one,
 * and not equal to it (an f32 fallback fails), f16 and tf32 closer than
 * bf16 (10 mantissa bits to its 7); the GPU's f32 within 1e-4 of the
 * CPU's. No device memory is left. */
TEST(forward_cuda_emulated_bf16_f16_tf32_near_f32) {
    const fixture *f = &BIG;
    float *cpu = hidden_of(f, N_SEQS, BERT_DEVICE_CPU, BERT_COMPUTE_F32),
          *gpu = hidden_of(f, N_SEQS, BERT_DEVICE_CUDA, BERT_COMPUTE_F32),
          *g16 = hidden_of(f, N_SEQS, BERT_DEVICE_CUDA, BERT_COMPUTE_BF16),
          *h16 = hidden_of(f, N_SEQS, BERT_DEVICE_CUDA, BERT_COMPUTE_F16),
          *g32 = hidden_of(f, N_SEQS, BERT_DEVICE_CUDA, BERT_COMPUTE_TF32);
    size_t N = batch_tokens(N_SEQS), C = (size_t)f->C;
    if (cpu && gpu && g16 && h16 && g32) {
        CHECK(test_max_abs_diff(cpu, gpu, N * C) <= 1e-4);
        double c16 = worst_cosine(cpu, g16, N, C), d16 = test_max_abs_diff(cpu, g16, N * C);
        double ch = worst_cosine(cpu, h16, N, C), dh = test_max_abs_diff(cpu, h16, N * C);
        double c32 = worst_cosine(cpu, g32, N, C), d32 = test_max_abs_diff(cpu, g32, N * C);
        printf("  vs f32 on the CPU: bf16 worst token cosine %.6f, max |diff| %.3g; f16 %.7f, %.3g; tf32 %.7f, %.3g\n",
               c16, d16, ch, dh, c32, d32);
        CHECK(c16 >= 0.999 && d16 > 0);
        CHECK(ch >= 0.9999 && dh > 0 && dh < d16);
        CHECK(c32 >= 0.9999 && d32 > 0 && d32 < d16);
    }
    CHECK(bert_emu_live_allocations() == 0);
    free(cpu), free(gpu), free(g16), free(h16), free(g32);
}

/* The emulator's float16 conversions (cuda_fp16.h here), which the f16
 * tests rest on: every binary16 value but NaN survives float and back
 * bit for bit; the rounding's edges — ties to even, the subnormals and
 * their underflow, the largest finite 65504 and the first value rounding
 * past it (65520) — give IEEE's bits; NaN stays NaN. */
TEST(forward_cuda_emulated_float16_conversions) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) continue; /* NaN */
        __half x = {(uint16_t)h};
        bad += __float2half_rn(__half2float(x)).x != h;
    }
    CHECK(bad == 0);
    static const struct {
        float f;
        uint16_t bits;
    } edge[] = {
        {1.0f, 0x3c00},          {1.0f + 0x1p-11f, 0x3c00}, {1.0f + 0x3p-11f, 0x3c02},   {-2.5f, 0xc100},
        {65504.0f, 0x7bff},      {65519.99f, 0x7bff},       {65520.0f, 0x7c00},          {-1e9f, 0xfc00},
        {0x1p-14f, 0x0400},      {0x1p-24f, 0x0001},        {0x1p-25f, 0x0000},          {0x1.000002p-25f, 0x0001},
        {0x3p-26f, 0x0001},      {0x3p-25f, 0x0002},        {0x5p-25f, 0x0002},          {-0x1p-30f, 0x8000},
        {0x1.ffcp-15f, 0x0400},  {0x1.ff8p-15f, 0x03ff},    {0.0f, 0x0000},
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        if (__float2half_rn(edge[i].f).x != edge[i].bits)
            test_fail(__FILE__, __LINE__, "%a: 0x%04x, want 0x%04x", edge[i].f, __float2half_rn(edge[i].f).x,
                      edge[i].bits);
    CHECK(isnan(__half2float(__float2half_rn(NAN))));
}

/* classifier-4l's model with tensor `name`'s first value set to v, into
 * dir (config.json beside it); 1 on success. */
static int write_altered_model(const char *dir, const char *name, float v) {
    char path[600];
    st_file st;
    bert_error err;
    if (mkdir(dir, 0700) != 0 || st_open(FIXTURES "/classifier-4l/model.safetensors", 0, &st, &err) != BERT_OK) return 0;
    st_write_tensor *ts = calloc((size_t)st.n_tensors, sizeof *ts);
    float *changed = NULL;
    int ok = ts != NULL;
    for (int i = 0; ok && i < st.n_tensors; i++) {
        const st_tensor *t = &st.tensors[i];
        ts[i] = (st_write_tensor){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data};
        memcpy(ts[i].shape, t->shape, sizeof t->shape);
        if (strcmp(t->name, name) == 0 && t->dtype == ST_F32 && (changed = malloc(t->nbytes))) {
            memcpy(changed, t->data, t->nbytes);
            changed[0] = v;
            ts[i].data = changed;
        }
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ok = ok && changed && st_write(path, ts, st.n_tensors, NULL, &err) == BERT_OK;
    snprintf(path, sizeof path, "%s/config.json", dir);
    ok = ok && test_copy_file(FIXTURES "/classifier-4l/config.json", path) == 0;
    free(changed), free(ts);
    st_close(&st);
    return ok;
}

/* --dtype f16 never gives an inf: a weight past float16's range (+-65504)
 * in layer 2 fails the load naming that layer; with layer 1's attention-
 * output LayerNorm weight 45,000 on one dimension, some tokens' feed-
 * forward inputs lie past the range: a pass of sequences 0 and 1 fails
 * naming layer 1 and sequence 1 (bert_error.item, for a server or
 * --on-error skip to drop it alone), one of sequence 1 alone likewise, then sequence 0 (whose inputs stay within it) runs on the same
 * context (the flags start over each pass) to within 1e-2 of the f32
 * pass's pooled output (measured 2e-3: its activations reach 1e4), and
 * sequence 1 fails again; bf16 (no such range)
 * runs sequence 1. No device memory is left. */
TEST(forward_cuda_emulated_f16_range) {
    char weight[512], input[512];
    snprintf(weight, sizeof weight, "%s/f16-weight", test_tmpdir());
    snprintf(input, sizeof input, "%s/f16-input", test_tmpdir());
    if (!write_altered_model(weight, "bert.encoder.layer.2.output.dense.weight", 7e4f) ||
        !write_altered_model(input, "bert.encoder.layer.1.attention.output.LayerNorm.weight", 4.5e4f)) {
        test_fail(__FILE__, __LINE__, "cannot write the altered models");
        return;
    }
    bert_error err;
    bert_model *m = NULL;
    fixture fw = {weight, BIG.C, BIG.vocab}, fi = {input, BIG.C, BIG.vocab};
    CHECK_ERR(load(&fw, BERT_DEVICE_CUDA, BERT_COMPUTE_F16, &m, &err), err, BERT_ERR_UNSUPPORTED,
              "a weight of layer 2 lies past float16's range");
    CHECK(m == NULL && bert_emu_live_allocations() == 0);
    make_batch(&BIG, N_SEQS);
    float want[96];
    const char *over = "an input of layer 1's products lies past float16's range";
    static const bert_compute_dtype dts[] = {BERT_COMPUTE_F32, BERT_COMPUTE_F16, BERT_COMPUTE_BF16};
    for (int k = 0; k < 3; k++) {
        bert_context *ctx = NULL;
        CHECK_OK(load(&fi, BERT_DEVICE_CUDA, dts[k], &m, &err), err);
        if (m) CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
        if (ctx && dts[k] == BERT_COMPUTE_F16) {
            /* in a batch, the error names the sequence (as bert_forward's input errors do) */
            CHECK_ERR(bert_forward(ctx, seqs, 2, BERT_OUTPUT_POOLED, &err), err, BERT_ERR_UNSUPPORTED, over);
            CHECK(err.item == 1 && strncmp(err.message, "sequence 1: ", 12) == 0);
            CHECK_ERR(bert_forward(ctx, seqs + 1, 1, BERT_OUTPUT_POOLED, &err), err, BERT_ERR_UNSUPPORTED, over);
            CHECK(err.item == 0);
            CHECK_OK(bert_forward(ctx, seqs, 1, BERT_OUTPUT_POOLED, &err), err);
            const float *got = bert_output_pooled(ctx, 0);
            double d = got ? test_max_abs_diff(got, want, (size_t)BIG.C) : 1;
            printf("  sequence 0 in f16: pooled output within %.3g of f32\n", d);
            CHECK(d <= 1e-2);
            CHECK_ERR(bert_forward(ctx, seqs + 1, 1, BERT_OUTPUT_POOLED, &err), err, BERT_ERR_UNSUPPORTED, over);
        } else if (ctx) {
            CHECK_OK(bert_forward(ctx, seqs + (dts[k] == BERT_COMPUTE_F32 ? 0 : 1), 1, BERT_OUTPUT_POOLED, &err), err);
            if (dts[k] == BERT_COMPUTE_F32) memcpy(want, bert_output_pooled(ctx, 0), sizeof(float) * (size_t)BIG.C);
        }
        bert_context_free(ctx);
        bert_model_free(m);
        m = NULL;
    }
    CHECK(bert_emu_live_allocations() == 0);
}

/* Each cudaMalloc of loading the model and of two batches (2 sequences,
 * then 5: the buffers grow; the sixth passes this model's 64 positions)
 * fails in turn: the call that met it returns
 * BERT_ERR_NOMEM naming CUDA, the same context then runs that batch to the
 * same hidden states as a run that met no failure, and freeing everything
 * leaves no device memory, f32 and bf16 alike. */
TEST(forward_cuda_emulated_device_memory_failures) {
    const fixture *f = &SMALL;
    const int most = 5;
    size_t n = batch_tokens(most) * (size_t)f->C;
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        bert_compute_dtype dt = bf16 ? BERT_COMPUTE_BF16 : BERT_COMPUTE_F32;
        float *want = hidden_of(f, most, BERT_DEVICE_CUDA, dt), *got = malloc(sizeof(float) * n);
        int k = 1, failures = 0;
        for (; want && got && k < 100; k++) {
            bert_error err;
            bert_model *m = NULL;
            bert_context *ctx = NULL;
            bert_emu_fail_malloc(k);
            bert_status rc = load(f, BERT_DEVICE_CUDA, dt, &m, &err);
            if (rc == BERT_OK) CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
            for (int n_seqs = 2; rc == BERT_OK && ctx && n_seqs <= most; n_seqs += most - 2) {
                rc = run(f, ctx, n_seqs, got, &err);
                if (rc == BERT_OK) continue;
                CHECK_ERR(rc, err, BERT_ERR_NOMEM, "CUDA");
                failures++;
                bert_emu_fail_malloc(0);
                CHECK_OK(rc = run(f, ctx, n_seqs, got, &err), err);
                if (rc == BERT_OK && n_seqs == most) CHECK(test_max_abs_diff(want, got, n) == 0);
                rc = BERT_ERR_NOMEM; /* this round is done */
            }
            if (!m) {
                CHECK_ERR(rc, err, BERT_ERR_NOMEM, "CUDA");
                failures++;
            } else if (rc == BERT_OK) {
                CHECK(test_max_abs_diff(want, got, n) == 0);
            }
            int pending = bert_emu_malloc_failure_pending();
            bert_emu_fail_malloc(0);
            bert_context_free(ctx);
            bert_model_free(m);
            CHECK(bert_emu_live_allocations() == 0);
            if (pending) break; /* every allocation of the run has failed once */
        }
        printf("  %s: %d allocation failures met, each handled\n", bf16 ? "bf16" : "f32", failures);
        CHECK(k < 100 && failures == k - 1 && failures >= 8);
        free(want), free(got);
    }
}

typedef struct {
    bert_context *ctx;
    float *out;
    bert_status rc;
} job;

static void *run_thread(void *arg) {
    job *j = arg;
    bert_error err;
    for (int r = 0; r < 3 && j->rc == BERT_OK; r++) j->rc = run(&BIG, j->ctx, N_SEQS, j->out, &err);
    return NULL;
}

/* Two contexts of one GPU model on two threads at once: each gets what one
 * context alone gets. */
TEST(forward_cuda_emulated_contexts_on_threads) {
    float *want = hidden_of(&BIG, N_SEQS, BERT_DEVICE_CUDA, BERT_COMPUTE_F32);
    bert_error err;
    bert_model *m = NULL;
    CHECK_OK(load(&BIG, BERT_DEVICE_CUDA, BERT_COMPUTE_F32, &m, &err), err);
    job j[2] = {{0}};
    pthread_t t[2];
    size_t n = batch_tokens(N_SEQS) * (size_t)BIG.C;
    for (int i = 0; m && i < 2; i++) {
        CHECK_OK(bert_context_create(m, NULL, &j[i].ctx, &err), err);
        j[i].out = malloc(sizeof(float) * n);
    }
    for (int i = 0; m && i < 2; i++) CHECK(pthread_create(&t[i], NULL, run_thread, &j[i]) == 0);
    for (int i = 0; m && i < 2; i++) {
        pthread_join(t[i], NULL);
        CHECK(j[i].rc == BERT_OK);
        if (want) CHECK(test_max_abs_diff(want, j[i].out, n) == 0);
        bert_context_free(j[i].ctx);
        free(j[i].out);
    }
    bert_model_free(m);
    CHECK(bert_emu_live_allocations() == 0);
    free(want);
}

/* Launches a pass, f32: the embeddings (one), then per layer the Q/K/V
 * bias, two LayerNorms and the feed-forward's bias (cuBLAS's products are
 * not launches here), plus the attention: one fused launch whatever the
 * lengths, or (batched) one softmax launch per distinct length, 6 in this
 * batch; then the pooler's two (the first tokens' gather, bias + tanh). */
TEST(forward_cuda_emulated_attention_launches) {
    bert_error err;
    bert_model *m = NULL;
    bert_context *ctx = NULL;
    CHECK_OK(load(&BIG, BERT_DEVICE_CUDA, BERT_COMPUTE_F32, &m, &err), err);
    if (m) CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
    if (!ctx) {
        bert_model_free(m);
        return;
    }
    size_t before = bert_emu_launches();
    CHECK_OK(run(&BIG, ctx, N_SEQS, NULL, &err), err);
    size_t got = bert_emu_launches() - before, layers = 4, fused = (size_t)bert_cuda_fused_attention(96 / 6);
    printf("  %s attention: %zu launches for %zu layers\n", fused ? "fused" : "batched", got, layers);
    CHECK(got == 1 + layers * (fused ? 5 : 4 + 6) + 2);
    bert_context_free(ctx);
    bert_model_free(m);
}

/* Head sizes the fixtures lack — 64 (bert-base's, the fused kernel's
 * largest), 63, 5 (not multiples of 4), 96 (past the fused kernel: the
 * batched path) — on the ragged batch with some keys masked (the last 8 of
 * one sequence, the one key of another): GPU within 1e-4 of the CPU's f32. */
TEST(forward_cuda_emulated_head_sizes) {
    static const int shapes[][2] = {{128, 2}, {63, 1}, {15, 3}, {96, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int C = shapes[k][0], heads = shapes[k][1];
        char dir[512];
        snprintf(dir, sizeof dir, "%s/heads-%d-%d", test_tmpdir(), C, heads);
        if (!test_write_random_model(dir, C, heads, 2 * C)) {
            test_fail(__FILE__, __LINE__, "cannot write %s", dir);
            continue;
        }
        int32_t mask[N_SEQS * MAX_T];
        for (int i = 0; i < N_SEQS * MAX_T; i++) mask[i] = 1;
        for (int i = 15; i < 23; i++) mask[3 * MAX_T + i] = 0;
        mask[4 * MAX_T] = 0;
        fixture f = {dir, C, 200};
        float *out[2] = {NULL, NULL};
        for (int dev = 0; dev < 2; dev++) {
            bert_error err;
            bert_model *m = NULL;
            bert_context *ctx = NULL;
            CHECK_OK(load(&f, dev ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU, BERT_COMPUTE_F32, &m, &err), err);
            if (m) CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
            out[dev] = malloc(sizeof(float) * batch_tokens(N_SEQS) * (size_t)C);
            make_batch(&f, N_SEQS);
            for (int s = 0; s < N_SEQS; s++) seqs[s].attention_mask = mask + s * MAX_T;
            if (ctx) CHECK_OK(bert_forward(ctx, seqs, N_SEQS, BERT_OUTPUT_HIDDEN | BERT_OUTPUT_POOLED, &err), err);
            for (int s = 0, at = 0; ctx && s < N_SEQS; at += lengths[s++] * C)
                memcpy(out[dev] + at, bert_output_hidden(ctx, s), sizeof(float) * (size_t)lengths[s] * C);
            bert_context_free(ctx);
            bert_model_free(m);
        }
        double d = test_max_abs_diff(out[0], out[1], batch_tokens(N_SEQS) * (size_t)C);
        printf("  hidden %d, %d head(s) of %d (%s): GPU vs CPU max |diff| %.3g\n", C, heads, C / heads,
               bert_cuda_fused_attention(C / heads) ? "fused" : "batched", d);
        CHECK(d <= 1e-4);
        free(out[0]), free(out[1]);
    }
    CHECK(bert_emu_live_allocations() == 0);
}

/* A joint intent + slot model: the dialogue training fixture's weights
 * (its intent_classifier has 4 rows) with a config naming its 4 intents,
 * written to dir; 1 on success. */
static int write_joint_model(const char *dir) {
    char path[600], text[8192];
    snprintf(path, sizeof path, "tests/fixtures/train/dialogue/config.json");
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    char *brace = strchr(text, '{');
    if (!brace || n == sizeof text - 1 || mkdir(dir, 0700) != 0) return 0;
    char config[8400];
    snprintf(config, sizeof config, "{\"intent_id2label\": {\"0\": \"a\", \"1\": \"b\", \"2\": \"c\", \"3\": \"d\"}, %s",
             brace + 1);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (test_write_file(path, config, strlen(config)) != 0) return 0;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    return test_copy_file("tests/fixtures/train/dialogue/model.safetensors", path) == 0;
}

/* Every head on the GPU against the same model's heads on the CPU (f32),
 * on a ragged batch with masked keys and a second segment: the pooled
 * output, NSP, the sequence classifier (3 labels, and a cross-encoder's
 * one), the token classifier, QA, a joint model's intents with its slots,
 * the sentence pooling (every mode, prompts, masked keys, one token),
 * each within 1e-4 of the CPU's. Only what was asked for comes back from
 * the GPU: the bytes copied are exactly the requested outputs' (the
 * hidden states among them only when asked for, or for the MLM head, which
 * runs on the CPU), and an output not asked for is NULL. */
static const float *sentence_of(const bert_context *ctx, int seq) { return bert_output_sentence(ctx, seq, NULL); }

TEST(forward_cuda_emulated_heads_equal_the_cpus) {
    char joint[512];
    snprintf(joint, sizeof joint, "%s/gpu-heads-joint", test_tmpdir());
    if (!write_joint_model(joint)) {
        test_fail(__FILE__, __LINE__, "cannot write %s", joint);
        return;
    }
    const struct {
        const char *dir;
        int vocab;
        unsigned outputs;
    } cases[] = {
        {FIXTURES "/tiny-pretraining", 99, BERT_OUTPUT_POOLED | BERT_OUTPUT_NSP},
        {FIXTURES "/tiny-pretraining", 99, BERT_OUTPUT_NSP},
        {FIXTURES "/tiny-pretraining", 99, BERT_OUTPUT_MLM},
        {FIXTURES "/bf16-mlm-gamma", 120, BERT_OUTPUT_MLM | BERT_OUTPUT_HIDDEN}, /* an untied decoder, ReLU */
        {FIXTURES "/classifier-4l", 200, BERT_OUTPUT_CLASSIFIER},
        {FIXTURES "/classifier-4l", 200, BERT_OUTPUT_HIDDEN | BERT_OUTPUT_POOLED | BERT_OUTPUT_CLASSIFIER},
        {"tests/fixtures/tasks/cross-encoder", 242, BERT_OUTPUT_CLASSIFIER},
        {"tests/fixtures/tasks/ner", 242, BERT_OUTPUT_TOKEN_CLASSIFIER},
        {"tests/fixtures/tasks/qa", 242, BERT_OUTPUT_QA},
        {joint, 60, BERT_OUTPUT_TOKEN_CLASSIFIER | BERT_OUTPUT_INTENT},
        {FIXTURES "/tiny-pretraining", 99, BERT_OUTPUT_SENTENCE},
        {FIXTURES "/classifier-4l", 200, BERT_OUTPUT_SENTENCE | BERT_OUTPUT_CLASSIFIER},
    };
    enum { S = 6, T = 32 };
    /* the sentence pooling: every mode somewhere, prompts, masked keys (sequence 3), one token (4) */
    static const bert_pooling_spec spec[S] = {{0x3f, 0},
                                              {1u << BERT_POOL_MEAN, 0},
                                              {1u << BERT_POOL_CLS | 1u << BERT_POOL_MAX, 2},
                                              {1u << BERT_POOL_WEIGHTED_MEAN | 1u << BERT_POOL_LAST_TOKEN, 1},
                                              {1u << BERT_POOL_MEAN_SQRT_LEN | 1u << BERT_POOL_MAX, 0},
                                              {1u << BERT_POOL_MAX | 1u << BERT_POOL_MEAN, 3}};
    size_t rows = 0;
    for (int s = 0; s < S; s++) rows += (size_t)__builtin_popcount(spec[s].modes);
    static const int len[S] = {17, 32, 5, 23, 1, 9};
    int32_t tok[S * T], types[S * T], mask[S * T];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        bert_sequence b[S];
        size_t N = 0;
        for (int s = 0; s < S; s++) {
            for (int t = 0; t < T; t++) {
                tok[s * T + t] = 1 + (s * 31 + t * 7) % (cases[k].vocab - 1);
                types[s * T + t] = s == 1 && t >= 16;
                mask[s * T + t] = !(s == 3 && t >= 19);
            }
            b[s] = (bert_sequence){.input_ids = tok + s * T, .token_type_ids = types + s * T,
                                   .attention_mask = mask + s * T, .n_tokens = len[s]};
            N += (size_t)len[s];
        }
        unsigned want = cases[k].outputs;
        bert_model *m[2] = {NULL, NULL};
        bert_context *ctx[2] = {NULL, NULL};
        size_t copied = 0;
        for (int dev = 0; dev < 2; dev++) {
            bert_error err;
            fixture f = {cases[k].dir, 0, cases[k].vocab};
            CHECK_OK(load(&f, dev ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU, BERT_COMPUTE_F32, &m[dev], &err), err);
            if (m[dev]) CHECK_OK(bert_context_create(m[dev], NULL, &ctx[dev], &err), err);
            if (ctx[dev]) CHECK_OK(bert_context_set_pooling(ctx[dev], spec, S, &err), err);
            size_t before = bert_emu_copied_to_host();
            if (ctx[dev]) CHECK_OK(bert_forward(ctx[dev], b, S, want, &err), err);
            copied = bert_emu_copied_to_host() - before;
        }
        if (ctx[0] && ctx[1]) {
            const bert_config *c = bert_model_config(m[0]);
            size_t C = (size_t)c->hidden_size, L = (size_t)bert_model_num_labels(m[0]), I = (size_t)c->num_intents;
            size_t V = (size_t)c->vocab_size;
            size_t expect = ((want & BERT_OUTPUT_HIDDEN) ? N * C : 0) + ((want & BERT_OUTPUT_MLM) ? N * V : 0) +
                            ((want & BERT_OUTPUT_POOLED) ? S * C : 0) + ((want & BERT_OUTPUT_NSP) ? S * 2 : 0) +
                            ((want & BERT_OUTPUT_CLASSIFIER) ? S * L : 0) + ((want & BERT_OUTPUT_INTENT) ? S * I : 0) +
                            ((want & BERT_OUTPUT_TOKEN_CLASSIFIER) ? N * L : 0) + ((want & BERT_OUTPUT_QA) ? N * 2 : 0) +
                            ((want & BERT_OUTPUT_SENTENCE) ? rows * C : 0);
            if (copied != expect * sizeof(float))
                test_fail(__FILE__, __LINE__, "case %zu: %zu bytes back from the GPU, want %zu", k, copied,
                          expect * sizeof(float));
            double worst = 0;
            for (int s = 0; s < S; s++) {
                size_t n = (size_t)len[s];
                const struct {
                    unsigned flag;
                    const float *(*get)(const bert_context *, int);
                    size_t count;
                } outs[] = {
                    {BERT_OUTPUT_HIDDEN, bert_output_hidden, n * C},
                    {BERT_OUTPUT_POOLED, bert_output_pooled, C},
                    {BERT_OUTPUT_NSP, bert_output_nsp_logits, 2},
                    {BERT_OUTPUT_CLASSIFIER, bert_output_classifier_logits, L},
                    {BERT_OUTPUT_INTENT, bert_output_intent_logits, I},
                    {BERT_OUTPUT_TOKEN_CLASSIFIER, bert_output_token_classifier_logits, n * L},
                    {BERT_OUTPUT_QA, bert_output_qa_logits, n * 2},
                    {BERT_OUTPUT_MLM, bert_output_mlm_logits, n * (size_t)c->vocab_size},
                    {BERT_OUTPUT_SENTENCE, sentence_of, (size_t)__builtin_popcount(spec[s].modes) * C},
                };
                for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++) {
                    const float *cpu = outs[o].get(ctx[0], s), *gpu = outs[o].get(ctx[1], s);
                    if (!(want & outs[o].flag)) {
                        if (gpu) test_fail(__FILE__, __LINE__, "case %zu: output 0x%x not asked for", k, outs[o].flag);
                        continue;
                    }
                    if (!cpu || !gpu) {
                        test_fail(__FILE__, __LINE__, "case %zu: output 0x%x missing", k, outs[o].flag);
                        continue;
                    }
                    worst = fmax(worst, test_max_abs_diff(cpu, gpu, outs[o].count));
                }
            }
            printf("  %s, outputs 0x%x: GPU vs CPU max |diff| %.3g, %zu bytes back\n", cases[k].dir, want, worst,
                   copied);
            CHECK(worst <= 1e-4);
            if (bert_model_heads(m[0]) & BERT_HEAD_MLM) {
                /* bert_mlm_logits_at after any pass: the GPU's head on the states left there, only
                 * the logits back (the sequence with masked keys; its positions out of order and
                 * over again, more rows than the batch has tokens: the GPU takes them in rounds) */
                enum { NP = 150 };
                int32_t pos[NP];
                for (int i = 0; i < NP; i++) pos[i] = (i * 7 + len[3] - 1) % len[3];
                float *z[2] = {malloc(sizeof(float) * NP * V), malloc(sizeof(float) * NP * V)};
                for (int dev = 0; dev < 2; dev++) {
                    bert_error err;
                    size_t before = bert_emu_copied_to_host();
                    CHECK_OK(bert_mlm_logits_at(ctx[dev], 3, pos, NP, z[dev], &err), err);
                    copied = bert_emu_copied_to_host() - before;
                }
                if (copied != NP * V * sizeof(float))
                    test_fail(__FILE__, __LINE__, "case %zu: %zu bytes back for %d rows of logits", k, copied, NP);
                double d = test_max_abs_diff(z[0], z[1], NP * V);
                printf("    bert_mlm_logits_at, %d rows: GPU vs CPU max |diff| %.3g\n", NP, d);
                CHECK(d <= 1e-4);
                CHECK(test_max_abs_diff(z[1] + V, z[1] + (1 + len[3]) * V, V) == 0.0); /* a repeated position */
                free(z[0]), free(z[1]);
            }
        }
        for (int dev = 0; dev < 2; dev++) bert_context_free(ctx[dev]), bert_model_free(m[dev]);
    }
    CHECK(bert_emu_live_allocations() == 0);
}

/* fill-mask and SPLADE's sparse embeddings through a GPU pipeline: the
 * MLM head on the GPU at the rows they need, on the states the pass left
 * there (no hidden states back: only the logits, V floats a [MASK], V a
 * token for sparse); the same predictions and sparse vectors as the CPU's
 * (scores and values within 1e-4). */
TEST(forward_cuda_emulated_mlm_tasks) {
    const char *texts[3] = {"the cat sat on the [MASK].", "paris is the [MASK] of [MASK].", "[MASK]"};
    bert_pipeline *p[2] = {NULL, NULL};
    bert_fill_mask_result fm[2][3];
    bert_sparse_vector sv[2][3];
    size_t back[2] = {0, 0}, back_sparse = 0;
    int ok[2] = {0, 0}, V = 0, tokens = 0;
    for (int dev = 0; dev < 2; dev++) {
        bert_error err;
        bert_pipeline_params pp = bert_pipeline_default_params();
        pp.device = dev ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU;
        CHECK_OK(bert_pipeline_open("tests/fixtures/tasks/mlm", &pp, &p[dev], &err), err);
        if (!p[dev]) break;
        V = bert_model_config(bert_pipeline_model(p[dev]))->vocab_size;
        size_t before = bert_emu_copied_to_host();
        CHECK_OK(bert_fill_mask(p[dev], texts, 3, 5, NULL, 0, fm[dev], &err), err);
        back[dev] = bert_emu_copied_to_host() - before;
        before = bert_emu_copied_to_host();
        CHECK_OK(bert_embed_sparse(p[dev], texts, 3, sv[dev], &err), err);
        back_sparse = bert_emu_copied_to_host() - before;
        ok[dev] = 1;
    }
    if (ok[0] && ok[1]) {
        bert_encodings e;
        bert_error err;
        bert_encode_params ep = bert_encode_default_params();
        for (int i = 0; i < 3; i++) {
            CHECK_OK(bert_tokenize(bert_pipeline_tokenizer(p[0]), texts[i], -1, NULL, 0, &ep, &e, &err), err);
            tokens += e.encodings[0].n_tokens;
            bert_encodings_free(&e);
        }
        if (back[1] != 4 * (size_t)V * sizeof(float)) /* four masks */
            test_fail(__FILE__, __LINE__, "fill-mask: %zu bytes back from the GPU, want %zu", back[1], 4 * (size_t)V * 4);
        if (back_sparse != (size_t)tokens * V * sizeof(float))
            test_fail(__FILE__, __LINE__, "sparse: %zu bytes back from the GPU, want %zu", back_sparse,
                      (size_t)tokens * V * 4);
        double worst = 0;
        for (int i = 0; i < 3; i++) {
            CHECK(fm[0][i].n_masks == fm[1][i].n_masks);
            for (int j = 0; j < fm[0][i].n_masks * 5 && fm[0][i].n_masks == fm[1][i].n_masks; j++) {
                CHECK(fm[0][i].predictions[j].token == fm[1][i].predictions[j].token);
                worst = fmax(worst, fabs(fm[0][i].predictions[j].score - fm[1][i].predictions[j].score));
            }
            CHECK(sv[0][i].n == sv[1][i].n && sv[0][i].n > 0);
            for (int j = 0; j < sv[0][i].n && sv[0][i].n == sv[1][i].n; j++) {
                CHECK(sv[0][i].index[j] == sv[1][i].index[j]);
                worst = fmax(worst, fabs(sv[0][i].value[j] - sv[1][i].value[j]));
            }
        }
        printf("  %d tokens, 4 masks: fill-mask scores and sparse values GPU vs CPU max |diff| %.3g\n", tokens, worst);
        CHECK(worst <= 1e-4);
    }
    for (int dev = 0; dev < 2; dev++) {
        if (ok[dev]) bert_fill_mask_result_free(fm[dev], 3), bert_sparse_vectors_free(sv[dev], 3);
        bert_pipeline_free(p[dev]);
    }
    CHECK(bert_emu_live_allocations() == 0);
}

/* --profile with a GPU model: every layer's products, attention and
 * LayerNorms timed by the GPU's events, the embeddings too (bf16: the
 * conversions as well), the kinds summing to the total, the heads (on
 * the GPU) too; the same hidden states as an unprofiled context. */
TEST(forward_cuda_emulated_profile) {
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        bert_error err;
        bert_model *m = NULL;
        bert_context *plain = NULL, *ctx = NULL;
        CHECK_OK(load(&BIG, BERT_DEVICE_CUDA, bf16 ? BERT_COMPUTE_BF16 : BERT_COMPUTE_F32, &m, &err), err);
        if (!m) return;
        bert_context_params cp = bert_context_default_params();
        CHECK_OK(bert_context_create(m, &cp, &plain, &err), err);
        cp.profile = 1;
        CHECK_OK(bert_context_create(m, &cp, &ctx, &err), err);
        size_t n = batch_tokens(N_SEQS) * (size_t)BIG.C;
        float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
        CHECK_OK(run(&BIG, plain, N_SEQS, a, &err), err);
        for (int r = 0; r < 2; r++) CHECK_OK(run(&BIG, ctx, N_SEQS, b, &err), err);
        CHECK(test_max_abs_diff(a, b, n) == 0);
        bert_profile p;
        CHECK_OK(bert_context_profile(ctx, &p, &err), err);
        CHECK(p.calls == 2 && p.n_layers == 4 && p.total_s > 0);
        double sum = 0;
        for (int k = 0; k < BERT_OP_COUNT; k++) {
            CHECK(p.op_s[k] >= 0);
            sum += p.op_s[k];
        }
        CHECK(fabs(sum - p.total_s) <= 1e-9 * p.total_s + 1e-12);
        for (int l = 0; l < 4; l++) {
            const double *row = p.layer_op_s + (size_t)l * BERT_OP_COUNT;
            CHECK(row[BERT_OP_PRODUCTS] > 0 && row[BERT_OP_ATTENTION] > 0 && row[BERT_OP_LAYERNORM] > 0);
            CHECK((row[BERT_OP_CONVERT] > 0) == bf16);
            CHECK(row[BERT_OP_EMBEDDINGS] == 0 && row[BERT_OP_HEADS] == 0 && row[BERT_OP_OTHER] == 0);
        }
        CHECK(p.op_s[BERT_OP_EMBEDDINGS] > 0 && p.op_s[BERT_OP_HEADS] > 0);
        char text[4096];
        CHECK(bert_profile_format(&p, 0, text, sizeof text) > 0 && strstr(text, "attention"));
        if (!bf16) printf("%s", text);
        free(a), free(b);
        bert_context_free(plain);
        bert_context_free(ctx);
        bert_model_free(m);
    }
    CHECK(bert_emu_live_allocations() == 0);
}

/* One GPU training round in compute type c for train_cuda_emulated_device_memory_failures:
 * cudaMalloc number fail_at (0: none) fails, and the count - 1 after it; a trainer on the single-label
 * fixture (dropout off), then micro-batches of 3 and 6 sequences (the
 * buffers grow), each (and the opening) retried once after a refusal, which must be
 * BERT_ERR_NOMEM naming CUDA (*refused counts them). Returns the
 * gradients (malloc'd; NULL when the round failed) and leaves no device
 * memory; *pending: the failure was never reached. */
static float *train_round(bert_compute_dtype c, int fail_at, int count, size_t *n, int *refused, int *pending) {
    enum { B = 6, T = 32 };
    static const int len[B] = {9, 32, 20, 32, 1, 17};
    int32_t tok[B * T];
    bert_sequence s[B];
    float labels[B], *out = NULL;
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < len[b]; k++) tok[b * T + k] = 2 + (b * 13 + k * 5) % 57;
        s[b] = (bert_sequence){.input_ids = tok + b * T, .n_tokens = len[b]};
        labels[b] = (float)(b % 3);
    }
    bert_train_params p = bert_train_default_params();
    p.num_labels = 3;
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = 0;
    p.device = BERT_DEVICE_CUDA;
    p.compute = c;
    bert_error err;
    bert_trainer *t = NULL;
    bert_emu_fail_mallocs(fail_at, count);
    bert_status rc = bert_trainer_open("tests/fixtures/train/single-label", &p, &t, NULL, &err);
    if (rc != BERT_OK) { /* refused: opened again */
        CHECK_ERR(rc, err, BERT_ERR_NOMEM, "CUDA");
        CHECK(t == NULL);
        ++*refused;
        bert_emu_fail_malloc(0);
        CHECK_OK(rc = bert_trainer_open("tests/fixtures/train/single-label", &p, &t, NULL, &err), err);
    }
    for (int nb = 3; t && nb <= B; nb += 3) {
        double loss;
        if ((rc = bert_trainer_backward(t, s, nb, labels, &loss, &err)) == BERT_OK) continue;
        CHECK_ERR(rc, err, BERT_ERR_NOMEM, "CUDA");
        ++*refused;
        bert_emu_fail_malloc(0);
        CHECK_OK(rc = bert_trainer_backward(t, s, nb, labels, &loss, &err), err);
        if (rc != BERT_OK) break;
    }
    if (t && rc == BERT_OK) {
        const float *g = bert_trainer_gradients(t, n);
        if ((out = malloc(sizeof(float) * *n))) memcpy(out, g, sizeof(float) * *n);
    }
    *pending = bert_emu_malloc_failure_pending();
    bert_emu_fail_malloc(0);
    bert_trainer_free(t);
    CHECK(bert_emu_live_allocations() == 0);
    return out;
}

/* Training on the GPU with each cudaMalloc (or cudaMallocHost) failing in turn (train_round),
 * alone and with the next after it: the call that met it is refused with
 * BERT_ERR_NOMEM naming CUDA, or goes on where only a buffer's spare room
 * (a quarter more than asked) failed; a refused micro-batch retried, or
 * the trainer opened again, gives the gradients of a run that met no
 * failure, bit for bit (dropout off: no draw is lost to a failed pass);
 * no device memory is left. In f32 and in bf16 (its weights' bf16 copy
 * and the rounded operands' buffer besides). */
static void device_memory_failures(bert_compute_dtype c) {
    size_t n = 0, m = 0;
    int refused = 0, pending = 0, k = 1;
    float *want = train_round(c, 0, 1, &n, &refused, &pending);
    CHECK(want && refused == 0);
    for (int count = 1; want && count <= 2; count++) {
        int before = refused;
        for (k = 1; k < 200; k++) {
            float *got = train_round(c, k, count, &m, &refused, &pending);
            if (pending) { /* past the last allocation: a round with no failure */
                free(got);
                break;
            }
            if (!got || m != n || test_max_abs_diff(want, got, n) != 0)
                test_fail(__FILE__, __LINE__, "allocation %d failing: the gradients differ", k);
            free(got);
        }
        printf("  %s, %d allocation(s) at a time: %d allocations met, %d calls refused with NOMEM\n",
               c == BERT_COMPUTE_BF16 ? "bf16" : "f32", count, k - 1, refused - before);
        /* alone, only the fixed device blocks (the weights, a pass's gradients, their sums,
         * the two moments, the norm's parts, in bf16 the weights' bf16 copy: no spare room)
         * refuse (the page-locked stage falls back to pageable memory); two at a time, all */
        int fixed = c == BERT_COMPUTE_BF16 ? 7 : 6;
        CHECK(k < 200 && k > 8 && (count == 1 ? refused - before == fixed : refused - before == k - 1));
    }
    free(want);
}

TEST(train_cuda_emulated_device_memory_failures) {
    device_memory_failures(BERT_COMPUTE_F32);
    device_memory_failures(BERT_COMPUTE_BF16);
}

/* A copy failing inside a GPU trainer's optimizer step, each in turn: one
 * before the GPU's AdamW (the norm's parts coming back) fails the step and
 * changes nothing, so the step taken again gives the weights of a run with
 * no failure bit for bit; one after it (the new weights coming back) leaves
 * the GPU's step half done, and from then on the trainer refuses passes,
 * steps and checkpoints with state (BERT_ERR_STATE). With the host's layer
 * weights page-locked (pin), the new weights come straight into them, one
 * copy a tensor, so a failure there leaves them part new and they are
 * neither saved nor evaluated; where the system refuses to lock them
 * (!pin), they come through the stage in one copy, and the trainer still
 * saves and evaluates its weights, those before the step (a fresh
 * trainer's, same seed). */
static void copy_failures_in_a_step(int pin) {
    enum { B = 4, T = 16 };
    int32_t tok[B * T];
    bert_sequence s[B];
    float labels[B];
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < T; k++) tok[b * T + k] = 2 + (b * 11 + k * 3) % 57;
        s[b] = (bert_sequence){.input_ids = tok + b * T, .n_tokens = T - 3 * b};
        labels[b] = (float)(b % 3);
    }
    bert_train_params p = bert_train_default_params();
    p.num_labels = 3;
    p.lr = 1e-3;
    p.device = BERT_DEVICE_CUDA;
    const char *dir = "tests/fixtures/train/single-label";
    bert_error err;
    bert_trainer *want = NULL, *start = NULL;
    double loss;
    CHECK_OK(bert_trainer_open(dir, &p, &start, NULL, &err), err);
    CHECK_OK(bert_trainer_open(dir, &p, &want, NULL, &err), err);
    if (!want || !start) return;
    CHECK_OK(bert_trainer_backward(want, s, B, labels, &loss, &err), err);
    CHECK_OK(bert_trainer_apply(want, &err), err);
    int retried = 0, broken = 0, k;
    for (k = 1; k < 64; k++) {
        bert_trainer *t = NULL;
        bert_emu_fail_pin(!pin);
        CHECK_OK(bert_trainer_open(dir, &p, &t, NULL, &err), err);
        bert_emu_fail_pin(0);
        if (!t) break;
        CHECK(t->gpu_pinned == pin);
        CHECK_OK(bert_trainer_backward(t, s, B, labels, &loss, &err), err);
        bert_emu_fail_copy(k);
        bert_status rc = bert_trainer_apply(t, &err);
        int pending = bert_emu_copy_failure_pending();
        bert_emu_fail_copy(0);
        if (pending) { /* past the step's last copy */
            CHECK_OK(rc, err);
            CHECK(memcmp(t->params, want->params, t->n_params * sizeof(float)) == 0);
            bert_trainer_free(t);
            break;
        }
        CHECK_ERR(rc, err, BERT_ERR_IO, "CUDA");
        char ckpt[512];
        snprintf(ckpt, sizeof ckpt, "%s/copy-fail-%d-%d", test_tmpdir(), pin, k);
        if (!t->gpu_broken) { /* nothing changed: the step again */
            retried++;
            CHECK(bert_trainer_steps(t) == 0);
            CHECK_OK(bert_trainer_apply(t, &err), err);
            CHECK(memcmp(t->params, want->params, t->n_params * sizeof(float)) == 0);
            CHECK(bert_trainer_grad_norm(t) == bert_trainer_grad_norm(want));
        } else {
            broken++;
            CHECK_ERR(bert_trainer_apply(t, &err), err, BERT_ERR_STATE, "half done");
            CHECK_ERR(bert_trainer_backward(t, s, B, labels, &loss, &err), err, BERT_ERR_STATE, "half done");
            CHECK_ERR(bert_trainer_save(t, ckpt, 1, NULL, &err), err, BERT_ERR_STATE, "resume from the last checkpoint");
            if (pin) {
                CHECK(t->gpu_torn);
                CHECK_ERR(bert_trainer_save(t, ckpt, 0, NULL, &err), err, BERT_ERR_STATE, "resume from the last checkpoint");
                CHECK_ERR(bert_trainer_save_head(t, 0, ckpt, &err), err, BERT_ERR_STATE, "resume from the last checkpoint");
                CHECK_ERR(bert_trainer_eval(t, s, B, labels, &loss, NULL, &err), err, BERT_ERR_STATE, "half done");
            } else {
                CHECK(!t->gpu_torn);
                CHECK(memcmp(t->params, start->params, t->n_params * sizeof(float)) == 0);
                CHECK_OK(bert_trainer_save(t, ckpt, 0, NULL, &err), err);
                CHECK_OK(bert_trainer_eval(t, s, B, labels, &loss, NULL, &err), err);
            }
            CHECK(bert_trainer_steps(t) == 0);
        }
        bert_trainer_free(t);
    }
    /* one copy (the norm's parts) before the AdamW step; then the weights: 2 layers x 16 tensors, the
     * embeddings' 5 and the pooler's and classifier's 4 (a sequence task: they train on the GPU), or the stage */
    printf("  %s: %d copies in a step: %d failures retried, %d left the trainer refusing\n",
           pin ? "page-locked weights" : "through the stage", k - 1, retried, broken);
    CHECK(want->gpu_emb);
    CHECK(want->gpu_heads == 3);
    CHECK(retried == 1 && broken == (pin ? 2 * 16 + 5 + 4 : 1) && k - 1 == retried + broken);
    bert_trainer_free(want);
    bert_trainer_free(start);
    CHECK(bert_emu_live_allocations() == 0);
}

TEST(train_cuda_emulated_copy_failures_in_a_step) {
    copy_failures_in_a_step(1);
    copy_failures_in_a_step(0);
}

/* The GPU's dropout masks are the trainer's RNG stream as the CPU draws
 * them: a GPU training context of 2 layers (hidden 8, 2 heads), a ragged
 * batch of 5, 1 and 7 tokens (150 attention values a layer, 104 a hidden
 * mask: not whole runs of the kernel's 64), rates 0.3 and 0.2. The bytes
 * it used equal train_draw_mask's from the same PCG32 state, bit for bit,
 * for both dropouts on and for each one alone (the other's draws not
 * taken); none with both off; as a data-parallel part (the whole batch's
 * draws before and after its own skipped, train_draw_mask_part), with
 * both on and with the hidden one alone. A forward whose rates and scales disagree is
 * refused, and leaves no masks to read. */
TEST(train_cuda_emulated_masks_are_the_cpus_stream) {
    enum { C = 8, NH = 2, I = 16, L = 2, S = 3, N = 13 };
    const int offset[S + 1] = {0, 5, 6, 13};
    const size_t poff[S + 1] = {0, 25, 26, 75}, tt = 75;
    float keymask[N], x0[N * C], x_out[N * C];
    bert_cuda_train_shape sh = {C, NH, I, L, BERT_ACT_GELU, 1e-12f, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    bert_cuda_train *g = NULL;
    bert_error err;
    CHECK_OK(bert_cuda_train_create(&sh, &g, &err), err);
    if (!g) return;
    size_t per = 4 * C * C + 2 * C * I + 9 * C + I; /* one layer's floats */
    float *w = malloc(sizeof(float) * per * L);
    bert_cuda_layer_host h[L];
    for (size_t i = 0; w && i < per * L; i++) w[i] = (float)((i * 37) % 19) / 19.0f - 0.5f;
    for (int l = 0; w && l < L; l++) {
        float *q = w + per * l;
        float **f[16] = {&h[l].q_w, &h[l].q_b, &h[l].k_w, &h[l].k_b, &h[l].v_w, &h[l].v_b, &h[l].o_w, &h[l].o_b,
                         &h[l].ln1_w, &h[l].ln1_b, &h[l].i_w, &h[l].i_b, &h[l].o2_w, &h[l].o2_b, &h[l].ln2_w, &h[l].ln2_b};
        const size_t n[16] = {C * C, C, C * C, C, C * C, C, C * C, C, C, C, I * C, I, C * I, C, C, C};
        for (int k = 0; k < 16; k++) *f[k] = q, q += n[k];
    }
    CHECK(w != NULL);
    bert_cuda_host hw = {h, {0}, {0}};
    if (w) CHECK_OK(bert_cuda_train_upload(g, BERT_CUDA_WEIGHTS, &hw, &err), err);
    for (int i = 0; i < N; i++) keymask[i] = 1.0f;
    for (int i = 0; i < N * C; i++) x0[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (int v = 0; w && v <= 5; v++) { /* on: bit 0 attention dropout, bit 1 hidden; v 4, 5: a part */
        int on = v < 4 ? v : v == 4 ? 3 : 2;
        double pa = on & 1 ? 0.3 : 0.0, ph = on & 2 ? 0.2 : 0.0;
        /* a data-parallel part: 26 probabilities and 3 tokens of the batch before it, 50 and 9 after */
        uint64_t ab = v >= 4 ? 26 : 0, aa = v >= 4 ? 50 : 0, tb = v >= 4 ? 3 : 0, ta = v >= 4 ? 9 : 0;
        bert_rng r;
        bert_rng_seed(&r, 1234 + (uint64_t)v, 54);
        bert_cuda_train_batch b = {S,         NULL,      offset,    poff,      keymask,
                                   pa > 0 ? (float)(1.0 / (1.0 - pa)) : 0.0f,
                                   ph > 0 ? (float)(1.0 / (1.0 - ph)) : 0.0f,
                                   (float)pa, (float)ph, r.state,   r.inc, ab, aa, tb, ta};
        CHECK_OK(bert_cuda_train_forward(g, &b, x0, x_out, &err), err);
        size_t per_layer = (pa > 0 ? NH * tt : 0) + (ph > 0 ? 2 * N * C : 0), n = per_layer * L;
        if (n == 0) { /* both off: nothing drawn */
            CHECK_OK(bert_cuda_train_masks(g, NULL, 0, &err), err);
            continue;
        }
        uint8_t *got = malloc(n), *want = malloc(n);
        float *m = malloc(sizeof(float) * per_layer);
        CHECK(got && want && m);
        if (got && want && m) {
            CHECK_OK(bert_cuda_train_masks(g, got, n, &err), err);
            CHECK_ERR(bert_cuda_train_masks(g, got, n - 1, &err), err, BERT_ERR_INPUT, "drew");
            for (int l = 0; l < L; l++) { /* as train_encoder_forward draws a layer's */
                size_t at = 0;
                if (pa > 0) train_draw_mask_part(&r, m, NH, tt, pa, ab, aa), at += NH * tt;
                if (ph > 0)
                    train_draw_mask_part(&r, m + at, 1, N * C, ph, tb * C, ta * C),
                        train_draw_mask_part(&r, m + at + N * C, 1, N * C, ph, tb * C, ta * C);
                for (size_t i = 0; i < per_layer; i++) want[l * per_layer + i] = m[i] != 0.0f;
            }
            size_t kept = 0;
            for (size_t i = 0; i < n; i++) kept += got[i];
            CHECK(memcmp(got, want, n) == 0);
            CHECK(kept > n / 2 && kept < n); /* some dropped, most kept */
        }
        free(got), free(want), free(m);
    }
    /* a refused forward leaves no masks to read; rates and scales must agree */
    bert_cuda_train_batch bad = {S, NULL, offset, poff, keymask, 0.0f, 1.25f, 0.0f, 0.0f, 1, 1, 0, 0, 0, 0};
    CHECK_ERR(bert_cuda_train_forward(g, &bad, x0, x_out, &err), err, BERT_ERR_INPUT, "disagree");
    uint8_t one;
    CHECK_ERR(bert_cuda_train_masks(g, &one, 1, &err), err, BERT_ERR_STATE, "no forward");
    free(w);
    bert_cuda_train_free(g);
    CHECK(bert_emu_live_allocations() == 0);
}

/* The small model and batch of the embeddings' and heads' tests (their
 * enum's C, NH, I, V, PT, TV, S and N): hidden 8, 2 heads, intermediate 16,
 * one layer, tables of 20, 6 and 2 rows, the heads `head` (3 and 5: 25
 * classes, more than the vocabulary's 20 rows; 4 and 5: 30 tags, more than
 * the layers' widest row of 24); two sequences of 5 and 3 tokens. */
static const int small_offset[3] = {0, 5, 8};
static const size_t small_poff[3] = {0, 25, 34};
enum { SMALL_CLASSES = 25, SMALL_TAGS = 30 };
static bert_cuda_train_shape small_shape(int head) {
    int pooled = head == 3 || head == 5, tokens = head == 4 || head == 5;
    return (bert_cuda_train_shape){8,    2, 16, 1, BERT_ACT_GELU, 1e-12f, 0, 0, 20, 6, 2, 0, head, pooled ? SMALL_CLASSES : 0,
                                   tokens ? SMALL_TAGS : 0};
}

/* The host tables of one layer, the embeddings (tables of V, PT and TV
 * rows) and, with head 2, the pre-training heads (MLM + NSP), laid out
 * from q one after another into *h and *hw; returns the floats they take. */
static size_t lay_out_tables(float *q, size_t C, size_t I, size_t V, size_t PT, size_t TV, int head, bert_cuda_layer_host *h,
                             bert_cuda_host *hw) {
    float *at = q, **f[16] = {&h->q_w, &h->q_b, &h->k_w, &h->k_b, &h->v_w, &h->v_b, &h->o_w, &h->o_b,
                              &h->ln1_w, &h->ln1_b, &h->i_w, &h->i_b, &h->o2_w, &h->o2_b, &h->ln2_w, &h->ln2_b};
    const size_t sz[16] = {C * C, C, C * C, C, C * C, C, C * C, C, C, C, I * C, I, C * I, C, C, C};
    for (int k = 0; k < 16; k++) *f[k] = at, at += sz[k];
    *hw = (bert_cuda_host){h, {at, at + V * C, at + (V + PT) * C, at + (V + PT + TV) * C, at + (V + PT + TV + 1) * C}, {0}};
    at += (V + PT + TV + 2) * C;
    float **hf[11] = {&hw->head.transform_w, &hw->head.transform_b, &hw->head.ln_w,    &hw->head.ln_b,
                      &hw->head.bias,        &hw->head.pooler_w,    &hw->head.pooler_b, &hw->head.nsp_w,
                      &hw->head.nsp_b,       &hw->head.token_w,     &hw->head.token_b};
    size_t K = head == 2 ? 2 : SMALL_CLASSES, T = SMALL_TAGS, mlm = head == 2, pool = head == 2 || head == 3 || head == 5;
    size_t tok = head == 4 || head == 5;
    const size_t hz[11] = {mlm * C * C, mlm * C, mlm * C, mlm * C, mlm * V, pool * C * C, pool * C, pool * K * C, pool * K,
                           tok * T * C, tok * T};
    for (int k = 0; head >= 2 && k < 11; k++)
        if (hz[k]) *hf[k] = at, at += hz[k];
    return (size_t)(at - q);
}

/* small_shape's batch without dropout: two sequences of 5 and 3 tokens
 * (their ids written into tok), every key attended (keymask). */
static bert_cuda_train_batch small_batch(int32_t tok[8], bert_sequence sq[2], float keymask[8]) {
    static const int32_t small_ids[8] = {2, 7, 0, 19, 3, 2, 5, 0};
    memcpy(tok, small_ids, sizeof small_ids);
    sq[0] = (bert_sequence){.input_ids = tok, .n_tokens = 5}, sq[1] = (bert_sequence){.input_ids = tok + 5, .n_tokens = 3};
    for (int i = 0; i < 8; i++) keymask[i] = 1.0f;
    return (bert_cuda_train_batch){2, sq, small_offset, small_poff, keymask, 0.0f, 0.0f, 0.0f, 0.0f, 1, 1, 0, 0, 0, 0};
}

/* A context of small_shape(head) (g), its weight block of n floats
 * (fixed values, uploaded) and a zeroed gradient block of the same
 * layout, laid out by lay_out_tables into h[2] and hw[2] (the weights',
 * the gradients'), and small_batch's batch b. */
typedef struct {
    bert_cuda_train *g;
    size_t n;
    float *w, *gr, keymask[8];
    bert_cuda_layer_host h[2];
    bert_cuda_host hw[2];
    int32_t tok[8];
    bert_sequence sq[2];
    bert_cuda_train_batch b;
} small_ctx;

/* Opens *c for `head` (small_ctx); 0, a check failed and nothing held, when it cannot. */
static int small_open(small_ctx *c, int head) {
    enum { C = 8, I = 16, V = 20, PT = 6, TV = 2, K = SMALL_CLASSES, T = SMALL_TAGS };
    bert_error err;
    bert_cuda_train_shape sh = small_shape(head);
    int pool = head == 3 || head == 5, tok = head == 4 || head == 5;
    memset(c, 0, sizeof *c);
    c->n = 4 * C * C + 2 * C * I + 9 * C + I + (V + PT + TV + 2) * C + (head == 2 ? 2 * C * C + 6 * C + V + 2 : 0) +
           (pool ? C * C + C + K * C + K : 0) + (tok ? T * C + T : 0);
    CHECK_OK(bert_cuda_train_create(&sh, &c->g, &err), err);
    c->w = malloc(sizeof(float) * c->n), c->gr = calloc(c->n, sizeof(float));
    CHECK(c->w != NULL && c->gr != NULL);
    if (!c->g || !c->w || !c->gr) {
        free(c->w), free(c->gr);
        bert_cuda_train_free(c->g);
        return 0;
    }
    for (size_t i = 0; i < c->n; i++) c->w[i] = (float)((i * 37) % 19) / 19.0f - 0.5f;
    for (int b = 0; b < 2; b++) CHECK(lay_out_tables(b ? c->gr : c->w, C, I, V, PT, TV, head, &c->h[b], &c->hw[b]) == c->n);
    CHECK_OK(bert_cuda_train_upload(c->g, BERT_CUDA_WEIGHTS, &c->hw[0], &err), err);
    c->b = small_batch(c->tok, c->sq, c->keymask);
    return 1;
}

/* Frees what small_open holds; then nothing is allocated on the emulated GPU. */
static void small_close(small_ctx *c) {
    free(c->w), free(c->gr);
    bert_cuda_train_free(c->g);
    CHECK(bert_emu_live_allocations() == 0);
}

/* A context that trains the embeddings too: its forward draws their
 * dropout mask first, then the layer's, from the caller's stream as
 * train_encoder_forward does (a part's piece of a larger batch here), and
 * takes their LayerNorm'd, dropped sum as the layer's input; a sequence
 * with an id or token type out of its tables, or whose length disagrees
 * with the offsets, offsets that do not start at 0, or no sequences at
 * all, are refused (BERT_ERR_INPUT), as are tables too large to index. */
TEST(train_cuda_emulated_embeddings_masks_and_refusals) {
    enum { C = 8, I = 16, V = 20, PT = 6, TV = 2, S = 2, N = 8 }; /* small_shape's */
    const int *offset = small_offset;
    bert_cuda_train_shape sh = small_shape(0), huge = sh;
    bert_cuda_train *g = NULL;
    bert_error err;
    huge.vocab = 1 << 29;
    CHECK_ERR(bert_cuda_train_create(&huge, &g, &err), err, BERT_ERR_SHAPE, "embedding tables");
    CHECK_OK(bert_cuda_train_create(&sh, &g, &err), err);
    if (!g) return;
    size_t per = 4 * C * C + 2 * C * I + 9 * C + I, emb = (V + PT + TV + 2) * C, n = per + emb;
    float *w = malloc(sizeof(float) * n), keymask[N], x_out[N * C];
    CHECK(w != NULL);
    if (!w) {
        bert_cuda_train_free(g);
        return;
    }
    for (size_t i = 0; i < n; i++) w[i] = (float)((i * 37) % 19) / 19.0f - 0.5f;
    bert_cuda_layer_host h;
    bert_cuda_host hw;
    CHECK(lay_out_tables(w, C, I, V, PT, TV, 0, &h, &hw) == n);
    CHECK_OK(bert_cuda_train_upload(g, BERT_CUDA_WEIGHTS, &hw, &err), err);
    int32_t tok[N] = {2, 7, 0, 19, 3, 2, 5, 0}, types[N] = {0, 0, 0, 1, 1, 0, 1, 1};
    bert_sequence sq[S] = {{.input_ids = tok, .token_type_ids = types, .n_tokens = 5},
                             {.input_ids = tok + 5, .token_type_ids = types + 5, .n_tokens = 3}};
    for (int i = 0; i < N; i++) keymask[i] = 1.0f;
    const double ph = 0.2;
    const uint64_t tb = 3, ta = 4; /* a part: 3 tokens of the batch before it, 4 after */
    bert_rng r;
    bert_rng_seed(&r, 77, 5);
    bert_cuda_train_batch b = {S, sq, offset, small_poff, keymask, 0.0f, (float)(1.0 / (1.0 - ph)), 0.0f, (float)ph,
                               r.state, r.inc, 0, 0, tb, ta};
    CHECK_OK(bert_cuda_train_forward(g, &b, NULL, x_out, &err), err);
    enum { M = 3 * N * C };
    uint8_t got[M], want[M];
    float m[N * C];
    CHECK_OK(bert_cuda_train_masks(g, got, M, &err), err);
    for (int k = 0; k < 3; k++) { /* the embeddings', then the layer's two */
        train_draw_mask_part(&r, m, 1, N * C, ph, tb * C, ta * C);
        for (int i = 0; i < N * C; i++) want[k * N * C + i] = m[i] != 0.0f;
    }
    CHECK(memcmp(got, want, M) == 0);
    float dx[N * C];
    for (int i = 0; i < N * C; i++) dx[i] = 0.25f;
    CHECK_OK(bert_cuda_train_backward(g, dx, NULL, NULL, NULL, &err), err);
    for (int i = 0; i < N * C; i++) CHECK(dx[i] == 0.25f); /* nothing comes back: the embeddings' backward ran there */
    CHECK_ERR(bert_cuda_train_forward(g, &b, NULL, NULL, &err), err, BERT_ERR_INPUT, "missing arguments"); /* no heads */
    tok[3] = V;
    CHECK_ERR(bert_cuda_train_forward(g, &b, NULL, x_out, &err), err, BERT_ERR_INPUT, "out of range");
    tok[3] = 19, types[6] = TV;
    CHECK_ERR(bert_cuda_train_forward(g, &b, NULL, x_out, &err), err, BERT_ERR_INPUT, "out of range");
    types[6] = 1, sq[1].n_tokens = 2;
    CHECK_ERR(bert_cuda_train_forward(g, &b, NULL, x_out, &err), err, BERT_ERR_INPUT, "offsets give 3");
    const int shifted[S + 1] = {1, 5, 8};
    b.offset = shifted;
    CHECK_ERR(bert_cuda_train_forward(g, &b, NULL, x_out, &err), err, BERT_ERR_INPUT, "offsets start at 1");
    b.offset = offset;
    sq[1].n_tokens = 3, b.seqs = NULL;
    CHECK_ERR(bert_cuda_train_forward(g, &b, NULL, x_out, &err), err, BERT_ERR_INPUT, "no sequences");
    b.seqs = sq;
    CHECK_OK(bert_cuda_train_forward(g, &b, NULL, x_out, &err), err);
    free(w);
    bert_cuda_train_free(g);
    CHECK(bert_emu_live_allocations() == 0);
}

/* A context with the pre-training heads (MLM + NSP) on the GPU: heads
 * need the embeddings (else BERT_ERR_SHAPE); the forward may keep its
 * output there (x_out NULL); a backward with no d loss / d output before
 * the heads ran or with the caller's after, the heads twice, or without a
 * forward, is BERT_ERR_STATE; the heads without labels BERT_ERR_INPUT;
 * labelled rows not ascending or outside the batch, labels outside the
 * vocabulary, an NSP label of 2, are BERT_ERR_INPUT and leave no backward.
 * The losses are sums of positive row terms: with the rows' labels
 * dropped (-1 NSP labels, no MLM rows) both are 0, and d x_out then
 * moves nothing (the weights' gradients stay 0). */
TEST(train_cuda_emulated_heads_refusals) {
    enum { C = 8, V = 20, S = 2, N = 8 }; /* small_shape's */
    bert_cuda_train_shape sh = small_shape(2), bad = sh;
    bert_cuda_train *g = NULL;
    bert_error err;
    bad.vocab = 0;
    CHECK_ERR(bert_cuda_train_create(&bad, &g, &err), err, BERT_ERR_SHAPE, "only with the embeddings");
    bad = sh, bad.head = 6;
    CHECK_ERR(bert_cuda_train_create(&bad, &g, &err), err, BERT_ERR_SHAPE, "head 6");
    bad = sh, bad.head = 3; /* sequence classification needs its classes */
    CHECK_ERR(bert_cuda_train_create(&bad, &g, &err), err, BERT_ERR_SHAPE, "head 3 with 0 classes");
    bad = small_shape(5), bad.tags = 0; /* a token head its tags */
    CHECK_ERR(bert_cuda_train_create(&bad, &g, &err), err, BERT_ERR_SHAPE, "and 0 tags");
    bad.tags = (1 << 20) + 1;
    CHECK_ERR(bert_cuda_train_create(&bad, &g, &err), err, BERT_ERR_SHAPE, "head 5 with 25 classes");
    small_ctx x;
    if (!small_open(&x, 2)) return;
    g = x.g;
    const bert_cuda_train_batch b = x.b;
    int rows[3] = {1, 3, 6}, targets[3] = {4, 19, 0}, nsp[S] = {0, 1};
    bert_cuda_train_labels lb = {3, rows, targets, 1.0f / 3, nsp, 0.5f};
    double mlm = -1, next = -1;
    CHECK_ERR(bert_cuda_train_heads(g, &lb, &mlm, &next, &err), err, BERT_ERR_STATE, "no forward");
    CHECK_OK(bert_cuda_train_forward(g, &b, NULL, NULL, &err), err);
    CHECK_ERR(bert_cuda_train_heads(g, NULL, &mlm, &next, &err), err, BERT_ERR_INPUT, "no labels");
    CHECK_ERR(bert_cuda_train_backward(g, NULL, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "no forward");
    CHECK_OK(bert_cuda_train_forward(g, &b, NULL, NULL, &err), err);
    CHECK_ERR(bert_cuda_train_backward(g, NULL, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "heads did not run");
    CHECK_OK(bert_cuda_train_heads(g, &lb, &mlm, &next, &err), err);
    CHECK(mlm > 0 && next > 0 && isfinite(mlm) && isfinite(next));
    CHECK_ERR(bert_cuda_train_heads(g, &lb, &mlm, &next, &err), err, BERT_ERR_STATE, "no forward");
    float dx[N * C] = {0};
    CHECK_ERR(bert_cuda_train_backward(g, dx, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "the heads ran");
    CHECK_OK(bert_cuda_train_backward(g, NULL, NULL, NULL, NULL, &err), err);
    /* each refusal leaves no backward; the forward is run again for the next */
    int *fix[4] = {&rows[1], &rows[2], &targets[0], &nsp[1]};
    const int badv[4] = {1, N, V, 2}, good[4] = {3, 6, 4, 1};
    for (int k = 0; k < 4; k++) {
        CHECK_OK(bert_cuda_train_forward(g, &b, NULL, NULL, &err), err);
        *fix[k] = badv[k];
        CHECK_ERR(bert_cuda_train_heads(g, &lb, &mlm, &next, &err), err, BERT_ERR_INPUT, k < 3 ? "labelled row" : "NSP label 2");
        CHECK_ERR(bert_cuda_train_backward(g, NULL, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "no forward");
        *fix[k] = good[k];
    }
    /* no labels at all: no loss and no gradient anywhere */
    int none[S] = {-1, -1};
    bert_cuda_train_labels empty = {0, NULL, NULL, 1.0f, none, 1.0f};
    CHECK_OK(bert_cuda_train_forward(g, &b, NULL, NULL, &err), err);
    CHECK_OK(bert_cuda_train_heads(g, &empty, &mlm, &next, &err), err);
    CHECK(mlm == 0.0 && next == 0.0);
    CHECK_OK(bert_cuda_train_backward(g, NULL, &x.hw[1], NULL, NULL, &err), err);
    size_t nonzero = 0;
    for (size_t i = 0; i < x.n; i++) nonzero += x.gr[i] != 0.0f;
    CHECK(nonzero == 0);
    small_close(&x);
}

/* One fine-tuning head (small_shape(head)) on the emulated GPU, with and
 * without dropout (p 0.4, the masks a data-parallel part's: tokens and
 * sequences before and after it), against the same computed in doubles
 * from the same weights and masks (train_draw_mask_part's, from the
 * stream handed over): the logits (the pooled output's, then the tokens'),
 * the head's weight gradients and d loss / d x_out, seen through the last
 * layer's LayerNorm bias gradient (the sum of d x_out's rows), all to
 * 1e-5 of their scale, and its weight gradient (the rows' sum of d x_out
 * times the normalised x_out: a row's gradient in another row shows)
 * too. */
static void fine_tuning_head(int head) {
    enum { C = 8, S = 2, N = 8, K = SMALL_CLASSES, T = SMALL_TAGS };
    int pool = head == 3 || head == 5, tok = head == 4 || head == 5;
    int SK = pool ? S * K : 0, NT = tok ? N * T : 0;
    bert_error err;
    small_ctx x;
    if (!small_open(&x, head)) return;
    bert_cuda_train *g = x.g;
    float x_out[N * C], z[S * K + N * T], dz[S * K + N * T], tm[N * C], pm[S * C];
    for (int i = 0; i < SK + NT; i++) dz[i] = (float)((i * 7) % 11) / 11.0f - 0.4f;
    const bert_cuda_head_host *hh = &x.hw[0].head, *gh = &x.hw[1].head;
    for (int masked = 0; masked < 2; masked++) {
        bert_rng r;
        bert_rng_seed(&r, 91, 3);
        bert_cuda_train_drop drop = {0.4, r.state, r.inc, 3, 2, 1, 2};
        for (int i = 0; i < N * C; i++) tm[i] = 1.0f;
        for (int i = 0; i < S * C; i++) pm[i] = 1.0f;
        if (masked && tok) train_draw_mask_part(&r, tm, 1, N * C, drop.p, drop.tok_before * C, drop.tok_after * C);
        if (masked && pool) train_draw_mask_part(&r, pm, 1, S * C, drop.p, drop.seq_before * C, drop.seq_after * C);
        memset(x.gr, 0, sizeof(float) * x.n);
        CHECK_OK(bert_cuda_train_forward(g, &x.b, NULL, x_out, &err), err);
        CHECK_OK(bert_cuda_train_logits(g, masked ? &drop : NULL, z, &err), err);
        CHECK_OK(bert_cuda_train_logits_grad(g, dz, &err), err);
        CHECK_OK(bert_cuda_train_backward(g, NULL, &x.hw[1], NULL, NULL, &err), err);
        double dx[N][C] = {{0}}, worst_z = 0.0, worst_g = 0.0, scale = 0.0, zs = 0.0;
#define GRAD(got, want) (scale = fmax(scale, fabs(want)), worst_g = fmax(worst_g, fabs((double)(got) - (want))))
#define LOGIT(got, want) (zs = fmax(zs, fabs(want)), worst_z = fmax(worst_z, fabs((double)(got) - (want))))
        for (int i = 0; tok && i < N; i++) { /* classifier(dropout(h)) and its backward */
            for (int k = 0; k < T; k++) {
                double a = hh->token_b[k];
                for (int c = 0; c < C; c++) a += (double)hh->token_w[k * C + c] * x_out[i * C + c] * tm[i * C + c];
                LOGIT(z[SK + i * T + k], a);
            }
            for (int c = 0; c < C; c++) {
                double a = 0.0;
                for (int k = 0; k < T; k++) a += (double)dz[SK + i * T + k] * hh->token_w[k * C + c];
                dx[i][c] = a * tm[i * C + c];
            }
        }
        for (int k = 0; tok && k < T; k++) {
            double db = 0.0;
            for (int i = 0; i < N; i++) db += dz[SK + i * T + k];
            GRAD(gh->token_b[k], db);
            for (int c = 0; c < C; c++) {
                double dw = 0.0;
                for (int i = 0; i < N; i++) dw += (double)dz[SK + i * T + k] * x_out[i * C + c] * tm[i * C + c];
                GRAD(gh->token_w[k * C + c], dw);
            }
        }
        double pooled[S][C], pd[S][C], dpd[S][C];
        for (int s = 0; pool && s < S; s++) { /* classifier(dropout(tanh(pooler(first row)))) */
            const float *cls = x_out + small_offset[s] * C;
            for (int j = 0; j < C; j++) {
                double a = hh->pooler_b[j];
                for (int c = 0; c < C; c++) a += (double)hh->pooler_w[j * C + c] * cls[c];
                pooled[s][j] = tanh(a), pd[s][j] = pooled[s][j] * pm[s * C + j];
            }
            for (int k = 0; k < K; k++) {
                double a = hh->nsp_b[k];
                for (int c = 0; c < C; c++) a += (double)hh->nsp_w[k * C + c] * pd[s][c];
                LOGIT(z[s * K + k], a);
            }
            for (int c = 0; c < C; c++) { /* d pooled_d, then through the mask and tanh */
                double a = 0.0;
                for (int k = 0; k < K; k++) a += (double)dz[s * K + k] * hh->nsp_w[k * C + c];
                dpd[s][c] = a * pm[s * C + c] * (1.0 - pooled[s][c] * pooled[s][c]);
            }
            for (int c = 0; c < C; c++) { /* the pooler's input gradient, added to the first row's */
                double a = 0.0;
                for (int j = 0; j < C; j++) a += dpd[s][j] * hh->pooler_w[j * C + c];
                dx[small_offset[s]][c] += a;
            }
        }
        for (int k = 0; pool && k < K; k++) {
            double db = 0.0;
            for (int s = 0; s < S; s++) db += dz[s * K + k];
            GRAD(gh->nsp_b[k], db);
            for (int c = 0; c < C; c++) {
                double dw = 0.0;
                for (int s = 0; s < S; s++) dw += (double)dz[s * K + k] * pd[s][c];
                GRAD(gh->nsp_w[k * C + c], dw);
            }
        }
        for (int j = 0; pool && j < C; j++) {
            double db = 0.0;
            for (int s = 0; s < S; s++) db += dpd[s][j];
            GRAD(gh->pooler_b[j], db);
            for (int c = 0; c < C; c++) {
                double dw = 0.0;
                for (int s = 0; s < S; s++) dw += dpd[s][j] * x_out[small_offset[s] * C + c];
                GRAD(gh->pooler_w[j * C + c], dw);
            }
        }
        double worst_w = 0.0;
        for (int c = 0; c < C; c++) { /* the last LayerNorm's gradients: x_out = xhat g + b */
            double db = 0.0, dg = 0.0, gam = x.h[0].ln2_w[c], beta = x.h[0].ln2_b[c];
            for (int i = 0; i < N; i++) db += dx[i][c], dg += dx[i][c] * ((double)x_out[i * C + c] - beta) / gam;
            GRAD(x.h[1].ln2_b[c], db);
            worst_w = fmax(worst_w, fabs(x.h[1].ln2_w[c] - dg));
        }
#undef GRAD
#undef LOGIT
        int dropped = 0;
        for (int i = 0; i < N * C; i++) dropped += tm[i] == 0.0f;
        for (int i = 0; i < S * C; i++) dropped += pm[i] == 0.0f;
        printf("  head %d %s dropout (%d dropped): logits %.2g (largest %.2g), gradients %.2g (largest %.2g), "
               "LayerNorm weight's %.2g from doubles\n", head, masked ? "with" : "without", dropped, worst_z, zs, worst_g,
               scale, worst_w);
        CHECK(worst_z < 1e-5 * zs && worst_g < 1e-5 * scale && worst_w < 1e-5 * scale && scale > 0.1 &&
              (dropped > 0) == masked);
    }
    small_close(&x);
}

TEST(train_cuda_emulated_fine_tuning_heads) {
    for (int head = 3; head <= 5; head++) fine_tuning_head(head);
}

/* A fine-tuning head's call order: its logits without a forward, twice,
 * or on a context without such a head, its gradient without the logits
 * or twice, the layers' backward before the head's gradient or with the
 * caller's d output after it, are BERT_ERR_STATE; no logits, no d logits
 * or a dropout rate outside [0, 1) are BERT_ERR_INPUT and leave no
 * backward; a pre-training context has no such head and a fine-tuning one
 * no pre-training heads. */
TEST(train_cuda_emulated_fine_tuning_head_order) {
    enum { C = 8, S = 2, N = 8, K = SMALL_CLASSES, T = SMALL_TAGS };
    bert_cuda_train *pre = NULL;
    bert_error err;
    small_ctx x;
    if (!small_open(&x, 5)) return;
    bert_cuda_train *g = x.g;
    const bert_cuda_train_batch b = x.b;
    float z[S * K + N * T] = {0}, dz[S * K + N * T] = {0}, dx[N * C] = {0};
    CHECK_ERR(bert_cuda_train_logits(g, NULL, z, &err), err, BERT_ERR_STATE, "no forward");
    CHECK_OK(bert_cuda_train_forward(g, &b, NULL, NULL, &err), err);
    CHECK_OK(bert_cuda_train_logits(g, NULL, z, &err), err);
    CHECK_ERR(bert_cuda_train_logits(g, NULL, z, &err), err, BERT_ERR_STATE, "no forward");
    CHECK_ERR(bert_cuda_train_backward(g, NULL, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "awaits");
    CHECK_ERR(bert_cuda_train_backward(g, dx, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "awaits");
    CHECK_OK(bert_cuda_train_logits_grad(g, dz, &err), err);
    CHECK_ERR(bert_cuda_train_logits_grad(g, dz, &err), err, BERT_ERR_STATE, "no bert_cuda_train_logits");
    CHECK_ERR(bert_cuda_train_backward(g, dx, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "the heads ran");
    CHECK_OK(bert_cuda_train_backward(g, NULL, NULL, NULL, NULL, &err), err);
    CHECK_ERR(bert_cuda_train_logits_grad(g, dz, &err), err, BERT_ERR_STATE, "no bert_cuda_train_logits");
    bert_cuda_train_drop bad = {1.0, 1, 1, 0, 0, 0, 0};
    for (int k = 0; k < 3; k++) { /* no logits, a rate of 1, no d logits: refused, no backward */
        CHECK_OK(bert_cuda_train_forward(g, &b, NULL, NULL, &err), err);
        if (k == 2) CHECK_OK(bert_cuda_train_logits(g, NULL, z, &err), err);
        if (k == 2) CHECK_ERR(bert_cuda_train_logits_grad(g, NULL, &err), err, BERT_ERR_INPUT, "no d loss / d logits");
        else if (k == 1) CHECK_ERR(bert_cuda_train_logits(g, &bad, z, &err), err, BERT_ERR_INPUT, "outside [0, 1)");
        else CHECK_ERR(bert_cuda_train_logits(g, NULL, NULL, &err), err, BERT_ERR_INPUT, "no logits");
        CHECK_ERR(bert_cuda_train_logits_grad(g, dz, &err), err, BERT_ERR_STATE, "no bert_cuda_train_logits");
        CHECK_ERR(bert_cuda_train_backward(g, NULL, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "no forward");
    }
    int none[S] = {-1, -1};
    bert_cuda_train_labels empty = {0, NULL, NULL, 1.0f, none, 1.0f};
    CHECK_OK(bert_cuda_train_forward(g, &b, NULL, NULL, &err), err);
    CHECK_ERR(bert_cuda_train_heads(g, &empty, NULL, NULL, &err), err, BERT_ERR_STATE, "no pre-training heads");
    bert_cuda_train_shape sp = small_shape(2);
    CHECK_OK(bert_cuda_train_create(&sp, &pre, &err), err);
    if (pre) CHECK_ERR(bert_cuda_train_logits(pre, NULL, z, &err), err, BERT_ERR_STATE, "no fine-tuning head");
    bert_cuda_train_free(pre);
    small_close(&x);
}

/* The ranks' communicator (NCCL; the emulator's stand-in, a job of one
 * here): rank 0's id joins; the all-reduce of one rank leaves the summed
 * gradients as they were (their sum of squares too); joining twice, a rank
 * outside the job and an all-reduce before joining are refused; freeing
 * leaves nothing allocated. */
TEST(train_cuda_emulated_nccl_communicator) {
    bert_cuda_train_shape sh = {8, 2, 16, 1, BERT_ACT_GELU, 1e-12f, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    bert_cuda_train *g = NULL;
    bert_error err;
    CHECK(bert_cuda_nccl_unavailable() == NULL);
    CHECK_OK(bert_cuda_train_create(&sh, &g, &err), err);
    if (!g) return;
    unsigned char id[BERT_CUDA_NCCL_ID_BYTES] = {0};
    double before = 0.0, after = -1.0;
    CHECK_ERR(bert_cuda_train_allreduce(g, &err), err, BERT_ERR_STATE, "no communicator");
    CHECK_OK(bert_cuda_nccl_id(id, &err), err);
    CHECK_ERR(bert_cuda_train_join(g, id, 1, 1, 0.0, &err), err, BERT_ERR_INPUT, "rank 1 of 1");
    CHECK_OK(bert_cuda_train_join(g, id, 1, 0, 0.0, &err), err);
    CHECK_ERR(bert_cuda_train_join(g, id, 1, 0, 0.0, &err), err, BERT_ERR_STATE, "already");
    /* gradients to sum, uploaded */
    size_t per = 4 * 8 * 8 + 2 * 8 * 16 + 9 * 8 + 16;
    float *w = malloc(sizeof(float) * per);
    bert_cuda_layer_host h;
    if (w) {
        float *q = w;
        float **f[16] = {&h.q_w, &h.q_b, &h.k_w, &h.k_b, &h.v_w, &h.v_b, &h.o_w, &h.o_b,
                         &h.ln1_w, &h.ln1_b, &h.i_w, &h.i_b, &h.o2_w, &h.o2_b, &h.ln2_w, &h.ln2_b};
        const size_t n[16] = {64, 8, 64, 8, 64, 8, 64, 8, 8, 8, 128, 16, 128, 8, 8, 8};
        for (size_t i = 0; i < per; i++) w[i] = (float)((i * 13) % 7) - 3.0f;
        for (int k = 0; k < 16; k++) *f[k] = q, q += n[k];
        bert_cuda_host hg = {&h, {0}, {0}};
        CHECK_OK(bert_cuda_train_upload(g, BERT_CUDA_GRADS, &hg, &err), err);
        CHECK_OK(bert_cuda_train_grad_sumsq(g, &before, &err), err);
        CHECK_OK(bert_cuda_train_allreduce(g, &err), err);
        CHECK_OK(bert_cuda_train_grad_sumsq(g, &after, &err), err);
        CHECK(before > 0.0 && after == before);
    }
    CHECK(w != NULL);
    free(w);
    bert_cuda_train_free(g);
    CHECK(bert_emu_live_allocations() == 0);
}

/* With a timeout, a communicator whose all-reduce never ends (another
 * rank stopped: the emulator's BERT_EMU_NCCL_HANG=2, its second) gives up
 * after it: BERT_ERR_IO saying no answer came, in about the timeout, the
 * communicator aborted; the next all-reduce is BERT_ERR_STATE; freeing
 * leaves nothing allocated. The first all-reduce, before, is summed. */
TEST(train_cuda_emulated_nccl_gives_up_on_a_stopped_rank) {
    bert_cuda_train_shape sh = {8, 2, 16, 1, BERT_ACT_GELU, 1e-12f, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    bert_cuda_train *g = NULL;
    bert_error err;
    unsigned char id[BERT_CUDA_NCCL_ID_BYTES] = {0};
    setenv("BERT_EMU_NCCL_HANG", "2", 1);
    CHECK_OK(bert_cuda_train_create(&sh, &g, &err), err);
    if (g) {
        CHECK_OK(bert_cuda_nccl_id(id, &err), err);
        CHECK_OK(bert_cuda_train_join(g, id, 1, 0, 1.0, &err), err);
        CHECK_OK(bert_cuda_train_allreduce(g, &err), err);
        double t0 = bert_now_s();
        CHECK_ERR(bert_cuda_train_allreduce(g, &err), err, BERT_ERR_IO, "no answer from the other ranks in 1 s");
        double waited = bert_now_s() - t0;
        printf("  gave up after %.2f s (timeout 1 s): %s\n", waited, err.message);
        CHECK(waited >= 1.0 && waited < 10.0 && strstr(err.message, "aborted") != NULL);
        CHECK_ERR(bert_cuda_train_allreduce(g, &err), err, BERT_ERR_STATE, "was aborted");
        bert_cuda_train_free(g);
    }
    unsetenv("BERT_EMU_NCCL_HANG");
    CHECK(bert_emu_live_allocations() == 0);
}
