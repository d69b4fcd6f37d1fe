/* test_emulated.c — the CPU emulator's own tests of the GPU path
 * (tests/cuda_emu): what needs its hooks — float16 conversions, every
 * cudaMalloc and copy failing in turn, the launches counted, the NCCL
 * stand-in. Linked into build/test_cuda_emu only, beside every other test;
 * tests/cuda_emu/run.sh runs those named forward_cuda and train_cuda there
 * (tests/cuda/test_gpu_*.c and test_forward.c's check against the PyTorch
 * reference take their GPU branches in that program). */
#include <math.h>
#include <stdlib.h>

#include "cuda/collective.h"
#include "cuda/encoder.h"
#include "cuda/train.h"
#include "util/clock.h"
#include "train/trainer.h"
#include "emu.h"
#include "include/cuda_fp16.h" /* the emulator's float16 conversions */
#include "gpu_fixture.h"
#include "test.h"

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

