/* test_gpu_train.c — GPU training contexts (src/cuda/train.cu) against
 * the CPU's draws and the calls' contracts: the dropout masks are the
 * trainer's RNG stream, the embeddings' masks and refusals, the heads'
 * refusals, the fine-tuning heads against a double-precision computation,
 * their call order. In build/test_bert they run where a GPU is
 * (tests/gpu/run.sh) and are skipped elsewhere; in build/test_cuda_emu on
 * the CPU emulator (tests/gpu_fixture.h). */
#include <math.h>
#include <stdlib.h>

#include "cuda/train.h"
#include "train/dropout.h"
#include "train/rng.h"
#include "train/trainer.h"
#include "gpu_fixture.h"
#include "test.h"

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
TEST(train_cuda_masks_are_the_cpus_stream) {
    if (gpu_skip()) return;
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
    CHECK_NO_DEVICE_MEMORY();
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

/* Frees what small_open holds; then nothing is left allocated on the GPU (where counted). */
static void small_close(small_ctx *c) {
    free(c->w), free(c->gr);
    bert_cuda_train_free(c->g);
    CHECK_NO_DEVICE_MEMORY();
}

/* A context that trains the embeddings too: its forward draws their
 * dropout mask first, then the layer's, from the caller's stream as
 * train_encoder_forward does (a part's piece of a larger batch here), and
 * takes their LayerNorm'd, dropped sum as the layer's input; a sequence
 * with an id or token type out of its tables, or whose length disagrees
 * with the offsets, offsets that do not start at 0, or no sequences at
 * all, are refused (BERT_ERR_INPUT), as are tables too large to index. */
TEST(train_cuda_embeddings_masks_and_refusals) {
    if (gpu_skip()) return;
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
    CHECK_NO_DEVICE_MEMORY();
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
TEST(train_cuda_heads_refusals) {
    if (gpu_skip()) return;
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

/* One fine-tuning head (small_shape(head)) on the GPU, with and
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

TEST(train_cuda_fine_tuning_heads) {
    if (gpu_skip()) return;
    for (int head = 3; head <= 5; head++) fine_tuning_head(head);
}

/* A fine-tuning head's call order: its logits without a forward, twice,
 * or on a context without such a head, its gradient without the logits
 * or twice, the layers' backward before the head's gradient or with the
 * caller's d output after it, are BERT_ERR_STATE; no logits, no d logits
 * or a dropout rate outside [0, 1) are BERT_ERR_INPUT and leave no
 * backward; a pre-training context has no such head and a fine-tuning one
 * no pre-training heads. */
TEST(train_cuda_fine_tuning_head_order) {
    if (gpu_skip()) return;
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

