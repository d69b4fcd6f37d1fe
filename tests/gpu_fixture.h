/* gpu_fixture.h — what the GPU path's tests share: two fixture models, a
 * ragged batch of them, loading and running them on either device, the
 * emulator's counters where they are linked, and the skip where no GPU is.
 * Included by tests/cuda/test_gpu_forward.c and tests/cuda/test_gpu_train.c
 * (in build/test_bert, where they run on a real GPU and are skipped
 * elsewhere, and in build/test_cuda_emu, on the emulator) and by
 * tests/cuda_emu/test_emulated.c (the emulator's own tests). */
#ifndef BERT_TESTS_GPU_FIXTURE_H
#define BERT_TESTS_GPU_FIXTURE_H

#include <stdlib.h>

#include "cuda/encoder.h"
#include "test.h"

/* The emulator's counters (tests/cuda_emu/emu.h): device memory still
 * allocated, bytes copied to the host so far. Linked into build/test_cuda_emu
 * only; in a program for a real GPU they are NULL, and the checks that read
 * them are left out there (the emulator's run makes them). */
size_t bert_emu_live_allocations(void) __attribute__((weak));
size_t bert_emu_copied_to_host(void) __attribute__((weak));

/* No device memory left allocated, where the emulator counts it. */
#define CHECK_NO_DEVICE_MEMORY() \
    do { \
        if (bert_emu_live_allocations) CHECK(bert_emu_live_allocations() == 0); \
    } while (0)

/* Bytes copied from the GPU to the host so far (0 where not counted). */
static inline size_t copied_to_host(void) { return bert_emu_copied_to_host ? bert_emu_copied_to_host() : 0; }

/* 1 where the bytes copied to the host are counted (the emulator). */
static inline int copies_counted(void) { return bert_emu_copied_to_host != NULL; }

/* 1, the test marked skipped with the reason, where this program has no GPU path. */
static inline int gpu_skip(void) {
    const char *why = bert_cuda_unavailable_reason();
    if (why) test_skip("no GPU path here: %s", why);
    return why != NULL;
}

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

static inline void make_batch(const fixture *f, int n_seqs) {
    for (int i = 0; i < N_SEQS * MAX_T; i++) ids[i] = 1 + (i * 37) % (f->vocab - 1);
    for (int s = 0; s < n_seqs; s++) seqs[s] = (bert_sequence){.input_ids = ids + s * MAX_T, .n_tokens = lengths[s]};
}

static inline size_t batch_tokens(int n_seqs) {
    size_t n = 0;
    for (int s = 0; s < n_seqs; s++) n += (size_t)lengths[s];
    return n;
}

static inline bert_status load(const fixture *f, bert_device device, bert_compute_dtype compute, bert_model **m,
                        bert_error *err) {
    bert_model_params mp = bert_model_default_params();
    mp.device = device;
    mp.compute = compute;
    return bert_model_load(f->dir, &mp, m, err);
}

/* Runs the first n_seqs sequences; their hidden states, one after another, into out. */
static inline bert_status run(const fixture *f, bert_context *ctx, int n_seqs, float *out, bert_error *err) {
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
static inline float *hidden_of(const fixture *f, int n_seqs, bert_device device, bert_compute_dtype compute) {
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
static inline double worst_cosine(const float *a, const float *b, size_t N, size_t C) {
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


#endif
