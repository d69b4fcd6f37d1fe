/* context.h — the working memory of forward passes (one per thread). */
#ifndef BERT_MODEL_CONTEXT_H
#define BERT_MODEL_CONTEXT_H

#include <stdint.h>

#include "model/model.h"

struct bert_context {
    const bert_model *model;
    int n_threads;

    /* Capacity of the arena: tokens per call, longest sequence, sequences. */
    int cap_tokens, cap_seq_len, cap_seqs, cap_labels;
    float *arena;
    float *logits; /* MLM logits [N x V], grown separately: it is large */
    size_t logits_cap;
    uint16_t *x16;   /* bf16 copy of a dense layer's input (BERT_COMPUTE_BF16) */
    size_t x16_cap;
    int8_t *xq;      /* BERT_COMPUTE_INT8: a dense layer's input quantized per row, */
    float *xq_scale; /* its row scales, */
    int32_t *acc;    /* and the int32 sums of one chunk of rows */
    size_t xq_cap;   /* tokens the three are sized for */
    float *pscratch; /* packed f32 products' padded rows (bert_plinear_scratch), when the model has them */
    bert_error error; /* the first failure inside the layers of this call (code BERT_OK: none) */
    struct bert_cuda_work *cuda; /* a BERT_DEVICE_CUDA model's GPU buffers and stream, made on first use */

    /* params.profile: seconds per layer and kind ([n_layers x BERT_OP_COUNT])
     * and the rest of bert_profile; NULL when off (no clock is read). */
    double *prof_layer;
    bert_profile prof;
    double prof_mark; /* when the operation being timed began */
    double *prof_dev; /* a GPU model's profile: [(layers + 1) x BERT_OP_COUNT], its steps (profile.h) */

    /* The last call's batch: sequence s covers rows offset[s] .. offset[s+1]. */
    int n_seqs, n_tokens, max_len;
    int *offset;       /* [cap_seqs + 1] */
    unsigned outputs;  /* what the last call computed */
    int states;        /* 1: the last call succeeded, and its last layer's states are held (in hidden on
                        * the CPU; a GPU model's in its work, on the GPU) for bert_mlm_logits_at */

    /* Views into the arena, sized for the capacity. */
    float *hidden;   /* [N x C] the residual stream; last_hidden_state at the end */
    float *q, *k, *v;/* [N x C] */
    float *attn;     /* [N x C] attention context (heads merged) */
    float *tmp;      /* [N x C] dense outputs before the residual LayerNorm */
    float *ff;       /* [N x I] */
    float *keymask;  /* [N] 1 where attention_mask is 1, else 0 */
    float *scores;   /* [n_threads x score_stride]: per thread, one T x T attention matrix
                      * (BLAS path) or a fused kernel's scratch, bf16 or f32 (kernels/attention.h) */
    size_t score_stride;
    float *cls;      /* [S x C] first-token rows gathered for the pooler */
    float *pooled;   /* [S x C] */
    float *nsp;      /* [S x 2] */
    float *cls_logits; /* [S x L] sequence classifier */
    float *tok_logits; /* [N x L] token classifier */
    float *qa_logits;  /* [N x 2] */
    float *intent_logits; /* [S x num_intents] (joint intent + slot models) */

    /* BERT_OUTPUT_SENTENCE: the pooling set (bert_context_set_pooling; n_pool 0: mean), and the
     * last forward's plan, per sequence s: plan[3 s] its modes, plan[3 s + 1] its prompt tokens,
     * plan[3 s + 2] the first of its rows of C floats in sentence (pool_output.c) */
    bert_pooling_spec *pool;
    int n_pool;
    int *plan;
    int plan_cap;       /* sequences plan holds */
    float *sentence;
    size_t sentence_cap; /* floats */
};

/* The sentence plan of a forward of n_seqs sequences (ctx->plan, and room
 * for its rows in ctx->sentence). BERT_ERR_INPUT when the pooling set
 * names fewer sequences, BERT_ERR_NOMEM. */
bert_status bert_context_plan_sentences(bert_context *ctx, int n_seqs, bert_error *err);

/* BERT_OUTPUT_SENTENCE on the CPU: each sequence's hidden states pooled
 * by the plan into ctx->sentence. */
void bert_context_pool_sentences(bert_context *ctx, const bert_sequence *seqs, int n_seqs);

/* Make sure the arena holds a batch of n_tokens tokens, sequences of at
 * most max_len and n_seqs sequences; grows (never shrinks) when needed. */
bert_status bert_context_reserve(bert_context *ctx, int n_tokens, int max_len, int n_seqs, bert_error *err);

#endif
