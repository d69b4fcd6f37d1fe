/* forward.c — the BERT encoder forward pass (inference).
 *
 * Follows transformers' BertModel / BertForPreTraining operation by
 * operation (modeling_bert.py); the comments name the module each step
 * mirrors. The batch is ragged: the sequences are concatenated into one
 * [N x C] matrix with no padding, so every dense layer is one matrix
 * product over all N tokens, and only attention looks at sequence bounds.
 * That is also why a sequence's result does not depend on its batch-mates.
 *
 * Shapes: S sequences, N tokens in all, T tokens in one sequence,
 * C hidden, NH heads, HS = C / NH head size, I intermediate, V vocabulary. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/encoder.h"
#include "kernels/gemm.h"
#include "kernels/linear_amx.h"
#include "kernels/linear_avx512.h"
#include "kernels/linear_packed.h"
#include "kernels/onednn.h"
#include "kernels/qlinear.h"
#include "kernels/half.h"
#include "kernels/ops.h"
#include "model/context.h"
#include "model/layers.h"
#include "model/profile.h"
#include "util/error.h"
#include "util/mem.h"

/* Check one sequence; messages start "sequence S: " (see bert_error.item). */
static bert_status validate_one(const bert_config *c, const bert_sequence *q, int s, bert_error *err) {
    if (q->n_tokens <= 0 || !q->input_ids)
        return bert_fail(err, BERT_ERR_INPUT, "sequence %d: empty (a BERT input has at least one token)", s);
    if (q->n_tokens > c->max_position_embeddings)
        return bert_fail(err, BERT_ERR_INPUT, "sequence %d: %d tokens; the model takes at most max_position_embeddings = %d",
                         s, q->n_tokens, c->max_position_embeddings);
    for (int t = 0; t < q->n_tokens; t++) {
        if (q->input_ids[t] < 0 || q->input_ids[t] >= c->vocab_size)
            return bert_fail(err, BERT_ERR_INPUT, "sequence %d: position %d: input id %d is outside the vocabulary [0, %d)",
                             s, t, q->input_ids[t], c->vocab_size);
        if (q->token_type_ids && (q->token_type_ids[t] < 0 || q->token_type_ids[t] >= c->type_vocab_size))
            return bert_fail(err, BERT_ERR_INPUT,
                             "sequence %d: position %d: token type %d is outside [0, type_vocab_size = %d)", s, t,
                             q->token_type_ids[t], c->type_vocab_size);
        if (q->attention_mask && q->attention_mask[t] != 0 && q->attention_mask[t] != 1)
            return bert_fail(err, BERT_ERR_INPUT, "sequence %d: position %d: attention mask %d is not 0 or 1", s, t,
                             q->attention_mask[t]);
    }
    return BERT_OK;
}

static bert_status validate(const bert_config *c, const bert_sequence *seqs, int n_seqs, int *n_tokens, int *max_len,
                            bert_error *err) {
    if (n_seqs <= 0 || !seqs) return bert_fail(err, BERT_ERR_INPUT, "empty batch: no sequences given");
    long long total = 0;
    int longest = 0;
    for (int s = 0; s < n_seqs; s++) {
        bert_status rc = validate_one(c, &seqs[s], s, err);
        if (rc != BERT_OK) {
            if (err) err->item = s;
            return rc;
        }
        total += seqs[s].n_tokens;
        if (seqs[s].n_tokens > longest) longest = seqs[s].n_tokens;
    }
    if (total > 0x7fffffff / 4) return bert_fail(err, BERT_ERR_INPUT, "batch of %lld tokens is too large", total);
    *n_tokens = (int)total;
    *max_len = longest;
    return BERT_OK;
}


/* BertSelfAttention's core for all (sequence, head) pairs (model/layers.h),
 * on q, k, v with rows ld apart: f32, into ctx->attn; or bf16 (qkv_forward
 * made them so: attention_in_bf16), into ctx->x16 as bf16 under bf16 (the
 * attention output product's staged input, over the staged input the Q,
 * K, V products have read by then) and into ctx->attn under int8. Under
 * bf16/int8 the products are reduced precision already: the model's
 * attention_bf16 runs the fused bf16 kernel instead of the two f32
 * products and the T x T scores. */
static void attention_forward(bert_context *ctx, const void *q, const void *k, const void *v, int ld, int in16) {
    const bert_model *m = ctx->model;
    const bert_config *c = &m->cfg.pub;
    nn_attention_batch b = {ctx->n_seqs, ctx->offset, c->hidden_size, c->num_attention_heads, ctx->keymask, ld};
    if (!in16) {
        nn_attention_forward(ctx->attn, NULL, q, k, v, &b, ctx->scores, ctx->score_stride, m->attention_bf16,
                             ctx->n_threads);
        return;
    }
    int out16 = m->compute == BERT_COMPUTE_BF16;
    nn_attention_forward_bf16(out16 ? (void *)ctx->x16 : (void *)ctx->attn, out16, q, k, v, &b, ctx->scores,
                              ctx->score_stride, m->attention_bf16, ctx->n_threads);
}

/* A dense layer's input in the forms the products read: x in f32, and
 * what stage_dense_input made of it in the model's compute dtype (x16
 * under bf16; xq and its row scales sx under int8). */
typedef struct {
    const float *x;
    const uint16_t *x16;
    const int8_t *xq;
    const float *sx;
} dense_input;

/* The next dense layers' input x [n_rows x K] in the model's compute
 * dtype, made once however many layers read it (Q, K, V): bf16 into x16,
 * int8 rows with their scales into xq / sx (sized in bert_forward). */
static dense_input stage_dense_input(bert_context *ctx, const float *x, int n_rows, int K, uint16_t *x16, int8_t *xq,
                                     float *sx) {
    dense_input in = {x, NULL, NULL, NULL};
    if (ctx->model->compute == BERT_COMPUTE_BF16) {
        bert_f32_to_bf16_threaded(x16, x, (size_t)n_rows * K, ctx->n_threads);
        in.x16 = x16;
    } else if (ctx->model->compute == BERT_COMPUTE_INT8) {
        bert_quantize_rows(xq, sx, x, n_rows, K, ctx->n_threads);
        in.xq = xq, in.sx = sx;
    }
    return in;
}

/* Where the hidden states' rows from r0 on are staged for the dense
 * layers in the model's compute dtype: x16 under bf16, xq and its scales
 * under int8, none under f32 (layernorm_staged fills them). */
typedef struct {
    const float *x; /* the f32 rows (ctx->hidden from r0) */
    int C;
    uint16_t *x16;
    int8_t *xq;
    float *sx;
} hidden_staging;

static hidden_staging staging_rows(bert_context *ctx, int r0) {
    int C = ctx->model->cfg.pub.hidden_size;
    size_t at = (size_t)r0 * C;
    hidden_staging s = {ctx->hidden + at, C, NULL, NULL, NULL};
    if (ctx->model->compute == BERT_COMPUTE_BF16) s.x16 = ctx->x16 + at;
    else if (ctx->model->compute == BERT_COMPUTE_INT8) s.xq = ctx->xq + at, s.sx = ctx->xq_scale + r0;
    return s;
}

/* The hidden states [n_tokens x C] as a dense layer's input, staged by the
 * LayerNorm that wrote them (layernorm_staged). */
static dense_input hidden_input(bert_context *ctx) {
    hidden_staging s = staging_rows(ctx, 0);
    dense_input in = {s.x, s.x16, s.xq, s.sx};
    return in;
}

/* bert_rows_fn for layernorm_staged: rows [i0, i1) of a hidden_staging
 * (counted from its r0) converted into its buffers. */
static void stage_rows(int i0, int i1, void *arg) {
    const hidden_staging *s = arg;
    size_t at = (size_t)i0 * s->C;
    if (s->x16) bert_f32_to_bf16_array(s->x16 + at, s->x + at, (size_t)(i1 - i0) * s->C);
    else bert_quantize_rows(s->xq + at, s->sx + i0, s->x + at, i1 - i0, s->C, 1);
}

/* hidden rows [r0, r0 + M) = LayerNorm(a + b) (a, b: those rows; b may be
 * NULL) and, where stage is set and the model computes in bf16 or int8,
 * the same rows of the staging buffers (what stage_dense_input would make
 * of them), each group of rows converted by the thread that normalised it
 * while it is in L1, not in a second pass over the hidden states: the
 * same bits. */
static void layernorm_staged(bert_context *ctx, const float *a, const float *b, const bert_norm *ln, int r0, int M,
                             int stage) {
    const bert_config *c = &ctx->model->cfg.pub;
    hidden_staging s = staging_rows(ctx, r0);
    int staged = stage && (s.x16 || s.xq);
    bert_add_layernorm_then(ctx->hidden + (size_t)r0 * s.C, a, b, ln->w, ln->b, M, s.C, (float)c->layer_norm_eps,
                            ctx->n_threads, staged ? stage_rows : NULL, &s);
}

/* What embeddings_forward's LayerNorm hooks read: the batch, and where
 * its rows are staged. */
typedef struct {
    float *hidden;
    hidden_staging stage;
    const bert_weights *w;
    const bert_sequence *seqs;
    int S;
    const int *offset;
} embedding_rows;

/* bert_rows_fn: rows [i0, i1) of the embeddings' sums, into the hidden
 * states the LayerNorm then normalises in place. */
static void sum_embedding_rows(int i0, int i1, void *arg) {
    const embedding_rows *e = arg;
    nn_embeddings_rows(e->hidden, e->w, e->stage.C, e->seqs, e->S, e->offset, i0, i1);
}

/* bert_rows_fn: those rows staged (stage_rows). */
static void stage_embedding_rows(int i0, int i1, void *arg) {
    const embedding_rows *e = arg;
    stage_rows(i0, i1, (void *)&e->stage);
}

/* BertEmbeddings: word + token_type + position, then LayerNorm (its
 * output staged for the first layer), a few rows at a time: each group
 * summed, normalised and staged while it is in L1, not summed into
 * memory in one pass and read back by the next (bert-base shape, batch 8,
 * int8, one thread, Intel Xeon: 0.68-0.70 -> 0.52-0.57 ms a pass with the
 * sums' loop in vectors). The same bits as the two passes. Dropout is the
 * identity at inference. */
static void embeddings_forward(bert_context *ctx, const bert_sequence *seqs) {
    const bert_model *m = ctx->model;
    const bert_config *c = &m->cfg.pub;
    embedding_rows e = {ctx->hidden, staging_rows(ctx, 0), &m->w, seqs, ctx->n_seqs, ctx->offset};
    int staged = c->num_hidden_layers > 0 && (e.stage.x16 || e.stage.xq);
    nn_key_mask(ctx->keymask, seqs, ctx->n_seqs, ctx->offset);
    bert_add_layernorm_around(ctx->hidden, ctx->hidden, NULL, m->w.emb_ln.w, m->w.emb_ln.b, ctx->n_tokens,
                              c->hidden_size, (float)c->layer_norm_eps, ctx->n_threads, sum_embedding_rows,
                              staged ? stage_embedding_rows : NULL, &e);
}

/* in's rows from r0 on (K values a row). */
static dense_input dense_input_rows(dense_input in, size_t r0, int K) {
    size_t at = r0 * (size_t)K;
    dense_input out = {in.x ? in.x + at : NULL, in.x16 ? in.x16 + at : NULL, in.xq ? in.xq + at : NULL, in.sx ? in.sx + r0 : NULL};
    return out;
}

/* A dense layer of the encoder or the pooler, y = x W^T + b, in the model's compute
 * dtype: bf16 multiplies the staged input by the bf16 form of W made at
 * load (packed for AMX or oneDNN's matmul, or plain), int8 the staged rows
 * by W's packed int8 form. */
static void dense_forward(bert_context *ctx, float *y, int ldy, dense_input in, const bert_dense *d, int M, int N,
                          int K, const bert_epilogue *epi) {
    if (d->q8) {
        if (ctx->error.code == BERT_OK) bert_qlinear_run(d->q8, y, ldy, in.xq, in.sx, d->b, M, ctx->acc, epi, ctx->n_threads, &ctx->error);
    } else if (d->pf32) {
        if (ctx->error.code == BERT_OK) bert_plinear_run(d->pf32, y, ldy, in.x, d->b, M, ctx->pscratch, epi, ctx->n_threads, &ctx->error);
    } else if (d->pbf16) {
        if (ctx->error.code == BERT_OK)
            bert_plinear_run_bf16(d->pbf16, y, ldy, in.x16, d->b, M, ctx->pscratch, epi, ctx->n_threads, &ctx->error);
    } else if (d->wamx) {
        bert_amx_linear(y, ldy, in.x16, d->wamx, d->b, M, N, K, ctx->n_threads, epi);
    } else if (d->wavx) {
        bert_avx512_linear(y, ldy, in.x, d->wavx, d->b, M, N, K, ctx->n_threads, epi);
    } else {
        nn_dense_forward(y, ldy, in.x, in.x16, d->w, d->w16, d->b, M, N, K, epi, ctx->n_threads);
    }
}

/* 1 when dense layer d runs on the AMX kernels: bf16 (d->wamx, made only
 * under bf16) or int8 (d->q8, made only under int8, packed for AMX). */
static int dense_on_amx(const bert_dense *d) { return d->wamx || bert_qlinear_on_amx(d->q8); }

/* 1 when the feed-forward's products run on the AMX kernels (every layer
 * has the same shapes, so the first layer says). */
static int ffn_on_amx(const bert_model *m) {
    if (m->cfg.pub.num_hidden_layers < 1) return 0;
    const bert_layer_weights *L = &m->w.layers[0];
    return dense_on_amx(&L->inter) && dense_on_amx(&L->out);
}

/* Feed-forward rows per chunk a thread where its products run on AMX and
 * its weights do not fit in L2 (ffn_chunk_rows). */
enum { AMX_CHUNK_ROWS = 128 };

/* Rows per chunk of the feed-forward (INT_MAX: unchunked). Each chunk
 * streams both of its weights once, and keeps its [rows x I] middle in
 * cache from the product that writes it to the one that reads it:
 *  - weights that fit in 1 MB (half the Intel Xeon's 2 MB L2 a core;
 *    BERT-Tiny's two 512 x 128 weights: 128 KB in int8, 256 KB in
 *    bf16, 512 KB in f32) stay in L2 across chunks, so a chunk is sized
 *    for its middle: about 256 KB of f32 a thread (128 rows for I = 512), a multiple of
 *    16, at least BERT_ROW_SLAB_ROWS a thread so each product still
 *    splits by rows. Measured on that Xeon (BERT-Tiny, batch 8 x 128, 2
 *    layers, one thread): bf16 1.95 ms, against 2.55 in chunks of 512
 *    and 2.63 unchunked; int8 1.61-1.65 against 1.70 and 1.80 (on two
 *    threads int8 unchunked was faster, 0.96 vs 1.01-1.03 ms; bf16 was
 *    not, 1.39-1.41 vs 1.23).
 *  - larger weights (bert-base's 768 x 3072: 2.4 MB each in int8, 4.7 MB
 *    in bf16) come from L3 in every chunk, so a chunk is
 *    BERT_DNNL_BIG_ROWS (512) rows: bert-base shape, batch 8 x 128, 2
 *    layers, three interleaved rounds, int8 one thread 21.7-22.9 ms in the
 *    former 64-row chunks, 19.6-20.4 in 512 (unchunked about the same),
 *    two threads 11.5-12.1 -> 10.4-10.8; bf16 (oneDNN's packed matmul
 *    taking the 512 rows in one call, linear_packed.h) one thread
 *    36.8-38.4 -> 34.9-36.7, two 20.4-20.9 -> 18.3-19.1. With more than
 *    8 threads a chunk keeps BERT_ROW_SLAB_ROWS rows a thread.
 *  - where both products run on the AMX kernels (which stream W once per
 *    group of 128-256 rows in any call, prefetched into L2: amx.h), a
 *    chunk is AMX_CHUNK_ROWS a thread, so that its middle (1.5 MB of f32
 *    at I = 3072; int8 quantizes it in a pass of its own) is still in L2
 *    when it is read: bert-base shape, batch 8, old and new binaries in
 *    three interleaved rounds, int8 one thread 18.4-18.8 -> 18.1-18.2 ms,
 *    two 9.66-9.72 -> 9.55-9.78; bf16 the same within the noise (27.2-27.6
 *    against 27.1-27.4 ms; 14.3-14.7 against 14.5-14.6). Chunks of 64 rows
 *    a thread lost (int8 19.4, bf16 29.7-30.2 ms, one thread): W from L3
 *    twice as often.
 *  - where oneDNN's packed bf16 matmul runs a chunk's products (packed),
 *    a chunk has at least BERT_DNNL_ROWS rows, the rows of the primitive
 *    it runs: each call streams the whole of W.
 * f32 and int8 are chunked by the first rule on one thread only: BERT-Tiny
 * (two 256 KB weights) f32 5.62-5.65 -> 5.54-5.56 ms in five of six
 * interleaved rounds; on two threads chunks cost each product its own
 * thread team, f32 3.01-3.03 -> 3.05-3.11 ms, int8 0.95-0.99 unchunked
 * against 1.01-1.03 in chunks (four interleaved rounds). Larger f32
 * weights are not chunked: those products are bound by arithmetic, and
 * chunks measured 1-4 % slower (bert-base shape). */
static int ffn_chunk_rows(const bert_model *m, int packed, int n_threads) {
    const bert_config *c = &m->cfg.pub;
    int I = c->intermediate_size, nt = n_threads > 1 ? n_threads : 1;
    int f32 = m->compute != BERT_COMPUTE_BF16 && m->compute != BERT_COMPUTE_INT8;
    size_t esize = f32 ? 4 : m->compute == BERT_COMPUTE_BF16 ? 2 : 1;
    int slabs = BERT_ROW_SLAB_ROWS * nt;
    if (2 * (size_t)I * (size_t)c->hidden_size * esize > (size_t)1 << 20) {
        if (f32) return INT_MAX;
        return ffn_on_amx(m) ? AMX_CHUNK_ROWS * nt : BERT_DNNL_BIG_ROWS > slabs ? BERT_DNNL_BIG_ROWS : slabs;
    }
    if ((f32 || m->compute == BERT_COMPUTE_INT8) && nt > 1) return INT_MAX;
    int r = (256 * 1024 / (4 * I) * nt + 15) / 16 * 16;
    if (r < slabs) r = slabs;
    return packed && r < BERT_DNNL_ROWS ? BERT_DNNL_ROWS : r;
}

/* BertIntermediate + BertOutput, LayerNorm(dense(act(dense(h))) + h), a
 * chunk of rows at a time (ffn_chunk_rows: each streams the weights once;
 * a small chunk's [rows x I] middle stays in L2 from the product that
 * writes it to the one that reads it). The AMX and AVX-512
 * kernels and int8 sum each row alone, so their result is the unchunked
 * one bit for bit; oneDNN's packed products gave a row the same bits in
 * every row count where measured (test_linear_packed.c compares them), so
 * their chunks agree with the unchunked product too. */
static void feed_forward(bert_context *ctx, int l, const bert_layer_weights *L) {
    const bert_config *c = &ctx->model->cfg.pub;
    int N = ctx->n_tokens, C = c->hidden_size, I = c->intermediate_size, nt = ctx->n_threads;
    int R = ffn_chunk_rows(ctx->model, L->inter.pbf16 || L->out.pbf16, nt), bf16 = ctx->model->compute == BERT_COMPUTE_BF16;
    size_t padded = bert_qlinear_rows(N);
    dense_input h = hidden_input(ctx); /* staged by the attention's LayerNorm */
    /* the middle's bf16 copy (made by the first product's epilogue) or int8 rows after the staged input's */
    uint16_t *ff16 = bf16 ? ctx->x16 + (size_t)N * C : NULL;
    int8_t *ffq = ctx->xq ? ctx->xq + padded * (size_t)C : NULL;
    float *ffs = ctx->xq_scale ? ctx->xq_scale + padded : NULL;
    for (int r0 = 0, m; r0 < N; r0 += m) {
        m = N - r0 < R ? N - r0 : R;
        /* the activation, and under bf16 the conversion for the next product,
         * on each thread's slab as soon as it is computed (int8 needs whole rows
         * for its scales: staged after) */
        bert_epilogue act = {(int)ctx->model->cfg.act, ff16, L->out.wamx || L->out.pbf16};
        dense_forward(ctx, ctx->ff, I, dense_input_rows(h, (size_t)r0, C), &L->inter, m, I, C, &act);
        prof_mark(ctx, l, BERT_OP_PRODUCTS);
        dense_input mid = {ctx->ff, ff16, NULL, NULL};
        if (ctx->model->compute == BERT_COMPUTE_INT8) {
            mid = stage_dense_input(ctx, ctx->ff, m, I, NULL, ffq, ffs);
            prof_mark(ctx, l, BERT_OP_CONVERT);
        }
        float *out = ctx->tmp + (size_t)r0 * C, *hr = ctx->hidden + (size_t)r0 * C;
        dense_forward(ctx, out, C, mid, &L->out, m, C, I, NULL);
        prof_mark(ctx, l, BERT_OP_PRODUCTS);
        /* staged for the next layer (these rows of h are read already) */
        layernorm_staged(ctx, out, hr, &L->out_ln, r0, m, l + 1 < c->num_hidden_layers);
        prof_mark(ctx, l, BERT_OP_LAYERNORM);
    }
}

/* 1 when a bf16 or int8 model's attention runs on bf16 Q, K, V
 * (bert_attention_bf16_io): where the fused bf16 kernel runs and the
 * queries' scale 1 / sqrt(head size) is a power of two, so the bits are
 * those of the f32-in, f32-out kernel and its conversions. Q, K and V are
 * then written by their products' epilogue as bf16 only (half the bytes,
 * and the AMX kernels write no f32), and under bf16 the output is the next
 * product's staged input, with no conversion pass. Under int8 Q, K, V go
 * where the feed-forward's middle will be (Q, K, V's own f32 buffers,
 * where one product makes them), so its [N x I] floats must hold 3 [N x
 * C] bf16. */
static int attention_in_bf16(const bert_model *m) {
    const bert_config *c = &m->cfg.pub;
    if (!m->attention_bf16 || c->num_attention_heads < 1) return 0;
    if (m->compute != BERT_COMPUTE_BF16 && (m->compute != BERT_COMPUTE_INT8 || 2 * c->intermediate_size < 3 * c->hidden_size))
        return 0;
    int e;
    return frexpf(1.0f / sqrtf((float)(c->hidden_size / c->num_attention_heads)), &e) == 0.5f;
}

/* 1 when layer L's Q, K and V run as one product of 3C outputs. */
static int qkv_fused(const bert_layer_weights *L) {
    return L->qkv.pf32 || L->qkv.pbf16 || L->qkv.w16 || L->qkv.q8 || L->qkv.w;
}

/* Where bf16 Q, K, V go (attention_in_bf16; NULL: not made): under bf16
 * after the staged input in ctx->x16 (bert_forward sizes it for 3 [N x C]
 * after the first); under int8 in ctx->ff, or in ctx->q and ctx->k where
 * one product writes its f32 [N x 3C] (not read) to ctx->ff. */
static uint16_t *qkv_bf16_buffer(bert_context *ctx, const bert_layer_weights *L) {
    if (!attention_in_bf16(ctx->model)) return NULL;
    if (ctx->model->compute == BERT_COMPUTE_BF16) return ctx->x16 + (size_t)ctx->n_tokens * ctx->model->cfg.pub.hidden_size;
    return qkv_fused(L) ? (uint16_t *)ctx->q : (uint16_t *)ctx->ff;
}

/* BertSelfAttention's Q, K and V projections of h into qkv[0..2], their
 * row stride returned: one product of 3C outputs into ctx->ff where the
 * layer has one (rows 3C apart), else three into ctx->q, ctx->k, ctx->v
 * (rows C apart); with q16, each product's epilogue writes them as bf16
 * only, from q16 on in the same layout (qkv then points there). */
static int qkv_forward(bert_context *ctx, const bert_layer_weights *L, dense_input h, uint16_t *q16, const void *qkv[3]) {
    int N = ctx->n_tokens, C = ctx->model->cfg.pub.hidden_size;
    if (qkv_fused(L)) {
        bert_epilogue e = {-1, q16, 1};
        dense_forward(ctx, ctx->ff, 3 * C, h, &L->qkv, N, 3 * C, C, q16 ? &e : NULL);
        for (int i = 0; i < 3; i++) qkv[i] = q16 ? (const void *)(q16 + i * C) : (const void *)(ctx->ff + i * C);
        return 3 * C;
    }
    float *y[3] = {ctx->q, ctx->k, ctx->v};
    const bert_dense *d[3] = {&L->q, &L->k, &L->v};
    for (int i = 0; i < 3; i++) {
        uint16_t *y16 = q16 ? q16 + (size_t)i * N * C : NULL;
        bert_epilogue e = {-1, y16, 1};
        dense_forward(ctx, y[i], C, h, d[i], N, C, C, y16 ? &e : NULL);
        qkv[i] = y16 ? (const void *)y16 : (const void *)y[i];
    }
    return C;
}

/* Rows per chunk of the attention's output product d and its LayerNorm
 * where d runs on the AMX kernels (bf16 or int8): 256 a thread, the AMX
 * kernels' k-blocked group (BERT_AMX_KBLOCK_ROWS in kernels/amx.h), so W
 * is streamed as often as unchunked, and the LayerNorm reads the chunk's
 * [rows x C] f32 output from L2, not from L3 (bert-base shape, batch 8,
 * Intel Xeon, six interleaved rounds of bench_forward: one thread bf16
 * 25.31 -> 25.14 ms, int8 17.72 -> 17.62 medians, the LayerNorms 1.31 ->
 * 1.16 ms; two threads equal within the noise). Elsewhere one product:
 * f32's are bound by arithmetic, and oneDNN's packed products take
 * 512-row calls where they can (linear_packed.h), each streaming W. Rows
 * are summed alone, so chunks change no bits. */
enum { ATTN_OUT_CHUNK_ROWS = 256 };

static int attn_out_chunk_rows(const bert_context *ctx, const bert_dense *d) {
    return dense_on_amx(d) ? ATTN_OUT_CHUNK_ROWS * (ctx->n_threads > 1 ? ctx->n_threads : 1) : INT_MAX;
}

/* One BertLayer (layer l): attention, its output LayerNorm, feed-forward,
 * LayerNorm; each operation timed when the context profiles. */
static void layer_forward(bert_context *ctx, int l, const bert_layer_weights *L) {
    const bert_config *c = &ctx->model->cfg.pub;
    int N = ctx->n_tokens, C = c->hidden_size;
    uint16_t *q16 = qkv_bf16_buffer(ctx, L);
    const void *qkv[3];
    int ld = qkv_forward(ctx, L, hidden_input(ctx) /* staged by the LayerNorm before */, q16, qkv);
    prof_mark(ctx, l, BERT_OP_PRODUCTS);
    attention_forward(ctx, qkv[0], qkv[1], qkv[2], ld, q16 != NULL);
    prof_mark(ctx, l, BERT_OP_ATTENTION);
    dense_input a = {NULL, ctx->x16, NULL, NULL}; /* under bf16 with q16, the attention's own output */
    if (!q16 || ctx->model->compute != BERT_COMPUTE_BF16) {
        a = stage_dense_input(ctx, ctx->attn, N, C, ctx->x16, ctx->xq, ctx->xq_scale);
        prof_mark(ctx, l, BERT_OP_CONVERT);
    }
    /* BertSelfOutput: LayerNorm(dense(attn) + input). */
    int R = attn_out_chunk_rows(ctx, &L->attn_out);
    for (int r0 = 0, m; r0 < N; r0 += m) {
        m = N - r0 < R ? N - r0 : R;
        float *out = ctx->tmp + (size_t)r0 * C;
        dense_forward(ctx, out, C, dense_input_rows(a, (size_t)r0, C), &L->attn_out, m, C, C, NULL);
        prof_mark(ctx, l, BERT_OP_PRODUCTS);
        layernorm_staged(ctx, out, ctx->hidden + (size_t)r0 * C, &L->attn_ln, r0, m, 1);
        prof_mark(ctx, l, BERT_OP_LAYERNORM);
    }
    feed_forward(ctx, l, L);
}

/* BertPooler (tanh(dense(h[:, 0]))) and the NSP head (dense on the pooled output). */
static void pooler_forward(bert_context *ctx, unsigned outputs) {
    const bert_model *m = ctx->model;
    int C = m->cfg.pub.hidden_size, S = ctx->n_seqs;
    for (int s = 0; s < S; s++)
        memcpy(ctx->cls + (size_t)s * C, ctx->hidden + (size_t)ctx->offset[s] * C, (size_t)C * sizeof(float));
    /* in the model's compute dtype (the pooler's weight is in it: bf16, int8
     * or packed f32, as the layers'), the first tokens' rows staged into
     * the layers' (now free) input buffers */
    dense_input in = stage_dense_input(ctx, ctx->cls, S, C, ctx->x16, ctx->xq, ctx->xq_scale);
    dense_forward(ctx, ctx->pooled, C, in, &m->w.pooler, S, C, C, NULL);
    bert_tanh(ctx->pooled, (size_t)S * C);
    if (outputs & BERT_OUTPUT_NSP) bert_linear(ctx->nsp, 2, ctx->pooled, m->w.nsp.w, m->w.nsp.b, S, 2, C, 1);
    /* BertForSequenceClassification: classifier(dropout(pooled)). */
    int L = bert_model_num_labels(m);
    if (outputs & BERT_OUTPUT_CLASSIFIER)
        bert_linear(ctx->cls_logits, L, ctx->pooled, m->w.classifier.w, m->w.classifier.b, S, L, C, 1);
    /* A joint intent + slot model's intents: intent_classifier(dropout(pooled)). */
    int I = m->cfg.pub.num_intents;
    if (outputs & BERT_OUTPUT_INTENT) bert_linear(ctx->intent_logits, I, ctx->pooled, m->w.intent.w, m->w.intent.b, S, I, C, 1);
}

/* BertLMPredictionHead on M rows h [M x C]: logits [M x V] =
 * LayerNorm(act(dense(h))) W_word^T + bias, with tmp [M x C] as scratch. */
static void mlm_head(const bert_model *m, float *logits, float *tmp, const float *h, int M, int nt) {
    const bert_config *c = &m->cfg.pub;
    int C = c->hidden_size, V = c->vocab_size;
    nn_dense_forward(tmp, C, h, NULL, m->w.mlm_transform.w, NULL, m->w.mlm_transform.b, M, C, C, NULL, nt);
    nn_activation_forward(tmp, tmp, (size_t)M * C, m->cfg.act, nt);
    nn_layernorm_forward(tmp, NULL, tmp, NULL, &m->w.mlm_ln, M, C, (float)c->layer_norm_eps, nt);
    nn_dense_forward(logits, V, tmp, NULL, m->w.mlm_decoder, NULL, m->w.mlm_bias, M, V, C, NULL, nt);
}

/* Every token's logits: the transform reuses ctx->tmp; the logits have their own buffer. */
static void mlm_forward(bert_context *ctx) {
    mlm_head(ctx->model, ctx->logits, ctx->tmp, ctx->hidden, ctx->n_tokens, ctx->n_threads);
}

bert_status bert_mlm_logits_at(bert_context *ctx, int seq, const int32_t *positions, int n_positions, float *out,
                               bert_error *err) {
    bert_error_clear(err);
    if (!ctx) return bert_fail(err, BERT_ERR_INPUT, "bert_mlm_logits_at: context is NULL");
    if (!(ctx->model->heads & BERT_HEAD_MLM))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this checkpoint has no MLM head (cls.predictions)");
    if (!ctx->states)
        return bert_fail(err, BERT_ERR_STATE, "bert_mlm_logits_at: no hidden states (no successful bert_forward on "
                                              "this context since it was made or since one failed)");
    if (seq < 0 || seq >= ctx->n_seqs)
        return bert_fail(err, BERT_ERR_INPUT, "bert_mlm_logits_at: sequence %d of a batch of %d", seq, ctx->n_seqs);
    if (n_positions < 1 || !positions || !out)
        return bert_fail(err, BERT_ERR_INPUT, "bert_mlm_logits_at: no positions or no output buffer");
    int C = ctx->model->cfg.pub.hidden_size, T = ctx->offset[seq + 1] - ctx->offset[seq];
    for (int i = 0; i < n_positions; i++)
        if (positions[i] < 0 || positions[i] >= T)
            return bert_fail(err, BERT_ERR_INPUT, "bert_mlm_logits_at: position %d is outside sequence %d's %d tokens",
                             positions[i], seq, T);
    if (ctx->model->cuda) /* the states are on the GPU, and the head runs there */
        return bert_cuda_mlm(ctx->model->cuda, ctx->cuda, ctx->offset[seq], positions, n_positions, out, err);
    const float *h = ctx->hidden + (size_t)ctx->offset[seq] * C;
    float *rows = malloc(sizeof *rows * (size_t)n_positions * C * 2);
    if (!rows) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_positions; i++) memcpy(rows + (size_t)i * C, h + (size_t)positions[i] * C, sizeof *rows * C);
    int saved = bert_blas_threads_enter(ctx->n_threads);
    mlm_head(ctx->model, out, rows + (size_t)n_positions * C, rows, n_positions, ctx->n_threads);
    bert_blas_threads_leave(saved);
    free(rows);
    return BERT_OK;
}

static bert_status forward(bert_context *ctx, const bert_sequence *seqs, int n_seqs, unsigned outputs, bert_error *err);

/* A GPU model's pass (cuda/encoder.h): the embeddings, the layers and
 * the heads on the GPU; only the requested outputs come back (the MLM
 * head's logits by bert_cuda_mlm, after the pass). ctx is reserved and its
 * offsets set. */
static bert_status forward_cuda(bert_context *ctx, const bert_sequence *seqs, int n_seqs, unsigned outputs,
                                bert_error *err) {
    const bert_model *m = ctx->model;
    if ((outputs & (BERT_OUTPUT_CLASSIFIER | BERT_OUTPUT_TOKEN_CLASSIFIER)) && bert_model_num_labels(m) != m->cuda_labels)
        return bert_fail(err, BERT_ERR_STATE, "the classifier has %d labels but the GPU holds the %d it had at loading",
                         bert_model_num_labels(m), m->cuda_labels);
    nn_key_mask(ctx->keymask, seqs, n_seqs, ctx->offset);
    bert_cuda_outputs o = {
        outputs & BERT_OUTPUT_HIDDEN ? ctx->hidden : NULL,
        outputs & BERT_OUTPUT_POOLED ? ctx->pooled : NULL,
        outputs & BERT_OUTPUT_NSP ? ctx->nsp : NULL,
        outputs & BERT_OUTPUT_CLASSIFIER ? ctx->cls_logits : NULL,
        outputs & BERT_OUTPUT_INTENT ? ctx->intent_logits : NULL,
        outputs & BERT_OUTPUT_TOKEN_CLASSIFIER ? ctx->tok_logits : NULL,
        outputs & BERT_OUTPUT_QA ? ctx->qa_logits : NULL,
        outputs & BERT_OUTPUT_SENTENCE ? ctx->sentence : NULL,
        ctx->plan,
    };
    double *dev = prof_device_rows(ctx); /* the GPU's steps, timed by its events */
    bert_status rc = bert_cuda_run(m->cuda, &ctx->cuda, &o, seqs, ctx->offset, n_seqs, ctx->keymask, dev, err);
    if (rc != BERT_OK) return rc;
    prof_device_done(ctx, dev); /* the copies and the host's share: "other" */
    if ((outputs & BERT_OUTPUT_MLM) &&
        (rc = bert_cuda_mlm(m->cuda, ctx->cuda, 0, NULL, ctx->n_tokens, ctx->logits, err)) != BERT_OK)
        return rc;
    prof_mark(ctx, -1, BERT_OP_HEADS);
    ctx->outputs = outputs;
    ctx->states = 1;
    return BERT_OK;
}

bert_status bert_forward(bert_context *ctx, const bert_sequence *seqs, int n_seqs, unsigned outputs, bert_error *err) {
    bert_error_clear(err);
    if (!ctx) return bert_fail(err, BERT_ERR_INPUT, "bert_forward: context is NULL");
    double t0 = prof_now(ctx);
    int saved = bert_blas_threads_enter(ctx->n_threads);
    bert_status rc = forward(ctx, seqs, n_seqs, outputs, err);
    bert_blas_threads_leave(saved);
    if (rc == BERT_OK) prof_end(ctx, t0, ctx->n_tokens);
    return rc;
}

static bert_status forward(bert_context *ctx, const bert_sequence *seqs, int n_seqs, unsigned outputs, bert_error *err) {
    const bert_model *m = ctx->model;
    const bert_config *c = &m->cfg.pub;
    ctx->outputs = 0;
    ctx->states = 0;
    ctx->n_seqs = 0;
    if (outputs & ~(unsigned)(BERT_OUTPUT_HIDDEN | BERT_OUTPUT_POOLED | BERT_OUTPUT_MLM | BERT_OUTPUT_NSP |
                              BERT_OUTPUT_CLASSIFIER | BERT_OUTPUT_TOKEN_CLASSIFIER | BERT_OUTPUT_QA | BERT_OUTPUT_INTENT |
                              BERT_OUTPUT_SENTENCE))
        return bert_fail(err, BERT_ERR_INPUT, "bert_forward: unknown output flags 0x%x", outputs);
    if ((outputs & (BERT_OUTPUT_CLASSIFIER | BERT_OUTPUT_TOKEN_CLASSIFIER)) && !(m->heads & BERT_HEAD_CLASSIFIER))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this checkpoint has no classifier head (classifier)");
    if ((outputs & BERT_OUTPUT_QA) && !(m->heads & BERT_HEAD_QA))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this checkpoint has no question-answering head (qa_outputs)");
    if ((outputs & BERT_OUTPUT_INTENT) && !(m->heads & BERT_HEAD_INTENT))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this checkpoint has no intent head (intent_classifier)");
    if ((outputs & (BERT_OUTPUT_POOLED | BERT_OUTPUT_NSP | BERT_OUTPUT_CLASSIFIER | BERT_OUTPUT_INTENT)) &&
        !(m->heads & BERT_HEAD_POOLER))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this checkpoint has no pooler (bert.pooler.dense)");
    if ((outputs & BERT_OUTPUT_NSP) && !(m->heads & BERT_HEAD_NSP))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this checkpoint has no NSP head (cls.seq_relationship)");
    if ((outputs & BERT_OUTPUT_MLM) && !(m->heads & BERT_HEAD_MLM))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this checkpoint has no MLM head (cls.predictions)");
    int N = 0, T = 0;
    bert_status rc = validate(c, seqs, n_seqs, &N, &T, err);
    if (rc != BERT_OK) return rc;
    /* All memory is settled here, before the first layer. */
    if ((rc = bert_context_reserve(ctx, N, T, n_seqs, err)) != BERT_OK) return rc;
    if ((outputs & BERT_OUTPUT_SENTENCE) && (rc = bert_context_plan_sentences(ctx, n_seqs, err)) != BERT_OK) return rc;
    if (outputs & BERT_OUTPUT_MLM) {
        size_t need = (size_t)N * c->vocab_size;
        if (need > ctx->logits_cap) {
            float *p = realloc(ctx->logits, need * sizeof(float));
            if (!p) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB for MLM logits", need * 4.0 / 1e6);
            ctx->logits = p;
            ctx->logits_cap = need;
        }
    }
    if (m->compute == BERT_COMPUTE_BF16) {
        /* [N x C] for the hidden/attention inputs, then [N x I] for the
         * feed-forward's middle, at least [N x 3C] for bf16 Q, K, V */
        size_t wide = (size_t)c->intermediate_size, qkv = 3 * (size_t)c->hidden_size;
        size_t need = (size_t)N * ((attention_in_bf16(m) && qkv > wide ? qkv : wide) + (size_t)c->hidden_size);
        if (need > ctx->x16_cap) {
            free(ctx->x16);
            ctx->x16 = bert_alloc64(need * sizeof(uint16_t));
            ctx->x16_cap = ctx->x16 ? need : 0;
            if (!ctx->x16) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB for bf16 inputs", need * 2.0 / 1e6);
        }
    }
    if (m->compute == BERT_COMPUTE_INT8 && (size_t)N > ctx->xq_cap) {
        /* rows padded as the int8 products read them: an input of [N x C],
         * then a feed-forward chunk's middle [R x I] (feed_forward) */
        int W = c->intermediate_size > c->hidden_size ? c->intermediate_size : c->hidden_size;
        int chunk = ffn_chunk_rows(m, 0, ctx->n_threads); /* int8: nothing bf16-packed */
        size_t R = bert_qlinear_rows(chunk < N ? chunk : N);
        free(ctx->xq), free(ctx->xq_scale), free(ctx->acc);
        ctx->xq = bert_alloc64(bert_qlinear_rows(N) * (size_t)c->hidden_size + R * (size_t)c->intermediate_size);
        ctx->xq_scale = malloc(sizeof(float) * (bert_qlinear_rows(N) + R));
        ctx->acc = bert_alloc64(bert_qlinear_scratch(N, W));
        ctx->xq_cap = ctx->xq && ctx->xq_scale && ctx->acc ? (size_t)N : 0;
        if (!ctx->xq_cap) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate int8 inputs for %d tokens", N);
    }
    if ((m->packed_f32 || m->packed_bf16) && !ctx->pscratch) {
        int W = c->intermediate_size > c->hidden_size ? c->intermediate_size : c->hidden_size;
        if (!(ctx->pscratch = bert_alloc64(sizeof(float) * bert_plinear_scratch(W, W))))
            return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate scratch for the packed products");
    }
    bert_error_clear(&ctx->error);
    ctx->n_seqs = n_seqs;
    ctx->n_tokens = N;
    ctx->max_len = T;
    ctx->offset[0] = 0;
    for (int s = 0; s < n_seqs; s++) ctx->offset[s + 1] = ctx->offset[s] + seqs[s].n_tokens;

    prof_begin(ctx);
    if (m->cuda) return forward_cuda(ctx, seqs, n_seqs, outputs, err);
    embeddings_forward(ctx, seqs);
    prof_mark(ctx, -1, BERT_OP_EMBEDDINGS);
    for (int l = 0; l < c->num_hidden_layers; l++) layer_forward(ctx, l, &m->w.layers[l]);
    if (ctx->error.code != BERT_OK) return bert_fail(err, ctx->error.code, "%s", ctx->error.message);
    if (outputs & (BERT_OUTPUT_POOLED | BERT_OUTPUT_NSP | BERT_OUTPUT_CLASSIFIER | BERT_OUTPUT_INTENT)) {
        pooler_forward(ctx, outputs);
        if (ctx->error.code != BERT_OK) return bert_fail(err, ctx->error.code, "%s", ctx->error.message);
    }
    if (outputs & BERT_OUTPUT_MLM) mlm_forward(ctx);
    int L = bert_model_num_labels(m);
    /* BertForTokenClassification / BertForQuestionAnswering: a linear layer on every token. */
    if (outputs & BERT_OUTPUT_TOKEN_CLASSIFIER)
        bert_linear(ctx->tok_logits, L, ctx->hidden, m->w.classifier.w, m->w.classifier.b, N, L, c->hidden_size,
                    ctx->n_threads);
    if (outputs & BERT_OUTPUT_QA)
        bert_linear(ctx->qa_logits, 2, ctx->hidden, m->w.qa.w, m->w.qa.b, N, 2, c->hidden_size, ctx->n_threads);
    if (outputs & BERT_OUTPUT_SENTENCE) bert_context_pool_sentences(ctx, seqs, n_seqs);
    prof_mark(ctx, -1, BERT_OP_HEADS);
    /* last_hidden_state is always computed on the CPU; report it as available. */
    ctx->outputs = outputs | BERT_OUTPUT_HIDDEN;
    ctx->states = 1;
    return BERT_OK;
}
