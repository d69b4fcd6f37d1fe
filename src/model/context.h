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
};

/* Make sure the arena holds a batch of n_tokens tokens, sequences of at
 * most max_len and n_seqs sequences; grows (never shrinks) when needed. */
bert_status bert_context_reserve(bert_context *ctx, int n_tokens, int max_len, int n_seqs, bert_error *err);

#endif
