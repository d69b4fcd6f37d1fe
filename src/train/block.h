/* block.h — the trainer's parameter block as the training passes see it.
 *
 * Every trainable tensor is a slice of one float block (params); its
 * gradient sits at the same offset of grads, and under bf16 compute its
 * bf16 copy at the same offset of params16. The passes (train/backprop.c,
 * train/heads.c) get weights through the model, whose pointers point into
 * params, and find a weight's gradient and bf16 copy here. */
#ifndef BERT_TRAIN_BLOCK_H
#define BERT_TRAIN_BLOCK_H

#include <stddef.h>
#include <stdint.h>

/* One parameter tensor inside the blocks. */
typedef struct {
    char name[112];  /* the name Hugging Face writes ("bert.encoder...", "classifier.weight") */
    size_t offset;   /* into params / grads / AdamW's moments, in floats */
    int64_t rows, cols;
    int decay;       /* AdamW weight decay applies (not to biases and LayerNorm) */
    int frozen;      /* not trained (fixed sinusoidal positions): no update, not in the norm */
    int group;       /* multi-task trainers: 0 the encoder, 1 the pooler, 2 + k head k's
                        classifier (AdamW's per-group step counts); 0 otherwise */
} train_tensor;

/* The tensor's element count (a vector has cols 0). */
static inline size_t train_tensor_numel(const train_tensor *t) {
    return (size_t)t->rows * (size_t)(t->cols ? t->cols : 1);
}

typedef struct {
    const float *params;
    float *grads;
    const uint16_t *params16; /* BERT_COMPUTE_BF16: bf16 copies of the dense weights, else NULL */
    int n_threads;
} train_block;

/* The gradient of weight w (a pointer into params). */
static inline float *train_grad(const train_block *b, const float *w) { return b->grads + (w - b->params); }

/* A dense layer y[M x N] = x W^T + b (W a weight in params) in the block's
 * compute type (nn_dense_forward of model/layers.h). Under bf16, x is first
 * rounded into x16 when round_x (0: x16 already holds it, as for K and V
 * after Q), and x16 is kept for the backward; in f32, x16 and round_x are
 * unused. */
void train_dense_fwd(const train_block *blk, float *y, const float *x, uint16_t *x16, int round_x, const float *W,
                     const float *b, int M, int N, int K);
/* Its backward: W's and b's gradients +=, dx = (or += with accumulate)
 * dy W; dy16 is bf16 scratch of M x N (unused in f32). dx may be NULL. */
void train_dense_bwd(const train_block *blk, float *dx, const float *W, const float *b, const float *dy,
                     uint16_t *dy16, const float *x, const uint16_t *x16, int M, int N, int K, int accumulate);

#endif
