/* layers.c — the encoder's layer operations as forward / backward pairs
 * (contracts in layers.h). */
#include "model/layers.h"

#include <math.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/gemm_onednn.h"
#include "kernels/vecmath.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- embeddings --------------------------------------------------------- */

/* How many tokens ahead a word embedding's row is prefetched: a row of a
 * large table is usually a cache and TLB miss, and the loop had one in flight
 * at a time (1,024 scattered rows of a 30,522 x 128 table: 0.28-0.34 ->
 * 0.21-0.29 ms, AMD EPYC). */
enum { EMB_AHEAD = 4 };

/* The sequence and position of token row `row` (offset[s] <= row <
 * offset[s + 1]), by bisection over the S sequences' offsets. */
static void row_token(const int *offset, int S, int row, int *s, int *t) {
    int lo = 0, hi = S - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (offset[mid] <= row) lo = mid;
        else hi = mid - 1;
    }
    *s = lo, *t = row - offset[lo];
}

/* x = (we + te) + pe, elementwise (the same bits in any vector width). */
BERT_VECTOR_CLONES
static void add_embedding_row(float *x, const float *we, const float *te, const float *pe, int C) {
    for (int j = 0; j < C; j++) x[j] = (we[j] + te[j]) + pe[j];
}

/* The token after (*s, *t) in batch order, past empty sequences (*s = S
 * after the last). */
static void next_token(const bert_sequence *seqs, int S, int *s, int *t) {
    ++*t;
    while (*s < S && *t >= seqs[*s].n_tokens) ++*s, *t = 0;
}

void nn_embeddings_rows(float *out, const bert_weights *w, int C, const bert_sequence *seqs, int S, const int *offset,
                        int r0, int r1) {
    if (r0 >= r1) return;
    int s, t;
    row_token(offset, S, r0, &s, &t);
    /* the token EMB_AHEAD rows on, whose word row is fetched ahead */
    int as = s, at = t;
    for (int k = 0; k < EMB_AHEAD && as < S; k++) next_token(seqs, S, &as, &at);
    for (int row = r0; row < r1; row++) {
        const bert_sequence *q = &seqs[s];
        if (as < S && at < seqs[as].n_tokens) { /* word rows are scattered over the table: fetch ahead */
            const char *next = (const char *)(w->word + (size_t)seqs[as].input_ids[at] * C);
            for (size_t o = 0; o < (size_t)C * sizeof(float); o += 64) __builtin_prefetch(next + o);
            next_token(seqs, S, &as, &at);
        }
        float *x = out + (size_t)row * C;
        const float *we = w->word + (size_t)q->input_ids[t] * C;
        const float *te = w->type + (size_t)(q->token_type_ids ? q->token_type_ids[t] : 0) * C;
        const float *pe = w->pos + (size_t)t * C;
        add_embedding_row(x, we, te, pe, C);
        next_token(seqs, S, &s, &t);
    }
}

void nn_embeddings_forward(float *out, float *keymask, const bert_weights *w, int C, const bert_sequence *seqs, int S,
                           const int *offset, int n_threads) {
    int N = offset[S];
#pragma omp parallel num_threads(n_threads) if (n_threads > 1 && N >= EMB_THREADED_TOKENS)
    {
        int r0 = 0, r1 = N;
#ifdef _OPENMP
        bert_thread_rows4(N, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
#endif
        nn_embeddings_rows(out, w, C, seqs, S, offset, r0, r1);
    }
    nn_key_mask(keymask, seqs, S, offset);
}

void nn_key_mask(float *keymask, const bert_sequence *seqs, int S, const int *offset) {
    for (int s = 0; s < S; s++)
        for (int t = 0; t < seqs[s].n_tokens; t++)
            keymask[offset[s] + t] = seqs[s].attention_mask ? (float)seqs[s].attention_mask[t] : 1.0f;
}

void nn_embeddings_backward(float *dword, float *dpos, float *dtype, const float *dout, int C,
                            const bert_sequence *seqs, int S, const int *offset, int pad_token_id) {
    for (int s = 0; s < S; s++) {
        const bert_sequence *q = &seqs[s];
        for (int t = 0; t < q->n_tokens; t++) {
            const float *d = dout + (size_t)(offset[s] + t) * C;
            float *gt = dtype + (size_t)(q->token_type_ids ? q->token_type_ids[t] : 0) * C;
            float *gp = dpos + (size_t)t * C;
            for (int j = 0; j < C; j++) gt[j] += d[j], gp[j] += d[j];
            if (q->input_ids[t] == pad_token_id) continue;
            float *gw = dword + (size_t)q->input_ids[t] * C;
            for (int j = 0; j < C; j++) gw[j] += d[j];
        }
    }
}

/* ---- dense -------------------------------------------------------------- */

void nn_dense_forward(float *y, int ldy, const float *x, const uint16_t *x16, const float *W, const uint16_t *W16,
                      const float *b, int M, int N, int K, const bert_epilogue *epi, int n_threads) {
    if (W16) bert_linear_bf16_ex(y, ldy, x16, W16, b, M, N, K, n_threads, epi);
    else bert_linear_ex(y, ldy, x, W, b, M, N, K, n_threads, epi);
}

void nn_dense_backward(float *dx, float *dW, float *db, const float *dy, uint16_t *dy16, const float *x,
                       const uint16_t *x16, const float *W, const uint16_t *W16, int M, int N, int K, int accumulate,
                       int n_threads) {
    if (W16) bert_linear_backward_bf16(dx, dW, db, dy, dy16, x16, W16, M, N, K, accumulate, n_threads);
    else bert_linear_backward(dx, dW, db, dy, x, W, M, N, K, accumulate, n_threads);
}

/* ---- LayerNorm ---------------------------------------------------------- */

void nn_layernorm_forward(float *out, const nn_layernorm_keep *keep, const float *a, const float *b,
                          const bert_norm *ln, int N, int C, float eps, int n_threads) {
    if (keep)
        bert_add_layernorm_train(out, keep->sum, keep->mean, keep->rstd, a, b, ln->w, ln->b, N, C, eps, n_threads);
    else
        bert_add_layernorm(out, a, b, ln->w, ln->b, N, C, eps, n_threads);
}

void nn_layernorm_backward(float *din, float *dw, float *db, const float *dout, const nn_layernorm_keep *keep,
                           const bert_norm *ln, int N, int C, int n_threads) {
    bert_layernorm_backward(din, dw, db, dout, keep->sum, ln->w, keep->mean, keep->rstd, N, C, n_threads);
}

/* ---- activation --------------------------------------------------------- */

void nn_activation_forward(float *out, const float *in, size_t n, bert_activation act, int n_threads) {
    if (out != in) bert_activation_forward_copy(out, in, n, act, n_threads);
    else bert_activation_forward(out, n, act, n_threads);
}

void nn_activation_backward(float *din, const float *dout, const float *in, size_t n, bert_activation act,
                            int n_threads) {
    bert_activation_backward(din, dout, in, n, act, n_threads);
}

/* ---- attention ---------------------------------------------------------- */

/* One head of one sequence up to its probabilities: P [T x T] =
 * softmax(scale Q K^T + mask); Q and K rows have stride ld. */
static void head_probs(float *P, const float *Q, const float *K, int ld, int T, int HS, float scale,
                       const float *keymask) {
    bert_sgemm(0, 1, T, T, HS, scale, Q, ld, K, ld, 0.0f, P, T);
    bert_mask_key_columns(P, T, keymask);
    bert_softmax_rows(P, T, T);
}

/* Inference: every (sequence, head) pair on its own thread, nothing kept;
 * q, k, v and out f32, or with in16 (and the fused kernel) q, k, v bf16,
 * and out too with out16. */
static void attention_infer(void *out, int out16, const void *q, const void *k, const void *v, int in16,
                            const nn_attention_batch *b, float *scratch, size_t stride, int fused, int n_threads) {
    int C = b->C, NH = b->NH, HS = C / NH, ld = b->ld > 0 ? b->ld : C;
    float scale = 1.0f / sqrtf((float)HS);
    int n_pairs = b->S * NH, f32_fused = !fused && bert_attention_f32_available(HS);
    int nt = n_threads < n_pairs ? n_threads : n_pairs;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
    for (int pair = 0; pair < n_pairs; pair++) {
        int s = pair / NH, h = pair % NH;
#ifdef _OPENMP
        int tid = omp_get_thread_num();
#else
        int tid = 0;
#endif
        int row0 = b->offset[s], T = b->offset[s + 1] - row0;
        float *S = scratch + (size_t)tid * stride;
        size_t at = (size_t)row0 * C + (size_t)h * HS, in = (size_t)row0 * ld + (size_t)h * HS;
        const float *mask = b->keymask + row0;
        if (in16) {
            /* the pair this thread likely takes next (dynamic schedule), prefetched */
            bert_attention_next next = {NULL, NULL, NULL, 0};
            if (pair + nt < n_pairs) {
                int ns = (pair + nt) / NH, nrow0 = b->offset[ns];
                size_t nin = (size_t)nrow0 * ld + (size_t)((pair + nt) % NH) * HS;
                next = (bert_attention_next){(const uint16_t *)q + nin, (const uint16_t *)k + nin, (const uint16_t *)v + nin,
                                             b->offset[ns + 1] - nrow0};
            }
            void *o = out16 ? (void *)((uint16_t *)out + at) : (void *)((float *)out + at);
            bert_attention_bf16_io((bert_attention_bf16_kernel)fused, o, C, out16, (const uint16_t *)q + in,
                                   (const uint16_t *)k + in, (const uint16_t *)v + in, ld, T, HS, scale, mask, S,
                                   &next);
            continue;
        }
        float *o = (float *)out + at;
        const float *qh = (const float *)q + in, *kh = (const float *)k + in, *vh = (const float *)v + in;
        if (fused) {
            bert_attention_bf16_with((bert_attention_bf16_kernel)fused, o, C, qh, kh, vh, ld, T, HS, scale, mask, S);
            continue;
        }
        if (f32_fused && T >= BERT_ATTENTION_F32_MIN_TOKENS) {
            bert_attention_f32(o, C, qh, kh, vh, ld, T, HS, scale, mask, S);
            continue;
        }
        head_probs(S, qh, kh, ld, T, HS, scale, mask);
        bert_sgemm(0, 0, T, HS, T, 1.0f, S, T, vh, ld, 0.0f, o, C);
    }
}

void nn_attention_forward_bf16(void *out, int out16, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                               const nn_attention_batch *b, float *scratch, size_t stride, int fused, int n_threads) {
    attention_infer(out, out16, q, k, v, 1, b, scratch, stride, fused, n_threads);
}

/* Training: probabilities kept, then dropped out, then applied to V; the
 * (sequence, head) pairs split over n_threads, each pair's work the same
 * whatever the split. */
static void attention_train(float *out, const nn_attention_keep *keep, const float *q, const float *k, const float *v,
                            const nn_attention_batch *b, int n_threads) {
    int C = b->C, NH = b->NH, HS = C / NH, n_pairs = b->S * NH;
    float scale = 1.0f / sqrtf((float)HS);
    size_t tt = keep->poff[b->S];
    int nt = n_threads < n_pairs ? n_threads : n_pairs;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
    for (int pair = 0; pair < n_pairs; pair++) {
        int s = pair / NH, h = pair % NH;
        int row0 = b->offset[s], T = b->offset[s + 1] - row0;
        size_t at = (size_t)row0 * C + (size_t)h * HS, po = (size_t)h * tt + keep->poff[s];
        float *P = keep->probs + po, *Pd = keep->probs_d + po;
        head_probs(P, q + at, k + at, C, T, HS, scale, b->keymask + row0);
        bert_mul_inplace(Pd, P, (size_t)T * T);
        bert_sgemm(0, 0, T, HS, T, 1.0f, Pd, T, v + at, C, 0.0f, out + at, C);
    }
}

void nn_attention_forward(float *out, const nn_attention_keep *keep, const float *q, const float *k, const float *v,
                          const nn_attention_batch *b, float *scratch, size_t stride, int fused, int n_threads) {
    if (keep) attention_train(out, keep, q, k, v, b, n_threads);
    else attention_infer(out, 0, q, k, v, 0, b, scratch, stride, fused, n_threads);
}

void nn_attention_backward(float *dq, float *dk, float *dv, float *dP, float *dS, const float *dout, const float *q,
                           const float *k, const float *v, const nn_attention_keep *keep, const nn_attention_batch *b,
                           int n_threads) {
    int C = b->C, NH = b->NH, HS = C / NH, n_pairs = b->S * NH;
    float scale = 1.0f / sqrtf((float)HS);
    size_t tt = keep->poff[b->S];
    int nt = n_threads < n_pairs ? n_threads : n_pairs;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
    for (int pair = 0; pair < n_pairs; pair++) {
        int s = pair / NH, h = pair % NH;
        int row0 = b->offset[s], T = b->offset[s + 1] - row0;
        size_t at = (size_t)row0 * C + (size_t)h * HS, po = (size_t)h * tt + keep->poff[s];
        const float *P = keep->probs + po, *Pd = keep->probs_d + po;
        float *dp = dP + po, *ds = dS + po;
        /* out = Pd V: dPd = dout V^T, dV = Pd^T dout */
        bert_sgemm(0, 1, T, T, HS, 1.0f, dout + at, C, v + at, C, 0.0f, dp, T);
        bert_sgemm(1, 0, T, HS, T, 1.0f, Pd, T, dout + at, C, 0.0f, dv + at, C);
        /* through the dropout and the softmax to the scores */
        bert_softmax_dropout_backward(ds, dp, P, Pd, T, T);
        /* scores = scale Q K^T: dQ = scale dS K, dK = scale dS^T Q */
        bert_sgemm(0, 0, T, HS, T, scale, ds, T, k + at, C, 0.0f, dq + at, C);
        bert_sgemm(1, 0, T, HS, T, scale, ds, T, q + at, C, 0.0f, dk + at, C);
    }
}
