/* acts.h — one training pass: what it works on (train_pass) and the
 * activations it keeps for the backward (train_acts), shared by the
 * encoder (backprop.c) and the task heads (heads.c). */
#ifndef BERT_TRAIN_ACTS_H
#define BERT_TRAIN_ACTS_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "model/model.h"
#include "train/block.h"
#include "train/rng.h"

/* One encoder layer's activations. */
typedef struct {
    float *x_in;          /* [N x C] layer input */
    float *q, *k, *v;     /* [N x C] */
    float *probs;         /* [NH x sum T^2] softmax output (nn_attention_keep) */
    float *probs_d;       /* same, after dropout */
    float *ctx;           /* [N x C] attention output, heads merged */
    float *ao_mask;       /* [N x C] dropout scales after the attention output dense */
    float *r1, *mean1, *rstd1; /* [N x C], [N], [N]: LayerNorm 1's input and statistics */
    float *h1;            /* [N x C] LayerNorm 1 output */
    float *f_pre, *f_act; /* [N x I] intermediate dense output, before and after the activation */
    float *fo_mask;       /* [N x C] dropout scales after the output dense */
    float *r2, *mean2, *rstd2; /* LayerNorm 2's input and statistics */
    /* bf16 compute only: the dense layers' inputs as rounded for the
     * forward products, kept for the weight gradients */
    uint16_t *x16, *ctx16, *h1_16, *fact16;
} layer_acts;

typedef struct train_acts {
    size_t cap_floats;
    int N, S;
    float *block;
    float *keymask;                                   /* [N] 1 = attend, 0 = masked key */
    float *e_sum, *e_mean, *e_rstd, *e_ln, *e_mask;   /* embeddings: sum, LayerNorm, dropout */
    layer_acts *layers;
    float *x_out;              /* [N x C] last layer output */
    /* scratch for backward */
    float *dx, *dtmp, *dC1, *dI, *dq, *dk, *dv, *dP, *dS;
    int *offset;               /* [S + 1] first row of each sequence */
    size_t *poff;              /* [S + 1] offset of each sequence's T x T block */
    uint16_t *block16;         /* bf16 compute: the layers' x16.. and dy16 */
    size_t cap16;
    uint16_t *dy16;            /* [N x max(I, C)] an output gradient rounded to bf16 */
    float *head;               /* the task heads' scratch (heads.c), grown as needed */
    size_t head_cap;
} train_acts;

/* What one training pass reads and writes. */
typedef struct {
    const bert_model *model;     /* weights point into block.params */
    train_block block;           /* gradients (+=) and bf16 weights */
    const bert_train_params *p;  /* task, problem, dropout rates, grad_accum */
    bert_rng *rng;               /* dropout masks, drawn in a fixed order */
    train_acts *acts;            /* sized for the batch by train_acts_reserve */
    double loss_weight;          /* the head's loss weight (multi-task; 1) */
    /* Data-parallel passes (train/data_parallel.c); NULL otherwise. share:
     * this rank's part of the micro-batch, so each loss term divides by the
     * whole batch's count. layer_done: called by the encoder backward with
     * layer l once its gradients are final (they are then sent). */
    const struct train_share *share;
    void (*layer_done)(void *user, int l);
    void *layer_done_user;
    /* Data-parallel passes: where this part's sequences lie in the whole
     * micro-batch's dropout masks, which the part draws its piece of; NULL:
     * the batch is whole. */
    const struct train_masks *masks;
    /* The layers' forward and backward on the GPU (train/gpu.h), and the
     * embeddings' too with gpu_emb, the heads' with gpu_heads (train_gpu_heads_of);
     * NULL: on the CPU. gpu_grads: where in block.grads their gradients are
     * added, or NULL: summed on the GPU. */
    struct bert_cuda_train *gpu;
    const struct bert_cuda_host *gpu_grads;
    int gpu_emb, gpu_heads;
} train_pass;

/* The whole micro-batch around a part: its tokens, sequences and
 * attention-probability elements (sum of T^2) before and after it. */
typedef struct train_masks {
    size_t tok_before, tok_after, seq_before, seq_after, att_before, att_after;
} train_masks;

/* The pass's dropout mask over its tokens (width floats each: n_tokens x
 * width), over its sequences (per_token 0: n_seqs x width), as part of the
 * whole batch's when tp->masks is set. */
void train_pass_mask(const train_pass *tp, float *mask, int per_token, size_t count, size_t width, double p);

/* This rank's fraction of the micro-batch's sequences (f_seq), of its
 * labelled or masked tokens (f_tok) and of its labelled NSP pairs (f_nsp;
 * NSP ignores a negative label as the token losses do). */
typedef struct train_share {
    double f_seq, f_tok, f_nsp;
} train_share;

/* Make *a (created when NULL) hold the activations of the batch seqs[0..S)
 * of model m; with bf16, also the bf16 copies the dense layers keep. gpu:
 * what trains on the GPU (train/gpu.h): 0 nothing; 1 the layers, so only
 * the embeddings', x_out, dx, dtmp and the key mask are held here
 * (layers[] and the rest stay NULL); 2 the embeddings too, so not even
 * theirs nor dtmp (NULL); 3 the task's head too, so not x_out and dx
 * either: the key mask alone. */
bert_status train_acts_reserve(train_acts **a, const bert_model *m, const bert_sequence *seqs, int S, int bf16,
                               int gpu, bert_error *err);
void train_acts_free(train_acts *a);

#endif
