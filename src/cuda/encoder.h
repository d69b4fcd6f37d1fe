/* encoder.h — the encoder's layers on an NVIDIA GPU (BERT_DEVICE_CUDA).
 *
 * The seam: bert_forward hands the ragged batch's sequences to
 * bert_cuda_run, which copies their ids to the GPU, makes the embeddings
 * there (gather + LayerNorm, one kernel), runs every layer and the heads
 * and writes the requested outputs back: the last layer's [N x C] hidden
 * states, what the heads make of them (bert_cuda_outputs). Per layer, on
 * the context's stream:
 *   qkv  = hidden Wqkv^T + b          cuBLAS sgemm, bias kernel   [N x 3C]
 *   attn = softmax(scale Q_h K_h^T + key mask) V_h                 [N x C]
 *        fused: one kernel for every (query tile, head) of the batch,
 *        the scores kept on chip (online softmax), head size <= 64; else
 *        batched: S by cuBLAS batched sgemm, one call per run of sequences
 *        of equal length (plan.c), a softmax kernel per score row, P V_h
 *        by batched sgemm
 *   hidden = LN(attn Wo^T + bo + hidden)       sgemm, add+LayerNorm kernel
 *   hidden = LN(act(hidden Wi^T + bi) Wo2^T + bo2 + hidden)
 * then the heads (f32 products in every mode but tf32's):
 *   pooled = tanh(h[first token] Wp^T + bp)      gather kernel, sgemm, bias + tanh
 *   nsp, classifier, intent = pooled W^T + b     sgemm, bias kernel   [S x 2|L|I]
 *   token classifier, qa = h W^T + b             sgemm, bias kernel   [N x L|2]
 *   MLM logits = LN(act(h[rows] Wt^T + bt)) Wword^T + b   (bert_cuda_mlm, after the run:
 *                                                gather, sgemm, bias + act + LayerNorm
 *                                                kernel, sgemm, bias)   [rows x V]
 * All in f32 (cuBLAS's default math: no TF32), as PyTorch's BertLayer in
 * f32 with its own summation orders; or, for a bf16 (f16) model, the four
 * dense products with bf16 (float16) operands and f32 sums (cublasGemmEx);
 * or, for a tf32
 * model, cuBLAS's products in its TF32 math.
 *
 * Built from encoder.cu where nvcc is found; otherwise none.c gives the
 * same functions, which say the build has no CUDA. The CUDA runtime is
 * linked statically; cuBLAS is opened at run time (dlopen), on first use,
 * so a machine without it still runs everything else. plan.c (host-side:
 * which (sequence, head) pairs go into which batched call, and where their
 * operands lie; the fused kernel's tiles) is plain C, built and tested
 * everywhere. The tests also build encoder.cu for the CPU against an
 * emulated CUDA runtime and cuBLAS (tests/cuda_emu), so its kernels,
 * launches and calls run in `make test`. */
#ifndef BERT_CUDA_ENCODER_H
#define BERT_CUDA_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The host copies of one layer's weights, as the model holds them. */
typedef struct bert_cuda_layer_src {
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b; /* [C x C], [C] */
    const float *o_w, *o_b;                         /* attention.output.dense [C x C], [C] */
    const float *ln1_w, *ln1_b;                     /* attention.output.LayerNorm [C] */
    const float *i_w, *i_b;                         /* intermediate.dense [I x C], [I] */
    const float *o2_w, *o2_b;                       /* output.dense [C x I], [C] */
    const float *ln2_w, *ln2_b;                     /* output.LayerNorm [C] */
} bert_cuda_layer_src;

typedef struct {
    const float *word, *position, *token_type; /* the embedding tables [V x C], [P x C], [TV x C] */
    const float *ln_w, *ln_b;                  /* embeddings.LayerNorm [C] */
    int vocab, positions, token_types;
} bert_cuda_embeddings_src;

/* The host copies of the heads that run after the layers; a NULL weight:
 * the model has no such head. */
typedef struct {
    const float *pooler_w, *pooler_b; /* bert.pooler.dense [C x C], [C] */
    const float *nsp_w, *nsp_b;       /* cls.seq_relationship [2 x C], [2] */
    const float *cls_w, *cls_b;       /* classifier [classes x C], [classes] */
    const float *intent_w, *intent_b; /* intent_classifier [intents x C], [intents] */
    const float *qa_w, *qa_b;         /* qa_outputs [2 x C], [2] */
    /* cls.predictions (BertLMPredictionHead): the transform's dense [C x C], [C]
     * and LayerNorm [C], the decoder's bias [V] and weight [V x C] (mlm_dec
     * NULL: tied to the word embeddings, already on the GPU) */
    const float *mlm_w, *mlm_b, *mlm_ln_w, *mlm_ln_b, *mlm_bias, *mlm_dec;
    int classes, intents;
} bert_cuda_heads_src;

typedef struct {
    int hidden, heads, intermediate, layers;
    int act; /* a bert_activation (kernels/ops.h) */
    float eps;
    const bert_cuda_layer_src *src; /* [layers] */
    int bf16; /* 1: the dense layers' products in bf16 with f32 sums (their weights and inputs
               * rounded to bf16, as --dtype bf16 on the CPU); attention, LayerNorm and the
               * rest stay f32 */
    int tf32; /* 1: cuBLAS's f32 products in TF32 math (CUBLAS_TF32_TENSOR_OP_MATH) */
    int f16;  /* 1: as bf16, in float16 (a weight past its range: the creation fails; an input
               * past it, the pass: BERT_ERR_UNSUPPORTED naming the layer, and a sequence whose
               * input it was in err->item) */
    bert_cuda_embeddings_src emb;
    bert_cuda_heads_src head;
} bert_cuda_model_src;

/* Where bert_cuda_run writes each output (host memory), NULL for those not
 * wanted. Sequence s's rows of a per-token output start at row offset[s]. */
typedef struct {
    float *hidden;     /* [N x C]: the last layer's hidden states */
    float *pooled;     /* [S x C]: BertPooler, tanh(dense(h[first token])) */
    float *nsp;        /* [S x 2]: seq_relationship(pooled) */
    float *classifier; /* [S x classes]: classifier(pooled) */
    float *intent;     /* [S x intents]: intent_classifier(pooled) */
    float *tokens;     /* [N x classes]: classifier(h), on every token */
    float *qa;         /* [N x 2]: qa_outputs(h), the start and end logits */
    float *sentence;   /* [rows x C]: each sequence's tokens pooled by its plan (bert_pool_states' modes) */
    const int *plan;   /* with sentence, [S x 3]: sequence s's modes, its prompt tokens that do not count,
                        * and its first row in sentence (rows in order, one a mode; model/context.h) */
} bert_cuda_outputs;

typedef struct bert_cuda_model bert_cuda_model; /* weights on the GPU, shared */
typedef struct bert_cuda_work bert_cuda_work;   /* one context's buffers, stream, handle */

/* NULL when the GPU path can run here, else why not (bert_cuda_unavailable_reason). */
const char *bert_cuda_unavailable(void);

/* Copies the embedding tables, the layers' weights (Q, K and V as one
 * [3C x C] weight) and the heads' to the GPU. BERT_ERR_UNSUPPORTED when the GPU path cannot run, BERT_ERR_NOMEM
 * when the GPU's memory is short (both say which). */
bert_status bert_cuda_model_create(const bert_cuda_model_src *src, bert_cuda_model **out, bert_error *err);
void bert_cuda_model_free(bert_cuda_model *m);

/* The embeddings and every layer for the ragged batch seqs[0..n_seqs)
 * (sequence s is rows offset[s] .. offset[s+1]; its ids, already checked
 * against the tables' sizes by the caller) with keymask [N] (1 attends, 0
 * is masked as a key), then the heads whose outputs are wanted (out's
 * non-NULL pointers; the pooler runs when any of pooled, nsp, classifier
 * and intent is). Each wanted output is copied into out's host memory and
 * nothing else comes back. A wanted output whose head the model lacks:
 * BERT_ERR_UNSUPPORTED, before anything runs. prof, when not NULL
 * ([(layers + 1) x BERT_OP_COUNT]), gets each step's GPU time added
 * (seconds, CUDA events) to its layer's row and kind (bert_op_kind; a
 * dense layer's bias and activation count as its product), the embeddings
 * and the heads to row `layers`. *work is
 * the calling context's, made on first use and grown as needed (free it
 * with bert_cuda_work_free). One thread per work at a time; works of one
 * model may run at once from several threads. */
bert_status bert_cuda_run(const bert_cuda_model *m, bert_cuda_work **work, const bert_cuda_outputs *out,
                          const bert_sequence *seqs, const int *offset, int n_seqs, const float *keymask, double *prof,
                          bert_error *err);
void bert_cuda_work_free(bert_cuda_work *w);

/* The MLM head (BertLMPredictionHead: LayerNorm(act(transform(h))), then
 * the decoder over the vocabulary, all f32 products as the other heads')
 * on the GPU, at n rows of the hidden states that the work's last
 * successful bert_cuda_run left there: row i is first + pos[i] of that
 * batch (offsets as its offset[]; pos NULL: first + i), its logits
 * [n x vocab] into out (host memory), rows taken as many at a time as
 * fit 64 MB of logits. BERT_ERR_UNSUPPORTED when the model on the GPU has
 * no MLM head, BERT_ERR_STATE when no run succeeded on w (or one failed
 * since), BERT_ERR_INPUT for a row outside that batch. Same threading as
 * bert_cuda_run. */
bert_status bert_cuda_mlm(const bert_cuda_model *m, bert_cuda_work *w, int first, const int32_t *pos, int n,
                          float *out, bert_error *err);

/* ---- plan.c: host-side planning, no GPU needed ------------------------- */

/* One batched attention call: pairs [first, first + n) of the plan's pair
 * list, every one of sequence length T. Their T x T score matrices lie one
 * after another from the start of the score buffer. */
typedef struct {
    int T, first, n;
} bert_cuda_group;

typedef struct {
    int seq, head;
} bert_cuda_pair;

enum { BERT_CUDA_GROUP_MAX = 65535 };

/* Orders the n_seqs x heads (sequence, head) pairs by sequence length
 * (then sequence, then head) into pairs [n_seqs * heads] and cuts them into
 * groups of one length holding at most score_cap floats of scores each
 * (at least one pair per group, whatever its size) and at most
 * BERT_CUDA_GROUP_MAX pairs (a launch grid's limit). groups has room for
 * n_seqs * heads entries; returns how many were made, -1 when a sequence
 * is empty or offsets do not increase, -2 when memory runs out. */
int bert_cuda_plan(const int *offset, int n_seqs, int heads, size_t score_cap, bert_cuda_pair *pairs,
                   bert_cuda_group *groups);

/* The operand addresses of group g's batched products, given where the
 * buffers start (device addresses, only computed with here):
 *   scores: K_h (A), Q_h (B), S_i (C)       S_i = scores + i*T*T
 *   context: V_h (A), S_i (B), attn_h (C)
 * qkv is [N x 3C] (Q, K, V side by side), attn [N x C]; head h's columns
 * start at h * (C / heads). Writes 6 * g.n addresses to ptrs: the three
 * score arrays, then the three context arrays, n each; and to keyrow[i]
 * the first row of pair i's sequence (where its key mask starts). */
void bert_cuda_group_operands(const bert_cuda_group *g, const bert_cuda_pair *pairs, const int *offset, int C,
                              int heads, const float *qkv, const float *scores, float *attn, const float **ptrs,
                              int *keyrow);

/* The fused attention (one launch a layer for the whole ragged batch):
 * sequence s's query rows cut into tiles of `rows`; tile i is written as
 * tiles[2i] = s, tiles[2i + 1] = its first row within s. tiles has room for
 * 2 * offset[n_seqs] ints (a tile holds at least one token). Returns how
 * many tiles, -1 when a sequence is empty or offsets do not increase. */
int bert_cuda_tiles(const int *offset, int n_seqs, int rows, int *tiles);

/* 1 when layers of this head size take the fused attention kernel: head
 * size <= BERT_CUDA_FUSED_HEAD_MAX and the environment does not ask for the
 * batched products (BERT_CUDA_ATTENTION=batched, read once; for comparing). */
enum { BERT_CUDA_FUSED_HEAD_MAX = 64 };
int bert_cuda_fused_attention(int head_size);

#ifdef __cplusplus
}
#endif

#endif
